"""Attachments over the native API (seed 003): images to the vision model as image parts, voice transcribed and
billed per second, documents as private resources of the conversation, privacy, storage, and deletion."""
from __future__ import annotations

import base64
import math

import pytest

from tests.e2e.dify_media import png
from tests.e2e.http_native import assert_error, serve
from tests.e2e.media_support import SPEECH_WEIGHT, attach, ledger, me, media_config, media_llm, stored_files  # noqa: F401
from tests.fakes.audio import amr_nb, encode, tone_wav
from tests.fakes.openai_server import IMAGE_TOKENS, images_of, prompt_tokens_of


@pytest.fixture
async def api(start_app, tmp_path, media_llm):
    async with serve(start_app, media_config(tmp_path, media_llm.base_url)) as client:
        yield client


async def _conversation(user) -> str:
    return (await user.post("/conversations")).body["id"]


async def _user_message(user, cid: str) -> dict:
    return next(m for m in (await user.get(f"/conversations/{cid}/messages")).body["data"] if m["role"] == "user")


async def test_an_image_goes_to_the_vision_model_and_is_charged_by_the_reported_usage(api, media_llm, tmp_path) -> None:
    alice, _ = await api.new_user("alice")
    picture = png(4, 4)
    up = await attach(alice, "cat.png", picture, "image/png")
    assert up.status == 201, up.body
    assert set(up.body) == {"id", "kind", "mime", "name", "bytes", "created_at"}
    assert (up.body["kind"], up.body["mime"], up.body["bytes"]) == ("image", "image/png", len(picture))
    assert (await me(alice))["storage"]["used_bytes"] == len(picture)

    cid = await _conversation(alice)
    media_llm.script(reply="A red square.", chunk_chars=5)
    reply = await alice.post(f"/conversations/{cid}/messages",
                             {"content": "What is this?", "attachment_ids": [up.body["id"]]})
    assert reply.status == 200, reply.body
    sent = media_llm.chat_requests[-1]
    (image,) = images_of(sent["messages"])
    # test-model has no vision: llm.vision_model answered, priced by its own weights (2.0 in, 4.0 out).
    assert sent["model"] == "vision-model" and reply.body["model"] == "vision-model"
    assert base64.b64decode(image["url"].split(",", 1)[1]) == picture
    prompt = prompt_tokens_of(sent["messages"])
    assert reply.body["usage"]["prompt_tokens"] == prompt and prompt > IMAGE_TOKENS
    assert reply.body["cost"] == prompt * 2 + 3 * 4
    usage = [e for e in await ledger(alice) if e["kind"] == "usage"]
    assert [e["amount"] for e in usage] == [-reply.body["cost"]] and usage[0]["ref"] == reply.body["id"]

    asked = await _user_message(alice, cid)
    shown = await alice.get(f"/messages/{asked['id']}/attachments")
    assert shown.status == 200 and [a["id"] for a in shown.body["data"]] == [up.body["id"]]

    # Another user sees nothing of it and cannot send it.
    bob, _ = await api.new_user("bob")
    assert_error(await bob.get(f"/messages/{asked['id']}/attachments"), 404, "not_found")
    bob_cid = await _conversation(bob)
    calls = len(media_llm.chat_requests)
    assert_error(await bob.post(f"/conversations/{bob_cid}/messages",
                                {"content": "and this?", "attachment_ids": [up.body["id"]]}), 404, "not_found")
    assert len(media_llm.chat_requests) == calls and await ledger(bob) == (await ledger(bob))[:1]

    # Deleting the conversation deletes its files and gives the storage back.
    assert (await alice.delete(f"/conversations/{cid}")).status == 204
    assert stored_files(tmp_path) == [] and (await me(alice))["storage"]["used_bytes"] == 0


