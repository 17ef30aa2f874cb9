"""An OpenAI-compatible /v1/embeddings server on 127.0.0.1 that can hold requests at a gate (deleting mid-ingest)."""
from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.openai_server import error_body, fake_embedding
from tests.fakes.local import serve_local


class GatedEmbeddings:
    def __init__(self, *, api_key: str = "sk-embed", dimensions: int = 64, open_requests: int | None = None):
        self.api_key = api_key
        self.dimensions = dimensions
        self.open_requests = open_requests  # answer this many at once; later ones wait for release()
        self.requests: list[dict] = []
        self.waiting = asyncio.Event()      # set when a request is held at the gate
        self._gate = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def release(self) -> None:
        self._gate.set()

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(error_body(401), status=401)
        self.requests.append(body)
        if self.open_requests is not None and len(self.requests) > self.open_requests:
            self.waiting.set()
            await self._gate.wait()
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        data = [{"object": "embedding", "index": i, "embedding": fake_embedding(t, self.dimensions)}
                for i, t in enumerate(texts)]
        return web.json_response({"object": "list", "data": data, "model": body["model"],
                                  "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}})

    async def __aenter__(self) -> "GatedEmbeddings":
        app = web.Application()
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner, url = await serve_local(app, shutdown_timeout=0.5, handler_cancellation=True)
        self.base_url = url + "/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
