"""passive mode: WeChatReplyWindow answers inside WeChat's 5-second callback, joining its retries to one reply."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from adapters.storage.wechat_outbox import TortoiseWeChatOutbox
from adapters.wechat.codec import Callback
from adapters.wechat.marks import MessageMarks
from adapters.wechat.split import split_utf8
from core.i18n import Texts

log = logging.getLogger(__name__)

# WeChat calls a callback up to this many times (the first try and its retries) when we stay silent.
ATTEMPTS = 3
# How long past WeChat's callback timeout a silent attempt keeps its connection, so WeChat sees no answer.
HOLD_MARGIN_SECONDS = 0.5
SEPARATOR = "\n\n"
# How often a callback whose answer is being made on another worker looks whether it is ready.
POLL_SECONDS = 0.1


@dataclass
class _Generation:
    """One message's answer being made here; every retry of that message reaching this worker waits on it."""

    done: asyncio.Event = field(default_factory=asyncio.Event)


class PassiveNotes:
    """Passive mode's "still thinking" and "more follows" notes in each user's language (looked up only when a
    note is said); the operator's channels.wechat.pending_text / more_text, when set, are said to everyone."""

    def __init__(self, texts: Texts, locale_of: Callable[[str], Awaitable[str]], pending_text: str = "",
                 more_text: str = ""):
        self._texts = texts
        self._locale_of = locale_of
        self._pending = pending_text
        self._more = more_text

    async def pending(self, openid: str) -> str:
        return self._pending or self._texts.get("wechat.pending", await self._locale_of(openid))

    async def more(self, openid: str) -> str:
        return self._more or self._texts.get("wechat.more", await self._locale_of(openid))

    def longest_bytes(self) -> int:
        """Room an answer's piece leaves for a note, in any language."""
        notes = [self._pending or self._texts.get("wechat.pending", loc) for loc in self._texts.locales]
        notes += [self._more or self._texts.get("wechat.more", loc) for loc in self._texts.locales]
        return max(len(n.encode()) for n in notes)


class WeChatReplyWindow:
    """Every finished answer is parked in the outbox first; a callback that is still inside its window
    takes everything the user is owed, oldest first, as its passive reply.

    - A callback waits up to `window` seconds. If its answer (or any owed answer) is ready, that is the reply.
    - If nothing is ready and WeChat will retry, it stays silent past WeChat's timeout so the retry comes,
      and the retry waits on the same generation: one model call, one answer. A retry that reaches another
      worker finds the MsgId marked in the shared store and waits there for the "answered" mark.
    - On the last try it replies `pending_text`; the answer waits in the outbox for the user's next
      message, which gets it first, followed by its own answer (or `pending_text` again if that is slow).
    """

    def __init__(self, *, outbox: TortoiseWeChatOutbox, marks: MessageMarks,
                 spawn: Callable[[Awaitable[None]], None], produce: Callable[[Callback], Awaitable[str]],
                 window_seconds: float, callback_timeout_seconds: float, notes: PassiveNotes, reply_bytes: int):
        self._outbox = outbox
        self._marks = marks
        self._spawn = spawn
        self._produce = produce
        self._window = window_seconds
        self._timeout = callback_timeout_seconds
        self._notes = notes
        self._reserve = notes.longest_bytes() + len(SEPARATOR)
        self.part_bytes = reply_bytes - self._reserve
        self._inflight: dict[str, _Generation] = {}

    async def answer(self, cb: Callback) -> str:
        """The passive reply text for this callback ("" for an empty reply)."""
        gen = self._inflight.get(cb.msg_key)
        if gen is None and await self._marks.first_time(cb.msg_key):
            gen = self._start(cb)
        gen = gen or self._inflight.get(cb.msg_key)
        if gen is None and await self._marks.is_answered(cb.msg_key):
            # Answered long ago, or before a restart: no new answer; hand over anything still owed, else nothing.
            return await self._collect(cb.openid, own_done=True)
        final = await self._marks.attempt(cb.msg_key) >= ATTEMPTS
        done = await self._wait(gen, cb.msg_key, self._window)
        reply = await self._collect(cb.openid, own_done=done)
        if reply or done:
            return reply
        if not final:
            # Any answer now, even an empty one, stops WeChat's retries: stay silent past its timeout.
            await self._wait(gen, cb.msg_key, self._timeout - self._window + HOLD_MARGIN_SECONDS)
            return ""
        return await self._notes.pending(cb.openid)

    async def _wait(self, gen: _Generation | None, msg_key: str, seconds: float) -> bool:
        """Wait up to `seconds` for the answer (made here: its event; elsewhere: the shared mark); True when done."""
        if gen is not None:
            await _wait(gen.done, seconds)
            return gen.done.is_set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not await self._marks.is_answered(msg_key):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - loop.time())))
        return True

    def _start(self, cb: Callback) -> _Generation:
        gen = _Generation()
        self._inflight[cb.msg_key] = gen
        self._spawn(self._generate(cb, gen))
        return gen

    async def _generate(self, cb: Callback, gen: _Generation) -> None:
        try:
            text = await self._produce(cb)
            if text:
                await self._outbox.park(cb.openid, cb.msg_key, split_utf8(text, self.part_bytes))
        finally:
            try:
                await self._marks.answered(cb.msg_key)
            finally:
                gen.done.set()
                self._inflight.pop(cb.msg_key, None)

    async def _collect(self, openid: str, own_done: bool) -> str:
        parts, more = await self._outbox.take(openid, self.part_bytes, len(SEPARATOR))
        if not parts:
            return ""
        text = parts[0].text
        for before, part in zip(parts, parts[1:]):
            # Pieces of one long answer join seamlessly; separate answers get a blank line.
            same = part.msg_key is not None and part.msg_key == before.msg_key
            text += ("" if same else SEPARATOR) + part.text
        if more:
            return text + SEPARATOR + await self._notes.more(openid)
        return text if own_done else text + SEPARATOR + await self._notes.pending(openid)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    if seconds <= 0 or event.is_set():
        return
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except asyncio.TimeoutError:
        pass
