"""Signing in and the account: /auth/token, /api-keys, /users, /me and /me/ledger."""
from __future__ import annotations

from aiohttp import web

from adapters.http.auth import client_bucket
from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.schemas import (
    AllowanceOut, ApiKeyOut, LedgerEntryOut, ListQuery, MeOut, NewUser, NewUserOut, PageOut, RateLimitOut, TokenOut,
    TokenRequest,
)
from adapters.http.credentials import api_keys, signer
from adapters.http.keys import services_of
from core.auth import TokenSigner
from core.errors import InvalidRequest


def token_answer(tokens: TokenSigner, user_id: str) -> TokenOut:
    issued = tokens.issue(user_id)
    return TokenOut(token=issued.token, expiry=issued.expiry, user_id=user_id)


async def issue_token(call: Call) -> TokenOut:
    body: TokenRequest = call.body
    services = services_of(call.request)
    tokens = signer(call.request)
    tokens.require_enabled()  # refuse before a code is spent
    client = client_bucket(call.request)
    if body.qrcode is not None:
        # Polling a pending login is fine; unknown or used tickets count as failures of this address.
        async with services.failures.attempt("qrcode:" + client):
            user_id = await services.qr_login.redeem(body.qrcode)
    else:
        # A signed-in caller redeeming a code links their account into the code's account.
        caller = call.principal.user_id if call.principal else None
        user_id = (await services.accounts.redeem_link_code(body.magic_code, caller, attempt_by=client)).id
    return token_answer(tokens, user_id)


async def rotate_key(call: Call) -> ApiKeyOut:
    return ApiKeyOut(api_key=await api_keys(call.request).rotate(call.user_id))


async def revoke_key(call: Call) -> None:
    await api_keys(call.request).revoke(call.user_id)


async def create_user(call: Call) -> NewUserOut:
    body: NewUser = call.body
    if not body.name.strip():
        raise InvalidRequest("Invalid body: name: must not be blank")
    user = await services_of(call.request).accounts.create_user(body.name.strip())
    key = await api_keys(call.request).rotate(user.id)
    await call.audit("user.create", f"user:{user.id}", None, {"name": user.name})   # never the new key
    return NewUserOut(user=MeOut.of(user), api_key=key)


async def me(call: Call) -> MeOut:
    services = services_of(call.request)
    limits = services.limits
    if limits is not None:
        await limits.renew(call.user_id)
    user = await services.accounts.get(call.user_id)
    out = MeOut.of(user)
    if limits is not None:
        summary = await limits.summary(user)
        if summary.allowance:
            out.allowance = AllowanceOut(**summary.allowance.__dict__)
        if summary.rate_limit:
            out.rate_limit = RateLimitOut(**summary.rate_limit.__dict__)
    return out


async def ledger(call: Call) -> PageOut[LedgerEntryOut]:
    q: ListQuery = call.query
    page = await services_of(call.request).ledger.entries(call.user_id, q.limit, q.cursor)
    return PageOut[LedgerEntryOut](data=[LedgerEntryOut.of(e) for e in page.items], cursor=page.cursor,
                                   has_more=page.has_more)


def install(app: web.Application, prefix: str) -> None:
    tag = "accounts"
    add_all(app, prefix, [
        Endpoint("POST", "/auth/token", issue_token, "Exchange a magic code or a scanned login QR for a token",
                 access="public", body=TokenRequest, response=TokenOut, tag=tag),
        Endpoint("POST", "/api-keys", rotate_key, "Create or rotate your API key (shown once)",
                 response=ApiKeyOut, status=201, tag=tag),
        Endpoint("DELETE", "/api-keys", revoke_key, "Revoke your API key", status=204, tag=tag),
        Endpoint("POST", "/users", create_user, "Create a user and their API key (admin)", access="admin",
                 body=NewUser, response=NewUserOut, status=201, tag=tag),
        Endpoint("GET", "/me", me, "Your account", response=MeOut, tag=tag),
        Endpoint("GET", "/me/ledger", ledger, "Your token ledger, newest first", query=ListQuery,
                 response=PageOut[LedgerEntryOut], tag=tag),
    ])
