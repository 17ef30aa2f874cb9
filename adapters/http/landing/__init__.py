"""The pages a newcomer opens first: `/` (what is here) and `/api/v1/docs` (the OpenAPI document in Swagger UI)."""
from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

HERE = Path(__file__).parent
TEMPLATES = web.AppKey("landing_templates", jinja2.Environment)
ASSETS = "/assets/docs"

# Scripts and styles only from this server, nothing inline, no framing, no plugins, forms post nowhere.
# Swagger UI draws its icons as data: images and calls the API it documents (same origin).
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def page_headers() -> dict[str, str]:
    return {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}


def install(app: web.Application) -> None:
    from adapters.http.landing import assets, pages

    # Our own app key: other page sets (/web, /admin) keep their own Jinja environment.
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), app_key=TEMPLATES,
                         autoescape=True)
    app.router.add_get("/", pages.landing)
    app.router.add_get("/api/v1/docs", pages.api_docs)
    app.router.add_get("/docs", pages.to_api_docs)
    app.router.add_get(ASSETS + "/{name}", assets.asset)
