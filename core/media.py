"""MediaService: what a sent file is (judged by its bytes), whether it may be kept, and what it becomes for the
model: an image part, the words a voice note said, or a private knowledge-base resource of the conversation."""
from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

from core import media_errors
from core.domain import ImagePart
from core.files import AttachmentService, StoredFile, sniff_image
from core.knowledge import ResourceService
from core.knowledge_ports import Extractor, Resource, Viewer
from core.ports import ConversationRepository, MessageRepository
from core.speech import Heard, SpeechService

PDF, MARKDOWN, TEXT = "application/pdf", "text/markdown", "text/plain"
_IMAGE_NAMES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".heic")


@dataclass(frozen=True)
class MediaLimits:
    image_bytes: int
    audio_bytes: int
    audio_seconds: int
    document_bytes: int
    kinds: frozenset[str] = frozenset({"image", "audio", "document"})
    document_wait_seconds: float = 60.0


@dataclass
class Prepared:
    """A message's files made ready for the engine."""

    text: str
    images: tuple[ImagePart, ...] = ()
    heard: list[Heard] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)


Progress = Callable[[Resource], None]


class MediaService:
    def __init__(self, *, files: AttachmentService, speech: SpeechService, extractor: Extractor,
                 conversations: ConversationRepository, messages: MessageRepository, limits: MediaLimits,
                 knowledge: ResourceService | None = None):
        self.files = files
        self.speech = speech
        self._extractor = extractor
        self._conversations = conversations
        self._messages = messages
        self.limits = limits
        self.knowledge = knowledge

    # --- accepting a file -----------------------------------------------------------------------

    async def classify(self, data: bytes, name: str = "", declared: str = "",
                       declared_seconds: float | None = None) -> tuple[str, str]:
        """(kind, mime) judged by the bytes, never by the name or declared type; MediaRefused when the file is
        empty, too large, damaged, too long, not the image it claims to be, or of a kind we do not take."""
        if not data:
            raise media_errors.empty_file()
        lowered, declared = name.lower(), (declared or "").split(";", 1)[0].strip().lower()
        image = sniff_image(data)
        if image is not None:
            return self._allowed("image", image, len(data), self.limits.image_bytes)
        if declared.startswith("image/") or lowered.endswith(_IMAGE_NAMES):
            raise media_errors.not_an_image()
        if data.startswith(b"%PDF-"):
            self._allowed("document", PDF, len(data), self.limits.document_bytes)
            await self._readable(data, PDF)
            return "document", PDF
        text = _text_kind(data, lowered, declared)
        if text is not None:
            self._allowed("document", text, len(data), self.limits.document_bytes)
            return "document", text
        if lowered.endswith(".pdf") or declared == PDF:
            raise media_errors.corrupt("PDF")
        self._check_kind("audio")
        if len(data) > self.limits.audio_bytes:
            raise media_errors.too_large("audio", self.limits.audio_bytes)
        probed = await self.speech.probe(data)
        if probed is None:
            if declared.startswith(("audio/", "video/")):
                raise media_errors.corrupt("audio")
            raise media_errors.unsupported(declared or (name.rsplit(".", 1)[-1] if "." in name else ""))
        await self.speech.check(data, declared_seconds, probed)
        return "audio", declared if declared.startswith("audio/") else "audio/" + probed.container.split(",")[0]

    def _check_kind(self, kind: str) -> None:
        if kind not in self.limits.kinds:
            raise media_errors.kind_not_allowed(kind)

    def _allowed(self, kind: str, mime: str, size: int, limit: int) -> tuple[str, str]:
        self._check_kind(kind)
        if size > limit:
            raise media_errors.too_large(kind, limit)
        return kind, mime

    async def _readable(self, data: bytes, mime: str) -> None:
        try:
            document = await self._extractor.extract(data, mime)
        except Exception:
            raise media_errors.corrupt("PDF") from None
        if not any(s.text.strip() for s in document.sections):
            raise media_errors.corrupt("PDF")

    async def accept(self, owner_id: str, data: bytes, *, name: str = "", declared: str = "",
                     declared_seconds: float | None = None, source_url: str | None = None) -> StoredFile:
        """Check a file and keep it for its owner within their storage; refused files leave nothing."""
        kind, mime = await self.classify(data, name, declared, declared_seconds)
        extension = {"image": mime.rsplit("/", 1)[-1], "document": {PDF: "pdf", MARKDOWN: "md"}.get(mime, "txt"),
                     "audio": "audio"}[kind]
        return await self.files.store(owner_id, kind=kind, mime=mime, name=name or f"{kind}.{extension}",  # type: ignore[arg-type]
                                      data=data, source_url=source_url)

    # --- what a message's files become ----------------------------------------------------------

    async def prepare(self, user_id: str, text: str, file_ids: Sequence[str], *, conversation_id: str | None = None,
                      declared_seconds: float | None = None, progress: Progress | None = None) -> Prepared:
        """The text and images the engine gets: voice transcribed (and charged), images as parts, documents as
        private resources scoped to the conversation (waited for, up to document_wait_seconds)."""
        found = [await self.files.read(user_id, f) for f in dict.fromkeys(file_ids)]
        prepared = Prepared(text.strip(), file_ids=[f.id for f, _ in found])
        heard_lines = []
        for stored, data in found:
            if stored.kind == "image":
                prepared.images += (ImagePart(stored.mime, data),)
            elif stored.kind == "audio":
                heard = await self.speech.transcribe(user_id, data, declared_seconds=declared_seconds, ref=stored.id)
                prepared.heard.append(heard)
                heard_lines.append(heard.text)
            elif stored.kind == "document":
                prepared.resources.append(await self.add_document(user_id, stored, data, conversation_id, progress))
        if heard_lines:
            prepared.text = "\n".join(x for x in (prepared.text, *heard_lines) if x)
        return prepared

    async def add_document(self, user_id: str, stored: StoredFile, data: bytes, conversation_id: str | None,
                           progress: Progress | None = None) -> Resource:
        """A private resource of the document, added to the conversation's resources; its storage moves from
        the file to the resource (counted once)."""
        if self.knowledge is None:
            raise media_errors.kind_not_allowed("document")
        await self.files.release_storage(user_id, stored.bytes)
        try:
            resource, _ = await self.knowledge.add_document(Viewer(user_id), name=stored.name, body=data,
                                                            content_type=stored.mime, source="file")
        except BaseException:
            await self.files.release_storage(user_id, -stored.bytes)
            raise
        if conversation_id:
            conversation = await self._conversations.get(conversation_id)
            if conversation is not None and resource.id not in conversation.resource_ids:
                await self._conversations.update(conversation_id,
                                                 resource_ids=(*conversation.resource_ids, resource.id))
        if progress:
            progress(resource)
        try:
            await asyncio.wait_for(self.knowledge.wait(resource.id), self.limits.document_wait_seconds)
        except asyncio.TimeoutError:
            pass  # still indexing: the answer comes without it, later questions cite it
        return await self.knowledge.get(Viewer(user_id), resource.id)

    # --- forgetting -------------------------------------------------------------------------------

    async def forget_conversation(self, user_id: str, conversation_id: str) -> None:
        """Delete the files a conversation's messages carry (their storage given back) and the private
        resources made of its documents; the caller deletes the conversation itself."""
        conversation = await self._conversations.get(conversation_id)
        if conversation is None or conversation.user_id != user_id:
            return
        message_ids, cursor = [], None
        while True:
            page = await self._messages.list(conversation_id, 100, cursor)
            message_ids += [m.id for m in page.items]
            if not page.has_more:
                break
            cursor = page.cursor
        attached = await self.files.attached(message_ids)
        hashes = set()
        for stored in (f for files in attached.values() for f in files):
            if stored.owner_id != user_id:
                continue
            if stored.kind == "document":
                _, data = await self.files.read(user_id, stored.id)
                hashes.add(hashlib.sha256(data).hexdigest())
            # A document's bytes were counted by its resource, deleted below.
            await self.files.delete(user_id, stored.id, release_storage=stored.kind != "document")
        if self.knowledge is not None and hashes:
            for resource_id in conversation.resource_ids:
                try:
                    resource = await self.knowledge.get(Viewer(user_id), resource_id)
                except Exception:
                    continue
                if resource.owner_id == user_id and resource.content_hash in hashes:
                    await self.knowledge.delete(Viewer(user_id), resource_id)


def _text_kind(data: bytes, name: str, declared: str) -> str | None:
    """Markdown or plain text: UTF-8 without NUL bytes."""
    if b"\x00" in data[:65536]:
        return None
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < 65530:  # not a character cut at the sample's end
            return None
    if name.endswith((".md", ".markdown")) or declared == MARKDOWN:
        return MARKDOWN
    if name.endswith(".txt") or declared.startswith("text/") or not declared:
        return TEXT
    return None
