"""POST /audio-to-text: the uploaded audio transcribed through llm.speech and billed per second to `user`, with
Dify's error codes (no_audio_uploaded, audio_too_large, unsupported_audio_type)."""
from __future__ import annotations

from aiohttp import web

from adapters.http.dify import context
from adapters.http.dify.errors import DifyError
from adapters.http.dify.requests import end_user
from adapters.http.dify.uploads import read_upload
from core.media_errors import MediaRefused

_CODES = {"file_too_large": (413, "audio_too_large"), "audio_too_long": (413, "audio_too_large"),
          "unsupported_type": (415, "unsupported_audio_type"), "corrupt_file": (415, "unsupported_audio_type"),
          "empty_file": (400, "no_audio_uploaded"), "speech_unavailable": (400, "provider_not_support_speech_to_text")}


async def transcribe_upload(request: web.Request, fingerprint: str) -> web.Response:
    service = context.media(request)
    limit = service.limits.audio_bytes
    too_large = DifyError(413, "audio_too_large", f"Audio size exceeded. The limit is {limit // (1024 * 1024)} MB.")
    found = await read_upload(request, limit, too_large, not_multipart=DifyError(
        400, "no_audio_uploaded", "Please upload your audio (multipart/form-data, field `file`)."))
    data, user = found.data, found.user
    if not data:
        raise DifyError(400, "no_audio_uploaded", "Please upload your audio.")
    who = await end_user(request, fingerprint, user)
    try:
        heard = await service.speech.transcribe(who.user_id, data, ref="dify:audio-to-text")
    except MediaRefused as e:
        status, code = _CODES.get(e.reason, (400, "invalid_param"))
        raise DifyError(status, code, e.message) from None
    return web.json_response({"text": heard.text})
