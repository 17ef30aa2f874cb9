"""The native HTTP API under /api/v1: credentials, routes and the OpenAPI document, installed into the app."""
from __future__ import annotations

from aiohttp import web

from adapters.http import (
    accounts, attachments, conversations, llm_keys, llm_providers, messages, models, oauth, openapi, orders,
    roles_products,
)
from adapters.http.auth import CREDENTIAL_RESOLVER
from adapters.http.credentials import resolve_credentials
from adapters.http.oauth_settings import OAuthProviderConfig

PREFIX = "/api/v1"


def install(app: web.Application, public_url: str, oauth_providers: list[OAuthProviderConfig]) -> None:
    app[CREDENTIAL_RESOLVER] = resolve_credentials
    accounts.install(app, PREFIX)
    oauth.install(app, PREFIX, public_url, oauth_providers)
    conversations.install(app, PREFIX)
    messages.install(app, PREFIX)
    attachments.install(app, PREFIX)
    roles_products.install(app, PREFIX)
    models.install(app, PREFIX)
    llm_providers.install(app, PREFIX)
    llm_keys.install(app, PREFIX)
    orders.install(app, PREFIX)
    openapi.install(app, PREFIX)
