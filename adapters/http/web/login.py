"""Signing in on the web: a magic code (/link), a one-time /web link, or scanning a WeChat login QR (confirmed
with 确认 in WeChat). Each ends in a NEW session id (no fixation) and a redirect to one of our own paths."""
from __future__ import annotations

from aiohttp import web

from adapters.http.auth import client_bucket
from adapters.http.keys import settings_of
from adapters.http.web.base import Page, open_page, page_handler, redirect, render, sessions_of
from adapters.http.web.links import LOGIN, SIGN_IN_LINK, safe_next, user_page_next
from core.errors import DomainError, NotFound, Unauthorized


def _wechat_login_on(request: web.Request) -> bool:
    return settings_of(request).wechat_enabled


def _login_form(page: Page, status: int = 200, error: str = "") -> web.Response:
    next_path = safe_next(page.request.query.get("next") or None)
    return render(page, "login.html", status=status, error=error, next=next_path,
                  wechat=_wechat_login_on(page.request))


async def _signed_in(page: Page, user_id: str, next_path: str | None) -> web.Response:
    await sessions_of(page.request).sign_in(page.request, user_id)
    return redirect(safe_next(next_path))


@page_handler
async def login_page(request: web.Request) -> web.StreamResponse:
    page = await open_page(request, signed_in=False, new_session=True)
    if page.user is not None:
        return redirect(safe_next(request.query.get("next")))
    return _login_form(page)


@page_handler
async def login_with_code(request: web.Request) -> web.StreamResponse:
    """The magic code of /link, redeemed by the same service as POST /api/v1/auth/token {magic_code}."""
    page = await open_page(request, signed_in=False)
    form = await page.form()
    try:
        user = await page.services.accounts.redeem_link_code(form.get("code", ""), None,
                                                             attempt_by=client_bucket(request))
    except DomainError as e:
        return _login_form(page, e.status, page.t("page.login.code_refused", reason=e.message))
    return await _signed_in(page, user.id, form.get("next"))


@page_handler
async def link_page(request: web.Request) -> web.StreamResponse:
    """GET shows one button (its script presses it): a link preview fetched by a chat app spends nothing."""
    page = await open_page(request, signed_in=False, new_session=True)
    return render(page, "login_link.html", token=request.query.get("token", ""),
                  next=user_page_next(request.query.get("next") or None))


@page_handler
async def link_sign_in(request: web.Request) -> web.StreamResponse:
    page = await open_page(request, signed_in=False)
    form = await page.form()
    services = page.services
    try:
        async with services.failures.attempt("sign-in-link:" + client_bucket(request)):
            user_id = await services.sign_in.redeem(form.get("token", ""))
    except DomainError as e:
        return _login_form(page, e.status, page.t("page.login.link_refused"))
    return await _signed_in(page, user_id, user_page_next(form.get("next")))


@page_handler
async def open_qrcode(request: web.Request) -> web.StreamResponse:
    """A login QR for this browser: the scene the API opens (POST /api/v1/auth/wechat-qrcode), drawn here."""
    import segno

    from adapters.wechat.login import open_login_qrcode

    page = await open_page(request, signed_in=False)
    await page.check_csrf_header()
    if not _wechat_login_on(request):
        raise NotFound("WeChat sign-in is not configured.")
    opened = await open_login_qrcode(request)
    assert page.session is not None
    page.session.data["qr"] = opened["qrcode"]
    await sessions_of(request).save(page.session)
    image = segno.make(opened["content"] or opened["url"], error="m").png_data_uri(scale=6, border=2)
    return web.json_response({"image": image, "expires_at": opened["expires_at"]})


@page_handler
async def poll_qrcode(request: web.Request) -> web.StreamResponse:
    """Has the QR been scanned and confirmed? The same redeem, under the same failure limit, as /auth/token."""
    page = await open_page(request, signed_in=False)
    await page.check_csrf_header()
    assert page.session is not None
    ticket = page.session.data.get("qr")
    if not ticket:
        return web.json_response({"status": "expired"})
    services = page.services
    try:
        async with services.failures.attempt("qrcode:" + client_bucket(request)):
            user_id = await services.qr_login.redeem(ticket)
    except Unauthorized as e:
        if e.reason == "pending":
            scanned = "confirm" in e.message.lower()
            return web.json_response({"status": "scanned" if scanned else "pending"})
        return web.json_response({"status": "expired"})
    await sessions_of(request).sign_in(request, user_id)
    return web.json_response({"status": "ok", "next": safe_next(request.query.get("next"))})


@page_handler
async def logout(request: web.Request) -> web.StreamResponse:
    page = await open_page(request, signed_in=False)
    await page.form()
    await sessions_of(request).sign_out(request)
    return redirect(LOGIN)


def install(app: web.Application) -> None:
    app.router.add_get(LOGIN, login_page)
    app.router.add_post(LOGIN + "/code", login_with_code)
    app.router.add_get(SIGN_IN_LINK, link_page)
    app.router.add_post(SIGN_IN_LINK, link_sign_in)
    app.router.add_post(LOGIN + "/qr", open_qrcode)
    app.router.add_post(LOGIN + "/qr/poll", poll_qrcode)
    app.router.add_post("/web/logout", logout)
