"""Console: the database, Redis, each channel (connected or not, and why), queue depths, the last errors."""
from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from adapters.http.admin.base import console_handler, open_console, render
from adapters.http.admin.settings import facts_of
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
    facts = facts_of(console.page.request)
    found = []
    if not facts.telegram_enabled:
        found.append(Check("telegram", "off", console.t("admin.health.disabled")))
    else:
        ready = facts.telegram_ready()
        why = _last_error(services, "adapters.telegram") or console.t("admin.health.connecting")
        found.append(Check("telegram", "ok" if ready else "down",
                           f"{facts.telegram_mode}" + ("" if ready else f": {why}")))
    if not facts.wechat_enabled:
        found.append(Check("wechat", "off", console.t("admin.health.disabled")))
    else:
        why = _last_error(services, "adapters.wechat")
        found.append(Check("wechat", "ok" if facts.wechat_up() else "down",
                           facts.wechat_reply_mode + (f"; {console.t('admin.health.last_error')}: {why}" if why else "")))
    # Stars need the Telegram channel too; a way to pay is up when its provider is registered with the orders.
    for name, on, prefix in (("wechatpay", facts.wechatpay_enabled, "wechat_"),
                             ("telegram_stars", facts.stars_enabled, "telegram_stars")):
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
    checks = [Check("database", "ok" if await db.ping() else "down", facts_of(request).database_kind)]
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
