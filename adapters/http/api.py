"""The native HTTP API under /api/v1: credentials, routes and the OpenAPI document, installed into the app."""
from __future__ import annotations

from aiohttp import web

from adapters.http import (
    accounts, attachments, conversations, llm_keys, llm_providers, messages, models, oauth, openapi, orders,
    roles_products,
)
from adapters.http.auth import CREDENTIAL_RESOLVER
from adapters.http.credentials import add_credential_services, resolve_credentials
from bot.config import AppConfig

PREFIX = "/api/v1"


def install(app: web.Application, config: AppConfig) -> None:
    from bot.app import SERVICE_HOOKS

    app[CREDENTIAL_RESOLVER] = resolve_credentials
    app[SERVICE_HOOKS].append(add_credential_services)
    accounts.install(app, PREFIX)
    oauth.install(app, PREFIX, config)
    conversations.install(app, PREFIX)
    messages.install(app, PREFIX)
    attachments.install(app, PREFIX)
    roles_products.install(app, PREFIX)
    models.install(app, PREFIX)
    llm_providers.install(app, PREFIX)
    llm_keys.install(app, PREFIX)
    orders.install(app, PREFIX)
    openapi.install(app, PREFIX)
