"""The audit log: who did what to which thing, when, with the value before and after (operators, payments)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.domain import Page


@dataclass(frozen=True)
class AuditEntry:
    id: str
    seq: int
    actor: str                 # "admin:<key label>", "cli:<os user>", "wechatpay" (a notify nobody sent)
    action: str                # "user.block", "ledger.adjust", "role.put", "payment.unmatched", ...
    target: str                # "user:<id>", "order:<id>", "role:<name>", ...
    before: Any
    after: Any
    created_at: datetime


class AuditLog(Protocol):
    """Append-only: entries are written, listed, never changed."""

    async def record(self, actor: str, action: str, target: str, before: Any = None, after: Any = None) -> AuditEntry:
        """Write one entry (before/after: JSON-able values)."""
        ...

    async def list(self, limit: int, cursor: str | None = None, *, action: str | None = None,
                   target: str | None = None, actor: str | None = None) -> Page:
        """Entries newest first; `action` matches a prefix ("user." matches "user.block")."""
        ...
