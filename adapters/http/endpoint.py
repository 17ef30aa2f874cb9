"""Declared endpoints: one pydantic model validates a request and documents it in the OpenAPI document."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable, Iterable, Literal

from aiohttp import web
from pydantic import BaseModel, ValidationError

from adapters.http.auth import Principal, authenticate, require_admin, require_any, require_user
from adapters.http.keys import services_of
from adapters.jsontext import dumps_bytes
from core.errors import InvalidRequest, NotFound

Access = Literal["user", "admin", "any", "public"]
# The longest value a path parameter can have: our ids are uuids (36), role names up to 100. A longer
# value, or one with control characters, names nothing: 404 before any lookup.
ID_CHARS = 36
_PATH_CHARS = {"name": 100}


@dataclass
class Call:
    """What a handler gets: the request, who is calling, and the validated body and query."""

    request: web.Request
    principal: Principal | None
    body: Any = None
    query: Any = None

    @property
    def user_id(self) -> str:
        assert self.principal is not None and self.principal.user_id is not None
        return self.principal.user_id

    def path(self, name: str) -> str:
        return self.request.match_info[name]

    @property
    def actor(self) -> str:
        """The admin acting, as the audit log names them (admin endpoints only)."""
        assert self.principal is not None and self.principal.is_admin
        return self.principal.actor

    async def audit(self, action: str, target: str, before: Any = None, after: Any = None) -> None:
        """One audit entry for an admin's write that no AdminService method makes (core/admin.py)."""
        await services_of(self.request).admin.record(self.actor, action, target, before, after)


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    access: Access = "user"
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # May answer text/event-stream instead: the event names and the models of their JSON `data`.
    streams: tuple[tuple[str, type[BaseModel]], ...] = ()
    tag: str = ""
    # Other statuses that answer with `response` too (errors always have the error shape).
    extra_statuses: tuple[int, ...] = field(default=())
    # Path parameters whose longest value differs from the default (ID_CHARS; `name`: 100).
    path_chars: tuple[tuple[str, int], ...] = ()

    def path_limit(self, name: str) -> int:
        return dict(self.path_chars).get(name, _PATH_CHARS.get(name, ID_CHARS))


# Every declared endpoint of the app, in order; the OpenAPI document is generated from this list.
ENDPOINTS = web.AppKey("http_endpoints", list)

_GUARDS: dict[str, Callable[[web.Request], Awaitable[Principal | None]]] = {
    "user": require_user, "admin": require_admin, "any": require_any, "public": authenticate,
}


def field_errors(error: ValidationError, where: str) -> str:
    """'content: Field required; limit: Input should be less than or equal to 100'."""
    parts = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or where
        kind = err.get("type")
        msg = "unknown field" if kind == "extra_forbidden" else str(err.get("msg", "invalid"))
        parts.append(f"{loc}: {msg.removeprefix('Value error, ')}")
    return "; ".join(parts)


async def read_json(request: web.Request, required: bool = True) -> Any:
    raw = await request.read()   # beyond server.max_body_bytes this raises 413
    if not raw.strip():
        if required:
            raise InvalidRequest("The request needs a JSON body.")
        return {}
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    """JSON text to Python, or InvalidRequest: bad UTF-8 or syntax, nesting too deep, a number too long."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest("The body is not UTF-8 text.") from None
    except json.JSONDecodeError as e:
        raise InvalidRequest(f"The body is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}).") from None
    except RecursionError:
        raise InvalidRequest("The JSON body is nested too deeply.") from None
    except ValueError as e:  # an integer of more than 4300 digits (Python's int conversion limit)
        raise InvalidRequest(f"The JSON body holds a value that cannot be read ({e}).") from None


def check_path(endpoint: Endpoint, request: web.Request) -> None:
    """A path parameter longer than anything stored, or with control characters, names nothing."""
    for name, value in request.match_info.items():
        if len(value) > endpoint.path_limit(name) or not value.isprintable():
            raise NotFound(f"Nothing has this {name}.")


def validate(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InvalidRequest(f"Invalid {where}: {field_errors(e, where)}") from None


def _render(endpoint: Endpoint, result: Any) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=204)
    # pydantic writes a model's JSON itself (no dict in between); anything else goes through orjson when installed.
    body = result.model_dump_json().encode() if isinstance(result, BaseModel) else dumps_bytes(result)
    return web.Response(body=body, status=endpoint.status, content_type="application/json")


def _wrap(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    guard = _GUARDS[endpoint.access]

    async def handle(request: web.Request) -> web.StreamResponse:
        # Who is calling is settled first: an unauthorised request never has its body read.
        principal = await guard(request)
        check_path(endpoint, request)
        query = validate(endpoint.query, dict(request.query), "query") if endpoint.query else None
        body = None
        if endpoint.body is not None:
            body = validate(endpoint.body, await read_json(request, endpoint.body_required), "body")
        return _render(endpoint, await endpoint.handler(Call(request, principal, body, query)))

    return handle


def add(app: web.Application, endpoint: Endpoint) -> None:
    """Route `endpoint` and list it in the OpenAPI document."""
    app.setdefault(ENDPOINTS, []).append(endpoint)
    app.router.add_route(endpoint.method, endpoint.path, _wrap(endpoint))


def add_all(app: web.Application, prefix: str, endpoints: Iterable[Endpoint]) -> None:
    for endpoint in endpoints:
        add(app, replace(endpoint, path=prefix + endpoint.path))
