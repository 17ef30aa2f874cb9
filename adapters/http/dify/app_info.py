"""What a Dify client asks about the app before it starts a chat (GET /parameters, /info, /meta, /site), and the
speech endpoints, which answer Dify's own "not enabled" error until a speech model exists."""
from __future__ import annotations

from aiohttp import web

from adapters.http.dify import context
from adapters.http.dify.errors import DifyError
from adapters.http.dify.inputs import max_length
from adapters.http.dify.requests import app_key

_OFF = {"enabled": False}


def _form(request: web.Request) -> list[dict]:
    items = []
    for field in context.dify(request).user_input_form:
        shaped = field.as_dify()
        if field.kind in ("text-input", "paragraph"):
            shaped[field.kind]["max_length"] = max_length(field)
        items.append(shaped)
    return items


async def parameters(request: web.Request) -> web.Response:
    app_key(request)
    dify = context.dify(request)
    images = dify.image_upload and context.services(request).catalog.has_vision()
    return web.json_response({
        "opening_statement": dify.opening_statement,
        "suggested_questions": list(dify.suggested_questions),
        "suggested_questions_after_answer": {"enabled": dify.suggested_questions_after_answer},
        "speech_to_text": {"enabled": _speech_on(request)},
        "text_to_speech": {"enabled": False, "voice": "", "language": "", "autoPlay": "disabled"},
        "retriever_resource": {"enabled": True},
        "annotation_reply": _OFF,
        "more_like_this": _OFF,
        "user_input_form": _form(request),
        "sensitive_word_avoidance": {"enabled": False, "type": "", "configs": []},
        "file_upload": {
            "enabled": images,
            "allowed_file_types": ["image"], "allowed_file_extensions": [".png", ".jpg", ".jpeg", ".webp", ".gif"],
            "allowed_file_upload_methods": ["remote_url", "local_file"], "number_limits": dify.image_number_limits,
            "image": {"enabled": images, "number_limits": dify.image_number_limits, "detail": "high",
                      "transfer_methods": ["remote_url", "local_file"]}},
        "system_parameters": {"file_size_limit": dify.image_file_size_limit_mb,
                              "image_file_size_limit": dify.image_file_size_limit_mb, "audio_file_size_limit": 0,
                              "video_file_size_limit": 0, "workflow_file_upload_limit": 0},
    })


async def info(request: web.Request) -> web.Response:
    app_key(request)
    dify = context.dify(request)
    return web.json_response({"name": dify.name, "description": dify.description, "tags": [], "mode": "chat",
                              "author_name": ""})


async def meta(request: web.Request) -> web.Response:
    app_key(request)
    return web.json_response({"tool_icons": {}})


async def site(request: web.Request) -> web.Response:
    """Dify's WebApp settings, from dify.site."""
    app_key(request)
    dify = context.dify(request)
    body = dify.site.model_dump()
    body["title"] = body["title"] or dify.name
    body["description"] = body["description"] if body["description"] is not None else dify.description
    return web.json_response(body)


def _speech_on(request: web.Request) -> bool:
    return context.settings(request).speech


async def audio_to_text(request: web.Request) -> web.Response:
    """Dify's speech to text: the `file` transcribed through llm.speech (billed per second to `user`), or Dify's
    answer for an app without speech_to_text."""
    fingerprint = app_key(request)
    if not _speech_on(request):
        raise DifyError(400, "invalid_param", "Speech to text is not enabled")
    from adapters.http.dify.speech import transcribe_upload

    return await transcribe_upload(request, fingerprint)


async def text_to_audio(request: web.Request) -> web.Response:
    app_key(request)
    raise DifyError(400, "invalid_param", "TTS is not enabled")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/parameters", parameters)
    app.router.add_get("/info", info)
    app.router.add_get("/meta", meta)
    app.router.add_get("/site", site)
    app.router.add_post("/audio-to-text", audio_to_text)
    app.router.add_post("/text-to-audio", text_to_audio)
