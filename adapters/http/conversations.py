"""Conversations, their stored messages and feedback; posting a message lives in replies.py."""
from __future__ import annotations

from aiohttp import web

from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.schemas import (
    ConversationDetailOut, ConversationIn, ConversationOut, FeedbackIn, ListQuery, MessageOut, PageOut,
)
from adapters.http.keys import services_of
from core.errors import InvalidRequest, NotFound

DETAIL_MESSAGES = 100


def _known_model(call: Call, name: str | None) -> None:
    if name:
        services_of(call.request).catalog.get(name)  # InvalidRequest unknown_model, naming the models offered


async def _known_role(call: Call, name: str | None) -> None:
    if name:
        try:
            await services_of(call.request).conversations.role(name)
        except NotFound as e:
            raise InvalidRequest(f"role: {e.message}", reason="unknown_role") from None


def _changes(body: ConversationIn) -> dict:
    fields = body.model_dump(exclude_unset=True)
    if "title" in fields:
        fields["title"] = fields["title"] or ""
    if "resource_ids" in fields:
        fields["resource_ids"] = tuple(fields["resource_ids"] or ())
    return fields


async def list_conversations(call: Call) -> PageOut[ConversationOut]:
    q: ListQuery = call.query
    page = await services_of(call.request).conversations.list(call.user_id, q.limit, q.cursor)
    return PageOut[ConversationOut](data=[ConversationOut.of(c) for c in page.items], cursor=page.cursor,
                                    has_more=page.has_more)


async def create_conversation(call: Call) -> ConversationOut:
    body: ConversationIn = call.body
    await _known_role(call, body.role)
    _known_model(call, body.model)
    conv = await services_of(call.request).conversations.create(call.user_id, **_changes(body))
    return ConversationOut.of(conv)


async def get_conversation(call: Call) -> ConversationDetailOut:
    services = services_of(call.request)
    conv = await services.conversations.get(call.user_id, call.path("id"))
    messages = await services.messages.recent(conv.id, 0, DETAIL_MESSAGES)
    return ConversationDetailOut(**ConversationOut.of(conv).model_dump(), messages=[MessageOut.of(m) for m in messages])


async def update_conversation(call: Call) -> ConversationOut:
    body: ConversationIn = call.body
    await _known_role(call, body.role)
    _known_model(call, body.model)
    conversations = services_of(call.request).conversations
    changes = _changes(body)
    if not changes:
        return ConversationOut.of(await conversations.get(call.user_id, call.path("id")))
    return ConversationOut.of(await conversations.update(call.user_id, call.path("id"), **changes))


async def delete_conversation(call: Call) -> None:
    from adapters.http.attachments import media

    services = services_of(call.request)
    await services.conversations.get(call.user_id, call.path("id"))
    await media(call.request).forget_conversation(call.user_id, call.path("id"))  # its files go with it
    await services.conversations.delete(call.user_id, call.path("id"))


async def list_messages(call: Call) -> PageOut[MessageOut]:
    q: ListQuery = call.query
    page = await services_of(call.request).conversations.messages(call.user_id, call.path("id"), q.limit, q.cursor)
    return PageOut[MessageOut](data=[MessageOut.of(m) for m in page.items], cursor=page.cursor,
                               has_more=page.has_more)


async def get_message(call: Call) -> MessageOut:
    conversations = services_of(call.request).conversations
    await conversations.get(call.user_id, call.path("id"))
    return MessageOut.of(await conversations.message(call.user_id, call.path("mid"), call.path("id")))


async def delete_message(call: Call) -> None:
    await services_of(call.request).conversations.delete_message(call.user_id, call.path("id"), call.path("mid"))


async def feedback(call: Call) -> None:
    body: FeedbackIn = call.body
    await services_of(call.request).conversations.feedback(call.user_id, call.path("mid"), body.rating)


def install(app: web.Application, prefix: str) -> None:
    tag = "conversations"
    one = "/conversations/{id}"
    add_all(app, prefix, [
        Endpoint("GET", "/conversations", list_conversations, "Your conversations, newest first", query=ListQuery,
                 response=PageOut[ConversationOut], tag=tag),
        Endpoint("POST", "/conversations", create_conversation, "Start a conversation", body=ConversationIn,
                 body_required=False, response=ConversationOut, status=201, tag=tag),
        Endpoint("GET", one, get_conversation, "A conversation with its latest messages",
                 response=ConversationDetailOut, tag=tag),
        Endpoint("PATCH", one, update_conversation, "Change a conversation's title, instruction, role, resources or model",
                 body=ConversationIn, response=ConversationOut, tag=tag),
        Endpoint("DELETE", one, delete_conversation, "Delete a conversation and its messages", status=204, tag=tag),
        Endpoint("GET", one + "/messages", list_messages, "A conversation's messages, oldest first",
                 query=ListQuery, response=PageOut[MessageOut], tag=tag),
        Endpoint("GET", one + "/messages/{mid}", get_message, "One message", response=MessageOut, tag=tag),
        Endpoint("DELETE", one + "/messages/{mid}", delete_message, "Delete one message", status=204, tag=tag),
        Endpoint("POST", "/messages/{mid}/feedback", feedback, "Rate an answer: 1, -1, or 0 to clear",
                 body=FeedbackIn, status=204, tag=tag),
    ])
