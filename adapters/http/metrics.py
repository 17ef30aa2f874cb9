"""GET /metrics in Prometheus text format, and the middleware that counts every HTTP request."""
from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters.http.errors import Handler
from adapters.metrics import Metrics

METRICS = web.AppKey("metrics", Metrics)


def _route(request: web.Request) -> str:
    # The route template, not the path: ids must not explode the label set.
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        route = _route(request)
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_latency.labels(request.method, route).observe(time.perf_counter() - start)


async def metrics_endpoint(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def install(app: web.Application, metrics: Metrics) -> None:
    app[METRICS] = metrics
    app.middlewares.insert(0, metrics_middleware)
    app.router.add_get("/metrics", metrics_endpoint)
