"""Wiring of the operator's side: the blocked-user guard, the audit log, AdminService, reports, config seeding
(roles, products, WeChat menu keys)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from adapters.storage.audit import TortoiseAuditLog, TortoiseSeedRecords
from adapters.storage.menu_keys import TortoiseMenuKeys
from adapters.storage.reports import TortoiseOperatorQueries
from core.admin import AdminService
from core.admin_access import AccessGuard
from core.admin_seed import CatalogueSeeder
from core.domain import Product, Role
from core.menu import WeChatMenu

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OperatorSide:
    access: AccessGuard          # blocked users are refused by every entry point (the engine is built with it)
    admin: AdminService
    queries: TortoiseOperatorQueries   # the console's reports
    recent_logs: object          # the last warnings and errors of this process (bot/log_buffer.py)


def build_operator_side(repos, quota, orders, conversations, texts, closers: list) -> OperatorSide:
    """Every entry point (server, CLI) refuses blocked users and audits operators; the log buffer is detached on
    close."""
    from bot.log_buffer import attach

    recent_logs, detach = attach()

    async def stop_keeping_logs() -> None:
        detach()

    closers.append(stop_keeping_logs)
    admin = AdminService(users=repos.users, quota=quota, orders=orders, conversations=conversations,
                         messages=repos.messages, products=repos.products, audit=TortoiseAuditLog(),
                         menu=WeChatMenu(TortoiseMenuKeys()))
    return OperatorSide(AccessGuard(repos.users, texts), admin, TortoiseOperatorQueries(), recent_logs)


async def seed_catalogue(services, roles: Sequence[Role], products: Sequence[Product]) -> None:
    seeder = CatalogueSeeder(services.repos.roles, services.repos.products, TortoiseSeedRecords())
    await seeder.seed(roles, products)
    # channels.wechat.menu seeds the same way; the WeChat channel reads services.admin.menu on every CLICK.
    await services.admin.menu.seed(dict(services.config.channels.wechat.menu or {}), TortoiseSeedRecords())
    for line in await seeder.differences(roles, products):
        log.info("config.yaml: %s", line)
