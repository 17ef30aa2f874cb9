"""ReplyView: one streamed answer on screen, a placeholder edited as text arrives, continued at 4096 characters."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError

from adapters.telegram.formatting import LIMIT, split_message, to_html
from adapters.telegram.sender import TelegramSender

log = logging.getLogger(__name__)

PLACEHOLDER = "…"
EMPTY_ANSWER = "(The model returned an empty answer.)"
UNDELIVERED = "Telegram did not accept the whole answer; please ask again."


class ReplyView:
    """Streams text into Telegram messages. While the answer grows, the current message is edited as plain
    text at most once per `interval`; a full message is sealed in its final HTML form and the rest continues
    in a new one. `finish()` formats the last message and adds the keyboard."""

    def __init__(self, sender: TelegramSender, chat_id: int, interval: float, *, reply_to: int | None = None,
                 thread_id: int | None = None, limit: int = LIMIT, on_gone: Callable[[], None] | None = None,
                 empty: str = EMPTY_ANSWER, undelivered: str = UNDELIVERED):
        self._sender = sender
        self._empty = empty                  # what the user reads for an empty answer, in their language
        self._undelivered = undelivered
        self.chat_id = chat_id
        self._interval = interval
        self._reply_to = reply_to
        self._thread_id = thread_id
        self._limit = limit
        self._on_gone = on_gone
        self.text = ""
        self.message_ids: list[int] = []
        self._shown: list[tuple] = []
        self._sealed = 0
        self._last = float("-inf")
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.gone: TelegramError | None = None  # the chat cannot be written to (bot blocked, chat deleted)

    @property
    def started(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Show the placeholder and begin following the text."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow(), name=f"telegram-view-{self.chat_id}")
            self._wake.set()

    def feed(self, text: str) -> None:
        self.text += text
        self._wake.set()

    async def finish(self, suffix: str = "", keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Stop following, then show the final text (plus `suffix`) as HTML, with `keyboard` on the last message."""
        await self._stop()
        if self.gone is not None:
            return
        await self._pace()
        final = self.text + suffix if self.text.strip() else (suffix.strip() or self._empty)
        try:
            await self._sync(final, final=True, keyboard=keyboard)
        except TelegramError as e:
            log.warning("could not show the final answer in chat %s: %s", self.chat_id, e)
            try:
                await self._sender.send(self.chat_id, self._undelivered, thread_id=self._thread_id)
            except TelegramError:
                pass

    async def _stop(self) -> None:
        self._closing.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _follow(self) -> None:
        while not self._closing.is_set():
            await self._wake.wait()
            await self._pace(interruptible=True)
            if self._closing.is_set():
                return
            self._wake.clear()
            try:
                await self._sync(self.text, final=False)
            except TelegramError as e:
                if _chat_gone(e):
                    self.gone = e
                    log.info("chat %s cannot be written to (%s); stopping the reply", self.chat_id, e)
                    if self._on_gone is not None:
                        self._on_gone()
                    return
                log.warning("streaming edit failed in chat %s: %s", self.chat_id, e)

    async def _pace(self, interruptible: bool = False) -> None:
        """Wait until this reply may touch Telegram again (the streaming wait ends early on finish())."""
        delay = self._last + self._interval - asyncio.get_running_loop().time()
        if delay <= 0:
            return
        if not interruptible:
            await asyncio.sleep(delay)
            return
        try:
            await asyncio.wait_for(self._closing.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _sync(self, text: str, *, final: bool, keyboard: InlineKeyboardMarkup | None = None) -> None:
        segments = split_message(text, self._limit)
        if not self.message_ids and not segments[0].strip():
            await self._put(0, PLACEHOLDER)
            return
        for i, segment in enumerate(segments):
            last = i == len(segments) - 1
            if i < self._sealed or not segment.strip():
                continue
            if last and not final:
                await self._put(i, segment)
                continue
            await self._put(i, segment, html=to_html(segment), keyboard=keyboard if last else None)
            self._sealed = i + 1

    async def _put(self, index: int, text: str, *, html: str | None = None,
                   keyboard: InlineKeyboardMarkup | None = None) -> None:
        state = (text, html, keyboard)
        if index < len(self.message_ids) and self._shown[index] == state:
            return
        await self._sender.turn(self.chat_id, self._interval)  # every worker's edits of this chat share one pace
        if index < len(self.message_ids):
            await self._sender.edit(self.chat_id, self.message_ids[index], text, html=html, keyboard=keyboard)
            self._shown[index] = state
        else:
            message = await self._sender.send(self.chat_id, text, html=html, keyboard=keyboard,
                                              reply_to=self._reply_to if index == 0 else None,
                                              thread_id=self._thread_id)
            self.message_ids.append(message.message_id)
            self._shown.append(state)
        self._last = asyncio.get_running_loop().time()


def _chat_gone(error: TelegramError) -> bool:
    """The bot was blocked or removed, or the chat no longer exists: nothing more can be shown there."""
    return isinstance(error, Forbidden) or (isinstance(error, BadRequest) and "chat not found" in error.message.lower())
