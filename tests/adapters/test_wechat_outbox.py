"""The WeChat outbox on SQLite: answers kept in order per user, taken once, within a byte budget."""
from __future__ import annotations

import asyncio

import pytest

from adapters.storage import db
from adapters.storage.wechat_outbox import TortoiseWeChatOutbox


@pytest.fixture
async def outbox(tmp_path):
    await db.open_database(f"sqlite://{tmp_path}/outbox.db")
    yield TortoiseWeChatOutbox()
    await db.close_database()


async def test_parts_come_back_in_order_within_the_budget(outbox: TortoiseWeChatOutbox) -> None:
    await outbox.park("u1", "msg:1", ["一" * 300, "二" * 300])   # 900 bytes each
    await outbox.park("u2", "msg:2", ["other user"])
    await outbox.park("u1", "msg:3", ["三"])
    taken, more = await outbox.take("u1", 1805)  # 900 + 2 (separator) + 900 fit; "三" would not
    assert [t.text for t in taken] == ["一" * 300, "二" * 300] and more
    assert [t.msg_key for t in taken] == ["msg:1", "msg:1"]
    taken, more = await outbox.take("u1", 2000)
    assert [t.text for t in taken] == ["三"] and not more
    assert await outbox.take("u1", 2000) == ([], False)
    assert await outbox.count("u2") == 1


async def test_concurrent_takers_never_deliver_a_part_twice(outbox: TortoiseWeChatOutbox) -> None:
    await outbox.park("u1", None, [f"part {n}" for n in range(10)])
    results = await asyncio.gather(*(outbox.take("u1", 10_000) for _ in range(5)))
    delivered = [t.text for taken, _ in results for t in taken]
    assert sorted(delivered) == sorted(f"part {n}" for n in range(10))
