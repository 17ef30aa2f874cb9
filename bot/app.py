"""The aiohttp app factory used by `bot run` and by the tests."""
from __future__ import annotations

from typing import AsyncIterator, Callable

from aiohttp import web

from adapters.http import cors, errors, metrics, status
from adapters.http import keys as http_keys
from adapters.http.admin.settings import FACTS as CONSOLE_FACTS
from adapters.http.dify.context import SERVICES as DIFY_SERVICES
from adapters.metrics import Metrics
from bot.config import AppConfig
from bot.http_wiring import console_facts, dify_services, http_services, http_settings
from bot.wiring import Services, open_services

CONFIG = web.AppKey("config", AppConfig)
SERVICES = web.AppKey("services", Services)

# Each feature installs its routes and start-up work: `install(app, config)`. A feature that must
# extend the services (retrieval, payments) appends a ServiceHook to app[SERVICE_HOOKS].
SERVICE_HOOKS = web.AppKey("service_hooks", list)
Installer = Callable[[web.Application, AppConfig], None]


def installers() -> list[Installer]:
    """The features that plug into the app, in order, each given only the settings it reads. Imported here so
    nothing loads at import time."""
    from adapters.http import api, landing, resources, web as pages
    from adapters.http import dify
    from adapters.http.admin import install as install_admin
    from adapters.wechatpay import routes as wechatpay
    from bot.http_wiring import dify_settings
    from bot.payments_wiring import wechatpay_hook
    from bot.telegram_wiring import install_telegram
    from bot.wechat_wiring import install_wechat

    def install_wechatpay(app: web.Application, config: AppConfig) -> None:
        wechatpay.install(app, config.payments.wechatpay.enabled)
        if config.payments.wechatpay.enabled:
            app[SERVICE_HOOKS].append(wechatpay_hook(config))

    return [
        install_wechatpay,
        lambda app, config: dify.install(app, dify_settings(config)),
        lambda app, config: api.install(app, config.server.public_url, config.security.oauth_providers),
        install_wechat,
        install_telegram,
        lambda app, config: resources.install(app),
        lambda app, config: landing.install(app),
        # after the API: the pages' session extends its credential resolver
        lambda app, config: pages.install(app, wechat_oauth=config.channels.wechat.enabled),
        lambda app, config: install_admin(app),   # the operator console: on the pages' base (sessions, CSRF, CSP)
    ]


def create_app(config: AppConfig, extra_installers: list[Installer] | None = None) -> web.Application:
    app = web.Application(client_max_size=config.server.max_body_bytes, middlewares=[errors.error_middleware])
    app[CONFIG] = config
    app[http_keys.SETTINGS] = http_settings(config)
    app[SERVICE_HOOKS] = []

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        from bot.telegram_wiring import telegram_slot
        from bot.wechat_wiring import wechat_slot

        async with open_services(config, hooks=app[SERVICE_HOOKS], metrics=app[metrics.METRICS]) as services:
            app[SERVICES] = services
            app[http_keys.SERVICES] = http_services(services)
            app[DIFY_SERVICES] = dify_services(services)
            app[CONSOLE_FACTS] = console_facts(config, telegram_slot(app), wechat_slot(app))
            yield

    app.cleanup_ctx.append(services_ctx)
    metrics.install(app, Metrics())
    server = config.server
    cors.install(app, cors.CorsPolicy(tuple(server.cors_origins), server.cors_allow_credentials,
                                      server.cors_max_age))  # browsers on server.cors_origins; Allow on every 405 under the APIs
    status.install(app)
    for install in [*installers(), *(extra_installers or [])]:
        install(app, config)
    return app

