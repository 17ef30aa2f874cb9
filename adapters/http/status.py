"""GET /api/v1/status: liveness plus the state of the database (and Redis, when configured)."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from aiohttp import web

from adapters.http.endpoint import Call, Endpoint, add
from adapters.http.keys import services_of
from adapters.http.schemas import Out
from adapters.storage import db

Health = Literal["ok", "unavailable"]


class ProviderHealthOut(Out):
    provider: str
    state: Literal["closed", "open", "half_open"]  # the circuit breaker: open = skipped, half_open = being probed
    failures: int                                   # failed calls in a row
    retry_in_seconds: float                         # until an open breaker lets a probe through


class StatusOut(Out):
    status: Literal["ok", "degraded"]
    version: str
    database: Health
    redis: Health | None = None
    # The model providers' circuit breakers. An open one does not make the status degraded: fallbacks answer.
    llm_providers: list[ProviderHealthOut] = []


def app_version() -> str:
    try:
        return version("chatbot-platform")
    except PackageNotFoundError:
        return "0.0.0+local"


async def status(call: Call) -> web.Response:
    services = services_of(call.request)
    body = {"status": "ok", "version": app_version(), "database": "ok" if await db.ping() else "unavailable"}
    ping = getattr(services.ephemeral, "ping", None)
    if ping is not None:   # Redis is configured
        body["redis"] = "ok" if await ping() else "unavailable"
    llm = services.llm
    body["llm_providers"] = llm.status() if llm is not None else []
    healthy = all(body[k] == "ok" for k in ("database", "redis") if k in body)
    body["status"] = "ok" if healthy else "degraded"
    return web.json_response(body, status=200 if healthy else 503)


def install(app: web.Application) -> None:
    add(app, Endpoint("GET", "/api/v1/status", status, "Liveness, with the database's (and Redis's) state; "
                      "503 when one is unavailable", access="public", response=StatusOut, extra_statuses=(503,),
                      tag="status"))
