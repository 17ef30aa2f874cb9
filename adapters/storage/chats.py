"""Conversation and message repositories on tortoise."""
from __future__ import annotations

import uuid
from typing import Iterable, Sequence

from tortoise import timezone
from tortoise.transactions import in_transaction

from adapters.storage.models import ConversationRow, MessageRow
from adapters.storage.pages import page_of
from adapters.storage.sql import auto_now, connection, from_db_datetime, sql, to_db_datetime
from core.domain import Citation, Conversation, Message, Page, Usage

UPDATABLE = {"title", "instruction", "role", "resource_ids", "model"}


def _conversation(row: ConversationRow) -> Conversation:
    return Conversation(row.id, row.user_id, row.title, row.instruction, row.role, tuple(row.resource_ids or ()),
                        row.summary, row.summary_until, row.token_usage, row.created_at, row.updated_at, row.chat_key,
                        row.model)


def _citation(d: dict) -> Citation:
    return Citation(d["resource_id"], d["chunk_id"], d.get("title", ""), float(d.get("score", 0.0)),
                    d.get("snippet", ""))


def _message(row: MessageRow) -> Message:
    return Message(row.id, row.seq, row.conversation_id, row.user_id, row.role, row.content, row.model, row.status,
                   Usage(row.prompt_tokens, row.completion_tokens), row.cost,
                   tuple(_citation(c) for c in row.citations or ()), row.feedback, row.created_at)


def _citations_json(citations: Sequence[Citation]) -> list[dict]:
    return [c.__dict__ for c in citations]


# The chat hot path runs hand-written SQL: the ORM's query building and Model instances cost the event loop
# several times the statement itself. Values are encoded exactly as the models' fields encode them.
_CITATIONS = MessageRow._meta.fields_map["citations"]
_RESOURCE_IDS = ConversationRow._meta.fields_map["resource_ids"]
# The ORM refused a value longer than its column (ValidationError) before writing; so does the hand-written INSERT.
_SIZED = tuple(MessageRow._meta.fields_map[name] for name in ("id", "conversation_id", "user_id", "role", "model",
                                                                "status"))
_CONVERSATION_COLUMNS = ("id, user_id, title, instruction, role, resource_ids, summary, summary_until, token_usage, "
                         "created_at, updated_at, chat_key, model")
_MESSAGE_COLUMNS = ("id, seq, conversation_id, user_id, role, content, model, status, prompt_tokens, "
                    "completion_tokens, cost, citations, feedback, created_at")
_GET_CONVERSATION = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?"
_ADD_TOKEN_USAGE = "UPDATE conversations SET token_usage = token_usage + ?, updated_at = ? WHERE id = ?"
_ADD_MESSAGE = ("INSERT INTO messages (id, conversation_id, user_id, role, content, model, status, prompt_tokens, "
                "completion_tokens, cost, citations, feedback, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) RETURNING seq")
_RECENT = (f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? "
           "ORDER BY seq DESC LIMIT ?")


def _conversation_of(r) -> Conversation:
    """A row of _CONVERSATION_COLUMNS."""
    resource_ids = tuple(_RESOURCE_IDS.to_python_value(r[5]) or ())
    return Conversation(r[0], r[1], r[2], r[3], r[4], resource_ids, r[6], r[7], r[8], from_db_datetime(r[9]),
                        from_db_datetime(r[10]), r[11], r[12])


def _message_of(r) -> Message:
    """A row of _MESSAGE_COLUMNS."""
    citations = tuple(_citation(c) for c in _CITATIONS.to_python_value(r[11]) or ())
    return Message(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], Usage(r[8], r[9]), r[10], citations, r[12],
                   from_db_datetime(r[13]))


