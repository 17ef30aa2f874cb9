"""The bare baseline: a minimal aiohttp handler that only calls the model server through the openai SDK.

    python -m bench.baseline --model-url http://127.0.0.1:PORT/v1

POST /chat `{"content": "...", "stream": false}` answers `{"content": ...}`; with `"stream": true` it
answers SSE `event: delta` ... `event: done`, like the platform. The model call is the platform's own
(stream=True with usage, max_tokens), so the difference to the platform is everything but the model.
Prints `READY <url>` when it listens.
"""
from __future__ import annotations

import argparse
import json

import openai
from aiohttp import web

CLIENT = web.AppKey("client", openai.AsyncOpenAI)


async def _stream(request: web.Request, content: str):
    client = request.app[CLIENT]
    stream = await client.chat.completions.create(
        model=request.app["model"], messages=[{"role": "user", "content": content}], max_tokens=256,
        stream=True, stream_options={"include_usage": True})
    async with stream:
        async for chunk in stream:
            for choice in chunk.choices[:1]:
                if choice.delta is not None and choice.delta.content:
                    yield choice.delta.content


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
        app[CLIENT] = openai.AsyncOpenAI(base_url=model_url, api_key=api_key, max_retries=0, timeout=60)
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
