"""The chat hot path's hand-written SQL against real SQLite and PostgreSQL: what it writes reads back through the
ORM exactly as if the ORM had written it, and what it reads matches the ORM's reading."""
from __future__ import annotations

import asyncio
import re
import uuid
from types import SimpleNamespace

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError, ValidationError

from adapters.retrieval.store import TortoiseResources
from adapters.storage import db
from adapters.storage.api_keys import TortoiseApiKeys
from adapters.storage.chats import TortoiseConversations, TortoiseMessages, _conversation, _message
from adapters.storage.models import ConversationRow, MessageRow
from adapters.storage.users import TortoiseUsers
from core.domain import Citation, Identity, Usage

CITATIONS = (Citation("r-1", "c-1", "Handbook, ch. 2", 0.8125, "Refunds take «five» days.\nAsk support."),
             Citation("r-2", "c-9", "", 1.0, ""))
# What tortoise writes for a DatetimeField on SQLite (datetime.isoformat(" ")).
SQLITE_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00$")


@pytest.fixture
async def repos(database_url: str):
    await db.open_database(database_url)
    user = await TortoiseUsers().create("u", Identity("test", uuid.uuid4().hex), 0)
    yield SimpleNamespace(user=user, conversations=TortoiseConversations(), messages=TortoiseMessages(),
                          sqlite=database_url.startswith("sqlite"))
    await db.close_database()


async def _raw_columns(table: str, row_id: str) -> dict:
    conn = Tortoise.get_connection("default")
    placeholder = "?" if conn.capabilities.dialect == "sqlite" else "$1"
    rows = await conn.execute_query_dict(f"SELECT * FROM {table} WHERE id = {placeholder}", [row_id])
    return rows[0]


async def test_added_message_reads_back_identically_through_the_orm(repos) -> None:
    conv = await repos.conversations.create(repos.user.id, title="t")
    added = await repos.messages.add(id="m-" + uuid.uuid4().hex[:20], conversation_id=conv.id, user_id=repos.user.id,
                                     role="assistant", content="Answer with 'quotes', ? marks and $1.", model="gpt-x",
                                     status="cancelled", usage=Usage(123, 45), cost=213, citations=CITATIONS)
    orm = _message(await MessageRow.get(id=added.id))
    assert added == orm
    assert added.citations == CITATIONS and added.usage == Usage(123, 45) and added.feedback == 0
    assert added.created_at.tzinfo == orm.created_at.tzinfo and added.created_at.utcoffset().total_seconds() == 0
    assert await repos.messages.get(added.id) == added
    assert (await repos.messages.recent(conv.id, 0, 10)) == [added]
    assert (await repos.messages.list(conv.id, 10, None)).items == (added,)
    await repos.messages.set_feedback(added.id, -1)
    assert (await repos.messages.recent(conv.id, 0, 10))[0].feedback == -1


async def test_added_message_is_stored_as_the_orm_stores_it(repos) -> None:
    conv = await repos.conversations.create(repos.user.id)
    fields = dict(conversation_id=conv.id, user_id=repos.user.id, role="assistant", content="same", model="m",
                  status="complete", prompt_tokens=3, completion_tokens=4, cost=11,
                  citations=[c.__dict__ for c in CITATIONS])
    by_orm = await MessageRow.create(id=str(uuid.uuid4()), **fields)
    by_sql = await repos.messages.add(conversation_id=conv.id, user_id=repos.user.id, role="assistant", content="same",
                                      model="m", usage=Usage(3, 4), cost=11, citations=CITATIONS)
    orm_row, sql_row = await _raw_columns("messages", by_orm.id), await _raw_columns("messages", by_sql.id)
    assert sql_row["seq"] == orm_row["seq"] + 1
    for row in (orm_row, sql_row):
        del row["id"], row["seq"]
    orm_created, sql_created = orm_row.pop("created_at"), sql_row.pop("created_at")
    assert sql_row == orm_row
    assert type(sql_created) is type(orm_created)
    if repos.sqlite:
        assert SQLITE_DATETIME.match(sql_created) and SQLITE_DATETIME.match(orm_created)


async def test_user_message_defaults(repos) -> None:
    conv = await repos.conversations.create(repos.user.id)
    added = await repos.messages.add(conversation_id=conv.id, user_id=repos.user.id, role="user", content="hi")
    assert uuid.UUID(added.id) and added.model is None and added.status == "complete"
    assert (added.usage, added.cost, added.citations, added.feedback) == (Usage(0, 0), 0, (), 0)
    assert added == _message(await MessageRow.get(id=added.id))


async def test_duplicate_message_id_raises_integrity_error(repos) -> None:
    conv = await repos.conversations.create(repos.user.id)
    await repos.messages.add(id="dup", conversation_id=conv.id, user_id=repos.user.id, role="user", content="a")
    with pytest.raises(IntegrityError):
        await repos.messages.add(id="dup", conversation_id=conv.id, user_id=repos.user.id, role="user", content="b")
    assert [m.content for m in await repos.messages.recent(conv.id, 0, 10)] == ["a"]


