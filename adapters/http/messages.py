"""POST /conversations/{id}/messages: the assistant's answer, whole (JSON) or streamed as server-sent events;
GET .../messages/{mid}/events resumes a stream after Last-Event-ID."""
from __future__ import annotations

import logging

from aiohttp import web
from pydantic import BaseModel, Field

from adapters.http.attachments import prepare_message
from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.errors import correlation_id
from adapters.http.schemas import DeltaOut, ErrorOut, MessageIn, MessageOut
from adapters.http.streams import SSE_HEADERS, ReplyStreams
from adapters.http.keys import SERVICES, SETTINGS, services_of
from core.domain import InboundMessage
from core.errors import DomainError, InvalidRequest, NotFound
from core.reply_stream import ReplyDone, ReplyFailed, ReplyOpened, follow_reply

log = logging.getLogger(__name__)

# Seconds between `: keep-alive` comments on a quiet stream (proxies close idle connections).
SSE_KEEPALIVE = web.AppKey("sse_keepalive_seconds", float)
DEFAULT_KEEPALIVE = 15.0


def wants_stream(request: web.Request, body: MessageIn) -> bool:
    return body.stream or "text/event-stream" in request.headers.get("Accept", "")


def _keepalive(request: web.Request) -> float:
    return request.app.get(SSE_KEEPALIVE, DEFAULT_KEEPALIVE)


async def post_message(call: Call) -> MessageOut | web.StreamResponse:
    body: MessageIn = call.body
    services = services_of(call.request)
    # The engine loads the conversation and answers 404 for another user's (before holding anything).
    inbound = InboundMessage(user_id=call.user_id, text=body.content, conversation_id=call.path("id"),
                             model=body.model, metadata={"channel": "api"})
    # Attachments: images as parts, audio transcribed (and charged), documents indexed (adapters/http/attachments.py).
    inbound, prepared = await prepare_message(call, inbound, body.attachment_ids)
    updates = follow_reply(services.engine.reply(inbound))
    # The first update comes after the quota hold: a refusal is still an ordinary JSON error (402).
    first = await anext(updates)
    if prepared is not None and isinstance(first, ReplyOpened):
        await services.files.attach(first.question_id, prepared.file_ids)
    if wants_stream(call.request, body) and isinstance(first, ReplyOpened):
        streams: ReplyStreams = services.streams
        await streams.start(first, call.user_id, updates, correlation_id(call.request))
        return await streams.relay(call.request, first.message_id, 0, _keepalive(call.request))
    outcome = first
    async for update in updates:  # read to the end, so the engine's after-reply work runs
        outcome = update
    if isinstance(outcome, ReplyFailed):
        raise failure(outcome)
    assert isinstance(outcome, ReplyDone)
    return MessageOut.of(outcome.message)


def failure(failed: ReplyFailed) -> DomainError:
    """A failed answer as the error the middleware renders (the contract's body, a limit's Retry-After)."""
    return failed.cause or DomainError(failed.detail, reason=failed.reason, status=failed.status)


class ResumeQuery(BaseModel):
    after: int | None = Field(None, ge=0, description="resume after this event id (instead of Last-Event-ID)")


def _last_event_id(call: Call) -> int:
    q: ResumeQuery = call.query
    if q.after is not None:
        return q.after
    raw = call.request.headers.get("Last-Event-ID", "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        raise InvalidRequest("Last-Event-ID must be the id of an event of this stream (a number).",
                             reason="invalid_last_event_id")
    return int(raw)


async def resume_events(call: Call) -> web.StreamResponse:
    """The stream of an answer from event `Last-Event-ID` on; a finished answer no longer held gives `done`."""
    services = services_of(call.request)
    conversation = await services.conversations.get(call.user_id, call.path("id"))
    mid = call.path("mid")
    after = _last_event_id(call)
    streams: ReplyStreams = services.streams
    meta = await streams.meta(mid)
    if meta is not None and meta.get("conversation_id") == conversation.id and meta.get("user_id") == call.user_id:
        return await streams.relay(call.request, mid, after, _keepalive(call.request))
    try:
        message = await services.conversations.message(call.user_id, mid, conversation.id)
    except NotFound:
        message = None
    if message is None or message.role != "assistant":
        raise NotFound("No such answer stream: it is unknown, or it is being written on another worker and "
                       "no shared Redis is configured.")
    response = web.StreamResponse(headers={**SSE_HEADERS, "X-Message-Id": mid,
                                           "X-Request-Id": correlation_id(call.request)})
    await response.prepare(call.request)
    data = MessageOut.of(message).model_dump_json()
    await response.write(f"event: done\ndata: {data}\n\n".encode())
    await response.write_eof()
    return response


async def stop_reply(call: Call) -> None:
    """Stop an answer being streamed (the X-Message-Id of its stream); 204 whether or not it was still running."""
    services = services_of(call.request)
    await services.conversations.get(call.user_id, call.path("id"))   # another user's conversation: 404
    await services.streams.stop(call.path("mid"), call.user_id)


async def drain_streams(app: web.Application) -> None:
    """On shutdown: the answers being streamed get up to server.shutdown_grace_seconds to finish."""
    if SERVICES in app:
        await app[SERVICES].streams.drain(app[SETTINGS].shutdown_grace_seconds)


def install(app: web.Application, prefix: str) -> None:
    app.on_shutdown.append(drain_streams)
    sse = (("delta", DeltaOut), ("done", MessageOut), ("error", ErrorOut))
    add_all(app, prefix, [
        Endpoint("POST", "/conversations/{id}/messages", post_message,
                 "Send a message and get the answer (JSON), or stream it (SSE) with stream: true "
                 "or Accept: text/event-stream", body=MessageIn, response=MessageOut, streams=sse,
                 tag="conversations"),
        Endpoint("GET", "/conversations/{id}/messages/{mid}/events", resume_events,
                 "Resume an answer's event stream after Last-Event-ID (or ?after=); `mid` is the X-Message-Id "
                 "header of the stream", query=ResumeQuery, streams=sse, tag="conversations"),
        Endpoint("POST", "/conversations/{id}/messages/{mid}/stop", stop_reply,
                 "Stop an answer being streamed; what was generated is kept (status cancelled) and charged",
                 status=204, tag="conversations"),
    ])
