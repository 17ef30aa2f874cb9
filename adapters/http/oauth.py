"""Login with OAuth2 providers from config: GET /auth/oauth/providers and /auth/oauth/callback."""
from __future__ import annotations

import secrets

from aiohttp import web
from pydantic import BaseModel, Field

from adapters.http.accounts import token_answer
from adapters.http.auth import client_bucket
from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.oauth_client import OAuthClient
from adapters.http.schemas import Out, TokenOut
from adapters.http.credentials import signer
from adapters.http.keys import services_of
from adapters.http.keys import settings_of
from adapters.http.oauth_settings import OAuthProviderConfig
from core.auth import TokenSigner
from core.domain import Identity
from core.errors import InvalidRequest, NotFound, Unauthorized

STATE_TTL = 600
CALLBACK = "/auth/oauth/callback"
OAUTH_CLIENTS = web.AppKey("oauth_clients", dict)


class ProviderOut(Out):
    name: str
    url: str = Field(description="Open this in a browser to sign in; it comes back to the callback.")


class ProvidersOut(Out):
    providers: list[ProviderOut]


# RFC 6749 values are printable ASCII; the limits keep a callback URL within aiohttp's 8 KB request line.
_ASCII = r"^[\x20-\x7e]*$"


class CallbackQuery(BaseModel):
    state: str = Field(min_length=1, max_length=512, pattern=_ASCII)
    code: str | None = Field(None, min_length=1, max_length=1024, pattern=_ASCII)
    error: str | None = Field(None, max_length=100, pattern=_ASCII)
    error_description: str | None = Field(None, max_length=500, pattern=_ASCII)


def _states(call: Call) -> TokenSigner:
    # States are signed like tokens, with a key of their own, and live 10 minutes.
    tokens = signer(call.request)
    tokens.require_enabled()
    return TokenSigner(settings_of(call.request).token_secret + "|oauth-state", STATE_TTL)


async def list_providers(call: Call) -> ProvidersOut:
    clients: dict[str, OAuthClient] = call.request.app[OAUTH_CLIENTS]
    if not clients:
        return ProvidersOut(providers=[])
    states = _states(call)
    return ProvidersOut(providers=[
        ProviderOut(name=name, url=client.authorize_url(states.issue(f"{name}:{secrets.token_urlsafe(12)}").token))
        for name, client in clients.items()])


async def callback(call: Call) -> TokenOut:
    states = _states(call)
    # Forged or replayed states and bad codes count as failures of the client address (429 after 10 a minute).
    async with services_of(call.request).failures.attempt("oauth:" + client_bucket(call.request)):
        user_id = await _sign_in(call, states)
    return token_answer(signer(call.request), user_id)


async def _sign_in(call: Call, states: TokenSigner) -> str:
    q: CallbackQuery = call.query
    try:
        name, _, nonce = states.verify(q.state).partition(":")
    except Unauthorized:
        raise InvalidRequest("The login state is unknown or expired; start the login again.",
                             reason="invalid_state") from None
    client = call.request.app[OAUTH_CLIENTS].get(name)
    if client is None:
        raise NotFound(f"No login provider named {name!r}.")
    services = services_of(call.request)
    if not await services.ephemeral.add("oauth-state", nonce, name, STATE_TTL):
        raise InvalidRequest("This login was already completed; start the login again.", reason="invalid_state")
    if q.error or not q.code:
        raise Unauthorized(f"The {name} login was not completed: {q.error_description or q.error or 'no code'}.",
                           reason="oauth_denied")
    profile = await client.profile(q.code)
    user = await services.accounts.ensure_user(Identity(f"oauth:{name}", profile.external_id), profile.name)
    return user.id


def install(app: web.Application, prefix: str, public_url: str, providers: list[OAuthProviderConfig]) -> None:
    redirect = public_url.rstrip("/") + prefix + CALLBACK
    app[OAUTH_CLIENTS] = {p.name: OAuthClient(p, redirect) for p in providers}
    add_all(app, prefix, [
        Endpoint("GET", "/auth/oauth/providers", list_providers, "OAuth login providers and where to start",
                 access="public", response=ProvidersOut, tag="accounts"),
        Endpoint("GET", CALLBACK, callback, "Where a provider sends the browser back: answers a token",
                 access="public", query=CallbackQuery, response=TokenOut, tag="accounts"),
    ])
