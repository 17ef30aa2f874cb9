"""The native API's JSON shapes as pydantic models: they validate requests and generate the OpenAPI document."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from core.domain import Citation, Conversation, LedgerEntry, Message, User

T = TypeVar("T")


class Body(BaseModel):
    """A request body: unknown fields are refused, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response shape."""


def _aware(value: datetime) -> datetime:
    # Stored datetimes may come back naive (UTC by convention): always answer ISO 8601 with a zone.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


Timestamp = Annotated[datetime, AfterValidator(_aware)]


# --- lists -------------------------------------------------------------------------------------

class ListQuery(BaseModel):
    limit: int = Field(20, ge=1, le=100, description="Items per page (1-100).")
    cursor: str | None = Field(None, max_length=200, description="The `cursor` of the previous page.")


class PageOut(Out, Generic[T]):
    data: list[T]
    cursor: str | None
    has_more: bool


# --- auth and accounts -------------------------------------------------------------------------

class TokenRequest(Body):
    magic_code: str | None = Field(None, min_length=1, max_length=32, description="A code from /link.")
    qrcode: str | None = Field(None, min_length=1, max_length=200, description="A login QR's ticket.")

    @model_validator(mode="after")
    def _one_of(self) -> "TokenRequest":
        if (self.magic_code is None) == (self.qrcode is None):
            raise ValueError("give exactly one of magic_code or qrcode")
        return self


class TokenOut(Out):
    token: str
    type: Literal["Bearer"] = "Bearer"
    expiry: Timestamp
    user_id: str


class ApiKeyOut(Out):
    api_key: str


class IdentityOut(Out):
    channel: str
    external_id: str


class StorageOut(Out):
    used_bytes: int
    limit_bytes: int


class AllowanceOut(Out):
    tokens: int = Field(description="The free allowance granted every period (quota.allowance).")
    every: Literal["day", "week"]
    left: int = Field(description="What is left of this period's allowance; it is spent before purchased tokens.")
    renews_at: Timestamp


class RateLimitOut(Out):
    messages: int = Field(description="Messages allowed per window (quota.rate_limit).")
    per: Literal["minute", "hour"]
    used: int = Field(description="Messages sent in the current window.")
    resets_in_seconds: int
    exempt: bool = Field(description="An operator's account: never limited.")


class MeOut(Out):
    id: str
    name: str
    balance: int
    available: int = Field(description="The balance minus tokens held for replies in progress.")
    storage: StorageOut
    identities: list[IdentityOut]
    created_at: Timestamp
    allowance: AllowanceOut | None = Field(None, description="null: no free allowance is configured.")
    rate_limit: RateLimitOut | None = Field(None, description="null: no rate limit is configured.")

    @classmethod
    def of(cls, u: User) -> "MeOut":
        return cls(id=u.id, name=u.name, balance=u.balance, available=u.available,
                   storage=StorageOut(used_bytes=u.storage_used_bytes, limit_bytes=u.storage_limit_bytes),
                   identities=[IdentityOut(channel=i.channel, external_id=i.external_id) for i in u.identities],
                   created_at=u.created_at)


class NewUser(Body):
    name: str = Field(min_length=1, max_length=200)


class NewUserOut(Out):
    user: MeOut
    api_key: str


class LedgerEntryOut(Out):
    id: str
    kind: str
    amount: int
    balance_after: int
    ref: str
    created_at: Timestamp

    @classmethod
    def of(cls, e: LedgerEntry) -> "LedgerEntryOut":
        return cls(id=e.id, kind=e.kind, amount=e.amount, balance_after=e.balance_after, ref=e.ref,
                   created_at=e.created_at)


# --- conversations and messages ----------------------------------------------------------------

class ConversationIn(Body):
    title: str | None = Field(None, max_length=200)
    instruction: str | None = Field(None, max_length=8000)
    role: str | None = Field(None, max_length=100)
    resource_ids: list[str] | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=100, description="The model this conversation's answers use "
                              "(GET /models); null: the role's model, or the default.")


class UsageOut(Out):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CitationOut(Out):
    resource_id: str
    chunk_id: str
    title: str
    score: float
    snippet: str

    @classmethod
    def of(cls, c: Citation) -> "CitationOut":
        return cls(resource_id=c.resource_id, chunk_id=c.chunk_id, title=c.title, score=c.score, snippet=c.snippet)


class MessageOut(Out):
    id: str
    conversation_id: str
    role: Literal["user", "assistant"]
    content: str
    model: str | None
    status: Literal["complete", "error", "cancelled"]
    usage: UsageOut
    cost: int
    citations: list[CitationOut]
    feedback: int
    created_at: Timestamp

    @classmethod
    def of(cls, m: Message) -> "MessageOut":
        u = m.usage
        return cls(id=m.id, conversation_id=m.conversation_id, role=m.role, content=m.content, model=m.model,
                   status=m.status, cost=m.cost, feedback=m.feedback, created_at=m.created_at,
                   usage=UsageOut(prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens,
                                  total_tokens=u.total_tokens),
                   citations=[CitationOut.of(c) for c in m.citations])


class ConversationOut(Out):
    id: str
    title: str
    instruction: str | None
    role: str | None
    resource_ids: list[str]
    summary: str
    token_usage: int
    created_at: Timestamp
    updated_at: Timestamp
    model: str | None = None

    @classmethod
    def of(cls, c: Conversation) -> "ConversationOut":
        return cls(id=c.id, title=c.title, instruction=c.instruction, role=c.role, resource_ids=list(c.resource_ids),
                   summary=c.summary, token_usage=c.token_usage, created_at=c.created_at, updated_at=c.updated_at,
                   model=c.model)


class ConversationDetailOut(ConversationOut):
    messages: list[MessageOut] = Field(description="The latest messages (up to 100), oldest first.")


class MessageIn(Body):
    content: str = Field(max_length=32000, description="may be empty when an audio attachment says it")
    model: str | None = Field(None, max_length=100)
    stream: bool = False
    attachment_ids: list[Annotated[str, Field(max_length=36)]] = Field(
        default_factory=list, max_length=10, description="files from POST /attachments: images are shown to the "
        "model, audio is transcribed, documents become private resources of the conversation")

    @model_validator(mode="after")
    def _says_something(self) -> "MessageIn":
        if not self.content.strip() and not self.attachment_ids:
            raise ValueError("content is required (or attachment_ids)")
        return self


class DeltaOut(Out):
    """One streamed piece of the answer (SSE `event: delta`)."""

    content: str


class FeedbackIn(Body):
    rating: Literal[1, -1, 0]


# --- errors ------------------------------------------------------------------------------------

class ErrorDetail(Out):
    code: int
    reason: str
    message: str


class ErrorOut(Out):
    correlationId: str
    error: ErrorDetail
