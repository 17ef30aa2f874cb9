"""TelegramSender: sends and edits through the PTB Bot, honouring flood control per chat, with an HTML fallback."""
from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from typing import Awaitable, Callable, TypeVar

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from adapters.coordination.ports import Pacing

log = logging.getLogger(__name__)

T = TypeVar("T")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def is_not_modified(error: BadRequest) -> bool:
    return "not modified" in error.message.lower()


def is_entity_error(error: BadRequest) -> bool:
    return "can't parse entities" in error.message.lower()


def pause_key(chat_id: int) -> str:
    return f"tg:{chat_id}"


def edit_key(chat_id: int) -> str:
    return f"tg-edit:{chat_id}"


class TelegramSender:
    """One place that talks to Telegram for chats. A 429 makes only that chat wait (other chats go on), on every
    worker when `pacing` is shared; an edit that changes nothing counts as done; HTML Telegram
    refuses is sent again as plain text."""

    def __init__(self, bot: Bot, attempts: int = 4, clock: Callable[[], float] | None = None,
                 pacing: Pacing | None = None):
        self.bot = bot
        self._attempts = attempts
        self._blocked: dict[int, float] = {}
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._pacing = pacing

    def blocked_for(self, chat_id: int) -> float:
        """Seconds this chat must still wait because Telegram told this worker so (0 when free)."""
        return max(0.0, self._blocked.get(chat_id, 0.0) - self._clock())

    async def paused_for(self, chat_id: int) -> float:
        """Seconds this chat must still wait because Telegram told any worker so (0 when free)."""
        wait = self.blocked_for(chat_id)
        if self._pacing is not None:
            try:
                wait = max(wait, await self._pacing.paused_for(pause_key(chat_id)))
            except Exception:
                log.warning("reading the shared flood-control pause of chat %s failed", chat_id, exc_info=True)
        return wait

    async def turn(self, chat_id: int, interval: float) -> None:
        """Wait for this chat's next slot for an edit, shared by every worker (at most one per `interval`)."""
        if self._pacing is None or interval <= 0:
            return
        try:
            await self._pacing.turn(edit_key(chat_id), interval, timeout=max(5.0, 3 * interval))
        except TimeoutError:
            log.info("no edit slot in chat %s in time; editing anyway", chat_id)
        except Exception:
            log.warning("shared edit pacing of chat %s failed; pacing locally only", chat_id, exc_info=True)

    async def call(self, chat_id: int, make: Callable[[], Awaitable[T]], *, idempotent: bool = True) -> T:
        """Run one API call for a chat; RetryAfter waits for that chat only (on every worker), then tries again."""
        for attempt in range(1, self._attempts + 1):
            while wait := await self.paused_for(chat_id):
                await asyncio.sleep(wait)
            try:
                return await make()
            except RetryAfter as e:
                seconds = retry_seconds(e)
                log.info("Telegram flood control in chat %s: waiting %.0fs", chat_id, seconds)
                self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), self._clock() + seconds)
                if self._pacing is not None:
                    try:
                        await self._pacing.pause(pause_key(chat_id), seconds)
                    except Exception:
                        log.warning("sharing the flood-control pause of chat %s failed", chat_id, exc_info=True)
                if attempt == self._attempts:
                    raise
            except BadRequest:
                raise
            except (TimedOut, NetworkError):
                # A send that timed out may have arrived: only repeat what is safe to repeat.
                if not idempotent or attempt == self._attempts:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    async def send(self, chat_id: int, text: str, *, html: str | None = None,
                   keyboard: InlineKeyboardMarkup | None = None, reply_to: int | None = None,
                   thread_id: int | None = None) -> Message:
        """Send `html` as HTML (or `text` plain when there is no HTML or Telegram cannot parse it)."""
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None

        def attempt(body: str, mode: str | None) -> Callable[[], Awaitable[Message]]:
            return lambda: self.bot.send_message(chat_id, body, parse_mode=mode, reply_markup=keyboard,
                                                 reply_parameters=reply, message_thread_id=thread_id,
                                                 link_preview_options=NO_PREVIEW)

        if html is not None:
            try:
                return await self.call(chat_id, attempt(html, ParseMode.HTML), idempotent=False)
            except BadRequest as e:
                if not is_entity_error(e):
                    raise
                log.warning("Telegram refused our HTML (%s); sending plain text", e.message)
        return await self.call(chat_id, attempt(text, None), idempotent=False)

    async def edit(self, chat_id: int, message_id: int, text: str, *, html: str | None = None,
                   keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Edit a message's text; "message is not modified" is success."""

        def attempt(body: str, mode: str | None) -> Callable[[], Awaitable[object]]:
            return lambda: self.bot.edit_message_text(body, chat_id=chat_id, message_id=message_id, parse_mode=mode,
                                                      reply_markup=keyboard, link_preview_options=NO_PREVIEW)

        try:
            if html is not None:
                try:
                    await self.call(chat_id, attempt(html, ParseMode.HTML))
                    return
                except BadRequest as e:
                    if not is_entity_error(e):
                        raise
                    log.warning("Telegram refused our HTML (%s); editing as plain text", e.message)
            await self.call(chat_id, attempt(text, None))
        except BadRequest as e:
            if not is_not_modified(e):
                raise

    async def typing(self, chat_id: int, thread_id: int | None = None) -> None:
        """Show "typing…"; best effort, never worth failing a reply over, and skipped during a flood-control pause."""
        if await self.paused_for(chat_id):
            return
        try:
            await self.bot.send_chat_action(chat_id, "typing", message_thread_id=thread_id)
        except Exception as e:  # noqa: BLE001
            log.debug("sendChatAction failed in chat %s: %s", chat_id, e)