@pytest.mark.parametrize("kind", ["wav", "ogg_opus", "mp3"])
async def test_voice_is_transcribed_shown_and_billed_per_second(api, media_llm, kind) -> None:
    alice, _ = await api.new_user("alice")
    audio = tone_wav(440, 2.0) if kind == "wav" else encode(tone_wav(440, 2.0), kind)
    up = await attach(alice, "note", audio)
    assert up.status == 201 and up.body["kind"] == "audio", up.body
    cid = await _conversation(alice)
    reply = await alice.post(f"/conversations/{cid}/messages", {"content": "", "attachment_ids": [up.body["id"]]})
    assert reply.status == 200, reply.body
    (sent,) = media_llm.transcription_requests
    assert sent["model"] == "whisper-1" and sent["response_format"] == "verbose_json"
    heard = sent["text"]
    assert heard.startswith("a 4") and "Hz tone for" in heard   # what the fake heard in the audio
    # The user's message shows what was heard; the model answered it.
    assert (await _user_message(alice, cid))["content"] == heard
    assert media_llm.chat_requests[-1]["messages"][-1]["content"] == heard
    speech = [e for e in await ledger(alice) if e["kind"] == "usage" and e["ref"] == up.body["id"]]
    assert [e["amount"] for e in speech] == [-math.ceil(sent["seconds"] * SPEECH_WEIGHT)]


async def test_amr_voice_is_converted_by_ffmpeg_before_transcription(api, media_llm) -> None:
    alice, _ = await api.new_user("alice")
    up = await attach(alice, "voice.amr", amr_nb(3.0), "audio/amr")
    assert up.status == 201 and up.body["kind"] == "audio", up.body
    cid = await _conversation(alice)
    reply = await alice.post(f"/conversations/{cid}/messages",
                             {"content": "Summarise:", "attachment_ids": [up.body["id"]]})
    assert reply.status == 200, reply.body
    (sent,) = media_llm.transcription_requests
    assert sent["filename"] == "audio.wav" and sent["seconds"] == 3.0   # the endpoint does not take AMR
    asked = await _user_message(alice, cid)
    assert asked["content"] == "Summarise:\n" + sent["text"]
    speech = [e for e in await ledger(alice) if e["ref"] == up.body["id"]]
    assert [e["amount"] for e in speech] == [-9]   # 3.0 s x 3 tokens, not the probe's estimate


async def test_a_document_becomes_a_private_resource_of_the_conversation_and_is_cited(api, media_llm, tmp_path) -> None:
    alice, _ = await api.new_user("alice")
    text = b"# Project Heron\n\nThe launch code word for Project Heron is PELICAN-42. It ships in March.\n"
    up = await attach(alice, "heron.md", text, "text/markdown")
    assert up.status == 201 and (up.body["kind"], up.body["mime"]) == ("document", "text/markdown"), up.body
    cid = await _conversation(alice)
    reply = await alice.post(f"/conversations/{cid}/messages", {"content": "What is the code word for Project "
                                                                "Heron?", "attachment_ids": [up.body["id"]]})
    assert reply.status == 200, reply.body
    conv = (await alice.get(f"/conversations/{cid}")).body
    (resource_id,) = conv["resource_ids"]
    resource = (await alice.get(f"/resources/{resource_id}")).body
    assert (resource["scope"], resource["status"], resource["name"]) == ("private", "ready", "heron.md")
    assert [c["resource_id"] for c in reply.body["citations"]][:1] == [resource_id]
    assert "PELICAN-42" in str(media_llm.chat_requests[-1]["messages"])
    assert (await me(alice))["storage"]["used_bytes"] == len(text)   # counted once, by the resource

    bob, _ = await api.new_user("bob")
    assert_error(await bob.get(f"/resources/{resource_id}"), 404, "not_found")

    assert (await alice.delete(f"/conversations/{cid}")).status == 204
    assert stored_files(tmp_path) == [] and (await me(alice))["storage"]["used_bytes"] == 0
    assert_error(await alice.get(f"/resources/{resource_id}"), 404, "not_found")


async def test_the_attachment_routes_are_in_the_openapi_document(api) -> None:
    doc = (await api.get("/openapi.json")).body
    assert "post" in doc["paths"]["/api/v1/attachments"]
    assert "get" in doc["paths"]["/api/v1/messages/{mid}/attachments"]
    body = doc["components"]["schemas"]["MessageIn"]["properties"]
    assert "attachment_ids" in body
