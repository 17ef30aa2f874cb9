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
    from bot.app import SERVICES

    body = {"status": "ok", "version": app_version(), "database": "ok" if await db.ping() else "unavailable"}
    ping = getattr(request.app[SERVICES].ephemeral, "ping", None)
    if ping is not None:
        body["redis"] = "ok" if await ping() else "unavailable"
    healthy = all(body[k] == "ok" for k in ("database", "redis") if k in body)
    body["status"] = "ok" if healthy else "degraded"
    return web.json_response(body, status=200 if healthy else 503)


def install(app: web.Application) -> None:
    app.router.add_get("/api/v1/status", status)
