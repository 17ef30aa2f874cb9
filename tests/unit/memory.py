"""In-memory implementations of core's ports: one MemoryDatabase, repositories over it, and a journal of writes.

They keep the storage adapters' rules (unique ledger keys, the hold and settle arithmetic, conditional order
transitions, atomic blocks that undo everything on failure), so core's services can be tested without a
database; tests/integration/test_memory_fakes.py runs the same ledger scenarios against SQLite."""
from __future__ import annotations

import contextlib
import copy
import itertools
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Iterable, Sequence

from core.domain import (
    Citation, Conversation, Hold, Identity, LedgerEntry, Message, Order, Page, Product, Role, Usage, User,
)

ORDER_FIELDS = {"payment_method", "provider_txn_id", "payment_ref", "paid_at"}
CONVERSATION_FIELDS = {"title", "instruction", "role", "resource_ids", "model"}


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2025, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _page(items: list, limit: int, cursor: str | None) -> Page:
    start = int(cursor) if cursor else 0
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    return Page(tuple(chunk), str(start + limit) if more else None, more)


@dataclass
class _UserRow:
    id: str
    name: str
    created_at: datetime
    storage_limit_bytes: int
    balance: int = 0
    held: int = 0
    storage_used_bytes: int = 0
    locale: str | None = None
    blocked: bool = False


@dataclass
class _HoldRow:
    hold: Hold
    status: str = "active"


@dataclass
class MemoryDatabase:
    """Everything the repositories store, plus `journal`: each write as (repository.method, details)."""

    clock: Clock = field(default_factory=Clock)
    users: dict[str, _UserRow] = field(default_factory=dict)
    identities: list[tuple[Identity, str]] = field(default_factory=list)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    holds: dict[str, _HoldRow] = field(default_factory=dict)
    entries: list[LedgerEntry] = field(default_factory=list)
    roles: dict[str, Role] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    ephemeral: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)
    journal: list[tuple[str, Any]] = field(default_factory=list)
    seq: Any = field(default_factory=lambda: itertools.count(1))

    def wrote(self, what: str, details: Any = None) -> None:
        self.journal.append((what, details))

    def writes(self, prefix: str) -> list[Any]:
        return [d for w, d in self.journal if w.startswith(prefix)]

    def user(self, user_id: str) -> User | None:
        row = self.users.get(user_id)
        if row is None:
            return None
        idents = tuple(i for i, owner in self.identities if owner == user_id)
        return User(row.id, row.name, row.balance, row.held, row.storage_limit_bytes, row.storage_used_bytes,
                    row.created_at, idents, False, row.locale, row.blocked)


class MemoryTransactions:
    """atomic(): on an exception everything written inside is undone (nested blocks undo only their part)."""

    def __init__(self, db: MemoryDatabase):
        self._db = db

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        names = [n for n in vars(self._db) if n not in ("clock", "journal", "seq")]
        saved = {n: copy.deepcopy(getattr(self._db, n)) for n in names}
        try:
            yield
        except BaseException:
            for n, value in saved.items():
                setattr(self._db, n, value)
            raise


class MemoryUsers:
    def __init__(self, db: MemoryDatabase):
        self._db = db

    async def get(self, user_id: str) -> User | None:
        return self._db.user(user_id)

    async def find_by_identity(self, identity: Identity) -> User | None:
        owner = next((u for i, u in self._db.identities if i == identity), None)
        return self._db.user(owner) if owner else None

    async def create(self, name: str, identity: Identity | None, storage_limit_bytes: int) -> User:
        if identity is not None and (existing := await self.find_by_identity(identity)) is not None:
            return existing
        user_id = str(uuid.uuid4())
        self._db.users[user_id] = _UserRow(user_id, name[:200], self._db.clock(), storage_limit_bytes)
        if identity is not None:
            self._db.identities.append((identity, user_id))
        self._db.wrote("users.create", user_id)
        return replace(self._db.user(user_id), is_new=True)  # type: ignore[arg-type]

    async def add_storage_limit(self, user_id: str, delta_bytes: int) -> None:
        self._db.users[user_id].storage_limit_bytes += delta_bytes
        self._db.wrote("users.add_storage_limit", (user_id, delta_bytes))

    async def add_storage_used(self, user_id: str, delta_bytes: int) -> None:
        self._db.users[user_id].storage_used_bytes += delta_bytes
        self._db.wrote("users.add_storage_used", (user_id, delta_bytes))

    async def set_locale(self, user_id: str, locale: str | None) -> None:
        if user_id in self._db.users:
            self._db.users[user_id].locale = locale
        self._db.wrote("users.set_locale", (user_id, locale))

    async def set_blocked(self, user_id: str, blocked: bool) -> bool:
        if user_id not in self._db.users:
            return False
        self._db.users[user_id].blocked = blocked
        self._db.wrote("users.set_blocked", (user_id, blocked))
        return True

    async def is_blocked(self, user_id: str) -> bool:
        row = self._db.users.get(user_id)
        return bool(row and row.blocked)

    async def move_identities(self, from_user_id: str, to_user_id: str) -> None:
        db = self._db
        db.identities = [(i, to_user_id if u == from_user_id else u) for i, u in db.identities]
        for table in (db.conversations, db.messages, db.orders):
            for key, item in list(table.items()):
                if item.user_id == from_user_id:
                    table[key] = replace(item, user_id=to_user_id)
        source, target = db.users[from_user_id], db.users[to_user_id]
        target.storage_limit_bytes = max(target.storage_limit_bytes, source.storage_limit_bytes)
        target.storage_used_bytes += source.storage_used_bytes
        source.storage_used_bytes = 0
        db.wrote("users.move_identities", (from_user_id, to_user_id))


