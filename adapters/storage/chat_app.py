"""core.chat_app.ChatHistory on tortoise: scroll-back, ordered conversation lists, conversations' inputs."""
from __future__ import annotations

from typing import Sequence

from tortoise.expressions import Q

from adapters.storage.chats import _conversation, _message
from adapters.storage.models import ConversationRow, MessageRow
from adapters.storage.models_files import ConversationInputsRow
from core.chat_app import ConversationOrder
from core.domain import Conversation, Message


class TortoiseChatHistory:
    async def messages_before(self, conversation_id: str, before_seq: int | None, limit: int) -> list[Message]:
        query = MessageRow.filter(conversation_id=conversation_id)
        if before_seq is not None:
            query = query.filter(seq__lt=before_seq)
        rows = await query.order_by("-seq").limit(limit)
        return [_message(r) for r in rows]

    async def conversations_after(self, user_id: str, order: ConversationOrder, after: Conversation | None,
                                  limit: int) -> list[Conversation]:
        field = order.lstrip("-")
        descending = order.startswith("-")
        query = ConversationRow.filter(user_id=user_id)
        if after is not None:
            value = getattr(after, field)
            cmp = "lt" if descending else "gt"
            # Ties on the timestamp are broken by id, so a page boundary never skips or repeats a row.
            query = query.filter(Q(**{f"{field}__{cmp}": value}) | Q(**{field: value, f"id__{cmp}": after.id}))
        sign = "-" if descending else ""
        rows = await query.order_by(f"{sign}{field}", f"{sign}id").limit(limit)
        return [_conversation(r) for r in rows]


class TortoiseConversationInputs:
    """The `inputs` each chat-app conversation was started with."""

    async def put(self, conversation_id: str, inputs: dict) -> None:
        await ConversationInputsRow.get_or_create(conversation_id=conversation_id, defaults={"inputs": inputs})

    async def of(self, conversation_ids: Sequence[str]) -> dict[str, dict]:
        if not conversation_ids:
            return {}
        rows = await ConversationInputsRow.filter(conversation_id__in=list(conversation_ids))
        return {r.conversation_id: dict(r.inputs or {}) for r in rows}

    async def forget(self, conversation_id: str) -> None:
        await ConversationInputsRow.filter(conversation_id=conversation_id).delete()
