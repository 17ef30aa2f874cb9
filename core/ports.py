"""The engine's ports: the small Protocols through which core/ reaches storage, models and retrieval."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import AsyncContextManager, AsyncIterator, Iterable, Protocol, Sequence

from core.domain import (
    ChatTurn, Citation, Conversation, Hold, Identity, ImagePart, LedgerEntry, Message, Order, Page, Product, Role, Usage,
    User,
)


# --- the model ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelRequest:
    model: str
    messages: tuple[ChatTurn, ...]
    max_tokens: int
    images: tuple[ImagePart, ...] = ()  # shown with the last user message (the model has vision)
    user_id: str | None = None  # who asks
    own_key: bool = False       # call the model's provider with user_id's own key (never another key)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class UsageReport:
    usage: Usage


@dataclass(frozen=True)
class AnsweredBy:
    """Sent before the first TextDelta when another model or provider (a fallback) answers, or the user's own
    key is used: the reply is priced by this model's weights (own_key: not charged, or the platform fee)."""
    model: str
    provider: str = ""
    own_key: bool = False


class ChatModel(Protocol):
    def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | UsageReport]:
        """Stream the reply as TextDelta chunks, then one UsageReport when the provider sends usage.

        Raises core.errors.UpstreamError (with a reason) when the provider fails; never retries
        once a request may have been billed by the provider."""
        ...


class TokenCounter(Protocol):
    def count(self, text: str) -> int:
        """Tokens in a text, as the model's tokenizer counts them (an estimate for other models)."""
        ...

    def count_turns(self, turns: Sequence[ChatTurn]) -> int:
        """Tokens of a whole prompt, with the per-message overhead of the chat format."""
        ...


# --- retrieval (the knowledge base) -------------------------------------------------------------

@dataclass(frozen=True)
class Passage:
    resource_id: str
    chunk_id: str
    title: str
    text: str
    score: float

    def citation(self, snippet_chars: int = 200) -> Citation:
        return Citation(self.resource_id, self.chunk_id, self.title, self.score, self.text[:snippet_chars])


class Retriever(Protocol):
    async def retrieve(self, user_id: str, query: str, resource_ids: Sequence[str], top_k: int) -> list[Passage]:
        """The best passages for a query, best first: the given resources, or global ones plus the user's own."""
        ...


# --- storage --------------------------------------------------------------------------------

class Transactions(Protocol):
    def atomic(self) -> AsyncContextManager[None]:
        """Everything awaited inside happens all together or not at all."""
        ...


class UserRepository(Protocol):
    async def get(self, user_id: str) -> User | None: ...

    async def find_by_identity(self, identity: Identity) -> User | None: ...

    async def create(self, name: str, identity: Identity | None, storage_limit_bytes: int) -> User:
        """Create a user (with the identity, if given). If the identity already exists (a race),
        return its user with is_new=False instead of creating a second one."""
        ...

    async def add_storage_limit(self, user_id: str, delta_bytes: int) -> None: ...

    async def add_storage_used(self, user_id: str, delta_bytes: int) -> None: ...

    async def set_locale(self, user_id: str, locale: str | None) -> None:
        """Store the language a user chose (/lang); None forgets the choice."""
        ...

    async def move_identities(self, from_user_id: str, to_user_id: str) -> None:
        """Linking: every identity, conversation, order and resource of one user moves to the other."""
        ...

    async def set_blocked(self, user_id: str, blocked: bool) -> bool:
        """An operator blocks or unblocks a user; False when there is no such user."""
        ...

    async def is_blocked(self, user_id: str) -> bool:
        """Whether an operator blocked this user (one cheap lookup: asked before every reply and command)."""
        ...


class ConversationRepository(Protocol):
    async def create(self, user_id: str, *, title: str = "", instruction: str | None = None,
                     role: str | None = None, resource_ids: Iterable[str] = (), chat_key: str | None = None,
                     model: str | None = None) -> Conversation: ...

    async def get(self, conversation_id: str) -> Conversation | None: ...

    async def latest_for_chat(self, chat_key: str) -> Conversation | None: ...

    async def list_for_user(self, user_id: str, limit: int, cursor: str | None) -> Page: ...

    async def update(self, conversation_id: str, **fields: object) -> Conversation | None:
        """Change title, instruction, role, resource_ids or model."""
        ...

    async def delete(self, conversation_id: str) -> bool: ...

    async def add_token_usage(self, conversation_id: str, tokens: int) -> None: ...

    async def set_summary(self, conversation_id: str, summary: str, until_seq: int) -> None: ...