async def test_values_longer_than_their_column_are_refused_before_writing(repos) -> None:
    conv = await repos.conversations.create(repos.user.id)
    with pytest.raises(ValidationError, match="role"):
        await repos.messages.add(conversation_id=conv.id, user_id=repos.user.id, role="r" * 17, content="x")
    with pytest.raises(ValidationError, match="model"):
        await repos.messages.add(conversation_id=conv.id, user_id=repos.user.id, role="assistant", content="x",
                                 model="m" * 101)
    assert await repos.messages.recent(conv.id, 0, 10) == []


async def test_recent_is_the_newest_after_a_seq_oldest_first(repos) -> None:
    conv, other = (await repos.conversations.create(repos.user.id), await repos.conversations.create(repos.user.id))
    added = []
    for i in range(6):
        added.append(await repos.messages.add(conversation_id=conv.id, user_id=repos.user.id, role="user",
                                              content=f"m{i}"))
        await repos.messages.add(conversation_id=other.id, user_id=repos.user.id, role="user", content=f"o{i}")
    assert await repos.messages.recent(conv.id, 0, 3) == added[3:]
    assert await repos.messages.recent(conv.id, 0, 100) == added
    assert await repos.messages.recent(conv.id, added[3].seq, 100) == added[4:]
    assert await repos.messages.recent(conv.id, added[1].seq, 2) == added[4:]
    assert await repos.messages.recent(conv.id, added[-1].seq, 10) == []
    assert await repos.messages.recent("no-such-conversation", 0, 10) == []
    orm = [_message(r) for r in await MessageRow.filter(conversation_id=conv.id).order_by("seq")]
    assert orm == added


async def test_get_conversation_matches_the_orm(repos) -> None:
    conv = await repos.conversations.create(repos.user.id, title="Trip", instruction="Be brief.", role="pirate",
                                            resource_ids=["r-1", "r-2"], chat_key="telegram:42")
    await repos.conversations.set_summary(conv.id, "They talked about boats.", 7)
    got = await repos.conversations.get(conv.id)
    assert got == _conversation(await ConversationRow.get(id=conv.id))
    assert (got.resource_ids, got.summary, got.summary_until, got.chat_key) == (
        ("r-1", "r-2"), "They talked about boats.", 7, "telegram:42")
    assert got.created_at == conv.created_at and got.created_at.tzinfo == conv.created_at.tzinfo
    bare = await repos.conversations.create(repos.user.id)
    assert await repos.conversations.get(bare.id) == bare
    assert await repos.conversations.get("no-such-conversation") is None


async def test_add_token_usage_adds_and_moves_updated_at(repos) -> None:
    conv = await repos.conversations.create(repos.user.id)
    await asyncio.sleep(0.01)
    await repos.conversations.add_token_usage(conv.id, 120)
    await repos.conversations.add_token_usage(conv.id, 30)
    got = await repos.conversations.get(conv.id)
    assert got.token_usage == 150 and got.updated_at > conv.updated_at and got.created_at == conv.created_at
    assert got == _conversation(await ConversationRow.get(id=conv.id))
    row = await _raw_columns("conversations", conv.id)
    if repos.sqlite:
        assert SQLITE_DATETIME.match(row["updated_at"])
    await repos.conversations.add_token_usage("no-such-conversation", 5)   # nothing to update, no error


async def test_api_key_lookup(repos) -> None:
    keys = TortoiseApiKeys()
    await keys.replace(repos.user.id, "a" * 64, "sk-a")
    assert await keys.user_for("a" * 64) == repos.user.id
    assert await keys.user_for("b" * 64) is None
    await keys.delete(repos.user.id)
    assert await keys.user_for("a" * 64) is None


async def test_searchable_resources(repos) -> None:
    resources = TortoiseResources()

    async def resource(owner: str | None, name: str, ready: bool = True) -> str:
        r = await resources.create(owner_id=owner, name=name, source="upload", content_type="text/plain", url=None,
                                   bytes=1, charged_bytes=0, content_hash=None)
        if ready:
            await resources.update(r.id, status="ready")
        return r.id

    shared, mine, theirs = await resource(None, "Shared"), await resource(repos.user.id, "Mine"), \
        await resource("someone-else", "Theirs")
    await resource(repos.user.id, "Still indexing", ready=False)
    assert await resources.searchable(repos.user.id, ()) == {shared: "Shared", mine: "Mine"}
    assert await resources.searchable(None, ()) == {shared: "Shared"}
    assert await resources.searchable("", []) == {shared: "Shared"}
    assert await resources.searchable(repos.user.id, [mine]) == {mine: "Mine"}
    assert await resources.searchable(repos.user.id, [mine, theirs, "missing"]) == {mine: "Mine"}
    assert await resources.searchable(None, [mine, shared]) == {shared: "Shared"}
