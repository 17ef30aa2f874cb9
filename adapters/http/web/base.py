"""What every page shares: the services, the session and its CSRF token, the language, rendering under a strict
CSP, redirects to our own paths only, and the session as a credential for the pages' calls to the JSON API."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import aiohttp_jinja2
import jinja2
from aiohttp import web

from adapters.http.auth import Principal
from adapters.http.keys import SERVICES, HttpServices, services_of
from adapters.http.web.links import HOME, login_url, safe_next
from adapters.http.web.sessions import COOKIE, Sessions, WebSession
from core.domain import User
from core.errors import DomainError, Forbidden, NotFound
from core.i18n import Texts, normalize_locale

log = logging.getLogger(__name__)

TEMPLATES = web.AppKey("web_templates", jinja2.Environment)
STATIC = "/web/static"
PAGE_PREFIXES = ("/web", "/admin")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# The language switch names each language in itself (an endonym is the same in every catalogue).
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}

# Only this server's scripts and styles, nothing inline; forms post only here; no framing. QR codes are data: PNGs.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


def sessions_of(request: web.Request) -> Sessions:
    return services_of(request).sessions


def texts_of(request: web.Request) -> Texts:
    return services_of(request).texts


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Every page answer (errors too) gets the security headers and, when asked, the session cookie."""
    if not request.path.startswith(PAGE_PREFIXES):
        return
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    if SERVICES in request.config_dict:
        sessions_of(request).write_cookie(request, response)


class Redirect(Exception):
    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST the browser GETs the page."""
    return web.Response(status=303, headers={"Location": location})


@dataclass
class Page:
    """One page request: who is signed in, in which language, with which session."""

    request: web.Request
    session: WebSession | None
    user: User | None
    locale: str
    texts: Texts

    def t(self, key: str, **values: Any) -> str:
        return self.texts.get(key, self.locale, **values)

    @property
    def user_id(self) -> str:
        assert self.user is not None
        return self.user.id

    @property
    def services(self) -> HttpServices:
        return services_of(self.request)

    async def form(self) -> dict[str, str]:
        """The POSTed form, after its CSRF token was checked against the session's (403 otherwise)."""
        form = await self.request.post()
        token = str(form.get(CSRF_FIELD) or self.request.headers.get(CSRF_HEADER) or "")
        if self.session is None or not self.session.csrf_ok(token):
            raise Forbidden(self.t("page.error.csrf"), reason="csrf_failed")
        return {k: str(v) for k, v in form.items() if isinstance(v, str)}

    async def check_csrf_header(self) -> None:
        token = self.request.headers.get(CSRF_HEADER, "")
        if self.session is None or not self.session.csrf_ok(token):
            raise Forbidden(self.t("page.error.csrf"), reason="csrf_failed")


def _accept_language(request: web.Request) -> str | None:
    first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
    return normalize_locale(first)


async def open_page(request: web.Request, *, signed_in: bool = True, new_session: bool = False) -> Page:
    """The page's context. `signed_in`: a visitor who is not is sent to the sign-in page (and back after).
    `new_session`: make an anonymous session when there is none (a page with forms needs its CSRF token)."""
    sessions = sessions_of(request)
    session = await (sessions.ensure(request) if new_session else sessions.load(request))
    user = None
    if session is not None and session.user_id:
        try:
            user = await services_of(request).accounts.get(session.user_id)
        except NotFound:   # the account is gone (merged by /link): sign in again
            user = None
    if signed_in and user is None:
        raise Redirect(login_url(request.path_qs))
    texts = texts_of(request)
    chosen = (session.locale if session else None) or (user.locale if user else None)
    return Page(request, session, user, texts.locale_for(chosen, _accept_language(request)), texts)


def skeleton_context(page: Page) -> dict[str, Any]:
    """What the page skeleton (templates/base.html, which the console's layout extends too) reads: the texts,
    the CSRF token, the language switch and where the page is."""
    return {"page": page, "t": page.t, "locale": page.locale, "web_static": STATIC,
            "csrf": page.session.csrf if page.session else "", "csrf_field": CSRF_FIELD,
            "path": page.request.path, "path_qs": page.request.path_qs, "locales": page.texts.locales,
            "language_names": LANGUAGE_NAMES}


def render(page: Page, template: str, status: int = 200, **context: Any) -> web.Response:
    base = {**skeleton_context(page), "user": page.user, "static": STATIC}
    return aiohttp_jinja2.render_template(template, page.request, {**base, **context}, app_key=TEMPLATES,
                                          status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorPage = Callable[[Page, DomainError], web.Response]


def html_handler(handler: Handler, error_page: ErrorPage) -> Handler:
    """A handler that answers in HTML: a Redirect becomes a 303, a DomainError becomes `error_page` in the
    visitor's language with the error's status (not the API's JSON)."""

    @functools.wraps(handler)
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Redirect as r:
            return redirect(r.location)
        except DomainError as e:
            return error_page(await open_page(request, signed_in=False), e)

    return handle


def page_handler(handler: Handler) -> Handler:
    """Pages answer in HTML: a sign-in redirect, or an error page in the visitor's language."""
    return html_handler(handler, lambda page, e: render(page, "error.html", status=e.status, message=e.message,
                                                        reason=e.reason))


@page_handler
async def to_home(request: web.Request) -> web.StreamResponse:
    return redirect(HOME)


@page_handler
async def set_language(request: web.Request) -> web.StreamResponse:
    """中文 / English: kept in the session and, for a signed-in user, on the account (the chats' /lang too)."""
    page = await open_page(request, signed_in=False)
    form = await page.form()
    locale = normalize_locale(form.get("locale"))
    if locale in page.texts.locales and page.session is not None:
        page.session.locale = locale
        await sessions_of(request).save(page.session)
        if page.user is not None:
            await page.services.accounts.set_locale(page.user.id, locale)
    return redirect(safe_next(form.get("next")))


def with_session_credentials(previous: Callable[[web.Request], Awaitable[Principal | None]] | None):
    """The API's credential resolver, extended: a page's fetch with the session cookie AND the session's CSRF token
    in X-CSRF-Token acts for the signed-in user. A cookie alone is never a credential (no CSRF through the API)."""

    async def resolve(request: web.Request) -> Principal | None:
        if previous is not None:
            principal = await previous(request)
            if principal is not None:
                return principal
        if request.headers.get("X-API-Key") or request.headers.get("Authorization"):
            return None
        token = request.headers.get(CSRF_HEADER)
        if not token or COOKIE not in request.cookies:
            return None
        session = await sessions_of(request).load(request)
        if session is None or not session.user_id:
            return None
        if not session.csrf_ok(token):
            raise Forbidden("The page's CSRF token is missing or wrong; reload the page.", reason="csrf_failed")
        return Principal(session.user_id)

    return resolve
