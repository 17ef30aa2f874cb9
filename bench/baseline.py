"""The bare baseline: a minimal aiohttp handler that only calls the model server through the openai SDK.

    python -m bench.baseline --model-url http://127.0.0.1:PORT/v1

POST /chat `{"content": "...", "stream": false}` answers `{"content": ...}`; with `"stream": true` it
answers SSE `event: delta` ... `event: done`, like the platform. The model call is the platform's own code
(adapters/llm/openai_chat.py: the openai SDK over its aiohttp transport, stream=True with usage,
max_tokens), so the difference to the platform is everything but the model call.
Prints `READY <url>` when it listens.
"""
from __future__ import annotations

import argparse
import json

from aiohttp import web

from adapters.llm.openai_chat import OpenAIChatModel, Provider
from core.domain import ChatTurn
from core.ports import ModelRequest, TextDelta

CLIENT = web.AppKey("client", OpenAIChatModel)


async def _stream(request: web.Request, content: str):
    model = request.app[CLIENT]
    async for chunk in model.stream(ModelRequest(request.app["model"], (ChatTurn("user", content),), 256)):
        if isinstance(chunk, TextDelta):
            yield chunk.text


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    content = str(body.get("content", ""))
    if not body.get("stream"):
        parts = [text async for text in _stream(request, content)]
        return web.json_response({"role": "assistant", "content": "".join(parts)})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    parts = []
    async for text in _stream(request, content):
        parts.append(text)
        await response.write(f"event: delta\ndata: {json.dumps({'content': text})}\n\n".encode())
    done = json.dumps({"role": "assistant", "content": "".join(parts)})
    await response.write(f"event: done\ndata: {done}\n\n".encode())
    await response.write_eof()
    return response


def create_app(model_url: str, api_key: str, model: str) -> web.Application:
    app = web.Application()
    app["model"] = model

    async def client_ctx(app: web.Application):
        app[CLIENT] = OpenAIChatModel([Provider("bench", model_url, api_key, 60, (model,))])
        yield
        await app[CLIENT].close()

    app.cleanup_ctx.append(client_ctx)
    app.router.add_post("/chat", chat)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-url", required=True)
    parser.add_argument("--api-key", default="sk-bench")
    parser.add_argument("--model", default="bench-model")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(args.model_url, args.api_key, args.model), host="127.0.0.1", port=args.port,
                access_log=None, print=lambda _: print(f"READY http://127.0.0.1:{args.port}", flush=True))


if __name__ == "__main__":
    main()
