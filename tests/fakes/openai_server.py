"""A local OpenAI-compatible server for tests: real HTTP, real SSE, scriptable replies and failures.

    async with FakeOpenAI(api_key="sk-test") as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
        fake.script(reply="Hello there", chunk_chars=5)       # the next chat call only
        fake.default = Script(first_delay=0.1)               # every call without a queued script
        ...
        assert fake.chat_requests[0]["max_tokens"] == 100

Token accounting is simple and exact, so ledger tests can compute costs: the reply is sent in
chunks of `chunk_chars` characters and each chunk counts as one completion token;
prompt_tokens is (total characters of all message contents) // 4 + 1. Both can be scripted.
A reply longer than `max_tokens` chunks is truncated there with finish_reason "length".
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from typing import Iterable

from aiohttp import web

from tests.fakes.local import serve_local


@dataclass(frozen=True)
class Script:
    """How the server answers one chat completion call."""

    reply: str | None = None              # None: "Echo: <last user message>"
    chunk_chars: int = 4                  # characters per streamed chunk (= per completion token)
    first_delay: float = 0.0              # seconds before the response headers
    chunk_delay: float = 0.0              # seconds between content chunks
    status: int | None = None             # answer with this HTTP error instead (401, 429, 500, ...)
    retry_after: int | None = None        # Retry-After header sent with a status failure
    cut_after: int | None = None          # stream N content chunks, then drop the connection
    garbage_after: int | None = None      # stream N content chunks, then a chunk that is not JSON
    error_after: int | None = None        # stream N content chunks, then an `error` event (as OpenAI does), end
    omit_usage: bool = False              # never send usage, even when include_usage is asked
    prompt_tokens: int | None = None      # override the computed usage
    completion_tokens: int | None = None
    gate: asyncio.Event | None = None     # after `gate_after` content chunks, wait until the test sets this event
    gate_after: int = 1
    drop: bool = False                    # close the connection without answering (a reset before any byte)


_ERRORS = {
    400: ("invalid_request_error", "invalid_request", "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Permission denied."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: ("server_error", "server_error", "The server had an error while processing your request."),
    503: ("server_error", "service_unavailable", "The engine is currently overloaded, please try again later."),
}


def error_body(status: int, message: str | None = None) -> dict:
    kind, code, default = _ERRORS.get(status, ("server_error", "server_error", "Error."))
    return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}


IMAGE_TOKENS = 85  # what each image part adds to the fake's prompt_tokens (OpenAI's low-detail price)


def prompt_tokens_of(messages: list[dict]) -> int:
    """The fake's deterministic prompt token count (text characters // 4 + 1, plus IMAGE_TOKENS an image)."""
    return sum(len(_text(m.get("content"))) for m in messages) // 4 + 1 + IMAGE_TOKENS * len(images_of(messages))


def images_of(messages: list[dict]) -> list[dict]:
    """The image_url parts of a request's messages ({"url": ..., "detail": ...}), in order."""
    return [p["image_url"] for m in messages if isinstance(m.get("content"), list)
            for p in m["content"] if isinstance(p, dict) and p.get("type") == "image_url"]


def _bad_image(messages: list[dict]) -> str | None:
    """What OpenAI says of an image part it cannot use (only data: URLs of PNG, JPEG, GIF or WebP here)."""
    for image in images_of(messages):
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str) or not url.startswith(("data:image/png;base64,", "data:image/jpeg;base64,",
                                                          "data:image/gif;base64,", "data:image/webp;base64,")):
            return "Invalid image_url: expected a base64 data URL of a PNG, JPEG, GIF or WebP image."
        try:
            base64.b64decode(url.split(",", 1)[1], validate=True)
        except ValueError:
            return "Invalid image data: the base64 payload does not decode."
    return None


def fake_embedding(text: str, dimensions: int = 64) -> list[float]:
    """A deterministic unit vector derived from a hash of the text."""
    raw = b""
    counter = 0
    while len(raw) < dimensions * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    values = [v / 2**31 for v in struct.unpack(f"<{dimensions}i", raw[: dimensions * 4])]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


def _text(content: object) -> str:
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


