"""The operator's command line against a real database the server is using: users, user, orders, usage, export
(CSV and JSON lines) and an online backup that opens as a working database."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import aiohttp
import pytest

from bot.config import load_config
from tests.conftest import make_config
from tests.e2e.test_cli import run_cli, write_config

ADMIN = {"X-API-Key": "admin-key"}


@pytest.fixture
async def live(start_app, tmp_path, fake_llm):
    """The server running on a SQLite file, with two users, a real reply and a paid order; and its config file."""
    path = write_config(tmp_path, fake_llm.base_url)
    running = await start_app(load_config(str(path)))
    async with aiohttp.ClientSession(running.base_url) as http:
        made = {}
        for name in ("alice", "bob"):
            async with http.post("/api/v1/users", json={"name": name}, headers=ADMIN) as r:
                made[name] = await r.json()
        key = {"X-API-Key": made["alice"]["api_key"]}
        async with http.post("/api/v1/conversations", json={"title": "Tides"}, headers=key) as r:
            conversation = await r.json()
        async with http.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "hi"},
                             headers=key) as r:
            reply = await r.json()
    orders = running.services.orders
    order = await orders.create(made["alice"]["user"]["id"], "starter")
    await orders.settle_paid(order.id, "wechat_native", "4200000009", order.price_minor, "CNY")
    yield running, path, made, reply, order


async def test_reports_show_users_one_user_orders_and_usage(live) -> None:
    running, path, made, reply, order = live
    alice = made["alice"]["user"]
    code, out, err = await run_cli("users", "--search", "ali", "--config", str(path))
    assert code == 0, err
    assert alice["id"] in out and made["bob"]["user"]["id"] not in out
    code, out, _ = await run_cli("user", alice["id"], "--config", str(path))
    assert code == 0 and "balance     " in out
    balance = (await running.services.accounts.get(alice["id"])).balance
    assert f"balance     {balance} tokens" in out and "purchase" in out and "Tides" in out
    code, out, _ = await run_cli("orders", "--status", "paid", "--config", str(path))
    assert code == 0 and order.id in out
    code, out, _ = await run_cli("orders", "--status", "refunded", "--config", str(path))
    assert order.id not in out
    code, out, _ = await run_cli("usage", "--since", "1d", "--config", str(path))
    assert code == 0
    assert f"total: 1 replies, {reply['usage']['total_tokens']} tokens, cost {reply['cost']}" in out
    assert "wechat_native" in out and "9.90" in out
    code, _, err = await run_cli("user", "nobody-like-this", "--config", str(path))
    assert code == 1 and "no user" in err
    code, _, err = await run_cli("usage", "--since", "last tuesday", "--config", str(path))
    assert code == 2 and "not a date" in err


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_writes_users_ledger_and_orders(live, tmp_path, fmt) -> None:
    running, path, made, reply, order = live
    out_dir = tmp_path / "export"
    code, out, err = await run_cli("export", "--out", str(out_dir), "--format", fmt, "--config", str(path))
    assert code == 0, err
    assert "ledger" in err    # the progress bars (standard error)

    def rows(table: str) -> list[dict]:
        text = (out_dir / f"{table}.{fmt}").read_text(encoding="utf-8")
        if fmt == "csv":
            return list(csv.DictReader(text.splitlines()))
        return [json.loads(line) for line in text.splitlines()]

    users = {u["id"]: u for u in rows("users")}
    alice = made["alice"]["user"]["id"]
    assert set(users) == {alice, made["bob"]["user"]["id"]}
    assert int(users[alice]["balance"]) == (await running.services.accounts.get(alice)).balance
    ledger = rows("ledger")
    mine = [e for e in ledger if e["user_id"] == alice]
    assert sorted(e["kind"] for e in mine) == ["grant", "purchase", "usage"]
    assert sum(int(e["amount"]) for e in mine) == int(users[alice]["balance"])
    [exported] = rows("orders")
    assert exported["id"] == order.id and exported["status"] == "paid" and exported["price"] == "9.90"


async def test_backup_of_a_live_database_opens_as_a_working_database(live, tmp_path, fake_llm) -> None:
    running, path, made, reply, order = live
    target = tmp_path / "backups" / "bot-backup.db"
    code, out, err = await run_cli("backup", str(target), "--config", str(path))
    assert code == 0, err
    assert target.exists() and not Path(str(target) + ".partial").exists()
    # A backup never overwrites.
    code, _, err = await run_cli("backup", str(target), "--config", str(path))
    assert code == 1 and "exists" in err
    # The server writes on after the backup: the copy keeps the moment it was made.
    alice = made["alice"]["user"]["id"]
    before = (await running.services.accounts.get(alice)).balance
    await running.services.admin.adjust("test", alice, 77, "after the backup")

    from bot.wiring import open_services

    restored = make_config(tmp_path / "restored", fake_llm.base_url, database_url=f"sqlite://{target}")
    async with open_services(restored, background=False) as services:
        user = await services.accounts.get(alice)
        assert user.balance == before and user.name == "alice"
        assert (await services.orders.get(None, order.id)).status == "paid"
        page = await services.conversations.messages(alice, reply["conversation_id"])
        assert [m.content for m in page.items][-1] == reply["content"]


async def test_backup_of_postgresql_says_how_with_pg_dump(tmp_path, fake_llm) -> None:
    path = write_config(tmp_path, fake_llm.base_url, database={"url": "postgres://bot:s3cret@db.internal:5432/bot"})
    code, out, err = await run_cli("backup", str(tmp_path / "x.db"), "--config", str(path))
    assert code == 2 and "pg_dump" in err and "pg_restore" in err
    assert "s3cret" not in err and not (tmp_path / "x.db").exists()