class MemoryLedger:
    """The ledger rules of adapters/storage/ledger.py: a hold needs balance - held >= amount; a settle frees its
    hold (once) and charges at most what the balance holds beyond the other holds; every key counts once."""

    def __init__(self, db: MemoryDatabase):
        self._db = db

    def _key_used(self, key: str) -> bool:
        return any(e.key == key for e in self._db.entries)

    def _entry(self, user: _UserRow, kind: str, amount: int, key: str, ref: str) -> LedgerEntry:
        entry = LedgerEntry(str(uuid.uuid4()), next(self._db.seq), user.id, kind, amount, user.balance, key, ref,
                            self._db.clock())
        self._db.entries.append(entry)
        self._db.wrote("ledger.entry", entry)
        return entry

    async def try_hold(self, user_id: str, amount: int, key: str, expires_at: datetime) -> Hold | None:
        user = self._db.users.get(user_id)
        if user is None or any(h.hold.key == key for h in self._db.holds.values()):
            return None
        if user.balance < user.held + amount:
            return None
        user.held += amount
        hold = Hold(str(uuid.uuid4()), user_id, amount, key, expires_at)
        self._db.holds[hold.id] = _HoldRow(hold)
        self._db.wrote("ledger.hold", hold)
        return hold

    async def settle(self, hold: Hold, cost: int, key: str, ref: str) -> LedgerEntry | None:
        user = self._db.users.get(hold.user_id)
        if user is None:
            raise LookupError(f"no user {hold.user_id}")
        if self._key_used(key):
            return None
        row = self._db.holds.get(hold.id)
        released = 0
        if row is not None and row.status == "active":
            row.status, released = "settled", hold.amount
        charge = max(0, min(cost, user.balance - (user.held - released)))
        user.held -= released
        user.balance -= charge
        return self._entry(user, "usage", -charge, key, ref)

    async def release(self, hold_id: str) -> bool:
        return self._free(hold_id, "released")

    def _free(self, hold_id: str, status: str) -> bool:
        row = self._db.holds.get(hold_id)
        if row is None or row.status != "active":
            return False
        row.status = status
        self._db.users[row.hold.user_id].held -= row.hold.amount
        self._db.wrote(f"ledger.{status}", row.hold)
        return True

    async def renew(self, hold_id: str, expires_at: datetime) -> bool:
        row = self._db.holds.get(hold_id)
        if row is None or row.status != "active":
            return False
        row.hold = replace(row.hold, expires_at=expires_at)
        return True

    async def release_expired(self, now: datetime) -> int:
        due = [h.hold.id for h in self._db.holds.values() if h.status == "active" and h.hold.expires_at <= now]
        return sum(self._free(hold_id, "expired") for hold_id in due)

    async def post(self, user_id: str, amount: int, kind: str, key: str, ref: str = "") -> LedgerEntry | None:
        if self._key_used(key):
            return None
        user = self._db.users.get(user_id)
        if user is None:
            raise LookupError(f"no user {user_id}")
        if amount < 0:
            amount = -min(-amount, max(0, user.balance - user.held))
        user.balance += amount
        return self._entry(user, kind, amount, key, ref)

    async def find(self, key: str) -> LedgerEntry | None:
        return next((e for e in self._db.entries if e.key == key), None)

    async def entries(self, user_id: str, limit: int, cursor: str | None) -> Page:
        mine = [e for e in reversed(self._db.entries) if e.user_id == user_id]
        return _page(mine, limit, cursor)

    def active_holds(self, user_id: str) -> list[Hold]:
        return [h.hold for h in self._db.holds.values() if h.status == "active" and h.hold.user_id == user_id]
