"""Shared set-up for the media tests: a fake provider with a text model, a vision model and a speech model, a
config with llm.speech and media limits, and uploads through POST /api/v1/attachments."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import make_config
from tests.e2e.dify_media import two_models
from tests.fakes.openai_server import FakeOpenAI

SPEECH_WEIGHT = 3   # tokens per second of audio


@pytest.fixture
async def media_llm():
    """`test-model` (text only), `vision-model` (reads images) and `whisper-1` (/audio/transcriptions)."""
    async with FakeOpenAI(api_key="sk-test", models=["test-model", "vision-model", "whisper-1"],
                          vision_models=["vision-model"]) as fake:
        yield fake


def media_config(tmp_path: Path, base_url: str, *, vision_model: str | None = "vision-model", speech: bool = True,
                 grant: int = 100_000, media: dict | None = None, **sections: Any):
    llm = two_models(base_url, default="test-model", vision_model=vision_model)
    llm["retry"] = {"attempts": 1}
    if speech:
        llm["speech"] = {"provider": "fake", "model": "whisper-1", "weight_per_second": SPEECH_WEIGHT}
    return make_config(tmp_path, base_url, llm=llm, quota={"signup_grant": grant},
                       media={"folder": str(tmp_path / "media"), "max_audio_seconds": 300, **(media or {})},
                       **sections)


def stored_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "media"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


async def attach(user, name: str, data: bytes, content_type: str = "application/octet-stream"):
    """POST /api/v1/attachments with one `file` part."""
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type=content_type)
    return await user.call("POST", "/attachments", data=form)


async def ledger(user) -> list[dict]:
    return (await user.get("/me/ledger", params={"limit": "100"})).body["data"]


async def me(user) -> dict:
    return (await user.get("/me")).body
