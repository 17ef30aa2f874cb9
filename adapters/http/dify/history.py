"""Dify's history endpoints: messages, feedbacks, the conversation list, delete and rename."""
from __future__ import annotations

import contextlib
from typing import Iterator

from aiohttp import web

from adapters.http.dify import render
from adapters.http.dify.requests import (
    FeedbackRequest, RenameRequest, UserOnly, app_key, end_user, json_object, parse, path_id, query_limit,
    uuid_or_none,
)
from core.chat_app import ChatAppService
from core.errors import InvalidRequest, NotFound

CHAT_APP = "chat_app"  # services.extras key
_RATINGS = {"like": 1, "dislike": -1, None: 0}


def _services(request: web.Request):
    from bot.app import SERVICES

    return request.config_dict[SERVICES]


def _chat_app(request: web.Request) -> ChatAppService:
    return _services(request).extras[CHAT_APP]


def _introduction(request: web.Request) -> str:
    from bot.app import CONFIG

    return request.config_dict[CONFIG].dify.opening_statement


@contextlib.contextmanager
def _missing(message: str) -> Iterator[None]:
    """Dify's wording for an id that is unknown or someone else's."""
    try:
        yield
    except NotFound:
        raise NotFound(message) from None


async def messages(request: web.Request) -> web.Response:
    who = await end_user(request, app_key(request), request.query.get("user"))
    conversation_id = uuid_or_none(request.query.get("conversation_id"), "conversation_id")
    if conversation_id is None:
        raise InvalidRequest("conversation_id is required.")
    first_id = uuid_or_none(request.query.get("first_id"), "first_id")
    limit = query_limit(request)
    page = await _chat_app(request).exchanges(who.user_id, conversation_id, first_id, limit)
    return web.json_response({"limit": limit, "has_more": page.has_more,
                              "data": [render.history_item(e) for e in page.items]})


async def feedbacks(request: web.Request) -> web.Response:
    fingerprint = app_key(request)
    body = parse(FeedbackRequest, await json_object(request))
    who = await end_user(request, fingerprint, body.user)
    message_id = path_id(request, "message_id", "Message Not Exists.")
    with _missing("Message Not Exists."):
        await _services(request).conversations.feedback(who.user_id, message_id, _RATINGS[body.rating])
    return web.json_response({"result": "success"})


async def suggested(request: web.Request) -> web.Response:
    """Follow-up suggestions are not offered (`suggested_questions_after_answer` is off): always none."""
    who = await end_user(request, app_key(request), request.query.get("user"))
    message_id = path_id(request, "message_id", "Message Not Exists.")
    with _missing("Message Not Exists."):
        await _services(request).conversations.message(who.user_id, message_id)
    return web.json_response({"result": "success", "data": []})


async def conversations(request: web.Request) -> web.Response:
    who = await end_user(request, app_key(request), request.query.get("user"))
    last_id = uuid_or_none(request.query.get("last_id"), "last_id")
    limit = query_limit(request)
    order = request.query.get("sort_by") or "-updated_at"
    page = await _chat_app(request).conversations(who.user_id, last_id, limit, order)  # type: ignore[arg-type]
    intro = _introduction(request)
    return web.json_response({"limit": limit, "has_more": page.has_more,
                              "data": [render.conversation(c, intro) for c in page.items]})


async def delete_conversation(request: web.Request) -> web.Response:
    fingerprint = app_key(request)
    # Dify sends `user` in a JSON body; clients that cannot send a body with DELETE may use ?user=.
    data = await json_object(request) if request.body_exists else {}
    user = parse(UserOnly, data).user or request.query.get("user")
    who = await end_user(request, fingerprint, user)
    conversation_id = path_id(request, "conversation_id", "Conversation Not Exists.")
    with _missing("Conversation Not Exists."):
        await _services(request).conversations.delete(who.user_id, conversation_id)
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    fingerprint = app_key(request)
    body = parse(RenameRequest, await json_object(request))
    who = await end_user(request, fingerprint, body.user)
    conversation_id = path_id(request, "conversation_id", "Conversation Not Exists.")
    with _missing("Conversation Not Exists."):
        conv = await _chat_app(request).rename(who.user_id, conversation_id, body.name, body.auto_generate)
    return web.json_response(render.conversation(conv, _introduction(request)))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/messages", messages)
    app.router.add_post("/messages/{message_id}/feedbacks", feedbacks)
    app.router.add_get("/messages/{message_id}/suggested", suggested)
    app.router.add_get("/conversations", conversations)
    app.router.add_delete("/conversations/{conversation_id}", delete_conversation)
    app.router.add_post("/conversations/{conversation_id}/name", rename)
