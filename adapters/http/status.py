"""GET /api/v1/status: liveness plus the state of the database (and Redis, when configured)."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from adapters.storage import db


def app_version() -> str:
    try:
        return version("chatbot-platform")
    except PackageNotFoundError:
        return "0.0.0+local"


async def status(request: web.Request) -> web.Response:
    database = "ok" if await db.ping() else "unavailable"
    body = {"status": "ok" if database == "ok" else "degraded", "version": app_version(), "database": database}
    return web.json_response(body, status=200 if database == "ok" else 503)


def install(app: web.Application) -> None:
    app.router.add_get("/api/v1/status", status)