class MessageRepository(Protocol):
    async def add(self, *, conversation_id: str, user_id: str, role: str, content: str, model: str | None = None,
                  status: str = "complete", usage: Usage = Usage(), cost: int = 0,
                  citations: Sequence[Citation] = (), id: str | None = None) -> Message: ...

    async def finish(self, message_id: str, *, content: str, status: str, usage: Usage, cost: int,
                     model: str | None = None, citations: Sequence[Citation] = ()) -> Message: ...

    async def get(self, message_id: str) -> Message | None: ...

    async def list(self, conversation_id: str, limit: int, cursor: str | None) -> Page:
        """Messages oldest first."""
        ...

    async def recent(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        """The newest `limit` messages after `after_seq`, in order oldest first (any status)."""
        ...

    async def set_feedback(self, message_id: str, rating: int) -> None: ...

    async def delete(self, message_id: str) -> bool: ...


class LedgerRepository(Protocol):
    """Atomic balance operations. Every entry's `key` is unique: a repeated key changes nothing."""

    async def try_hold(self, user_id: str, amount: int, key: str, expires_at: datetime) -> Hold | None:
        """Reserve `amount` if balance minus holds covers it; None when it does not."""
        ...

    async def settle(self, hold: Hold, cost: int, key: str, ref: str) -> LedgerEntry | None:
        """Release the hold and debit `cost` (as a `usage` entry; never below zero) in one step."""
        ...

    async def release(self, hold_id: str) -> bool: ...

    async def renew(self, hold_id: str, expires_at: datetime) -> bool:
        """Move an active hold's expiry to `expires_at`; False (and nothing changes) when it is not active."""
        ...

    async def release_expired(self, now: datetime) -> int:
        """Release every active hold whose expiry is at or before `now` (re-checked as each is released, so a
        hold renewed meanwhile stays); how many were released."""
        ...

    async def post(self, user_id: str, amount: int, kind: str, key: str, ref: str = "") -> LedgerEntry | None:
        """Credit (amount > 0) or debit (amount < 0, clamped so the balance stays >= held and >= 0).
        None when an entry with `key` already exists."""
        ...

    async def find(self, key: str) -> LedgerEntry | None: ...

    async def entries(self, user_id: str, limit: int, cursor: str | None) -> Page: ...


class RoleRepository(Protocol):
    async def list(self) -> list[Role]: ...

    async def get(self, name: str) -> Role | None: ...

    async def put(self, role: Role) -> Role: ...

    async def delete(self, name: str) -> bool: ...


class ProductRepository(Protocol):
    async def list(self, include_inactive: bool = False) -> list[Product]: ...

    async def get(self, product_id: str) -> Product | None: ...

    async def put(self, product: Product) -> Product: ...

    async def deactivate(self, product_id: str) -> bool: ...


class OrderRepository(Protocol):
    async def create(self, *, user_id: str, product: Product, note: str, expires_at: datetime | None) -> Order: ...

    async def get(self, order_id: str) -> Order | None: ...

    async def list_for_user(self, user_id: str, status: str | None, limit: int, cursor: str | None) -> Page: ...

    async def list_by_status(self, status: str, limit: int) -> list[Order]: ...

    async def transition(self, order_id: str, from_statuses: Sequence[str], to_status: str, **fields: object) -> Order | None:
        """Move an order to `to_status` only if it is in one of `from_statuses` (atomically);
        None when it was not. `fields` may set payment_method, provider_txn_id, payment_ref, paid_at."""
        ...

    async def set_note(self, order_id: str, note: str) -> Order | None: ...


class EphemeralStore(Protocol):
    """Short-lived shared state (magic codes, login scenes, dedupe marks): the database, or Redis."""

    async def put(self, namespace: str, key: str, value: str, ttl_seconds: float) -> None: ...

    async def add(self, namespace: str, key: str, value: str, ttl_seconds: float) -> bool:
        """Store only if absent (or expired); True when this call stored it."""
        ...

    async def get(self, namespace: str, key: str) -> str | None: ...

    async def take(self, namespace: str, key: str) -> str | None:
        """Get and delete in one step: only one caller ever receives the value."""
        ...

    async def delete(self, namespace: str, key: str) -> None: ...

    async def incr(self, namespace: str, key: str, ttl_seconds: float, amount: int = 1) -> int:
        """Add `amount` to a counter and return the new value, atomically across workers. A missing (or
        expired) counter starts at 0 and lives `ttl_seconds` from then; later calls keep that expiry."""
        ...
