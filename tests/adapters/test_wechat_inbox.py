"""The WeChat inbox on SQLite and PostgreSQL: once-only acceptance, leases, one claim per orphan, giving up."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest

from adapters.storage import db
from adapters.storage.models_wechat import WeChatInboxRow
from adapters.storage.wechat_inbox import InboxMessage, TortoiseWeChatInbox


@pytest.fixture
async def database(database_url: str):
    await db.open_database(database_url)
    yield
    await db.close_database()


def message(n: int, openid: str = "o-1") -> InboxMessage:
    return InboxMessage(0, "gh_account", openid, f"msg:{n}", "text", f"question {n}")


async def expire(*row_ids: int, ago: timedelta = timedelta(seconds=1)) -> None:
    """The worker holding these rows stopped renewing: their leases ran out `ago`."""
    await WeChatInboxRow.filter(id__in=row_ids).update(lease_until=datetime.now(timezone.utc) - ago)


async def test_a_message_is_accepted_once_and_its_lease_is_its_workers(database) -> None:
    dead, alive = TortoiseWeChatInbox("dead", 30), TortoiseWeChatInbox("alive", 30)
    first = await dead.accept(message(1))
    assert first is not None
    assert await alive.accept(message(1)) is None           # the retry, or the same callback on another worker
    assert await alive.accept(InboxMessage(0, "gh_other", "o-1", "msg:1", "text", "x")) is not None
    assert await alive.orphaned_users() == []               # a live lease is nobody's orphan
    assert await alive.renew([first]) == 0                  # only the holder renews
    assert await alive.done(first) is False
    await expire(first)
    assert await alive.orphaned_users() == ["o-1"]
    assert await dead.renew([first]) == 1                    # not taken over yet: the slow holder keeps it
    assert await alive.claim_orphans("o-1") == []
    assert await dead.done(first) is True
    assert await dead.status("gh_account", "msg:1") == "done"
    await expire(first)
    assert await alive.claim_orphans("o-1") == []            # done is done, whatever its lease says


async def test_racing_sweepers_claim_each_orphan_once_oldest_first(database) -> None:
    dead = TortoiseWeChatInbox("dead", 30)
    ids = [await dead.accept(message(n)) for n in range(6)]
    other = await dead.accept(message(99, openid="o-2"))
    await expire(*ids, other)
    sweepers = [TortoiseWeChatInbox(f"sweeper-{n}", 30) for n in range(4)]
    results = await asyncio.gather(*(s.claim_orphans("o-1") for s in sweepers for _ in range(3)))
    claimed = [m for batch in results for m in batch]
    assert sorted(m.id for m in claimed) == ids                          # every row once, none twice
    for batch in results:
        assert [m.id for m in batch] == sorted(m.id for m in batch)      # each sweeper answers oldest first
    rows = {r.id: r for r in await WeChatInboxRow.filter(id__in=ids)}
    winners = {m.id: sweepers[i // 3].worker for i, batch in enumerate(results) for m in batch}
    assert {i: rows[i].claimed_by for i in ids} == winners
    assert {rows[i].attempts for i in ids} == {2}
    assert await sweepers[0].orphaned_users() == ["o-2"]                 # claimed rows hold a fresh lease
    assert await dead.renew(ids) == 0                                   # the old holder lost them
    assert await dead.done(ids[0]) is False


async def test_a_message_that_keeps_failing_is_given_up_and_old_rows_are_purged(database, caplog) -> None:
    repo = TortoiseWeChatInbox("w", 30, max_attempts=2, keep_for=timedelta(days=7))
    poison = await repo.accept(message(1))
    old = await repo.accept(message(2, openid="o-2"))
    await expire(poison)
    assert [m.id for m in await repo.claim_orphans("o-1")] == [poison]   # second try
    await expire(poison)
    assert await repo.claim_orphans("o-1") == []                         # no third
    await WeChatInboxRow.filter(id=old).update(created_at=datetime.now(timezone.utc) - timedelta(days=8))
    await expire(old)
    with caplog.at_level(logging.ERROR, logger="adapters.storage.wechat_inbox"):
        assert await repo.give_up_and_purge() == 1
    assert await repo.status("gh_account", "msg:1") == "given_up"
    assert await repo.status("gh_account", "msg:2") is None
    assert "gave up answering WeChat message msg:1 of user o-1" in caplog.text
    assert "msg:2" in caplog.text                                        # given up (logged) before it was purged


async def test_a_message_unanswered_for_a_day_is_given_up(database) -> None:
    repo = TortoiseWeChatInbox("w", 30)
    stale = await repo.accept(message(1))
    fresh = await repo.accept(message(2))
    await WeChatInboxRow.filter(id=stale).update(created_at=datetime.now(timezone.utc) - timedelta(hours=25))
    await expire(stale, fresh)
    assert await repo.give_up_and_purge() == 0
    assert await repo.status("gh_account", "msg:1") == "given_up"
    assert [m.id for m in await repo.claim_orphans("o-1")] == [fresh]
