"""Answerer: runs one queued chat message through the engine into a ReplyView (core.reply_stream.follow_reply),
and says in the asker's language how it ended."""
from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import InlineKeyboardMarkup
from telegram.error import TelegramError

from adapters.telegram.lanes import ChatJob, Lane
from adapters.telegram.results import buy_keyboard, feedback_keyboard
from adapters.telegram.sender import TelegramSender
from adapters.telegram.streaming import ReplyView
from adapters.telegram.users import TelegramUsers, chat_key
from core.chat import ChatEngine
from core.domain import InboundMessage
from core.i18n import Text, Texts
from core.i18n_errors import FAILED
from core.media import MediaService
from core.reply_stream import ReplyDone, ReplyFailed, ReplyGrew, ReplyOpened, follow_reply

log = logging.getLogger(__name__)


class Answerer:
    def __init__(self, engine: ChatEngine, users: TelegramUsers, sender: TelegramSender, texts: Texts,
                 private_interval: float, group_interval: float, media: MediaService | None = None):
        self._engine = engine
        self._users = users
        self._sender = sender
        self._texts = texts
        self._intervals = (private_interval, group_interval)
        self.media = media   # photos' files become image parts; None when media handling is off

    async def __call__(self, job: ChatJob, lane: Lane) -> None:
        locale = self._texts.default_locale
        try:
            user = await self._users.by_id(job.user_id, job.user_name)
            locale = self._users.locale(user, job.language_code)
        except Exception:
            log.exception("could not load the Telegram user %s", job.user_id)
            await self._end(None, job, self._texts.render(FAILED, locale))
            return
        images = await self._images(user.id, job)
        inbound = InboundMessage(user.id, job.text, chat_key=chat_key(job.chat_id),
                                 request_key=f"telegram:{job.chat_id}:{job.message_id}", images=images,
                                 locale=locale)
        view = ReplyView(self._sender, job.chat_id, self._intervals[job.in_group],
                         reply_to=job.message_id if job.in_group else None, thread_id=job.thread_id,
                         on_gone=lambda: lane.reply.cancel() if lane.reply else None,
                         empty=self._texts.get("reply.empty", locale),
                         undelivered=self._texts.get("reply.undelivered", locale))
        await self._sender.typing(job.chat_id, job.thread_id)
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
                await asyncio.shield(view.finish(self._note("reply.stopped", locale)))
            raise
        await self._conclude(reply, view, job, locale)

    async def _images(self, user_id: str, job: ChatJob) -> tuple:
        """The job's photos as image parts; the stored files are then deleted (Telegram keeps the pictures, and
        the parts are in memory for this answer), so they never count against storage for long."""
        if not job.file_ids or self.media is None:
            return ()
        try:
            return await self.media.files.image_parts(user_id, job.file_ids)
        finally:
            for file_id in job.file_ids:
                await self.media.files.delete(user_id, file_id)

    async def _consume(self, inbound: InboundMessage, view: ReplyView) -> ReplyDone | ReplyFailed:
        outcome: ReplyDone | ReplyFailed | None = None
        async with contextlib.aclosing(follow_reply(self._engine.reply(inbound))) as updates:
            async for update in updates:
                if isinstance(update, ReplyOpened):
                    view.start()
                elif isinstance(update, ReplyGrew):
                    view.feed(update.delta)
                else:
                    outcome = update
        assert outcome is not None
        return outcome

    def _note(self, key: str, locale: str) -> str:
        return "\n\n" + self._texts.get(key, locale)

    async def _conclude(self, reply: asyncio.Task, view: ReplyView, job: ChatJob, locale: str) -> None:
        if view.gone is not None:
            return
        try:
            if reply.cancelled():
                await self._end(view, job, self._note("reply.stopped", locale))
                return
            outcome = reply.result()
            if isinstance(outcome, ReplyDone):
                sources = "\n\n" + self._texts.render(outcome.sources, locale) if outcome.sources else ""
                await view.finish(sources, keyboard=feedback_keyboard(outcome.message.id))
            elif outcome.out_of_tokens:
                await self._end(view, job, self._texts.render(outcome.error, locale),
                                keyboard=buy_keyboard(self._texts, locale))
            else:
                note = self._texts.render(outcome.error, locale)
                if view.started:
                    note = "\n\n" + self._texts.render(Text.of("reply.failed_note", note=note), locale)
                await self._end(view, job, note)
        except TelegramError as e:
            log.warning("could not tell chat %s how its answer ended: %s", job.chat_id, e)

    async def _end(self, view: ReplyView | None, job: ChatJob, text: str,
                   keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Close the answer with a note: appended to the streamed text, or as its own message."""
        if view is not None and view.started:
            await view.finish(text, keyboard=keyboard)
            return
        await self._sender.send(job.chat_id, text.strip(), keyboard=keyboard,
                                reply_to=job.message_id if job.in_group else None, thread_id=job.thread_id)
