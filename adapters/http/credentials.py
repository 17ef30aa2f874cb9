"""The HTTP API's credential resolver: user API keys (X-API-Key) and bearer tokens (Authorization)."""
from __future__ import annotations

from aiohttp import web

from adapters.http.auth import Principal
from adapters.http.keys import services_of
from core.auth import ApiKeyService, TokenSigner

_PRINCIPAL = web.RequestKey("principal", object)


def api_keys(request: web.Request) -> ApiKeyService:
    return services_of(request).api_keys


def signer(request: web.Request) -> TokenSigner:
    return services_of(request).signer


async def resolve_credentials(request: web.Request) -> Principal | None:
    """The user behind X-API-Key or a bearer token; None when neither names one.

    A malformed, forged or expired bearer token raises Unauthorized with a message saying which."""
    if _PRINCIPAL in request:
        return request[_PRINCIPAL]
    principal = None
    key = request.headers.get("X-API-Key", "").strip()
    if key:
        user_id = await api_keys(request).user_for(key)
        principal = Principal(user_id) if user_id else None
    else:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            principal = Principal(signer(request).verify(token))
    request[_PRINCIPAL] = principal
    return principal
