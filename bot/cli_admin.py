"""Operator commands: `bot users`, `bot user ID`, `bot orders`, `bot usage`, `bot export`, `bot backup`."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator

from core.admin_reports import EXPORT_TABLES, OrderFilter
from core.domain import ORDER_STATUSES


def _since(text: str) -> datetime:
    """2024-05-01, 2024-05-01T08:00, or 7d (days back)."""
    text = text.strip()
    if text.endswith("d") and text[:-1].isdigit():
        return datetime.now(timezone.utc) - timedelta(days=int(text[:-1]))
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (2024-05-01) or a number of days (7d)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@contextlib.asynccontextmanager
async def _database(config) -> AsyncIterator:
    """Only the database (no models, channels or knowledge base): reports start in a blink."""
    from adapters.storage import db
    from adapters.storage.reports import TortoiseOperatorQueries

    await db.open_database(config.database.url, migrate=config.database.migrate_on_start)
    try:
        yield TortoiseOperatorQueries()
    finally:
        await db.close_database()


def _table(rows: list[list], headers: list[str]) -> None:
    cells = [headers] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


async def users(config, search: str, limit: int) -> int:
    async with _database(config) as q:
        found = await q.search_users(search or "", limit)
        _table([[u.id, u.name, u.balance, u.held, "blocked" if u.blocked else "",
                 " ".join(f"{i.channel}:{i.external_id}" for i in u.identities), _day(u.created_at)] for u in found],
               ["id", "name", "balance", "held", "state", "identities", "created"])
        print(f"{len(found)} user(s)")
    return 0


async def user(config, ref: str) -> int:
    async with _database(config) as q:
        found = [u for u in await q.search_users(ref, 50)
                 if u.id == ref or any(f"{i.channel}:{i.external_id}" == ref or i.external_id == ref
                                       for i in u.identities)]
        if not found:
            print(f"no user {ref!r} (give an id, channel:external_id, or search with `bot users --search`)",
                  file=sys.stderr)
            return 1
        u = found[0]
        print(f"user {u.id}  {u.name}{'  [BLOCKED]' if u.blocked else ''}")
        print(f"  created     {_day(u.created_at)}   language {u.locale or '-'}")
        print(f"  identities  {', '.join(f'{i.channel}:{i.external_id}' for i in u.identities) or '-'}")
        print(f"  balance     {u.balance} tokens ({u.held} held, {u.available} available)")
        print(f"  storage     {u.storage_used_bytes} of {u.storage_limit_bytes} bytes")
        for h in await q.holds(u.id):
            print(f"  hold        {h.amount} tokens until {_day(h.expires_at)} ({h.key})")
        print("\nledger (newest first)")
        page = await q.ledger(u.id, 15, None)
        _table([[_day(e.created_at), e.kind, f"{e.amount:+d}", e.balance_after, e.ref] for e in page.items],
               ["when", "kind", "amount", "balance", "ref"])
        print("\norders")
        page = await q.orders(OrderFilter(user_id=u.id), 15, None)
        _table([[o.id, o.product_name, f"{o.price} {o.currency}", o.status, o.payment_method, _day(o.created_at)]
                for o in page.items], ["id", "product", "price", "status", "method", "created"])
        print("\nconversations")
        _table([[c.id, c.title, c.channel, c.messages, c.token_usage, _day(c.updated_at)]
                for c in await q.conversations(u.id, 20)], ["id", "title", "channel", "messages", "tokens", "updated"])
    return 0


async def orders(config, status: str | None, method: str | None, since: datetime | None, limit: int) -> int:
    async with _database(config) as q:
        page = await q.orders(OrderFilter(status, method, since), limit, None)
        _table([[o.id, o.user_id, o.product_name, f"{o.price} {o.currency}", o.status, o.payment_method or "",
                 _day(o.created_at), _day(o.paid_at)] for o in page.items],
               ["id", "user", "product", "price", "status", "method", "created", "paid"])
        print(f"{len(page.items)} order(s){' (more: raise --limit)' if page.has_more else ''}")
    return 0


async def usage(config, since: datetime, until: datetime | None) -> int:
    async with _database(config) as q:
        rows = await q.usage(since, until)
        print(f"usage since {since:%Y-%m-%d}")
        _table([[r.day, r.model, r.channel, r.replies, r.prompt_tokens, r.completion_tokens, r.cost] for r in rows],
               ["day", "model", "channel", "replies", "prompt", "completion", "cost"])
        print(f"total: {sum(r.replies for r in rows)} replies, "
              f"{sum(r.prompt_tokens + r.completion_tokens for r in rows)} tokens, cost {sum(r.cost for r in rows)}")
        print("\nrevenue")
        _table([[r.day, r.method, r.currency, r.orders, r.amount, r.refunded] for r in await q.revenue(since, until)],
               ["day", "method", "currency", "orders", "amount", "refunded"])
        print("\nactive users")
        _table([[a.day, a.users] for a in await q.active_users(since, until)], ["day", "users"])
    return 0


async def export(config, out: Path, fmt: str, tables: list[str], progress: bool = True) -> int:
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    async with _database(config) as q:
        for table in tables:
            path = out / f"{table}.{fmt}"
            bar = tqdm(total=await q.count(table), unit="row", desc=table, file=sys.stderr, disable=not progress)
            rows = 0
            with open(path, "w", encoding="utf-8", newline="") as f:
                writer = None
                async for row in q.export(table):
                    if fmt == "jsonl":
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
                    else:
                        if writer is None:
                            writer = csv.DictWriter(f, fieldnames=list(row))
                            writer.writeheader()
                        writer.writerow(row)
                    rows += 1
                    bar.update(1)
            bar.close()
            print(f"wrote {path} ({rows} rows)")
    return 0


def backup(config, target: Path, progress: bool = True) -> int:
    from adapters.storage.schema import sqlite_path
    from bot.backup import PG_HOWTO, backup_sqlite

    source = sqlite_path(config.database.url)
    if source is None:
        url = config.database.url
        shown = "postgres://USER:PASSWORD@" + url.split("@", 1)[1] if "@" in url else url   # no password printed
        print(PG_HOWTO.format(url=shown), file=sys.stderr)
        return 2
    try:
        pages = backup_sqlite(source, target, progress)
    except (FileExistsError, FileNotFoundError, RuntimeError, OSError) as e:
        print(f"backup failed: {e}", file=sys.stderr)
        return 1
    print(f"backed up {source} to {target} ({pages} pages); use it as database.url: sqlite://{target}")
    return 0


def add_admin_commands(sub: argparse._SubParsersAction, command) -> None:
    from bot.cli import _load

    def run(coro_of):
        return lambda args: asyncio.run(coro_of(args))

    p = command("users", "list users, newest first, or search them (name, id, telegram:123, a WeChat openid)")
    p.add_argument("--search", default="", help="part of a name, an id, or an identity")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=run(lambda a: users(_load(a), a.search, a.limit)))
    p = command("user", "everything about one user: identities, balance, holds, ledger, orders, conversations")
    p.add_argument("id", help="user id or channel:external_id")
    p.set_defaults(func=run(lambda a: user(_load(a), a.id)))
    p = command("orders", "orders, newest first")
    p.add_argument("--status", choices=ORDER_STATUSES)
    p.add_argument("--method", help="payment method (wechat_native, telegram_stars, ...)")
    p.add_argument("--since", type=_since, help="created on or after (2024-05-01, or 7d)")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=run(lambda a: orders(_load(a), a.status, a.method, a.since, a.limit)))
    p = command("usage", "tokens and cost by day, model and channel; revenue; active users")
    p.add_argument("--since", type=_since, required=True, help="2024-05-01, or 7d")
    p.add_argument("--until", type=_since, help="before this date (default: now)")
    p.set_defaults(func=run(lambda a: usage(_load(a), a.since, a.until)))
    p = command("export", "write users, ledger and orders as CSV or JSON lines (one file each)")
    p.add_argument("--out", required=True, type=Path, help="a folder; users.csv, ledger.csv, orders.csv go in it")
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    p.add_argument("--tables", default=",".join(EXPORT_TABLES), help="which, comma-separated (default: all)")

    def do_export(a: argparse.Namespace) -> int:
        tables = [t.strip() for t in a.tables.split(",") if t.strip()]
        unknown = [t for t in tables if t not in EXPORT_TABLES]
        if unknown:
            print(f"unknown table(s): {', '.join(unknown)} (have {', '.join(EXPORT_TABLES)})", file=sys.stderr)
            return 2
        return asyncio.run(export(_load(a), a.out, a.format, tables))

    p.set_defaults(func=do_export)
    p = command("backup", "copy the SQLite database to PATH while the server runs (PostgreSQL: prints how)")
    p.add_argument("path", type=Path)
    p.set_defaults(func=lambda a: backup(_load(a), a.path))
