"""Helpers for the Dify file tests: real image bytes, a config with a vision model, and a local image server."""
from __future__ import annotations

import struct
import zlib
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.e2e.dify_client import APP_KEY
from tests.fakes.local import serve_local
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
async def vision_llm():
    """A fake provider with a text-only `test-model` and `vision-model`, which alone accepts image parts."""
    async with FakeOpenAI(api_key="sk-test", models=["test-model", "vision-model"],
                          vision_models=["vision-model"]) as fake:
        yield fake


def png(width: int = 2, height: int = 2, extra: int = 0) -> bytes:
    """A valid RGB PNG; `extra` bytes of a private chunk make it as large as a test needs."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows))
    if extra:
        body += chunk(b"prVt", b"\x00" * extra)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def two_models(base_url: str, *, default: str = "vision-model", vision_model: str | None = None) -> dict:
    """An llm section with a text-only `test-model` and `vision-model` (vision: true) at one provider."""
    models = [{"name": "test-model", "input_weight": 1.0, "output_weight": 2.0, "context_window": 8192,
               "max_output_tokens": 100},
              {"name": "vision-model", "input_weight": 2.0, "output_weight": 4.0, "context_window": 8192,
               "max_output_tokens": 100, "vision": True}]
    llm: dict[str, Any] = {"default_model": default, "providers": [{
        "name": "fake", "base_url": base_url, "api_key": "sk-test", "timeout_seconds": 10, "models": models}]}
    if vision_model:
        llm["vision_model"] = vision_model
    return llm


def vision_sections(base_url: str, **changes: Any) -> dict:
    """Config sections for image tests: two_models(...) and a grant that covers holds for an image (765 tokens)."""
    return {"llm": two_models(base_url, **changes), "quota": {"signup_grant": 100_000}}


async def upload(http: aiohttp.ClientSession, base_url: str, user: str | None, *files: tuple[str, bytes, str],
                 key: str = APP_KEY) -> tuple[int, dict]:
    """POST /dify/v1/files/upload as multipart: each (filename, bytes, content type) as a `file` part."""
    form = aiohttp.FormData()
    for name, data, kind in files:
        form.add_field("file", data, filename=name, content_type=kind)
    if user is not None:
        form.add_field("user", user)
    async with http.post(f"{base_url}/dify/v1/files/upload", data=form,
                         headers={"Authorization": f"Bearer {key}"}) as resp:
        return resp.status, await resp.json()


class ImageServer:
    """A web server on 127.0.0.1 with a picture and a page, counting the requests it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> "ImageServer":
        async def serve(request: web.Request) -> web.Response:
            self.hits.append(request.path)
            if request.path == "/cat.png":
                return web.Response(body=png(3, 3), content_type="image/png")
            return web.Response(text="<html><body>not a picture</body></html>", content_type="text/html")

        app = web.Application()
        app.router.add_get("/{name}", serve)
        self._runner, self.base_url = await serve_local(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
