"""CORS for /api/v1 and /dify/v1: browsers on `server.cors_origins` may call the APIs (preflights answered,
streaming answers included); every OPTIONS and every 405 there says which methods the path allows (`Allow`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp.web_urldispatcher import MatchInfoError


SCOPES = ("/api/v1", "/dify/v1")
# What a browser may send (beyond the CORS-safelisted ones) and read from our answers.
ALLOW_HEADERS = ("Authorization", "Content-Type", "X-API-Key", "X-Request-Id", "Last-Event-ID", "Accept",
                 "Accept-Language", "Cache-Control")
EXPOSE_HEADERS = ("X-Request-Id", "Retry-After", "Content-Disposition", "Allow")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def in_scope(path: str) -> bool:
    return any(path == scope or path.startswith(scope + "/") for scope in SCOPES)


def allowed_methods(request: web.Request) -> set[str] | None:
    """The methods the request's path answers, when the router refused this one (405); None otherwise."""
    match = request.match_info
    if isinstance(match, MatchInfoError) and isinstance(match.http_exception, web.HTTPMethodNotAllowed):
        return set(match.http_exception.allowed_methods)
    return None


@dataclass(frozen=True)
class CorsPolicy:
    origins: tuple[str, ...]
    credentials: bool
    max_age: int

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def origin_headers(self, origin: str | None) -> dict[str, str]:
        """The CORS headers an answer to `origin` carries; none for an origin not listed. `*` never goes with
        credentials (the config refuses that pair); a listed origin is echoed, with Vary: Origin for caches."""
        if not self.origins:
            return {}
        if self.any_origin:
            return {"Access-Control-Allow-Origin": "*"} if origin else {}
        headers = {"Vary": "Origin"}
        if origin and origin in self.origins:
            headers["Access-Control-Allow-Origin"] = origin
            if self.credentials:
                headers["Access-Control-Allow-Credentials"] = "true"
        return headers


def _allow(methods: set[str]) -> str:
    return ", ".join(sorted(methods | {"OPTIONS"}))


def preflight_middleware(policy: CorsPolicy):
    @web.middleware
    async def answer_options(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "OPTIONS" or not in_scope(request.path):
            return await handler(request)
        methods = allowed_methods(request)
        if methods is None:  # an unknown path (404), or a route that answers OPTIONS itself
            return await handler(request)
        headers = {"Allow": _allow(methods)}
        origin = request.headers.get("Origin")
        wanted = request.headers.get("Access-Control-Request-Method", "").upper()
        cors = policy.origin_headers(origin)
        if origin and wanted and "Access-Control-Allow-Origin" in cors and wanted in methods | {"OPTIONS"}:
            cors.update({"Access-Control-Allow-Methods": _allow(methods),
                         "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS),
                         "Access-Control-Max-Age": str(policy.max_age)})
            headers.update(cors)
        elif "Vary" in cors:
            headers["Vary"] = cors["Vary"]
        # A preflight from an origin not listed gets no CORS headers: the browser then refuses the call.
        return web.Response(status=204, headers=headers)

    return answer_options


def response_hook(policy: CorsPolicy):
    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        """Runs as any answer's headers go out, so streamed (SSE) answers get them too."""
        if not in_scope(request.path) or request.method == "OPTIONS":
            return
        if response.status == 405 and "Allow" not in response.headers:
            methods = allowed_methods(request)
            if methods is not None:
                response.headers["Allow"] = _allow(methods)
        cors = policy.origin_headers(request.headers.get("Origin"))
        if "Vary" in cors:
            response.headers.add("Vary", cors.pop("Vary"))
        if cors:
            response.headers.update(cors)
            response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSE_HEADERS)

    return on_prepare


def install(app: web.Application, policy: CorsPolicy) -> None:
    app.middlewares.append(preflight_middleware(policy))
    app.on_response_prepare.append(response_hook(policy))
