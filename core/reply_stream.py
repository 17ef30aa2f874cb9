"""Reading one answer: the engine's ReplyEvents as what a channel shows (opened, grew, done, failed with a Text).

Every channel reads answers this way:
    async with contextlib.aclosing(follow_reply(engine.reply(inbound))) as updates:
        async for update in updates:
            ...  # ReplyOpened -> typing / a first message; ReplyGrew -> edit with update.text;
                 # ReplyDone -> update.text + update.sources; ReplyFailed -> texts.render(update.error, locale)
or, for a channel that sends the whole answer at once (WeChat, blocking HTTP):
    outcome = await collect_reply(engine.reply(inbound))
Cancelling the reader's task stops the model; the engine stores and charges what was generated.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import AsyncIterator, Sequence, Union

from core.chat import ReplyDelta, ReplyEvent, ReplyFinished, ReplyStarted
from core.domain import Citation, Message, Usage
from core.errors import DomainError, UpstreamError
from core.i18n import Text
from core.i18n_errors import FAILED, error_text

log = logging.getLogger(__name__)

SOURCES_SHOWN = 3
UNEXPECTED = "The answer failed; you were not charged."


@dataclass(frozen=True)
class ReplyOpened:
    """The quota is held and the question stored: the model is being asked."""

    message_id: str
    conversation_id: str
    model: str
    citations: tuple[Citation, ...] = ()
    question_id: str = ""   # the stored question (its attachments are filed under it)
    asked_at: datetime | None = None   # when the question was stored


@dataclass(frozen=True)
class ReplyGrew:
    delta: str
    text: str          # everything so far


@dataclass(frozen=True)
class ReplyDone:
    message: Message   # stored, charged (status "complete")
    sources: Text | None = None

    @property
    def text(self) -> str:
        return self.message.content

    @property
    def empty(self) -> bool:
        return not self.message.content.strip()

    @property
    def complete(self) -> bool:
        """False when the provider failed after some text: the stored part is charged, the rest never came."""
        return self.message.status == "complete"

    @property
    def usage(self) -> Usage:
        return self.message.usage

    @property
    def citations(self) -> tuple[Citation, ...]:
        return self.message.citations


@dataclass(frozen=True)
class ReplyFailed:
    """The answer could not be made. `error` is what to tell the user; `partial` what was shown before."""

    error: Text
    reason: str
    status: int
    detail: str        # the engine's own sentence (logs, the HTTP API's `message`)
    partial: str = ""
    message_id: str | None = None   # set when the question was stored (the failed answer is stored too)
    # The engine's error itself (None for an unexpected failure): an HTTP adapter raises it for its own error
    # body and headers (a limit's Retry-After).
    cause: DomainError | None = field(default=None, compare=False, repr=False)

    @property
    def started(self) -> bool:
        return self.message_id is not None

    @property
    def out_of_tokens(self) -> bool:
        """Offer to buy (Telegram shows a "Buy tokens" button)."""
        return self.reason == "quota_exceeded"


ReplyUpdate = Union[ReplyOpened, ReplyGrew, ReplyDone, ReplyFailed]


def sources_text(citations: Sequence[Citation], limit: int = SOURCES_SHOWN) -> Text | None:
    """The documents an answer drew on, best first, each once; None when there are none."""
    names: list[str] = []
    for c in citations:
        if c.title and c.title not in names:
            names.append(c.title)
    if not names:
        return None
    if len(names) > limit:
        return Text.of("reply.sources_more", names=tuple(names[:limit]), more=len(names) - limit)
    return Text.of("reply.sources", names=tuple(names))


async def follow_reply(events: AsyncIterator[ReplyEvent]) -> AsyncIterator[ReplyUpdate]:
    """The engine's stream as updates, always ending in one ReplyDone or ReplyFailed.

    The engine's stream is read to its end (its after-reply work runs there) and closed with this one."""
    opened: ReplyOpened | None = None
    parts: list[str] = []
    outcome: ReplyDone | ReplyFailed
    try:
        done: ReplyDone | None = None
        async for event in events:
            if isinstance(event, ReplyStarted):
                opened = ReplyOpened(event.message_id, event.conversation.id, event.model, tuple(event.citations),
                                     event.user_message.id, event.user_message.created_at)
                yield opened
            elif isinstance(event, ReplyDelta):
                parts.append(event.text)
                yield ReplyGrew(event.text, "".join(parts))
            elif isinstance(event, ReplyFinished):
                done = ReplyDone(event.message, sources_text(event.message.citations))
        outcome = done or _failed(UpstreamError("The answer ended unexpectedly; you were not charged."),
                                  parts, opened, Text.of("reply.ended_early"))
    except DomainError as e:
        outcome = _failed(e, parts, opened, error_text(e))
    except Exception:  # noqa: BLE001 - a bug must not leave the user without an answer (its words stay in the log)
        log.exception("an answer failed")
        outcome = ReplyFailed(FAILED, "internal_error", 500, UNEXPECTED, "".join(parts),
                              opened.message_id if opened else None)
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    yield outcome


def _failed(error: DomainError, parts: list[str], opened: ReplyOpened | None, text: Text) -> ReplyFailed:
    return ReplyFailed(text, error.reason, error.status, error.message, "".join(parts),
                       opened.message_id if opened else None, error)


async def collect_reply(events: AsyncIterator[ReplyEvent]) -> ReplyDone | ReplyFailed:
    """The whole answer at once: its ReplyDone, or the ReplyFailed to tell the user."""
    last: ReplyUpdate | None = None
    async for update in follow_reply(events):
        last = update
    assert isinstance(last, (ReplyDone, ReplyFailed))
    return last
