"""Dify's history endpoints: messages, feedbacks, suggestions, the conversation list, delete, rename, variables."""
from __future__ import annotations

import contextlib
import uuid
from typing import Iterator

from aiohttp import web

from adapters.http.dify import context, render
from adapters.http.dify.errors import DifyError
from adapters.http.dify.requests import (
    FeedbackRequest, RenameRequest, UserOnly, app_key, end_user, json_object, parse, path_id, query_limit,
    uuid_or_none,
)
from core.chat_app import ChatAppService, Exchange
from core.errors import InvalidRequest, NotFound

_RATINGS = {"like": 1, "dislike": -1, None: 0}


def _chat_app(request: web.Request) -> ChatAppService:
    return context.dify_services(request).chat_app


def _introduction(request: web.Request) -> str:
    return context.dify(request).opening_statement


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
    inputs = (await context.inputs_store(request).of([conversation_id])).get(conversation_id, {})
    files = await _message_files(request, page.items)
    pricing, dataset = context.pricing(request), context.dify(request).dataset_name
    return web.json_response({"limit": limit, "has_more": page.has_more, "data": [
        render.history_item(e, pricing, dataset, inputs, files.get(e.query.id, []) if e.query else [])
        for e in page.items]})


async def _message_files(request: web.Request, exchanges: tuple[Exchange, ...]) -> dict[str, list[dict]]:
    """The files each question carried, as Dify's message_files (signed links a browser can open)."""
    ids = [e.query.id for e in exchanges if e.query is not None]
    attached = await context.files(request).attached(ids)
    return {mid: [render.message_file(f, context.file_url(request, f)) for f in found]
            for mid, found in attached.items()}


async def feedbacks(request: web.Request) -> web.Response:
    fingerprint = app_key(request)
    body = parse(FeedbackRequest, await json_object(request))
    who = await end_user(request, fingerprint, body.user)
    message_id = path_id(request, "message_id", "Message Not Exists.")
    with _missing("Message Not Exists."):
        await context.services(request).conversations.feedback(who.user_id, message_id, _RATINGS[body.rating])
    return web.json_response({"result": "success"})


async def suggested(request: web.Request) -> web.Response:
    """Follow-up questions for an answer, from the model (charged like a small reply) when
    dify.suggested_questions_after_answer is on; Dify's 400 otherwise."""
    who = await end_user(request, app_key(request), request.query.get("user"))
    message_id = path_id(request, "message_id", "Message Not Exists.")
    with _missing("Message Not Exists."):
        exchange = await _chat_app(request).exchange_of(who.user_id, message_id)
    if not context.dify(request).suggested_questions_after_answer:
        raise DifyError(400, "bad_request", "Suggested Questions Is Disabled.")
    question = exchange.query.content if exchange.query else ""
    answer = exchange.answer.content if exchange.answer else ""
    found = await context.dify_services(request).suggestions.suggest(who.user_id, question, answer)
    return web.json_response({"result": "success", "data": found})


async def conversations(request: web.Request) -> web.Response:
    who = await end_user(request, app_key(request), request.query.get("user"))
    last_id = uuid_or_none(request.query.get("last_id"), "last_id")
    limit = query_limit(request)
    order = request.query.get("sort_by") or "-updated_at"
    page = await _chat_app(request).conversations(who.user_id, last_id, limit, order)  # type: ignore[arg-type]
    intro = _introduction(request)
    inputs = await context.inputs_store(request).of([c.id for c in page.items])
    return web.json_response({"limit": limit, "has_more": page.has_more,
                              "data": [render.conversation(c, intro, inputs.get(c.id)) for c in page.items]})


async def delete_conversation(request: web.Request) -> web.Response:
    fingerprint = app_key(request)
    # Dify sends `user` in a JSON body; clients that cannot send a body with DELETE may use ?user=.
    data = await json_object(request) if request.body_exists else {}
    user = parse(UserOnly, data).user or request.query.get("user")
    who = await end_user(request, fingerprint, user)
    conversation_id = path_id(request, "conversation_id", "Conversation Not Exists.")
    with _missing("Conversation Not Exists."):
        services = context.services(request)
        await services.conversations.get(who.user_id, conversation_id)
        await context.media(request).forget_conversation(who.user_id, conversation_id)  # its files go with it
        await services.conversations.delete(who.user_id, conversation_id)
    await context.inputs_store(request).forget(conversation_id)
    if request.method == "POST":  # pydify's POST /conversations/{id}/delete expects Dify's JSON answer
        return web.json_response({"result": "success"})
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    fingerprint = app_key(request)
    body = parse(RenameRequest, await json_object(request))
    who = await end_user(request, fingerprint, body.user)
    conversation_id = path_id(request, "conversation_id", "Conversation Not Exists.")
    with _missing("Conversation Not Exists."):
        conv = await _chat_app(request).rename(who.user_id, conversation_id, body.name, body.auto_generate)
    inputs = (await context.inputs_store(request).of([conv.id])).get(conv.id)
    return web.json_response(render.conversation(conv, _introduction(request), inputs))


async def variables(request: web.Request) -> web.Response:
    """A conversation's variables: the inputs it was started with, one per dify.user_input_form field."""
    who = await end_user(request, app_key(request), request.query.get("user"))
    conversation_id = path_id(request, "conversation_id", "Conversation Not Exists.")
    with _missing("Conversation Not Exists."):
        conv = await context.services(request).conversations.get(who.user_id, conversation_id)
    limit = query_limit(request)
    last_id = uuid_or_none(request.query.get("last_id"), "last_id")
    wanted = request.query.get("variable_name")
    inputs = (await context.inputs_store(request).of([conv.id])).get(conv.id, {})
    items = []
    for field in context.dify(request).user_input_form:
        value = inputs.get(field.variable, "")
        items.append({"id": str(uuid.uuid5(uuid.UUID(conv.id), field.variable)), "name": field.variable,
                      "value_type": "number" if field.kind == "number" else "string",
                      "value": value if isinstance(value, str) else str(value), "description": field.label,
                      "created_at": render.unix(conv.created_at), "updated_at": render.unix(conv.created_at)})
    if wanted:
        items = [i for i in items if i["name"] == wanted]
    if last_id:
        ids = [i["id"] for i in items]
        if last_id not in ids:
            raise NotFound("Last Variable Not Exists.")
        items = items[ids.index(last_id) + 1:]
    return web.json_response({"limit": limit, "has_more": len(items) > limit, "data": items[:limit]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/messages", messages)
    app.router.add_post("/messages/{message_id}/feedbacks", feedbacks)
    app.router.add_get("/messages/{message_id}/suggested", suggested)
    app.router.add_get("/conversations", conversations)
    app.router.add_delete("/conversations/{conversation_id}", delete_conversation)
    app.router.add_post("/conversations/{conversation_id}/delete", delete_conversation)  # pydify's spelling
    app.router.add_post("/conversations/{conversation_id}/name", rename)
    app.router.add_get("/conversations/{conversation_id}/variables", variables)
