"""ChatAppService: the chat-app view of conversations (Dify's): question/answer exchanges, scroll-back, renames."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, Sequence

from core.conversations import ConversationService
from core.domain import Conversation, Message
from core.errors import InvalidRequest, NotFound
from core.titles import TitleWriter

ConversationOrder = Literal["created_at", "-created_at", "updated_at", "-updated_at"]
CONVERSATION_ORDERS: tuple[str, ...] = ("created_at", "-created_at", "updated_at", "-updated_at")
MAX_NAME_CHARS = 200


class ChatHistory(Protocol):
    """Listing queries the chat-app view needs beyond the conversation and message repositories."""

    async def messages_before(self, conversation_id: str, before_seq: int | None, limit: int) -> list[Message]:
        """Up to `limit` messages of a conversation with seq below `before_seq` (all when None), newest first."""
        ...

    async def conversations_after(self, user_id: str, order: ConversationOrder, after: Conversation | None,
                                  limit: int) -> list[Conversation]:
        """Up to `limit` of a user's conversations in `order` (ties broken by id), after `after` when given."""
        ...


@dataclass(frozen=True)
class Exchange:
    """One question and its answer, as a chat app shows them; either side may be missing."""

    query: Message | None
    answer: Message | None

    @property
    def id(self) -> str:
        """The answer's id (what the chat call returned as message_id), else the question's."""
        return (self.answer or self.query).id  # type: ignore[union-attr]

    @property
    def conversation_id(self) -> str:
        return (self.answer or self.query).conversation_id  # type: ignore[union-attr]

    @property
    def created_at(self) -> datetime:
        return (self.query or self.answer).created_at  # type: ignore[union-attr]


@dataclass(frozen=True)
class Slice:
    items: tuple
    has_more: bool


def exchanges_newest_first(messages: Sequence[Message]) -> list[Exchange]:
    """Pair messages given newest first: an answer takes the question right before it."""
    found: list[Exchange] = []
    i = 0
    while i < len(messages):
        m = messages[i]
        if m.role == "assistant" and i + 1 < len(messages) and messages[i + 1].role == "user":
            found.append(Exchange(messages[i + 1], m))
            i += 2
        elif m.role == "assistant":
            found.append(Exchange(None, m))
            i += 1
        else:
            found.append(Exchange(m, None))
            i += 1
    return found


class ChatAppService:
    def __init__(self, conversations: ConversationService, history: ChatHistory, titles: TitleWriter):
        self._conversations = conversations
        self._history = history
        self._titles = titles

    async def exchanges(self, user_id: str, conversation_id: str, first_id: str | None, limit: int) -> Slice:
        """The `limit` exchanges just older than `first_id` (the newest ones without it), oldest first."""
        await self._owned(user_id, conversation_id)
        before = None
        if first_id:
            before = await self._anchor(user_id, conversation_id, first_id)
        # Each exchange is at most two messages; one more row tells whether anything older is left.
        rows = await self._history.messages_before(conversation_id, before, 2 * limit + 1)
        found = exchanges_newest_first(rows)
        page = found[:limit]
        used = sum((e.query is not None) + (e.answer is not None) for e in page)
        return Slice(tuple(reversed(page)), used < len(rows))

    async def exchange_of(self, user_id: str, message_id: str) -> Exchange:
        """The exchange a message belongs to: an answer with the question before it, or a question alone."""
        message = await self._conversations.message(user_id, message_id)
        if message.role != "assistant":
            return Exchange(message, None)
        previous = await self._history.messages_before(message.conversation_id, message.seq, 1)
        return Exchange(previous[0] if previous and previous[0].role == "user" else None, message)

    async def _owned(self, user_id: str, conversation_id: str) -> Conversation:
        try:
            return await self._conversations.get(user_id, conversation_id)
        except NotFound:
            raise NotFound("Conversation Not Exists.") from None

    async def _anchor(self, user_id: str, conversation_id: str, first_id: str) -> int:
        try:
            first = await self._conversations.message(user_id, first_id, conversation_id)
        except NotFound:
            raise NotFound("First Message Not Exists.") from None
        if first.role == "assistant":
            previous = await self._history.messages_before(conversation_id, first.seq, 1)
            if previous and previous[0].role == "user":
                return previous[0].seq
        return first.seq

    async def conversations(self, user_id: str, last_id: str | None, limit: int,
                            order: ConversationOrder = "-updated_at") -> Slice:
        """A user's conversations in `order`, the ones after `last_id` when given."""
        if order not in CONVERSATION_ORDERS:
            raise InvalidRequest(f"sort_by must be one of {', '.join(CONVERSATION_ORDERS)}.")
        after = None
        if last_id:
            try:
                after = await self._conversations.get(user_id, last_id)
            except NotFound:
                raise NotFound("Last Conversation Not Exists.") from None
        rows = await self._history.conversations_after(user_id, order, after, limit + 1)
        return Slice(tuple(rows[:limit]), len(rows) > limit)

    async def rename(self, user_id: str, conversation_id: str, name: str | None, auto_generate: bool) -> Conversation:
        """Set a conversation's name, or (auto_generate) ask the model for one from its first exchange."""
        conversation = await self._owned(user_id, conversation_id)
        if auto_generate:
            name = await self._generated_name(user_id, conversation)
        name = (name or "").strip()
        if not name:
            raise InvalidRequest("name is required when auto_generate is false.")
        if len(name) > MAX_NAME_CHARS:
            raise InvalidRequest(f"name must be at most {MAX_NAME_CHARS} characters.")
        return await self._conversations.update(user_id, conversation_id, title=name)

    async def _generated_name(self, user_id: str, conversation: Conversation) -> str:
        first = (await self._conversations.messages(user_id, conversation.id, limit=2)).items
        question = next((m.content for m in first if m.role == "user"), "")
        if not question:
            raise InvalidRequest("The conversation has no message to name it from yet.")
        answer = next((m.content for m in first if m.role == "assistant"), "")
        return await self._titles.write(user_id, question, answer)
