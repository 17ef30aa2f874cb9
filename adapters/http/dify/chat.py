"""POST /chat-messages (blocking JSON or streaming SSE) and POST /chat-messages/{task_id}/stop."""
from __future__ import annotations

import json
import uuid

from aiohttp import web

from adapters.http.dify import context, render
from adapters.http.dify.errors import DifyError, domain_error_body
from adapters.http.dify.files import chat_images
from adapters.http.dify.inputs import fill_inputs, render_instruction
from adapters.http.dify.requests import ChatRequest, UserOnly, app_key, end_user, json_object, parse, uuid_or_none
from adapters.http.dify.tasks import ReplyRun
from core.domain import InboundMessage, Message
from core.errors import DomainError, InvalidRequest, NotFound
from core.files import StoredFile
from core.reply_stream import ReplyDone, ReplyFailed, ReplyGrew, ReplyOpened

_EXCHANGE = web.RequestKey("dify_new_exchange", object)
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
               "X-Accel-Buffering": "no"}


def _services(request: web.Request):
    return context.services(request)


def _ping_interval(request: web.Request) -> float:
    return context.dify(request).ping_interval_seconds


def _metadata(request: web.Request, message: Message, latency: float) -> dict:
    return render.metadata(message, context.pricing(request), context.dify(request).dataset_name, latency)


def _as_dify_error(failed: ReplyFailed) -> DomainError:
    """What the client is told about a reply that failed (the engine's own errors are kept; an unexpected
    failure, already logged by the reply reader, is Dify's internal error)."""
    if isinstance(failed.cause, NotFound):
        return NotFound("Conversation Not Exists.")
    if failed.cause is not None:
        return failed.cause
    return DomainError("Internal Server Error, please contact support.", reason="internal_server_error", status=500)


class _NewExchange:
    """What a reply leaves besides the engine's own records: the files its question carried and, when it starts
    a conversation, the inputs that conversation keeps."""

    def __init__(self, request: web.Request, files: list[StoredFile], inputs: dict | None):
        self.request = request
        self.files = files
        self.inputs = inputs
        self.done = False

    async def started(self, opened: ReplyOpened) -> None:
        if self.done:
            return
        self.done = True
        await context.files(self.request).attach(opened.question_id, [f.id for f in self.files])
        if self.inputs is not None:
            await context.inputs_store(self.request).put(opened.conversation_id, self.inputs)


async def chat_messages(request: web.Request) -> web.StreamResponse:
    fingerprint = app_key(request)
    body = parse(ChatRequest, await json_object(request))
    who = await end_user(request, fingerprint, body.user)
    services = _services(request)
    if not services.catalog.names():
        raise DifyError(400, "provider_not_initialize",
                        "No model provider is configured: the operator must add one under llm.providers.")
    conversation_id = uuid_or_none(body.conversation_id, "conversation_id")
    dify = context.dify(request)
    inputs: dict | None = None
    instruction: str | None = None
    if conversation_id is None:
        # Like Dify, a conversation keeps the inputs it was started with; later ones are ignored.
        inputs = fill_inputs(dify.user_input_form, body.inputs)
        instruction = render_instruction(dify.instruction, inputs) if dify.instruction else None
    files = await chat_images(request, who, body.files)
    images = await context.files(request).image_parts(who.user_id, [f.id for f in files])
    inbound = InboundMessage(who.user_id, body.query, conversation_id=conversation_id, images=images,
                             instruction=instruction)
    run = ReplyRun(services.engine, inbound, task_id=str(uuid.uuid4()))
    request[_EXCHANGE] = _NewExchange(request, files, inputs)
    context.dify_services(request).tasks.start(run, who.user_id)
    try:
        if body.response_mode == "streaming":
            return await _stream(request, run, who.user_id)
        return await _blocking(request, run, who.user_id)
    finally:
        # The client went away (or we failed): stop the model; the engine charges what was generated.
        await run.cancel_and_wait()


