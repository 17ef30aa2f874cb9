"""Odd and oversized files over the API: each refused with a clear 4xx and its reason, nothing stored, nothing
charged, no model or transcription call."""
from __future__ import annotations

import pytest

from tests.e2e.dify_media import png
from tests.e2e.http_native import assert_error, serve
from tests.e2e.media_support import attach, ledger, me, media_config, media_llm, stored_files  # noqa: F401
from tests.fakes.audio import amr_nb, tone_wav

CASES = [
    ("empty.png", b"", "image/png", 400, "empty_file"),
    ("cat.png", b"This is a text file renamed to look like a picture.\n" * 3, "image/png", 415, "not_an_image"),
    ("meeting.amr", amr_nb(3600), "audio/amr", 400, "audio_too_long"),     # a 60-minute voice note
    ("report.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\nthis is not a PDF body at all", "application/pdf",
     400, "corrupt_file"),
    ("archive.zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4, "application/zip", 415,
     "unsupported_type"),
    ("big.png", png(8, 8, extra=2 * 1024 * 1024), "image/png", 413, "file_too_large"),
]


@pytest.fixture
async def api(start_app, tmp_path, media_llm):
    # Room for the 60-minute note (5.8 MB): the length, not the storage, is what refuses it.
    config = media_config(tmp_path, media_llm.base_url, media={"max_image_mb": 1}, rag={"user_storage_mb": 20})
    async with serve(start_app, config) as client:
        yield client


@pytest.mark.parametrize("name, data, declared, status, reason", CASES, ids=[c[4] for c in CASES])
async def test_a_bad_file_is_refused_and_leaves_nothing(api, media_llm, tmp_path, name, data, declared, status,
                                                        reason) -> None:
    alice, _ = await api.new_user("alice")
    before = await ledger(alice)
    reply = await attach(alice, name, data, declared)
    assert_error(reply, status, reason)
    assert stored_files(tmp_path) == [] and (await me(alice))["storage"]["used_bytes"] == 0
    assert await ledger(alice) == before
    assert media_llm.transcription_requests == [] and media_llm.chat_requests == []


async def test_voice_without_a_speech_model_is_refused_before_anything_is_charged(start_app, tmp_path,
                                                                                    media_llm) -> None:
    async with serve(start_app, media_config(tmp_path, media_llm.base_url, speech=False)) as api:
        alice, _ = await api.new_user("alice")
        up = await attach(alice, "note.wav", tone_wav(440, 1.0), "audio/wav")
        assert up.status == 201
        cid = (await alice.post("/conversations")).body["id"]
        before = await ledger(alice)
        assert_error(await alice.post(f"/conversations/{cid}/messages", {"content": "", "attachment_ids": [
            up.body["id"]]}), 400, "speech_unavailable")
        assert await ledger(alice) == before and media_llm.chat_requests == []
        assert (await alice.get(f"/conversations/{cid}/messages")).body["data"] == []


async def test_an_image_for_a_text_only_model_without_a_vision_model_is_refused(start_app, tmp_path,
                                                                                media_llm) -> None:
    async with serve(start_app, media_config(tmp_path, media_llm.base_url, vision_model=None)) as api:
        alice, _ = await api.new_user("alice")
        up = await attach(alice, "cat.png", png(), "image/png")
        cid = (await alice.post("/conversations")).body["id"]
        reply = await alice.post(f"/conversations/{cid}/messages", {"content": "What is it?",
                                                                    "attachment_ids": [up.body["id"]]})
        assert_error(reply, 400, "vision_unsupported")
        assert "test-model" in reply.body["error"]["message"] and media_llm.chat_requests == []


async def test_a_file_over_the_storage_left_is_refused(start_app, tmp_path, media_llm) -> None:
    config = media_config(tmp_path, media_llm.base_url, rag={"user_storage_mb": 1})
    async with serve(start_app, config) as api:
        alice, _ = await api.new_user("alice")
        assert_error(await attach(alice, "doc.txt", b"words " * 200_000, "text/plain"), 402, "storage_exceeded")
        assert stored_files(tmp_path) == [] and (await me(alice))["storage"]["used_bytes"] == 0


async def test_the_attachments_of_another_users_message_are_not_found(api) -> None:
    alice, _ = await api.new_user("alice")
    assert_error(await alice.get("/messages/00000000-0000-0000-0000-000000000000/attachments"), 404, "not_found")
    assert_error(await alice.call("POST", "/attachments", json_body={"file": "x"}), 400, "no_file")
