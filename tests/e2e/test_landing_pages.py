"""`/` and `/api/v1/docs` over real HTTP from the real app: links, Swagger UI's files from its package, a strict CSP."""
from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from openapi_spec_validator import validate


@pytest.fixture
async def site(start_app, config):
    running = await start_app(config)
    async with aiohttp.ClientSession(running.base_url) as http:
        yield http


def csp_of(response: aiohttp.ClientResponse) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in (p.strip() for p in header.split(";"))}


def assert_strict_page(response: aiohttp.ClientResponse, html: str) -> None:
    assert response.status == 200 and response.content_type == "text/html"
    csp = csp_of(response)
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Nothing the CSP would block, and nothing fetched from elsewhere (no CDN).
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "a file from another host"


async def test_root_is_a_landing_page_linking_pages_docs_and_status(site) -> None:
    async with site.get("/") as r:
        html = await r.text()
        assert_strict_page(r, html)
    links = set(re.findall(r'href="([^"]+)"', html))
    assert {"/web/", "/admin/", "/api/v1/docs", "/api/v1/openapi.json", "/api/v1/status"} <= links
    for link in ("/api/v1/docs", "/api/v1/openapi.json", "/api/v1/status") + tuple(
            h for h in links if h.startswith("/assets/")):
        async with site.get(link) as r:
            assert r.status == 200, link
    from adapters.http.status import app_version

    assert f"<small>{app_version()}</small>" in html


async def test_api_docs_render_the_openapi_document_with_swagger_ui_served_by_the_app(site) -> None:
    from swagger_ui_bundle import swagger_ui_path

    async with site.get("/api/v1/docs") as r:
        html = await r.text()
        assert_strict_page(r, html)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert "/assets/docs/swagger-ui-bundle.js" in scripts and "/assets/docs/swagger-ui.css" in styles
    for url in scripts + styles:
        async with site.get(url) as r:
            assert r.status == 200, url
            assert r.content_type == ("text/javascript" if url.endswith(".js") else "text/css")
            body = await r.read()
        if "swagger-ui" in url:  # the registry package's own file, byte for byte
            assert body == Path(str(swagger_ui_path / url.rsplit("/", 1)[1])).read_bytes()
    # The page's starter script points Swagger UI at the document named in the page, which is valid OpenAPI.
    spec_url = re.search(r'data-spec-url="([^"]+)"', html).group(1)
    async with site.get("/assets/docs/api-docs.js") as r:
        starter = await r.text()
    assert "SwaggerUIBundle(" in starter and "dataset.specUrl" in starter and "validatorUrl: null" in starter
    async with site.get(spec_url) as r:
        doc = await r.json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")


async def test_docs_shortcut_redirects_and_unknown_assets_are_a_contract_404(site) -> None:
    async with site.get("/docs", allow_redirects=False) as r:
        assert r.status == 302 and r.headers["Location"] == "/api/v1/docs"
    for name in ("nope.js", "..%2Fpages.py", "index.html", "swagger-ui-bundle.js.map", "%2e%2e%2f__init__.py"):
        async with site.get(f"/assets/docs/{name}") as r:
            assert r.status == 404, name
            body = await r.json()
            assert body["error"]["reason"] == "not_found" and "correlationId" in body
