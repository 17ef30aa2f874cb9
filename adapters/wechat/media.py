"""WeChat image, voice (without WeChat's own Recognition) and link messages: files fetched from the media API by
MediaId (an image's PicUrl as fallback, through the SSRF-safe fetcher), judged by their bytes (core.media), then an
image goes to a vision model, a voice note is transcribed (billed per second) and a shared page becomes a private
resource of the user's current conversation."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from adapters.retrieval.fetcher import PageFetcher
from adapters.wechat.api import WeChatApi, WeChatApiError
from adapters.wechat.codec import Callback
from core import media_errors
from core.catalog import ModelCatalog
from core.conversations import ConversationService
from core.domain import ImagePart, User
from core.errors import DomainError
from core.i18n import Text, Texts
from core.knowledge import ResourceService
from core.knowledge_ports import Resource, Viewer
from core.media import MediaService
from core.media_errors import MediaRefused
from core.speech import Heard

log = logging.getLogger(__name__)

Say = Callable[[str], Awaitable[None]]
# The answer to a question (with images): the responder's chat, read whole.
Answer = Callable[[str, tuple[ImagePart, ...]], Awaitable[str]]
_VOICE_NAMES = {"amr": "voice.amr", "speex": "voice.speex"}
_REFUSED_LINKS = frozenset({"private_address", "invalid_url"})


def download_failed() -> MediaRefused:
    return MediaRefused("download_failed", "The file could not be fetched from WeChat.", status=502)


class Notes:
    """What is said before the answer ("🎤 I heard: ...", "📄 Reading ..."): pushed at once in customer-service
    mode (`say`), joined to the one reply in passive mode (no `say`: a passive reply is a single message)."""

    def __init__(self, say: Say | None):
        self._say = say
        self._held: list[str] = []

    async def note(self, text: str) -> None:
        if self._say is not None:
            await self._say(text)
        else:
            self._held.append(text)

    def reply(self, text: str) -> str:
        return "\n\n".join(x for x in (*self._held, text) if x)


class WeChatMedia:
    def __init__(self, *, api: WeChatApi, media: MediaService, conversations: ConversationService,
                 knowledge: ResourceService | None, image_fetcher: PageFetcher, allow_private_urls: bool,
                 catalog: ModelCatalog, texts: Texts):
        self._api = api
        self._media = media
        self._conversations = conversations
        self._knowledge = knowledge
        self.image_fetcher = image_fetcher   # its public `resolver` is the seam tests replace (SSRF)
        self._allow_private = allow_private_urls
        self._catalog = catalog
        self._texts = texts

    @property
    def transcribes(self) -> bool:
        """Voice without Recognition can be heard here (llm.speech is set)."""
        return self._media.speech.enabled

    async def image(self, cb: Callback, locale: str, answer: Answer) -> str:
        """The picture shown to a vision model with "What is in this picture?"; nothing is kept (WeChat keeps it)."""
        if not self._catalog.has_vision():
            raise media_errors.vision_unavailable(self._catalog.default)   # said before anything is fetched
        limit = self._media.limits.image_bytes
        data, declared = await self._image_bytes(cb, limit)
        kind, mime = await self._media.classify(data, "image", declared or "image/jpeg")
        if kind != "image":
            raise media_errors.not_an_image()
        return await answer(self._texts.get("media.image_question", locale), (ImagePart(mime, data),))

    async def _image_bytes(self, cb: Callback, limit: int) -> tuple[bytes, str]:
        if cb.media_id:
            try:
                media = await self._api.download_media(cb.media_id, limit)
                return media.data, media.content_type
            except WeChatApiError as e:
                log.info("WeChat image %s not downloadable (%s); trying its PicUrl", cb.media_id, e.message)
        if not cb.pic_url:
            raise download_failed()
        try:
            page = await self.image_fetcher.fetch(cb.pic_url, self._allow_private)
        except DomainError as e:
            log.info("WeChat image PicUrl refused or failed: %s (%s)", e.reason, e.message)
            if e.reason == "page_too_large":
                raise media_errors.too_large("image", limit) from None
            raise download_failed() from None
        return page.body, page.content_type

    async def voice(self, cb: Callback, user: User) -> Heard:
        """What the voice note said, transcribed and billed per second; refused (nothing charged) when it is
        empty, too large, too long or no audio."""
        if not cb.media_id:
            raise download_failed()
        limit = self._media.limits.audio_bytes
        try:
            media = await self._api.download_media(cb.media_id, limit)
        except WeChatApiError as e:
            log.info("WeChat voice %s not downloadable (%s)", cb.media_id, e.message)
            raise download_failed() from None
        name = media.filename or _VOICE_NAMES.get(cb.voice_format, "voice")
        kind, _ = await self._media.classify(media.data, name, media.content_type or f"audio/{cb.voice_format}")
        if kind != "audio":
            raise media_errors.unsupported(cb.voice_format)
        return await self._media.speech.transcribe(user.id, media.data, ref=f"wechat:{cb.openid}:{cb.msg_key}")

    async def link(self, cb: Callback, user: User, chat_key: str, locale: str, notes: Notes) -> str:
        """The shared page as a private resource of the user's current conversation: "📄 Reading ...", then
        "ready: N passages". A refused or unreadable page leaves nothing behind."""
        if self._knowledge is None or "document" not in self._media.limits.kinds:
            raise media_errors.kind_not_allowed("document")
        viewer = Viewer(user.id)
        name = cb.title or cb.url
        try:
            resource, created = await self._knowledge.add_url(viewer, url=cb.url, name=cb.title)
        except DomainError as e:
            if e.reason in _REFUSED_LINKS:
                log.info("WeChat link refused: %s (%s)", e.reason, e.message)
                return self._texts.get("media.link_refused", locale)
            raise
        await notes.note(self._texts.get("media.document_indexing", locale, name=name))
        try:
            await asyncio.wait_for(self._knowledge.wait(resource.id), self._media.limits.document_wait_seconds)
        except asyncio.TimeoutError:
            pass   # still reading: later questions cite it once it is ready
        resource = await self._knowledge.get(viewer, resource.id)
        if resource.status == "failed":
            if created:
                await self._knowledge.delete(viewer, resource.id)
            return self._failed(resource, locale)
        conversation = await self._conversations.for_chat(chat_key) \
            or await self._conversations.start_new_chat(user.id, chat_key)
        if resource.id not in conversation.resource_ids:
            await self._conversations.update(user.id, conversation.id,
                                             resource_ids=(*conversation.resource_ids, resource.id))
        if resource.status != "ready":
            return ""
        return self._texts.render(Text.of("media.document_ready", name=resource.name, count=resource.chunks),
                                  locale)

    def _failed(self, resource: Resource, locale: str) -> str:
        log.info("WeChat link %s could not be read: %s", resource.url, resource.error)
        if resource.error_reason == "quota_exceeded":
            return self._texts.get("media.storage_exceeded", locale)
        return self._texts.get("media.link_failed", locale, name=resource.name)
