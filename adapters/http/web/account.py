"""/web/me: the user centre. Balance, orders and their receipts, the ledger, the API key (shown once), linked
identities and the language, read and changed through the same services as /api/v1/me, /orders and /api-keys."""
from __future__ import annotations

from aiohttp import web

from adapters.http.web.base import Page, open_page, page_handler, redirect, render
from core.commands_account import limits_texts
from core.errors import DomainError
from core.i18n_errors import error_text

MB = 1024 * 1024
RECENT = 20


async def _account(page: Page, status: int = 200, **extra) -> web.Response:
    services = page.services
    if services.limits is not None:
        await services.limits.renew(page.user_id)   # this period's allowance is in the balance shown
    user = await services.accounts.get(page.user_id)
    # The free allowance and the rate limit in the words /balance uses (nothing when neither is configured).
    limits = [page.texts.render(t, page.locale) for t in limits_texts(await services.limits.summary(user))] \
        if services.limits is not None else []
    orders = (await services.orders.list(user.id, None, RECENT, None)).items
    ledger = (await services.ledger.entries(user.id, RECENT, None)).items
    # Keys the user brought, per provider (the same OwnKeyService as /api/v1/me/llm-keys): only the last 4 shown.
    own_keys = None
    if services.own_keys is not None and services.providers is not None:
        mine = {k.provider: k.key_hint for k in await services.own_keys.list(user.id)}
        own_keys = [(p.name, mine.get(p.name)) for p in await services.providers.list()]
    return render(page, "account.html", status, account=user, orders=orders, ledger=ledger, limits=limits,
                  own_keys=own_keys,
                  used_mb=f"{user.storage_used_bytes / MB:.1f}", limit_mb=f"{user.storage_limit_bytes / MB:.1f}",
                  **extra)


@page_handler
async def account_page(request: web.Request) -> web.StreamResponse:
    return await _account(await open_page(request))


@page_handler
async def create_key(request: web.Request) -> web.StreamResponse:
    """A new API key (the old one stops working), shown in this answer only: it is stored hashed, never again."""
    page = await open_page(request)
    await page.form()
    key = await page.services.api_keys.rotate(page.user_id)
    return await _account(page, new_key=key)


@page_handler
async def revoke_key(request: web.Request) -> web.StreamResponse:
    page = await open_page(request)
    await page.form()
    revoked = await page.services.api_keys.revoke(page.user_id)
    return await _account(page, notice=page.t("page.me.key_revoked" if revoked else "page.me.no_key"))


@page_handler
async def save_own_key(request: web.Request) -> web.StreamResponse:
    """A provider key the user brings: checked with the provider, stored encrypted, shown by its last 4 from now on.
    A refused or malformed key is said on the page (400) and nothing is stored."""
    page = await open_page(request)
    form = await page.form()
    provider = form.get("provider", "")
    try:
        saved = await page.services.own_keys.save(page.user_id, provider, form.get("api_key", ""))
    except DomainError as e:
        note = page.t("page.me.own_key_refused", provider=provider) if e.reason == "invalid_api_key" \
            else page.texts.render(error_text(e), page.locale)
        return await _account(page, status=e.status, own_key_notice=note)
    return await _account(page, own_key_notice=page.t("page.me.own_key_saved", provider=saved.provider,
                                                      hint=saved.key_hint))


@page_handler
async def delete_own_key(request: web.Request) -> web.StreamResponse:
    page = await open_page(request)
    await page.form()
    provider = request.match_info["provider"]
    await page.services.own_keys.delete(page.user_id, provider)   # none saved: 404
    return await _account(page, own_key_notice=page.t("page.me.own_key_deleted", provider=provider))


@page_handler
async def receipt(request: web.Request) -> web.StreamResponse:
    page = await open_page(request)
    order = await page.services.orders.get(page.user_id, request.match_info["id"])   # another user's: 404
    return render(page, "receipt.html", order=order)


def install(app: web.Application) -> None:
    app.router.add_get("/web/me", account_page)
    app.router.add_post("/web/me/api-key", create_key)
    app.router.add_post("/web/me/api-key/revoke", revoke_key)
    app.router.add_get("/web/me/orders/{id}", receipt)
    app.router.add_post("/web/me/llm-keys", save_own_key)
    app.router.add_post("/web/me/llm-keys/{provider}/delete", delete_own_key)