class TortoiseConversations:
    async def create(self, user_id: str, *, title: str = "", instruction: str | None = None, role: str | None = None,
                     resource_ids: Iterable[str] = (), chat_key: str | None = None,
                     model: str | None = None) -> Conversation:
        row = await ConversationRow.create(id=str(uuid.uuid4()), user_id=user_id, title=title[:200],
                                           instruction=instruction, role=role, resource_ids=list(resource_ids),
                                           chat_key=chat_key, model=model)
        return _conversation(row)

    async def get(self, conversation_id: str) -> Conversation | None:
        conn = connection()
        _, rows = await conn.execute_query(sql(conn, _GET_CONVERSATION), [conversation_id])
        return _conversation_of(rows[0]) if rows else None

    async def latest_for_chat(self, chat_key: str) -> Conversation | None:
        row = await ConversationRow.filter(chat_key=chat_key).order_by("-seq").first()
        return _conversation(row) if row else None

    async def list_for_user(self, user_id: str, limit: int, cursor: str | None) -> Page:
        return await page_of(ConversationRow.filter(user_id=user_id), limit, cursor, _conversation, newest_first=True)

    async def update(self, conversation_id: str, **fields: object) -> Conversation | None:
        row = await ConversationRow.get_or_none(id=conversation_id)
        if row is None:
            return None
        for name, value in fields.items():
            if name not in UPDATABLE:
                raise ValueError(f"cannot update {name}")
            setattr(row, name, list(value) if name == "resource_ids" else value)  # type: ignore[arg-type]
        await row.save()
        return _conversation(row)

    async def delete(self, conversation_id: str) -> bool:
        async with in_transaction():
            await MessageRow.filter(conversation_id=conversation_id).delete()
            return bool(await ConversationRow.filter(id=conversation_id).delete())

    async def add_token_usage(self, conversation_id: str, tokens: int) -> None:
        # A reply is activity: updated_at moves with it, so lists ordered by recency see it.
        conn = connection()
        await conn.execute_query(sql(conn, _ADD_TOKEN_USAGE), [tokens, timezone.now(), conversation_id])

    async def set_summary(self, conversation_id: str, summary: str, until_seq: int) -> None:
        await ConversationRow.filter(id=conversation_id).update(summary=summary, summary_until=until_seq)


class TortoiseMessages:
    async def add(self, *, conversation_id: str, user_id: str, role: str, content: str, model: str | None = None,
                  status: str = "complete", usage: Usage = Usage(), cost: int = 0,
                  citations: Sequence[Citation] = (), id: str | None = None) -> Message:
        message_id, cited, created = id or str(uuid.uuid4()), _citations_json(citations), auto_now()
        for field, value in zip(_SIZED, (message_id, conversation_id, user_id, role, model, status)):
            field.validate(value)
        conn = connection()
        rows = await conn.execute_query_dict(sql(conn, _ADD_MESSAGE), [
            message_id, conversation_id, user_id, role, content, model, status, usage.prompt_tokens,
            usage.completion_tokens, cost, _CITATIONS.to_db_value(cited, MessageRow), created])
        # The row as written (feedback is the field's default, 0), without reading it back.
        return Message(message_id, rows[0]["seq"], conversation_id, user_id, role, content,  # type: ignore[arg-type]
                       model, status, Usage(usage.prompt_tokens, usage.completion_tokens),  # type: ignore[arg-type]
                       cost, tuple(_citation(c) for c in cited), 0, to_db_datetime(created))

    async def finish(self, message_id: str, *, content: str, status: str, usage: Usage, cost: int,
                     model: str | None = None, citations: Sequence[Citation] = ()) -> Message:
        row = await MessageRow.get(id=message_id)
        row.content, row.status, row.cost = content, status, cost
        row.prompt_tokens, row.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        row.model = model or row.model
        row.citations = _citations_json(citations)
        await row.save()
        return _message(row)

    async def get(self, message_id: str) -> Message | None:
        row = await MessageRow.get_or_none(id=message_id)
        return _message(row) if row else None

    async def list(self, conversation_id: str, limit: int, cursor: str | None) -> Page:
        return await page_of(MessageRow.filter(conversation_id=conversation_id), limit, cursor, _message)

    async def recent(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        conn = connection()
        _, rows = await conn.execute_query(sql(conn, _RECENT), [conversation_id, after_seq, limit])
        return [_message_of(r) for r in reversed(rows)]

    async def set_feedback(self, message_id: str, rating: int) -> None:
        await MessageRow.filter(id=message_id).update(feedback=rating)

    async def delete(self, message_id: str) -> bool:
        return bool(await MessageRow.filter(id=message_id).delete())
