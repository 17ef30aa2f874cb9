"""Browser tests: Debian's chromium driven by playwright against the real app factory on a free port, with the
fake OpenAI server. Without chromium or playwright they skip, saying so, unless BOT_TEST_REQUIRE_BROWSER=1."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

CHROMIUM = os.environ.get("BOT_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture
def browser_available() -> None:
    missing = _missing()
    if missing:
        if os.environ.get("BOT_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required (BOT_TEST_REQUIRE_BROWSER=1) but {missing}")
        pytest.skip(f"browser tests skipped: {missing}")


@pytest.fixture
async def browser(browser_available):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


class WebApp:
    """The running app, an HTTP client for setup through the API, and helpers for pages."""

    def __init__(self, running, http: aiohttp.ClientSession, browser):
        self.running = running
        self.base_url = running.base_url
        self.http = http
        self.browser = browser
        self.blocked: list[str] = []     # what the browser refused (CSP) or failed to run

    @property
    def services(self):
        return self.running.services

    async def new_user(self, name: str = "alice") -> dict:
        async with self.http.post("/api/v1/users", json={"name": name}, headers={"X-API-Key": "admin-key"}) as r:
            assert r.status == 201, await r.text()
            return await r.json()

    async def new_page(self, phone: bool = False, locale: str = "en-US"):
        context = await self.browser.new_context(viewport=PHONE if phone else DESKTOP, locale=locale,
                                                 device_scale_factor=1, is_mobile=phone, has_touch=phone)
        page = await context.new_page()
        page.phone = phone  # type: ignore[attr-defined]
        page.on("console", lambda m: self.blocked.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.blocked.append(str(e)))
        return page

    async def sign_in(self, page, user_id: str) -> None:
        """Open a /web one-time link, as the user who sent /web would."""
        link = await self.services.sign_in.issue(user_id)
        public = self.services.config.server.public_url.rstrip("/")
        await page.goto(link.url.replace(public, self.base_url))
        await page.wait_for_url("**/web/chat**")

    async def goto(self, page, path: str) -> Any:
        return await page.goto(self.base_url + path)

    async def shoot(self, page, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}-{'phone' if page.phone else 'desktop'}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
async def open_web_app(browser, start_app):
    """`app = await open_web_app(config)`: the real app on a free port with `config`, and the browser."""
    opened: list[WebApp] = []

    async def open_app(config) -> WebApp:
        running = await start_app(config)
        app = WebApp(running, aiohttp.ClientSession(running.base_url), browser)
        opened.append(app)
        return app

    yield open_app
    for app in opened:
        await app.http.close()
    for app in opened:
        assert app.blocked == [], f"the browser reported errors: {app.blocked}"


@pytest.fixture
async def web_app(open_web_app, config):
    return await open_web_app(config)
