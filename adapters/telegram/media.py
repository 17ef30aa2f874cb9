"""Photos, image documents, voice notes, audio and PDF/Markdown/text documents in a private Telegram chat: fetched
with getFile, judged by their bytes (core.media), then answered: an image goes to a vision model with the caption,
a voice note is transcribed (the user sees what was heard) and answered, a document becomes a private resource
of the chat's conversation ("ready: N passages")."""
from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, ContextTypes, MessageHandler, filters

from adapters.telegram.lanes import ChatJob, ChatLanes
from adapters.telegram.speaker import Speaker
from adapters.telegram.users import TelegramUsers, chat_key
from core import media_errors
from core.catalog import ModelCatalog
from core.conversations import ConversationService
from core.errors import DomainError
from core.i18n import Text, Texts
from core.i18n_errors import error_text
from core.media import MediaService

log = logging.getLogger(__name__)

MEDIA_FILTER = filters.PHOTO | filters.VOICE | filters.AUDIO | filters.Document.ALL


def _what(message: Message) -> tuple[str, str, str, float | None, int | None]:
    """(file_id, file name, declared type, declared seconds, declared size) of the message's file."""
    if message.photo:
        largest = message.photo[-1]
        return largest.file_id, "photo.jpg", "image/jpeg", None, largest.file_size
    if message.voice:
        v = message.voice
        return v.file_id, "voice.ogg", v.mime_type or "audio/ogg", float(v.duration or 0), v.file_size
    if message.audio:
        a = message.audio
        return a.file_id, a.file_name or "audio", a.mime_type or "", float(a.duration or 0), a.file_size
    d = message.document
    assert d is not None
    return d.file_id, d.file_name or "document", d.mime_type or "", None, d.file_size


class TelegramMedia:
    def __init__(self, media: MediaService, catalog: ModelCatalog, conversations: ConversationService,
                 users: TelegramUsers, speaker: Speaker, lanes: ChatLanes, texts: Texts):
        self._media = media
        self._catalog = catalog
        self._conversations = conversations
        self._users = users
        self._speaker = speaker
        self._lanes = lanes
        self._texts = texts

    def handlers(self) -> list[BaseHandler]:
        only_new = filters.UpdateType.MESSAGE
        return [MessageHandler(only_new & filters.ChatType.PRIVATE & MEDIA_FILTER, self._speaker.guarded(self.on_media))]

    async def on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
        if message is None or chat is None or sender is None or sender.is_bot:
            return
        user, locale = await self._users.user_and_locale(sender)
        file_id, name, declared, seconds, size = _what(message)
        caption = (message.caption or "").strip()
        try:
            data = await self._download(file_id, size)
            kind, mime = await self._media.classify(data, name, declared, seconds)
            if kind == "audio":
                heard = await self._media.speech.transcribe(user.id, data, declared_seconds=seconds,
                                                            ref=f"telegram:{chat.id}:{message.message_id}")
                await self._speaker.say(update, self._texts.render(
                    Text.of("media.heard", text=heard.text) if heard.text else Text.of("media.heard_nothing"), locale))
                if heard.text:
                    await self._submit(update, "\n".join(x for x in (caption, heard.text) if x))
                return
            if kind == "image" and not self._catalog.has_vision():
                raise media_errors.vision_unavailable(self._catalog.default)
            stored = await self._media.files.store(user.id, kind=kind, mime=mime, name=name, data=data)  # type: ignore[arg-type]
        except DomainError as e:
            log.info("Telegram file refused: %s (%s)", e.reason, e.message)
            await self._speaker.say(update, self._texts.render(media_errors.media_text(e) or error_text(e), locale))
            return
        if kind == "image":
            question = caption or self._texts.get("media.image_question", locale)
            await self._submit(update, question, (stored.id,))
            return
        await self._document(update, user.id, stored, data, locale)
        if caption:
            await self._submit(update, caption)

    async def _download(self, file_id: str, size: int | None) -> bytes:
        largest = max(self._media.limits.image_bytes, self._media.limits.audio_bytes,
                      self._media.limits.document_bytes)
        if size is not None and size > largest:
            raise media_errors.too_large("file", largest)   # refused before a byte is fetched
        try:
            tg_file = await self._speaker.sender.bot.get_file(file_id)
        except BadRequest as e:   # "file is too big": bots may fetch at most 20 MB
            raise media_errors.too_large("file", min(largest, 20 * 1024 * 1024)) if "too big" in str(e) else e
        return bytes(await tg_file.download_as_bytearray())

    async def _document(self, update: Update, user_id: str, stored, data: bytes, locale: str) -> None:
        chat = update.effective_chat
        assert chat is not None
        key = chat_key(chat.id)
        conversation = await self._conversations.for_chat(key) or await self._conversations.start_new_chat(user_id, key)
        await self._speaker.say(update, self._texts.get("media.document_indexing", locale, name=stored.name))
        try:
            resource = await self._media.add_document(user_id, stored, data, conversation.id)
        finally:
            # The resource keeps the text (and counts the bytes); the upload itself is not needed any more.
            await self._media.files.delete(user_id, stored.id, release_storage=False)
        if resource.status == "ready":
            text = Text.of("media.document_ready", name=resource.name, count=resource.chunks)
        else:
            text = Text.of("media.document_failed", name=resource.name, error=resource.error or "")
        await self._speaker.say(update, self._texts.render(text, locale))

    async def _submit(self, update: Update, text: str, file_ids: tuple[str, ...] = ()) -> None:
        message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and sender is not None
        await self._lanes.submit(ChatJob(chat.id, chat.type, sender.id, sender.full_name, message.message_id, text,
                                          message.message_thread_id if message.is_topic_message else None,
                                          update.update_id, sender.language_code, file_ids=file_ids))
