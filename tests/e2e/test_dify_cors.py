"""CORS on /dify/v1 and /api/v1 (server.cors_origins): preflights, credentials rules, Allow on 405, and a real
browser (Debian's chromium through playwright) streaming a Dify answer from a page on another port."""
from __future__ import annotations

import os
import shutil

import pytest
from aiohttp import web

from bot.config import ConfigError
from tests.conftest import make_config
from tests.e2e.dify_client import APP_KEY, open_dify  # noqa: F401
from tests.fakes.local import serve_local

PAGE_ORIGIN = "http://page.example"
PREFLIGHT = {"Origin": PAGE_ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}


async def test_preflights_and_answers_carry_cors_headers_for_listed_origins(open_dify, fake_llm) -> None:
    running, dify = await open_dify(sections={"server": {"cors_origins": [PAGE_ORIGIN],
                                                         "cors_allow_credentials": True, "cors_max_age": 300}})
    base, http = running.base_url, dify.http
    for path, methods in [("/dify/v1/chat-messages", "OPTIONS, POST"), ("/api/v1/conversations", "GET, OPTIONS, POST")]:
        async with http.options(base + path, headers=PREFLIGHT) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == PAGE_ORIGIN
            assert resp.headers["Access-Control-Allow-Methods"] == methods and resp.headers["Allow"] == methods
            allowed = {h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}
            assert {"authorization", "content-type", "x-api-key"} <= allowed
            assert resp.headers["Access-Control-Max-Age"] == "300"
            assert resp.headers["Access-Control-Allow-Credentials"] == "true" and "Origin" in resp.headers["Vary"]
    # An origin not listed gets no CORS headers: the browser refuses to send the call.
    async with http.options(base + "/dify/v1/chat-messages", headers={**PREFLIGHT, "Origin": "http://evil.example"}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers and "Access-Control-Allow-Credentials" not in resp.headers
    # The answers themselves (errors and event streams included) carry the origin.
    async with http.get(base + "/dify/v1/parameters", headers={"Origin": PAGE_ORIGIN, "Authorization": "Bearer nope"}) as resp:
        assert resp.status == 401 and resp.headers["Access-Control-Allow-Origin"] == PAGE_ORIGIN
        assert "X-Request-Id" in resp.headers["Access-Control-Expose-Headers"]
    async with http.post(base + "/dify/v1/chat-messages", headers={"Origin": PAGE_ORIGIN, "Authorization": f"Bearer {APP_KEY}"},
                         json={"inputs": {}, "query": "hi", "user": "u", "response_mode": "streaming"}) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == PAGE_ORIGIN
        assert resp.content_type == "text/event-stream"
        await resp.read()
    # A 405 says what the path allows, in both APIs.
    async with http.put(base + "/dify/v1/chat-messages") as resp:
        assert (resp.status, resp.headers["Allow"]) == (405, "OPTIONS, POST")
        assert (await resp.json())["code"] == "method_not_allowed"
    async with http.delete(base + "/api/v1/conversations") as resp:
        assert (resp.status, resp.headers["Allow"]) == (405, "GET, OPTIONS, POST")


async def test_no_cors_by_default_and_any_origin_never_with_credentials(open_dify, fake_llm, tmp_path) -> None:
    running, dify = await open_dify()
    async with dify.http.options(running.base_url + "/dify/v1/chat-messages", headers=PREFLIGHT) as resp:
        assert resp.status == 204 and resp.headers["Allow"] == "OPTIONS, POST"
        assert not any(h.lower().startswith("access-control-") for h in resp.headers)
    running, dify = await open_dify(sections={"server": {"cors_origins": ["*"]}})
    async with dify.http.options(running.base_url + "/dify/v1/chat-messages", headers=PREFLIGHT) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in resp.headers
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, server={"cors_origins": ["*"], "cors_allow_credentials": True})
    assert "cors_allow_credentials" in str(caught.value)
    with pytest.raises(ConfigError):
        make_config(tmp_path, server={"cors_origins": ["https://app.example.com/path"]})


PAGE = """<!doctype html><meta charset="utf-8"><title>embed</title><pre id="out"></pre><script>
window.result = null;
(async () => {
  const events = [];
  try {
    const resp = await fetch(BASE + "/dify/v1/chat-messages", {method: "POST",
      headers: {"Authorization": "Bearer KEY", "Content-Type": "application/json"},
      body: JSON.stringify({inputs: {}, query: "Hello from a browser", response_mode: "streaming", user: "web-1"})});
    const reader = resp.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const data = block.split("\\n").filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("\\n");
        if (data) events.push(JSON.parse(data));
      }
    }
    window.result = {status: resp.status, events};
  } catch (e) {
    window.result = {error: String(e), events};
  }
  document.getElementById("out").textContent = JSON.stringify(window.result);
})();
</script>"""


class PageServer:
    """Serves the embedding page on its own 127.0.0.1 port (its own origin); `api` is the app it calls."""

    def __init__(self) -> None:
        self.api = ""
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> "PageServer":
        async def page(request: web.Request) -> web.Response:
            return web.Response(text=PAGE.replace("BASE", repr(self.api)).replace("KEY", APP_KEY),
                                content_type="text/html")

        app = web.Application()
        app.router.add_get("/", page)
        self._runner, self.url = await serve_local(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    try:
        import playwright  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        reason = "Debian's chromium or the playwright package is not installed (apt-get install -y chromium)"
        if os.environ.get("BOT_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; BOT_TEST_REQUIRE_BROWSER=1 makes this a failure", pytrace=False)
        pytest.skip(reason)
    return path


async def _run_page(browser, url: str) -> dict:
    page = await browser.new_page()
    try:
        await page.goto(url)
        await page.wait_for_function("window.result !== null", timeout=15000)
        return await page.evaluate("window.result")
    finally:
        await page.close()


async def test_a_browser_streams_a_dify_answer_from_another_origin(open_dify, fake_llm) -> None:
    chromium = _chromium()
    from playwright.async_api import async_playwright

    async with PageServer() as pages, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--headless"])
        try:
            # The page's origin is not listed: the preflight gets no CORS headers, the browser never sends the POST.
            running, _ = await open_dify(sections={"server": {"cors_origins": ["http://elsewhere.example"]}})
            pages.api = running.base_url
            refused = await _run_page(browser, pages.url)
            assert "error" in refused and refused["events"] == [] and fake_llm.chat_requests == []

            running, _ = await open_dify(sections={"server": {"cors_origins": [pages.url]}})
            pages.api = running.base_url
            fake_llm.script(reply="Hello, browser! Streaming works.", chunk_chars=4, chunk_delay=0.02)
            result = await _run_page(browser, pages.url)
        finally:
            await browser.close()
    assert result.get("status") == 200, result
    messages = [e for e in result["events"] if e["event"] == "message"]
    assert len(messages) == 8 and "".join(e["answer"] for e in messages) == "Hello, browser! Streaming works."
    end = result["events"][-1]
    assert end["event"] == "message_end" and "total_price" in end["metadata"]["usage"]
    assert fake_llm.chat_requests[0]["messages"][-1]["content"] == "Hello from a browser"
