"""Conversation and message repositories on tortoise."""
from __future__ import annotations

import uuid
from typing import Iterable, Sequence

from tortoise import timezone
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from adapters.storage.models import ConversationRow, MessageRow
from adapters.storage.pages import page_of
from core.domain import Citation, Conversation, Message, Page, Usage

UPDATABLE = {"title", "instruction", "role", "resource_ids"}


def _conversation(row: ConversationRow) -> Conversation:
    return Conversation(row.id, row.user_id, row.title, row.instruction, row.role, tuple(row.resource_ids or ()),
                        row.summary, row.summary_until, row.token_usage, row.created_at, row.updated_at, row.chat_key)


def _citation(d: dict) -> Citation:
    return Citation(d["resource_id"], d["chunk_id"], d.get("title", ""), float(d.get("score", 0.0)),
                    d.get("snippet", ""))


def _message(row: MessageRow) -> Message:
    return Message(row.id, row.seq, row.conversation_id, row.user_id, row.role, row.content, row.model, row.status,
                   Usage(row.prompt_tokens, row.completion_tokens), row.cost,
                   tuple(_citation(c) for c in row.citations or ()), row.feedback, row.created_at)


def _citations_json(citations: Sequence[Citation]) -> list[dict]:
    return [c.__dict__ for c in citations]


class TortoiseConversations:
    async def create(self, user_id: str, *, title: str = "", instruction: str | None = None, role: str | None = None,
                     resource_ids: Iterable[str] = (), chat_key: str | None = None) -> Conversation:
        row = await ConversationRow.create(id=str(uuid.uuid4()), user_id=user_id, title=title[:200],
                                           instruction=instruction, role=role, resource_ids=list(resource_ids),
                                           chat_key=chat_key)
        return _conversation(row)

    async def get(self, conversation_id: str) -> Conversation | None:
        row = await ConversationRow.get_or_none(id=conversation_id)
        return _conversation(row) if row else None

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
        await ConversationRow.filter(id=conversation_id).update(token_usage=F("token_usage") + tokens,
                                                                updated_at=timezone.now())

    async def set_summary(self, conversation_id: str, summary: str, until_seq: int) -> None:
        await ConversationRow.filter(id=conversation_id).update(summary=summary, summary_until=until_seq)


class TortoiseMessages:
    async def add(self, *, conversation_id: str, user_id: str, role: str, content: str, model: str | None = None,
                  status: str = "complete", usage: Usage = Usage(), cost: int = 0,
                  citations: Sequence[Citation] = (), id: str | None = None) -> Message:
        row = await MessageRow.create(id=id or str(uuid.uuid4()), conversation_id=conversation_id, user_id=user_id,
                                      role=role, content=content, model=model, status=status,
                                      prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                                      cost=cost, citations=_citations_json(citations))
        return _message(row)

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
        rows = await MessageRow.filter(conversation_id=conversation_id, seq__gt=after_seq).order_by("-seq").limit(limit)
        return [_message(r) for r in reversed(rows)]

    async def set_feedback(self, message_id: str, rating: int) -> None:
        await MessageRow.filter(id=message_id).update(feedback=rating)

    async def delete(self, message_id: str) -> bool:
        return bool(await MessageRow.filter(id=message_id).delete())
