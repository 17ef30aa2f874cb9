"""Who is calling: resolve a request's bearer token or API key to a Principal (user and/or admin)."""
from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from aiohttp import web

from adapters.http.keys import SERVICES, SETTINGS, HttpSettings
from core.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Principal:
    user_id: str | None
    is_admin: bool = False
    actor: str = ""          # who the audit log names: "admin:<fingerprint>" for an admin key, never the key


def admin_actor(key: str) -> str:
    """An admin key as the audit log names it (the console's sign-ins too): a short fingerprint, never the key."""
    return "admin:" + hashlib.sha256(key.encode()).hexdigest()[:6]


def _settings(request: web.Request) -> HttpSettings:
    return request.config_dict[SETTINGS]


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def client_address(request: web.Request) -> str:
    """Who sent the request: the TCP peer; when the peer is one of `server.trusted_proxies`, the right-most
    address in X-Forwarded-For that is not a trusted proxy (each proxy appends the address it saw, so what a
    client wrote itself sits further left and is never believed). A peer that is not trusted cannot forward."""
    peer = _address(request.remote or "")
    if peer is None:
        return request.remote or "unknown"
    trusted = _networks(tuple(_settings(request).trusted_proxies))
    if not any(peer in net for net in trusted):
        return str(peer)
    hops = [h for header in request.headers.getall("X-Forwarded-For", ()) for h in header.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:   # garbage where a proxy should have written an address: believe only the peer
            return str(peer)
        if not any(address in net for net in trusted):
            return str(address)
        peer = address
    return str(peer)    # every hop was a trusted proxy: the left-most one


def client_bucket(request: web.Request) -> str:
    """The failure-limit bucket of the client address; IPv6 by its /64, which one subscriber usually holds."""
    address = _address(client_address(request))
    if isinstance(address, ipaddress.IPv6Address):
        return "ip:" + str(ipaddress.ip_network(f"{address}/64", strict=False))
    return f"ip:{address or client_address(request)}"


def failure_limiter(request: web.Request):
    return request.config_dict[SERVICES].failures


def _is_admin_key(request: web.Request, key: str) -> bool:
    return any(hmac.compare_digest(key, k) for k in _settings(request).admin_api_keys)


async def authenticate(request: web.Request) -> Principal | None:
    """The caller, or None when the request carries no credentials. Bad credentials raise Unauthorized.

    Admin keys come from `security.admin_api_keys`. User API keys and bearer tokens are resolved by
    the HTTP API's token service (adapters/http/credentials.py) once it is installed."""
    key = request.headers.get("X-API-Key")
    if key and _is_admin_key(request, key):
        return Principal(None, is_admin=True, actor=admin_actor(key))
    try:
        resolver = request.app.get(CREDENTIAL_RESOLVER)
        if resolver is not None:
            principal = await resolver(request)
            if principal is not None:
                await _refuse_blocked(request, principal)
                return principal
        if key or request.headers.get("Authorization"):
            raise Unauthorized("The API key or token is not valid.")
    except Unauthorized:
        # Guessing keys or forging tokens: 429 after 10 failures a minute from one address. A valid key is
        # never refused, so nobody sharing the address is locked out by someone else's bad guesses.
        await failure_limiter(request).fail("credentials:" + client_bucket(request))
        raise
    return None


async def _refuse_blocked(request: web.Request, principal: Principal) -> None:
    """A user an operator blocked gets 403 `user_blocked` on every call (core/admin_access.py)."""
    access = request.config_dict[SERVICES].access if SERVICES in request.config_dict else None
    if principal.user_id and access is not None:
        await access.check(principal.user_id)


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
