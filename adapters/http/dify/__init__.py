"""The Dify-compatible chat-app API at /dify/v1 (CONTRACT 5), a sub-app with Dify's own error shape."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from adapters.http.dify.context import DifySettings

PREFIX = "/dify/v1"


def install(app: web.Application, settings: DifySettings) -> None:
    """The routes; their services (adapters.http.dify.context.SERVICES) are put on the main app at start-up."""
    from adapters.http.dify import app_info, chat, context, files, history
    from adapters.http.dify.errors import dify_error_middleware

    api = web.Application(middlewares=[dify_error_middleware])
    api[context.SETTINGS] = settings
    chat.add_routes(api)
    history.add_routes(api)
    app_info.add_routes(api)
    files.add_routes(api)
    app.add_subapp(PREFIX, api)
