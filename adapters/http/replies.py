"""POST /conversations/{id}/messages: the assistant's answer, whole (JSON) or streamed as server-sent events."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import AsyncIterator

from aiohttp import web

from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.errors import correlation_id, error_body
from adapters.http.schemas import DeltaOut, ErrorOut, MessageIn, MessageOut
from adapters.http.tokens import services_of
from core.chat import ReplyDelta, ReplyEvent, ReplyFinished
from core.domain import InboundMessage
from core.errors import DomainError, UpstreamError

log = logging.getLogger(__name__)

# Seconds between `: keep-alive` comments on a quiet stream (proxies close idle connections).
SSE_KEEPALIVE = web.AppKey("sse_keepalive_seconds", float)
DEFAULT_KEEPALIVE = 15.0
# How often a quiet stream checks whether its client is still there.
DISCONNECT_POLL = 1.0
_END = object()


def wants_stream(request: web.Request, body: MessageIn) -> bool:
    return body.stream or "text/event-stream" in request.headers.get("Accept", "")


async def post_message(call: Call) -> MessageOut | web.StreamResponse:
    body: MessageIn = call.body
    services = services_of(call.request)
    conversation = await services.conversations.get(call.user_id, call.path("id"))
    inbound = InboundMessage(user_id=call.user_id, text=body.content, conversation_id=conversation.id,
                             model=body.model, metadata={"channel": "api"})
    events = services.engine.reply(inbound)
    # The first event comes after the quota hold: a refusal is still an ordinary JSON error (402).
    first = await anext(events)
    if wants_stream(call.request, body):
        keepalive = call.request.app.get(SSE_KEEPALIVE, DEFAULT_KEEPALIVE)
        return await stream_reply(call.request, events, keepalive)
    answer = first.message if isinstance(first, ReplyFinished) else None
    async for event in events:  # consumed to the end, so the engine's after-reply work runs
        if isinstance(event, ReplyFinished):
            answer = event.message
    if answer is None:
        raise UpstreamError("The model ended without an answer; you were not charged.")
    return MessageOut.of(answer)


def _event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _pump(events: AsyncIterator[ReplyEvent], queue: asyncio.Queue) -> None:
    try:
        async for event in events:
            queue.put_nowait(event)
    except DomainError as e:
        queue.put_nowait(e)
    except Exception:
        log.exception("reply stream failed")
        queue.put_nowait(UpstreamError("The answer failed; you were not charged."))
    queue.put_nowait(_END)


async def stream_reply(request: web.Request, events: AsyncIterator[ReplyEvent], keepalive: float) -> web.StreamResponse:
    """Relay the engine's events as SSE. If the client goes away the engine's task is cancelled, which
    stops the model call and charges what was generated."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                           "X-Request-Id": correlation_id(request)})
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    task = loop.create_task(_pump(events, queue))
    try:
        await response.prepare(request)
        last_write = loop.time()
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=min(keepalive, DISCONNECT_POLL))
            except asyncio.TimeoutError:
                if _gone(request):
                    raise ConnectionResetError("client went away") from None
                if loop.time() - last_write >= keepalive:
                    await response.write(b": keep-alive\n\n")
                    last_write = loop.time()
                continue
            if item is _END:
                break
            if isinstance(item, ReplyDelta):
                await response.write(_event("delta", DeltaOut(content=item.text).model_dump(mode="json")))
            elif isinstance(item, ReplyFinished):
                await response.write(_event("done", MessageOut.of(item.message).model_dump(mode="json")))
            elif isinstance(item, DomainError):
                await response.write(_event("error", error_body(correlation_id(request), item.status, item.reason,
                                                                item.message)))
            last_write = loop.time()
        await response.write_eof()
    except ConnectionError:
        log.info("SSE client went away (correlationId %s); the reply is cancelled", correlation_id(request))
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await events.aclose()  # a reply never started by the pump is closed (and settled) here
    return response


def install(app: web.Application, prefix: str) -> None:
    add_all(app, prefix, [
        Endpoint("POST", "/conversations/{id}/messages", post_message,
                 "Send a message and get the answer (JSON), or stream it (SSE) with stream: true "
                 "or Accept: text/event-stream", body=MessageIn, response=MessageOut,
                 streams=(("delta", DeltaOut), ("done", MessageOut), ("error", ErrorOut)),
                 tag="conversations"),
    ])
