"""`/` and `/api/v1/docs`: server-rendered, no inline script or style, under a strict Content-Security-Policy."""
from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from adapters.http.landing import ASSETS, TEMPLATES, page_headers
from adapters.http.keys import settings_of
from adapters.http.status import app_version


async def landing(request: web.Request) -> web.Response:
    settings = settings_of(request)
    channels = [name for name, on in (("Telegram", settings.telegram_enabled),
                                      ("WeChat Official Account", settings.wechat_enabled)) if on]
    context = {"version": app_version(), "assets": ASSETS, "channels": channels,
               "dify": settings.dify_enabled, "public_url": settings.public_url.rstrip("/")}
    response = aiohttp_jinja2.render_template("landing.html", request, context, app_key=TEMPLATES)
    response.headers.update(page_headers())
    return response


async def api_docs(request: web.Request) -> web.Response:
    context = {"version": app_version(), "assets": ASSETS, "spec_url": "/api/v1/openapi.json"}
    response = aiohttp_jinja2.render_template("api_docs.html", request, context, app_key=TEMPLATES)
    response.headers.update(page_headers())
    return response


async def to_api_docs(request: web.Request) -> web.Response:
    raise web.HTTPFound("/api/v1/docs")
