"""Dify's POST /audio-to-text through llm.speech: the transcript, billed per second to the end user; Dify's codes
for bad audio, nothing charged."""
from __future__ import annotations

import math

import aiohttp

from tests.e2e.dify_client import APP_KEY, dify_config, user_id_of
from tests.e2e.media_support import SPEECH_WEIGHT, media_llm  # noqa: F401
from tests.e2e.dify_media import two_models
from tests.fakes.audio import amr_nb, tone_wav


async def _post_audio(http: aiohttp.ClientSession, base: str, user: str, data: bytes, name: str) -> tuple[int, dict]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="audio/wav")
    form.add_field("user", user)
    async with http.post(f"{base}/dify/v1/audio-to-text", data=form,
                         headers={"Authorization": f"Bearer {APP_KEY}"}) as resp:
        return resp.status, await resp.json()


async def test_audio_to_text_transcribes_and_bills_the_end_user(start_app, tmp_path, media_llm) -> None:
    llm = two_models(media_llm.base_url, default="test-model")
    llm["speech"] = {"provider": "fake", "model": "whisper-1", "weight_per_second": SPEECH_WEIGHT}
    config = dify_config(tmp_path, media_llm, sections={"llm": llm, "quota": {"signup_grant": 10_000},
                                                        "media": {"folder": str(tmp_path / "media"),
                                                                  "max_audio_seconds": 60}})
    running = await start_app(config)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running.base_url}/dify/v1/parameters",
                            headers={"Authorization": f"Bearer {APP_KEY}"}) as resp:
            assert (await resp.json())["speech_to_text"] == {"enabled": True}
        status, body = await _post_audio(http, running.base_url, "carol", tone_wav(660, 1.5), "q.wav")
        assert status == 200, body
        (sent,) = media_llm.transcription_requests
        assert body == {"text": sent["text"]} and sent["text"].startswith("a 660 Hz tone")
        carol = await running.services.accounts.get(await user_id_of(running, "carol"))
        assert carol.balance == 10_000 - math.ceil(sent["seconds"] * SPEECH_WEIGHT)

        status, body = await _post_audio(http, running.base_url, "carol", amr_nb(120), "long.amr")
        assert (status, body["code"]) == (413, "audio_too_large")
        status, body = await _post_audio(http, running.base_url, "carol", b"plain words, no audio", "x.wav")
        assert (status, body["code"]) == (415, "unsupported_audio_type")
        assert len(media_llm.transcription_requests) == 1
        assert (await running.services.accounts.get(carol.id)).balance == carol.balance
