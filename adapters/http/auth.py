"""Who is calling: resolve a request's bearer token or API key to a Principal (user and/or admin)."""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from core.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Principal:
    user_id: str | None
    is_admin: bool = False


def _config(request: web.Request):
    from bot.app import CONFIG

    return request.app[CONFIG]


def _is_admin_key(request: web.Request, key: str) -> bool:
    return any(hmac.compare_digest(key, k) for k in _config(request).security.admin_api_keys)


async def authenticate(request: web.Request) -> Principal | None:
    """The caller, or None when the request carries no credentials. Bad credentials raise Unauthorized.

    Admin keys come from `security.admin_api_keys`. User API keys and bearer tokens are resolved by
    the HTTP API's token service (adapters/http/tokens.py) once it is installed."""
    key = request.headers.get("X-API-Key")
    if key and _is_admin_key(request, key):
        return Principal(None, is_admin=True)
    resolver = request.app.get(CREDENTIAL_RESOLVER)
    if resolver is not None:
        principal = await resolver(request)
        if principal is not None:
            return principal
    if key or request.headers.get("Authorization"):
        raise Unauthorized("The API key or token is not valid.")
    return None


async def require_user(request: web.Request) -> Principal:
    """A signed-in user (an admin key alone is not a user). 401 otherwise."""
    principal = await authenticate(request)
    if principal is None:
        raise Unauthorized("Sign in: send Authorization: Bearer <token> or X-API-Key.")
    if principal.user_id is None:
        raise Forbidden("This endpoint acts for a user; an admin key alone cannot use it.")
    return principal


async def require_any(request: web.Request) -> Principal:
    """A user or an admin."""
    principal = await authenticate(request)
    if principal is None:
        raise Unauthorized("Sign in: send Authorization: Bearer <token> or X-API-Key.")
    return principal


async def require_admin(request: web.Request) -> Principal:
    principal = await authenticate(request)
    if principal is None:
        raise Unauthorized("This endpoint needs an admin API key (X-API-Key).")
    if not principal.is_admin:
        raise Forbidden("This endpoint needs an admin API key.")
    return principal


# The HTTP API sets this to a coroutine(request) -> Principal | None that checks user API keys and
# bearer tokens; it returns None when the request carries neither.
CREDENTIAL_RESOLVER = web.AppKey("credential_resolver", object)
