"""POST /audio-to-text: the uploaded audio transcribed through llm.speech and billed per second to `user`, with
Dify's error codes (no_audio_uploaded, audio_too_large, unsupported_audio_type)."""
from __future__ import annotations

from aiohttp import BodyPartReader, web

from adapters.http.dify import context
from adapters.http.dify.errors import DifyError
from adapters.http.dify.requests import end_user
from core.media_errors import MediaRefused

MAX_USER_FIELD = 1024
_CODES = {"file_too_large": (413, "audio_too_large"), "audio_too_long": (413, "audio_too_large"),
          "unsupported_type": (415, "unsupported_audio_type"), "corrupt_file": (415, "unsupported_audio_type"),
          "empty_file": (400, "no_audio_uploaded"), "speech_unavailable": (400, "provider_not_support_speech_to_text")}


async def _read(part: BodyPartReader, limit: int, error: DifyError) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(65536):
        data += chunk
        if len(data) > limit:
            raise error
    return bytes(data)


async def transcribe_upload(request: web.Request, fingerprint: str) -> web.Response:
    service = context.media(request)
    limit = service.limits.audio_bytes
    too_large = DifyError(413, "audio_too_large", f"Audio size exceeded. The limit is {limit // (1024 * 1024)} MB.")
    if not request.content_type.startswith("multipart/"):
        raise DifyError(400, "no_audio_uploaded", "Please upload your audio (multipart/form-data, field `file`).")
    data: bytes | None = None
    user: str | None = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise DifyError(400, "invalid_param", "Nested multipart bodies are not accepted.")
            if part.name == "file":
                data = await _read(part, limit, too_large)
            elif part.name == "user":
                user = (await _read(part, MAX_USER_FIELD, DifyError(400, "invalid_param", "user is too long."))
                        ).decode("utf-8", "replace")
            else:
                await _read(part, limit, too_large)
    except (ValueError, AssertionError) as e:
        raise DifyError(400, "invalid_param", f"The multipart body is malformed ({e}).") from None
    if not data:
        raise DifyError(400, "no_audio_uploaded", "Please upload your audio.")
    who = await end_user(request, fingerprint, user)
    try:
        heard = await service.speech.transcribe(who.user_id, data, ref="dify:audio-to-text")
    except MediaRefused as e:
        status, code = _CODES.get(e.reason, (400, "invalid_param"))
        raise DifyError(status, code, e.message) from None
    return web.json_response({"text": heard.text})
