"""The aiohttp app factory used by `bot run` and by the tests."""
from __future__ import annotations

from typing import AsyncIterator, Callable

from aiohttp import web

from adapters.http import cors, errors, metrics, status
from adapters.metrics import Metrics
from bot.config import AppConfig
from bot.wiring import Services, open_services

CONFIG = web.AppKey("config", AppConfig)
SERVICES = web.AppKey("services", Services)

# Each feature installs its routes and start-up work: `install(app, config)`. A feature that must
# extend the services (retrieval, payments) appends a ServiceHook to app[SERVICE_HOOKS].
SERVICE_HOOKS = web.AppKey("service_hooks", list)
Installer = Callable[[web.Application, AppConfig], None]


def installers() -> list[Installer]:
    """The features that plug into the app, in order. Imported here so nothing loads at import time."""
    found: list[Installer] = []
    from adapters.wechatpay.routes import install as install_wechatpay

    found.append(install_wechatpay)
    from adapters.http.dify import install as install_dify

    found.append(install_dify)
    from adapters.http.api import install as install_api

    found.append(install_api)
    from adapters.wechat import install as install_wechat

    found.append(install_wechat)
    from adapters.telegram.install import install as install_telegram

    found.append(install_telegram)
    from adapters.http.resources import install as install_resources

    found.append(install_resources)
    from adapters.http.landing import install as install_landing

    found.append(install_landing)
    from adapters.http.web import install as install_web

    found.append(install_web)   # after the API: the pages' session extends its credential resolver
    from adapters.http.admin import install as install_admin

    found.append(install_admin)   # the operator console: on the pages' base (sessions, CSRF, CSP)
    return found


def create_app(config: AppConfig, extra_installers: list[Installer] | None = None) -> web.Application:
    app = web.Application(client_max_size=config.server.max_body_bytes, middlewares=[errors.error_middleware])
    app[CONFIG] = config
    app[SERVICE_HOOKS] = []

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_services(config, hooks=app[SERVICE_HOOKS], metrics=app[metrics.METRICS]) as services:
            app[SERVICES] = services
            yield

    app.cleanup_ctx.append(services_ctx)
    metrics.install(app, Metrics())
    cors.install(app, config)  # browsers on server.cors_origins; Allow on every 405 under the APIs
    status.install(app)
    for install in [*installers(), *(extra_installers or [])]:
        install(app, config)
    return app

