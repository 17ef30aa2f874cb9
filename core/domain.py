"""The domain's value types: frozen dataclasses that cross every boundary of the engine."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

ORDER_STATUSES = ("unpaid", "paying", "paid", "cancelled", "expired", "refunded")
LEDGER_KINDS = ("grant", "purchase", "usage", "refund", "adjustment")

OrderStatus = Literal["unpaid", "paying", "paid", "cancelled", "expired", "refunded"]
MessageStatus = Literal["complete", "error", "cancelled"]


@dataclass(frozen=True)
class Identity:
    channel: str
    external_id: str


@dataclass(frozen=True)
class User:
    id: str
    name: str
    balance: int
    held: int
    storage_limit_bytes: int
    storage_used_bytes: int
    created_at: datetime
    identities: tuple[Identity, ...] = ()
    is_new: bool = False
    locale: str | None = None  # the language the user chose with /lang (zh, en); None: the platform's hint
    blocked: bool = False      # an operator blocked this user: every channel answers error.user_blocked, the API 403

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Citation:
    resource_id: str
    chunk_id: str
    title: str
    score: float
    snippet: str


@dataclass(frozen=True)
class Conversation:
    id: str
    user_id: str
    title: str
    instruction: str | None
    role: str | None
    resource_ids: tuple[str, ...]
    summary: str
    summary_until: int
    token_usage: int
    created_at: datetime
    updated_at: datetime
    chat_key: str | None = None
    model: str | None = None  # the model chosen for this conversation (/model, the API); None: the role's or default


@dataclass(frozen=True)
class Message:
    id: str
    seq: int
    conversation_id: str
    user_id: str
    role: Literal["user", "assistant"]
    content: str
    model: str | None
    status: MessageStatus
    usage: Usage
    cost: int
    citations: tuple[Citation, ...]
    feedback: int
    created_at: datetime


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    system_prompt: str
    model: str | None = None  # the model a conversation with this role uses unless one is chosen


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    description: str
    price: Decimal
    currency: str
    tokens: int
    storage_mb: int
    stars: int
    active: bool = True


@dataclass(frozen=True)
class Order:
    id: str
    user_id: str
    product_id: str
    product_name: str
    price: Decimal
    currency: str
    tokens: int
    storage_mb: int
    stars: int
    status: OrderStatus
    payment_method: str | None
    provider_txn_id: str | None
    note: str
    created_at: datetime
    paid_at: datetime | None
    expires_at: datetime | None
    payment_ref: str | None = None

    @property
    def price_minor(self) -> int:
        """The price in the currency's minor unit (fen for CNY)."""
        return int((self.price * 100).to_integral_value())


@dataclass(frozen=True)
class LedgerEntry:
    id: str
    seq: int
    user_id: str
    kind: str
    amount: int
    balance_after: int
    key: str
    ref: str
    created_at: datetime


@dataclass(frozen=True)
class Hold:
    id: str
    user_id: str
    amount: int
    key: str
    expires_at: datetime


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_weight: float
    output_weight: float
    context_window: int
    max_output_tokens: int
    vision: bool = False  # reads images


@dataclass(frozen=True)
class ImagePart:
    """An image shown to the model with the user's message (bytes, not a link: the provider never fetches)."""

    mime: str
    data: bytes = field(repr=False)
    detail: Literal["auto", "low", "high"] = "auto"


@dataclass(frozen=True)
class Page:
    """One page of a cursor-paginated list."""

    items: tuple
    cursor: str | None
    has_more: bool


@dataclass(frozen=True)
class ChatTurn:
    """One message as the model sees it."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class InboundMessage:
    """What every channel hands the engine: who, what, and where it belongs."""

    user_id: str
    text: str
    conversation_id: str | None = None
    chat_key: str | None = None
    model: str | None = None
    request_key: str | None = None
    metadata: dict = field(default_factory=dict, compare=False)
    images: tuple[ImagePart, ...] = ()       # shown to a vision model with this message
    instruction: str | None = None           # the system prompt of a conversation this message starts
    locale: str | None = None                # the user's language (zh, en) for notes the engine writes; None: default