async def _stopped_message(request: web.Request, run: ReplyRun, user_id: str) -> Message | None:
    """The reply as stored after a stop (status 'cancelled', charged for what was generated)."""
    if run.started is None:
        return None
    return await _services(request).conversations.message(user_id, run.started.message_id)


async def _blocking(request: web.Request, run: ReplyRun, user_id: str) -> web.Response:
    message: Message | None = None
    async for update in run.events():
        if isinstance(update, ReplyOpened):
            await request[_EXCHANGE].started(update)
        if isinstance(update, ReplyDone):
            message = update.message
    if run.failure is not None:
        raise _as_dify_error(run.failure)
    if run.stopped:
        message = await _stopped_message(request, run, user_id)
    if message is None or run.started is None:
        raise InvalidRequest("The reply was stopped before it began.", reason="stopped")
    return web.json_response({
        "event": "message", "task_id": run.task_id, "id": message.id, "message_id": message.id,
        "conversation_id": message.conversation_id, "mode": "chat", "answer": message.content,
        "metadata": _metadata(request, message, run.elapsed()),
        "created_at": render.unix(run.started.asked_at)})


class _SSE:
    """The event stream, opened lazily so that errors before the first event stay plain HTTP errors."""

    def __init__(self, request: web.Request, run: ReplyRun):
        self.request = request
        self.run = run
        self.response: web.StreamResponse | None = None

    async def open(self) -> web.StreamResponse:
        if self.response is None:
            self.response = web.StreamResponse(headers=SSE_HEADERS)
            await self.response.prepare(self.request)
        return self.response

    def ids(self) -> dict:
        started = self.run.started
        if started is None:
            return {"task_id": self.run.task_id, "message_id": None, "conversation_id": None,
                    "created_at": None}
        return {"task_id": self.run.task_id, "message_id": started.message_id,
                "conversation_id": started.conversation_id, "created_at": render.unix(started.asked_at)}

    async def send(self, payload: dict) -> None:
        response = await self.open()
        await response.write(f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode())

    async def ping(self) -> None:
        response = await self.open()
        await response.write(b"event: ping\n\n")

    async def message_end(self, message: Message) -> None:
        await self.send({"event": "message_end", **self.ids(), "id": message.id,
                         "metadata": _metadata(self.request, message, self.run.elapsed())})


async def _stream(request: web.Request, run: ReplyRun, user_id: str) -> web.StreamResponse:
    sse = _SSE(request, run)
    ended = False
    try:
        async for update in run.events(ping_every=_ping_interval(request)):
            if update is None:
                await sse.ping()
            elif isinstance(update, ReplyOpened):
                await request[_EXCHANGE].started(update)
                await sse.open()
            elif isinstance(update, ReplyGrew):
                ids = sse.ids()
                await sse.send({"event": "message", **ids, "id": ids["message_id"], "answer": update.delta})
            elif isinstance(update, ReplyDone):
                await sse.message_end(update.message)
                ended = True
        if run.failure is not None:
            error = _as_dify_error(run.failure)
            if sse.response is None:
                raise error
            await sse.send({"event": "error", **sse.ids(), **domain_error_body(error)})
        elif run.stopped and not ended:
            message = await _stopped_message(request, run, user_id)
            if message is not None:
                await sse.message_end(message)
        response = await sse.open()
        await response.write_eof()
        return response
    except ConnectionResetError:
        # The client hung up; `finally` in chat_messages stops the model. Nothing more to say to anyone.
        assert sse.response is not None
        return sse.response


async def stop(request: web.Request) -> web.Response:
    fingerprint = app_key(request)
    body = parse(UserOnly, await json_object(request))
    who = await end_user(request, fingerprint, body.user)
    # Like Dify, the answer is the same whether or not such a task was running for this user.
    await context.dify_services(request).tasks.stop(request.match_info["task_id"], who.user_id)
    return web.json_response({"result": "success"})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/chat-messages", chat_messages)
    app.router.add_post("/chat-messages/{task_id}/stop", stop)
