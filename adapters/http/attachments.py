"""POST /api/v1/attachments (a multipart image, audio or document), GET /messages/{mid}/attachments, and what
posting a message with `attachment_ids` does with them (adapters/http/messages.py calls `prepare_message`)."""
from __future__ import annotations

import dataclasses
from typing import Literal

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import Field

from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.schemas import Out, Timestamp
from adapters.http.keys import services_of
from adapters.http.multipart import read_part
from core import media_errors
from core.domain import InboundMessage
from core.errors import InvalidRequest, QuotaExceeded
from core.files import StoredFile
from core.media import MediaService, Prepared

MB = 1024 * 1024
FIELD_BYTES = 4096


class AttachmentOut(Out):
    id: str
    kind: Literal["image", "audio", "document", "video"]
    mime: str
    name: str
    bytes: int
    created_at: Timestamp

    @classmethod
    def of(cls, f: StoredFile) -> "AttachmentOut":
        return cls(id=f.id, kind=f.kind, mime=f.mime, name=f.name, bytes=f.bytes, created_at=f.created_at)


class AttachmentsOut(Out):
    data: list[AttachmentOut] = Field(description="in the order they were sent")


def media(request: web.Request) -> MediaService:
    found = services_of(request).media
    assert found is not None, "the services were built without the media service"
    return found


async def _limit(call: Call, service: MediaService) -> tuple[int, object]:
    """The most bytes any kind may have, or the user's free storage when that is less."""
    largest = max(service.limits.image_bytes, service.limits.audio_bytes, service.limits.document_bytes)
    user = await services_of(call.request).accounts.get(call.user_id)
    room = max(0, user.storage_limit_bytes - user.storage_used_bytes)
    if room < largest:
        return room, lambda: QuotaExceeded(f"This file is over your storage limit ({user.storage_used_bytes / MB:.1f} "
                                           f"of {user.storage_limit_bytes / MB:.1f} MB used).",
                                           reason="storage_exceeded")
    return largest, lambda: media_errors.too_large("file", largest)


async def upload(call: Call) -> web.Response:
    request = call.request
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequest("Send the file as multipart/form-data in a `file` part.", reason="no_file")
    service = media(request)
    limit, refusal = await _limit(call, service)
    found: tuple[str, str, bytes] | None = None
    try:
        async for part in await request.multipart():
            if not isinstance(part, aiohttp.BodyPartReader):
                raise InvalidRequest("Nested multipart bodies are not accepted.")
            if part.name == "file":
                if found is not None:
                    raise InvalidRequest("Send one `file` part per attachment.")
                name = (part.filename or "")[:200]
                if any(ord(c) < 32 or ord(c) == 127 for c in name):
                    raise InvalidRequest("The filename contains control characters (such as NUL).")
                found = (name, part.headers.get("Content-Type", ""), await read_part(part, limit, refusal))
            else:
                await read_part(part, FIELD_BYTES, lambda: InvalidRequest("A form field is too long."))
    except (ValueError, AssertionError, aiohttp.ClientPayloadError, HttpProcessingError) as e:
        raise InvalidRequest(f"The multipart body is malformed ({getattr(e, 'message', None) or e!s:.200}).") from None
    if found is None:
        raise InvalidRequest("The multipart body needs a `file` part.", reason="no_file")
    name, declared, data = found
    stored = await service.accept(call.user_id, data, name=name, declared=declared)
    return web.json_response(AttachmentOut.of(stored).model_dump(mode="json"), status=201)


async def message_attachments(call: Call) -> AttachmentsOut:
    services = services_of(call.request)
    message = await services.conversations.message(call.user_id, call.path("mid"))   # 404 for another user's
    attached = await services.files.attached([message.id])
    return AttachmentsOut(data=[AttachmentOut.of(f) for f in attached.get(message.id, [])])


async def prepare_message(call: Call, inbound: InboundMessage, attachment_ids: list[str]) -> tuple[InboundMessage,
                                                                                                   Prepared | None]:
    """The message as the engine gets it: the conversation checked first (404), then the files checked (the
    owner's, images only where a model can read them) before anything is transcribed or indexed."""
    if not attachment_ids:
        return inbound, None
    services = services_of(call.request)
    await services.conversations.get(call.user_id, call.path("id"))
    service = media(call.request)
    kinds = [(await service.files.get(call.user_id, f)).kind for f in attachment_ids]
    if "image" in kinds and not services.catalog.has_vision(inbound.model):
        raise media_errors.vision_unavailable(inbound.model or services.catalog.default)
    if not inbound.text.strip() and "audio" not in kinds:
        raise InvalidRequest("content is required with image or document attachments.", reason="invalid_request")
    prepared = await service.prepare(call.user_id, inbound.text, attachment_ids, conversation_id=call.path("id"))
    return dataclasses.replace(inbound, text=prepared.text, images=prepared.images), prepared


def install(app: web.Application, prefix: str) -> None:
    tag = "attachments"
    add_all(app, prefix, [
        Endpoint("POST", "/attachments", upload, "Upload an image, audio or document (multipart `file`) to send "
                 "with a message (attachment_ids); judged by its bytes, counted against your storage",
                 response=AttachmentOut, status=201, tag=tag),
        Endpoint("GET", "/messages/{mid}/attachments", message_attachments, "The files a message carries",
                 response=AttachmentsOut, tag=tag),
    ])
