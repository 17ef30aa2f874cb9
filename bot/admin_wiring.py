"""Wiring of the operator's side: the blocked-user guard, the audit log, AdminService, reports, config seeding."""
from __future__ import annotations

import logging
from typing import Sequence

from adapters.storage.audit import TortoiseAuditLog, TortoiseSeedRecords
from adapters.storage.reports import TortoiseOperatorQueries
from core.admin import AdminService
from core.admin_access import AccessGuard
from core.admin_seed import CatalogueSeeder
from core.domain import Product, Role

log = logging.getLogger(__name__)


def add_admin_services(services) -> None:
    """Called by build_services: every entry point (server, CLI) refuses blocked users and audits operators."""
    repos = services.repos
    services.access = AccessGuard(repos.users, services.texts)
    services.engine.access = services.access
    services.queries = TortoiseOperatorQueries()
    from bot.log_buffer import attach

    # The console's health page shows the last warnings and errors of this process.
    services.recent_logs, detach = attach()

    async def stop_keeping_logs() -> None:
        detach()

    services.closers.append(stop_keeping_logs)
    services.admin = AdminService(users=repos.users, quota=services.quota, orders=services.orders,
                                  conversations=services.conversations, messages=repos.messages,
                                  products=repos.products, audit=TortoiseAuditLog())


async def seed_catalogue(services, roles: Sequence[Role], products: Sequence[Product]) -> None:
    seeder = CatalogueSeeder(services.repos.roles, services.repos.products, TortoiseSeedRecords())
    await seeder.seed(roles, products)
    for line in await seeder.differences(roles, products):
        log.info("config.yaml: %s", line)
