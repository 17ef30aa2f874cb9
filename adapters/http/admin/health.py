"""Console: the database, Redis, each channel (connected or not, and why), queue depths, the last errors."""
from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from adapters.http.admin.base import console_handler, open_console, render
from adapters.storage import db


@dataclass(frozen=True)
class Check:
    name: str
    state: str          # ok, down, off
    detail: str = ""


def _last_error(services, prefix: str) -> str:
    lines = services.recent_logs.lines(prefix, 1) if services.recent_logs else []
    return f"{lines[0].at:%Y-%m-%d %H:%M:%S} {lines[0].message}" if lines else ""


def _channels(console) -> list[Check]:
    services = console.services
    config = services.config.channels
    found = []
    tg = services.extras.get("telegram")
    if not config.telegram.enabled:
        found.append(Check("telegram", "off", console.t("admin.health.disabled")))
    else:
        ready = tg is not None and tg.ready.is_set() and getattr(tg, "accepting", True)
        why = _last_error(services, "adapters.telegram") or console.t("admin.health.connecting")
        found.append(Check("telegram", "ok" if ready else "down",
                           f"{config.telegram.mode}" + ("" if ready else f": {why}")))
    if not config.wechat.enabled:
        found.append(Check("wechat", "off", console.t("admin.health.disabled")))
    else:
        why = _last_error(services, "adapters.wechat")
        found.append(Check("wechat", "ok" if "wechat" in services.extras else "down",
                           config.wechat.reply_mode + (f"; {console.t('admin.health.last_error')}: {why}" if why else "")))
    pay = services.config.payments
    # Stars need the Telegram channel too; a way to pay is up when its provider is registered with the orders.
    for name, on, prefix in (("wechatpay", pay.wechatpay.enabled, "wechat_"),
                             ("telegram_stars", pay.telegram.enabled and config.telegram.enabled, "telegram_stars")):
        if not on:
            found.append(Check(name, "off", console.t("admin.health.disabled")))
            continue
        methods = sorted(m for m in services.orders.providers if m.startswith(prefix))
        why = _last_error(services, "adapters.wechatpay" if name == "wechatpay" else "adapters.telegram.stars")
        found.append(Check(name, "ok" if methods else "down", ", ".join(methods) + (f"; {why}" if why else "")))
    return found


def _queues(services) -> list[tuple[str, float]]:
    found = []
    for metric in services.metrics.queue_depth.collect():
        for sample in metric.samples:
            found.append((sample.labels.get("queue", "?"), sample.value))
    return sorted(found)


@console_handler
async def health_page(request: web.Request) -> web.StreamResponse:
    console = await open_console(request)
    services = console.services
    checks = [Check("database", "ok" if await db.ping() else "down", services.config.database.url.split("://")[0])]
    ping = getattr(services.ephemeral, "ping", None)
    if ping is None:
        checks.append(Check("redis", "off", console.t("admin.health.no_redis")))
    else:
        checks.append(Check("redis", "ok" if await ping() else "down", _last_error(services, "adapters.storage.redis")))
    llm = services.llm.status() if services.llm is not None else []
    errors = services.recent_logs.lines("", 50) if services.recent_logs else []
    return render(console.page, "admin_health.html", checks=checks, channels=_channels(console), llm=llm,
                  queues=_queues(services), errors=errors)


def install(app: web.Application) -> None:
    app.router.add_get("/admin/health", health_page)
