"""Answerer: runs one queued chat message through the engine into a ReplyView, and says clearly what went wrong."""
from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from adapters.telegram import texts
from adapters.telegram.lanes import ChatJob, Lane
from adapters.telegram.parts import CHANNEL, ChannelParts, chat_key
from adapters.telegram.streaming import ReplyView
from core.chat import ReplyDelta, ReplyFinished, ReplyStarted
from core.knowledge import sources_line
from core.domain import Identity, InboundMessage, Message
from core.errors import DomainError, QuotaExceeded, UpstreamError

log = logging.getLogger(__name__)


def feedback_keyboard(message_id: str) -> InlineKeyboardMarkup:
    """👍/👎 under an answer; the callback data carries the answer's message id."""
    return InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data=f"fb:1:{message_id}"),
                                  InlineKeyboardButton("👎", callback_data=f"fb:-1:{message_id}")]])


def buy_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.BUY_BUTTON, callback_data="buy:menu")]])


class Answerer:
    def __init__(self, parts: ChannelParts):
        self._parts = parts

    async def __call__(self, job: ChatJob, lane: Lane) -> None:
        parts = self._parts
        try:
            user = await parts.services.accounts.ensure_user(Identity(CHANNEL, str(job.user_id)), job.user_name)
        except Exception:
            log.exception("could not load the Telegram user %s", job.user_id)
            await self._end(None, job, texts.FAILED)
            return
        inbound = InboundMessage(user.id, job.text, chat_key=chat_key(job.chat_id),
                                 request_key=f"telegram:{job.chat_id}:{job.message_id}")
        view = ReplyView(parts.sender, job.chat_id, parts.interval(job.chat_type),
                         reply_to=job.message_id if job.in_group else None, thread_id=job.thread_id,
                         on_gone=lambda: lane.reply.cancel() if lane.reply else None)
        await parts.sender.typing(job.chat_id, job.thread_id)
        reply = lane.reply = asyncio.get_running_loop().create_task(self._consume(inbound, view))
        if lane.stop_requested:
            reply.cancel()
        try:
            await asyncio.wait({reply})
        except asyncio.CancelledError:
            # The server is stopping: the engine charges what was generated; show where the answer ended.
            reply.cancel()
            await asyncio.wait({reply})
            if view.started:
                await asyncio.shield(view.finish(texts.STOPPED))
            raise
        await self._conclude(reply, view, job)

    async def _consume(self, inbound: InboundMessage, view: ReplyView) -> Message:
        finished: Message | None = None
        # Run the engine's stream to its end (not just to ReplyFinished): its after-reply work runs there.
        async for event in self._parts.services.engine.reply(inbound):
            if isinstance(event, ReplyStarted):
                view.start()
            elif isinstance(event, ReplyDelta):
                view.feed(event.text)
            elif isinstance(event, ReplyFinished):
                finished = event.message
        if finished is None:
            raise UpstreamError("The answer ended unexpectedly.")
        return finished

    async def _conclude(self, reply: asyncio.Task, view: ReplyView, job: ChatJob) -> None:
        if view.gone is not None:
            return
        error = None if reply.cancelled() else reply.exception()
        try:
            if reply.cancelled():
                await self._end(view, job, texts.STOPPED)
            elif error is None:
                answer = reply.result()
                line = sources_line(answer.citations)
                await view.finish(f"\n\n{line}" if line else "", keyboard=feedback_keyboard(answer.id))
            elif isinstance(error, QuotaExceeded):
                await self._end(view, job, texts.QUOTA, keyboard=buy_keyboard())
            elif isinstance(error, DomainError):
                # UpstreamError (the model failed; nothing charged), InvalidRequest (too long), NotFound ...
                note = error.message + (" You were not charged." if isinstance(error, UpstreamError) and "charged" not in error.message
                                        else "")
                await self._end(view, job, f"\n\n⚠️ {note}" if view.started else note)
            elif isinstance(error, TelegramError):
                log.warning("Telegram refused part of an answer in chat %s: %s", job.chat_id, error)
                await self._end(view, job, texts.TELEGRAM_FAILED)
            else:
                log.error("answer failed in chat %s", job.chat_id, exc_info=error)
                await self._end(view, job, f"\n\n⚠️ {texts.FAILED}" if view.started else texts.FAILED)
        except TelegramError as e:
            log.warning("could not tell chat %s how its answer ended: %s", job.chat_id, e)

    async def _end(self, view: ReplyView | None, job: ChatJob, text: str,
                   keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Close the answer with a note: appended to the streamed text, or as its own message."""
        if view is not None and view.started:
            await view.finish(text, keyboard=keyboard)
            return
        await self._parts.sender.send(job.chat_id, text.strip(), keyboard=keyboard,
                                      reply_to=job.message_id if job.in_group else None, thread_id=job.thread_id)