class FakeOpenAI:
    """POST /v1/chat/completions (streaming and not) and POST /v1/embeddings on 127.0.0.1."""

    def __init__(self, *, api_key: str = "sk-test", models: Iterable[str] | None = None, dimensions: int = 64,
                 default: Script | None = None, vision_models: Iterable[str] = ()):
        self.api_key = api_key
        self.models = set(models) if models is not None else None  # None: any model name is accepted
        self.vision_models = set(vision_models)  # the models that accept image_url parts (400 for the others)
        self.dimensions = dimensions
        self.default = default or Script()
        self.received: list[tuple[str, dict]] = []  # (path, parsed body) of every request, in order
        self.keys: set[str] = set()  # more API keys accepted besides api_key (users' own keys)
        self.authorizations: list[str] = []  # the API key each request carried, in order
        self._scripts: deque[Script] = deque()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- scripting -------------------------------------------------------------------------

    def script(self, script: Script | None = None, **changes: object) -> None:
        """Queue the behaviour of the next chat call: a Script, or fields changed from the default."""
        self._scripts.append(replace(script or self.default, **changes))

    @property
    def requests(self) -> list[dict]:
        """Parsed JSON bodies of every request received (chat and embeddings)."""
        return [body for _, body in self.received]

    @property
    def chat_requests(self) -> list[dict]:
        return [body for path, body in self.received if path.endswith("/chat/completions")]

    @property
    def transcription_requests(self) -> list[dict]:
        """What each /audio/transcriptions call sent: model, filename, response_format, and what the audio was."""
        return [body for path, body in self.received if path.endswith("/audio/transcriptions")]

    @property
    def embedding_requests(self) -> list[dict]:
        return [body for path, body in self.received if path.endswith("/embeddings")]

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> "FakeOpenAI":
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        # handler_cancellation: a client that gives up (a timeout test) must not leave a sleeping handler.
        self._runner, url = await serve_local(app, shutdown_timeout=0.5, handler_cancellation=True)
        self.base_url = url + "/v1"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeOpenAI":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- handlers --------------------------------------------------------------------------

    async def _receive(self, request: web.Request) -> dict | web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        self.received.append((request.path, body))
        if not self._authorized(request):
            return web.json_response(error_body(401), status=401)
        if not isinstance(body, dict) or "model" not in body:
            return web.json_response(error_body(400, "you must provide a model parameter"), status=400)
        if self.models is not None and body["model"] not in self.models:
            return web.json_response(error_body(404, f"The model `{body['model']}` does not exist."), status=404)
        return body

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._receive(request)
        if isinstance(body, web.Response):
            return body
        script = self._scripts.popleft() if self._scripts else self.default
        if script.first_delay:
            await asyncio.sleep(script.first_delay)
        if script.drop:
            if request.transport is not None:
                request.transport.close()
            return web.Response()  # never sent: the connection is gone
        if script.status:
            headers = {"Retry-After": str(script.retry_after)} if script.retry_after is not None else None
            return web.json_response(error_body(script.status), status=script.status, headers=headers)

        messages = body.get("messages") or []
        if images_of(messages):
            problem = (_bad_image(messages) if body["model"] in self.vision_models else
                       "Invalid content type. image_url is only supported by certain models.")
            if problem:
                return web.json_response(error_body(400, problem), status=400)
        last_user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        reply = script.reply if script.reply is not None else f"Echo: {last_user}"
        size = max(1, script.chunk_chars)
        chunks = [reply[i:i + size] for i in range(0, len(reply), size)]
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if limit is not None and len(chunks) > limit:
            chunks, finish = chunks[:limit], "length"
        usage = {"prompt_tokens": script.prompt_tokens if script.prompt_tokens is not None else prompt_tokens_of(messages),
                 "completion_tokens": script.completion_tokens if script.completion_tokens is not None else len(chunks)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": body["model"],
                "system_fingerprint": "fp_fake"}

        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(chunks), "refusal": None}
            return web.json_response({**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]})

        with_usage = bool((body.get("stream_options") or {}).get("include_usage")) and not script.omit_usage
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(choices: list, **extra: object) -> None:
            chunk = {**base, "object": "chat.completion.chunk", "choices": choices, **extra}
            if with_usage:
                chunk.setdefault("usage", None)
            await response.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())

        def choice(delta: dict, finish_reason: str | None = None) -> list:
            return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

        await send(choice({"role": "assistant", "content": "", "refusal": None}))
        for n, text in enumerate(chunks):
            if n == script.cut_after:
                return self._drop(request, response)
            if n == script.error_after:
                error = error_body(500, "The server had an error while processing your request.")
                await response.write(f"data: {json.dumps(error)}\n\n".encode())
                await response.write_eof()
                return response
            if n == script.garbage_after:
                await response.write(b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"cont\n\n')
                continue
            if script.chunk_delay and n:
                await asyncio.sleep(script.chunk_delay)
            if script.gate is not None and n == script.gate_after:
                await script.gate.wait()
            await send(choice({"content": text}))
        if script.cut_after is not None and script.cut_after >= len(chunks):
            return self._drop(request, response)
        await send(choice({}, finish))
        if with_usage:
            await send([], usage=usage)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _authorized(self, request: web.Request) -> bool:
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.authorizations.append(key)
        return key == self.api_key or key in self.keys

    async def _models(self, request: web.Request) -> web.Response:
        """GET /v1/models: how a client checks a key (401 for a wrong one)."""
        self.received.append((request.path, {}))
        if not self._authorized(request):
            return web.json_response(error_body(401), status=401)
        names = sorted(self.models) if self.models is not None else ["gpt-4o-mini"]
        return web.json_response({"object": "list", "data": [
            {"id": n, "object": "model", "created": 0, "owned_by": "fake"} for n in names]})

    @staticmethod
    def _drop(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        # Close the socket mid-body (no terminating chunk): the client sees an incomplete message.
        response.force_close()
        if request.transport is not None:
            request.transport.close()
        return response

    async def _transcriptions(self, request: web.Request) -> web.Response:
        """POST /v1/audio/transcriptions (multipart `file`, `model`, `response_format`): the transcript says what the
        audio is, "a 440 Hz tone for 2.0 seconds", so a test knows what must have been heard (tests/fakes/audio.py)."""
        from tests.fakes.audio import TRANSCRIBED_FORMATS, describe

        fields: dict = {}
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if part.name == "file":
                    fields["filename"] = part.filename or ""
                    fields["data"] = await part.read()
                else:
                    fields[part.name] = (await part.text()).strip()
        except (ValueError, AssertionError):
            return web.json_response(error_body(400, "The body must be multipart/form-data."), status=400)
        data = fields.pop("data", None)
        self.received.append((request.path, {**fields, "bytes": len(data or b"")}))
        if not self._authorized(request):
            return web.json_response(error_body(401), status=401)
        if not fields.get("model"):
            return web.json_response(error_body(400, "you must provide a model parameter"), status=400)
        if self.models is not None and fields["model"] not in self.models:
            return web.json_response(error_body(404, f"The model `{fields['model']}` does not exist."), status=404)
        if not data:
            return web.json_response(error_body(400, "Missing file: 'file' is required."), status=400)
        extension = fields.get("filename", "").rsplit(".", 1)[-1].lower()
        if extension not in TRANSCRIBED_FORMATS:
            return web.json_response(error_body(400, f"Invalid file format. Supported formats: "
                                                     f"{sorted(TRANSCRIBED_FORMATS)}"), status=400)
        heard = await describe(data)
        if heard is None:
            return web.json_response(error_body(400, "Audio file might be corrupted or unsupported"), status=400)
        text, seconds = heard
        self.received[-1][1].update(text=text, seconds=seconds)
        if fields.get("response_format") == "verbose_json":
            return web.json_response({"task": "transcribe", "language": "english", "duration": seconds,
                                      "text": text, "segments": []})
        if fields.get("response_format") == "text":
            return web.Response(text=text)
        return web.json_response({"text": text})

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await self._receive(request)
        if isinstance(body, web.Response):
            return body
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else [str(i) for i in inputs or []]
        dimensions = body.get("dimensions") or self.dimensions
        data = []
        for index, text in enumerate(texts):
            vector = fake_embedding(text, dimensions)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(len(t) // 4 + 1 for t in texts)
        return web.json_response({"object": "list", "data": data, "model": body["model"],
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
