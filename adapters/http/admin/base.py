"""What every console page shares: the operator's session (an admin key, then a cookie that expires), the actor
name the audit log records, rendering with the console's layout, and errors as console pages."""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from adapters.http.keys import settings_of
from adapters.http.web.base import Handler, Page, Redirect, html_handler, open_page, skeleton_context

TEMPLATES = web.AppKey("admin_templates", jinja2.Environment)
STATIC = "/admin/static"
LOGIN = "/admin/login"
HOME = "/admin/users"
SESSION_KEY = "admin"          # in WebSession.data: {"actor", "key", "until"}


def key_fingerprint(key: str) -> str:
    """Names an admin key in the session and the audit log without revealing it."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def admin_keys(request: web.Request) -> list[str]:
    return list(settings_of(request).admin_api_keys)


def session_seconds(request: web.Request) -> int:
    return settings_of(request).admin_session_seconds


def matching_key(request: web.Request, given: str) -> str | None:
    found = None
    for key in admin_keys(request):
        if given and hmac.compare_digest(given.encode(), key.encode()):
            found = key
    return found


@dataclass
class Console:
    """One console request: the page (session, language, texts) and the operator acting."""

    page: Page
    actor: str

    @property
    def services(self):
        return self.page.services

    @property
    def request(self) -> web.Request:
        return self.page.request

    def t(self, key: str, **values: Any) -> str:
        return self.page.t(key, **values)

    async def form(self) -> dict[str, str]:
        """The POSTed form after the CSRF check (403 csrf_failed otherwise)."""
        return await self.page.form()


def signed_in_admin(page: Page) -> dict | None:
    """The session's admin sign-in while it lasts and its key is still configured; None otherwise."""
    state = page.session.data.get(SESSION_KEY) if page.session else None
    if not isinstance(state, dict) or float(state.get("until", 0)) <= time.time():
        return None
    if state.get("key") not in {key_fingerprint(k) for k in admin_keys(page.request)}:
        return None   # the key was taken out of security.admin_api_keys: its sessions end with it
    return state


async def open_console(request: web.Request) -> Console:
    """The console's context; a visitor without a live admin sign-in goes to /admin/login (and back after)."""
    page = await open_page(request, signed_in=False)
    state = signed_in_admin(page)
    if state is None:
        raise Redirect(f"{LOGIN}?next={quote(request.path_qs, safe='')}")
    return Console(page, str(state["actor"]))


def render(page: Page, template: str, status: int = 200, **context: Any) -> web.Response:
    base = {**skeleton_context(page), "static": STATIC, "signed_in": signed_in_admin(page) is not None}
    return aiohttp_jinja2.render_template(template, page.request, {**base, **context}, app_key=TEMPLATES,
                                          status=status)


def console_handler(handler: Handler) -> Handler:
    """A sign-in redirect, or an error as a console page in the operator's language, with the error's status."""
    return html_handler(handler, lambda page, e: render(page, "admin_error.html", status=e.status,
                                                        message=e.message, reason=e.reason))


def int_field(form: dict[str, str], name: str, *, minimum: int | None = None) -> int:
    from core.errors import InvalidRequest

    try:
        value = int(form.get(name, "").strip())
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number.") from None
    if minimum is not None and value < minimum:
        raise InvalidRequest(f"{name} must be at least {minimum}.")
    return value
