"""The free allowance and the rate limit over real HTTP: granted once a period, spent before purchased tokens,
never overdrawn by many replies at once (SQLite and PostgreSQL); 429 rate_limited with Retry-After, operators
exempt; both shown in /me."""
from __future__ import annotations

import asyncio
import time

from tests.conftest import make_config
from tests.e2e.http_native import ADMIN, assert_error, serve

ALLOWANCE = {"tokens": 500, "every": "day"}


async def _ask(user, text: str = "Hi"):
    cid = (await user.post("/conversations")).body["id"]
    return await user.post(f"/conversations/{cid}/messages", {"content": text})


async def _entries(user) -> list[dict]:
    return (await user.get("/me/ledger", params={"limit": "100"})).body["data"]


async def test_the_allowance_is_granted_once_shown_in_me_and_spent_first(start_app, tmp_path, fake_llm) -> None:
    config = make_config(tmp_path, fake_llm.base_url, quota={"signup_grant": 100, "allowance": ALLOWANCE})
    async with serve(start_app, config) as api:
        user, _ = await api.new_user()
        me = (await user.get("/me")).body
        assert me["balance"] == 600 and me["allowance"]["tokens"] == 500 and me["allowance"]["every"] == "day"
        assert me["allowance"]["left"] == 500 and me["allowance"]["renews_at"] and me["rate_limit"] is None
        answer = (await _ask(user)).body
        me = (await user.get("/me")).body
        assert me["balance"] == 600 - answer["cost"] and me["allowance"]["left"] == 500 - answer["cost"]
        kinds = [(e["kind"], e["amount"]) for e in await _entries(user)]
        assert kinds.count(("allowance", 500)) == 1 and ("grant", 100) in kinds   # granted once, however often asked


async def test_many_replies_at_once_never_overdraw_allowance_and_balance(start_app, tmp_path, fake_llm,
                                                                         database_url) -> None:
    config = make_config(tmp_path, fake_llm.base_url, database_url=database_url,
                         quota={"signup_grant": 30, "allowance": {"tokens": 400, "every": "day"}})
    async with serve(start_app, config) as api:
        user, _ = await api.new_user()
        fake_llm.default = fake_llm.default.__class__(reply="twelve chars", chunk_chars=3, chunk_delay=0.01)
        replies = await asyncio.gather(*(_ask(user, f"question {n}") for n in range(16)))
        statuses = sorted({r.status for r in replies})
        assert set(statuses) <= {200, 402} and 200 in statuses and 402 in statuses, statuses
        me = (await user.get("/me")).body
        spent = sum(r.body["cost"] for r in replies if r.status == 200)
        assert me["balance"] == 430 - spent >= 0 and me["available"] == me["balance"]
        assert 0 <= me["allowance"]["left"] <= me["balance"]
        entries = await _entries(user)
        assert all(e["balance_after"] >= 0 for e in entries)
        assert [e["amount"] for e in entries if e["kind"] == "allowance"] == [400]


async def _limited_run(api, alice, bob) -> tuple[list, list]:
    hour = int(time.time() // 3600)
    mine = [await _ask(alice, f"a{n}") for n in range(4)]
    theirs = [await _ask(bob, f"b{n}") for n in range(3)]
    return (mine, theirs) if int(time.time() // 3600) == hour else await _limited_run(api, alice, bob)


async def test_the_rate_limit_refuses_politely_and_exempts_operators(start_app, tmp_path, fake_llm) -> None:
    base = make_config(tmp_path, fake_llm.base_url)
    async with serve(start_app, base) as setup:
        alice, alice_user = await setup.new_user("alice")   # the operator
        bob, _ = await setup.new_user("bob")
    limited = make_config(tmp_path, fake_llm.base_url, quota={
        "signup_grant": 1000, "rate_limit": {"messages": 2, "per": "hour", "exempt": [alice_user["id"]]}})
    async with serve(start_app, limited) as api:
        alice, bob = api.as_(alice.headers), api.as_(bob.headers)
        before = len(fake_llm.chat_requests)
        mine, theirs = await _limited_run(api, alice, bob)
        assert [r.status for r in mine] == [200] * 4
        assert [r.status for r in theirs] == [200, 200, 429]
        assert_error(theirs[2], 429, "rate_limited")
        assert 0 < int(theirs[2].headers["Retry-After"]) <= 3600
        assert len(fake_llm.chat_requests) == before + 6           # the refused message never reached the model
        bob_me = (await bob.get("/me")).body
        assert bob_me["rate_limit"]["messages"] == 2 and bob_me["rate_limit"]["per"] == "hour"
        assert bob_me["rate_limit"]["used"] == 2 and bob_me["rate_limit"]["exempt"] is False
        assert (await alice.get("/me")).body["rate_limit"]["exempt"] is True
        assert (await api.as_(ADMIN).get("/status")).status == 200
