"""Signing in to the console with an admin key (from security.admin_api_keys) and out again."""
from __future__ import annotations

import time

from aiohttp import web

from adapters.http.admin.base import (
    HOME, LOGIN, SESSION_KEY, console_handler, key_fingerprint, matching_key, open_console, render, session_seconds,
    signed_in_admin,
)
from adapters.http.auth import client_bucket, failure_limiter
from adapters.http.web.base import open_page, redirect, sessions_of


def _next(value: str | None) -> str:
    """Back to a console page only (never another site, never the user pages)."""
    value = value or ""
    if value.startswith("/admin") and not value.startswith("//") and "\\" not in value \
            and all(c.isprintable() for c in value):
        return value
    return HOME


@console_handler
async def login_page(request: web.Request) -> web.StreamResponse:
    page = await open_page(request, signed_in=False, new_session=True)
    if signed_in_admin(page) is not None:
        return redirect(_next(request.query.get("next")))
    return render(page, "admin_login.html", next=_next(request.query.get("next")), error="")


@console_handler
async def login(request: web.Request) -> web.StreamResponse:
    page = await open_page(request, signed_in=False)
    form = await page.form()
    bucket = "credentials:" + client_bucket(request)
    limiter = failure_limiter(request)
    await limiter.check(bucket)       # someone guessing keys from this address: 429 before the key is even read
    key = matching_key(request, form.get("key", "").strip())
    if key is None:
        await limiter.fail(bucket)
        # The form again with a plain "refused" (200: a browser treats the page as a page, not a failed load).
        return render(page, "admin_login.html", next=_next(form.get("next")),
                      error=page.t("admin.login.refused"))
    sessions = sessions_of(request)
    session = await sessions.sign_in(request, "")       # a NEW session id: one planted before is worthless
    fingerprint = key_fingerprint(key)
    actor = f"admin:{fingerprint[:6]}"
    until = time.time() + session_seconds(request)
    session.data[SESSION_KEY] = {"actor": actor, "key": fingerprint, "until": until}
    session.expires = min(session.expires, until)    # the stored session ends with the sign-in
    session.locale = page.session.locale if page.session else None
    await sessions.save(session)
    await page.services.admin.record(actor, "admin.sign_in", "console", None, {"address": client_bucket(request)})
    return redirect(_next(form.get("next")))


@console_handler
async def logout(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    await console.form()
    await console.services.admin.record(console.actor, "admin.sign_out", "console")
    await sessions_of(request).sign_out(request)
    return redirect(LOGIN)
