"""GET /parameters, /info and /meta: what a Dify client asks about the app before it starts a chat."""
from __future__ import annotations

from aiohttp import web

from adapters.http.dify.requests import app_key

_OFF = {"enabled": False}


def _dify(request: web.Request):
    from bot.app import CONFIG

    return request.config_dict[CONFIG].dify


async def parameters(request: web.Request) -> web.Response:
    app_key(request)
    dify = _dify(request)
    return web.json_response({
        "opening_statement": dify.opening_statement,
        "suggested_questions": list(dify.suggested_questions),
        "suggested_questions_after_answer": _OFF,
        "speech_to_text": _OFF,
        "text_to_speech": _OFF,
        "retriever_resource": {"enabled": True},
        "annotation_reply": _OFF,
        "more_like_this": _OFF,
        "user_input_form": [],
        "sensitive_word_avoidance": {"enabled": False, "type": "", "configs": []},
        "file_upload": {"enabled": False, "image": {"enabled": False, "number_limits": 3, "detail": "high",
                                                    "transfer_methods": ["remote_url", "local_file"]}},
        "system_parameters": {"file_size_limit": 0, "image_file_size_limit": 0, "audio_file_size_limit": 0,
                              "video_file_size_limit": 0, "workflow_file_upload_limit": 0},
    })


async def info(request: web.Request) -> web.Response:
    app_key(request)
    dify = _dify(request)
    return web.json_response({"name": dify.name, "description": dify.description, "tags": [], "mode": "chat",
                              "author_name": ""})


async def meta(request: web.Request) -> web.Response:
    app_key(request)
    return web.json_response({"tool_icons": {}})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/parameters", parameters)
    app.router.add_get("/info", info)
    app.router.add_get("/meta", meta)
