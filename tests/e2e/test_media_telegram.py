"""Telegram photos, voice notes and documents through the fake Bot API (getFile and the file download), answered by
the real app: images to the vision model, voice transcribed and shown, documents as private resources, charges in
the ledger; bad files answered politely with nothing stored or charged."""
from __future__ import annotations

import math

import pytest

from tests.e2e.dify_media import png
from tests.e2e.media_support import SPEECH_WEIGHT, media_config, media_llm, stored_files  # noqa: F401
from tests.e2e.telegram_harness import answers, en, services_user, telegram_section, tg, visible  # noqa: F401
from tests.fakes.audio import amr_nb, encode, tone_wav
from tests.fakes.openai_server import images_of, prompt_tokens_of

GRANT = 100_000


@pytest.fixture
async def bot(tg, media_llm, start_app, tmp_path):
    config = media_config(tmp_path, media_llm.base_url, grant=GRANT, server={"shutdown_grace_seconds": 3},
                          channels={"telegram": telegram_section(tg, "polling")})
    running = await start_app(config)
    await tg.wait_until(lambda: tg.commands and tg.polled)
    return running


def _reply_cost(request: dict, completion_tokens: int, weights: tuple[float, float]) -> int:
    return math.ceil(prompt_tokens_of(request["messages"]) * weights[0] + completion_tokens * weights[1])


async def test_a_photo_with_a_caption_is_answered_by_the_vision_model(bot, tg, media_llm, tmp_path) -> None:
    alice = tg.user(501, "Alice")
    chat = tg.private_chat(alice)
    picture = png(6, 6)
    media_llm.script(reply="A red square.", chunk_chars=5)
    await tg.send_media(chat, alice, "photo", picture, caption="What colour is it?")
    (answer,) = await tg.wait_until(lambda: answers(tg, chat))
    assert answer.text == "A red square."
    sent = media_llm.chat_requests[-1]
    assert sent["model"] == "vision-model" and len(images_of(sent["messages"])) == 1
    assert sent["messages"][-1]["content"][0]["text"] == "What colour is it?"
    assert tg.downloads and tg.downloads[-1].startswith("photos/file_")   # the largest size was fetched
    user = await services_user(bot, alice)
    assert user.balance == GRANT - _reply_cost(sent, 3, (2.0, 4.0))
    assert user.storage_used_bytes == 0 and stored_files(tmp_path) == []   # Telegram keeps the picture


async def test_a_photo_without_a_caption_asks_what_is_in_it(bot, tg, media_llm) -> None:
    alice = tg.user(502, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_media(chat, alice, "document", png(3, 3), file_name="scan.png", mime_type="image/png")
    await tg.wait_until(lambda: answers(tg, chat))
    sent = media_llm.chat_requests[-1]
    assert sent["messages"][-1]["content"][0]["text"] == en("media.image_question")
    assert len(images_of(sent["messages"])) == 1


@pytest.mark.parametrize("kind", ["voice", "audio"])
async def test_a_voice_note_is_transcribed_shown_answered_and_billed_per_second(bot, tg, media_llm, kind) -> None:
    alice = tg.user(503, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_media(chat, alice, kind, encode(tone_wav(440, 2.0), "ogg_opus"), duration=2)
    (answer,) = await tg.wait_until(lambda: answers(tg, chat))
    (heard,) = media_llm.transcription_requests
    assert heard["filename"] == "audio.ogg"   # OGG/Opus is taken as it is
    assert visible(tg, chat)[0] == en("media.heard", text=heard["text"])
    assert answer.text == "Echo: " + heard["text"]
    speech = math.ceil(heard["seconds"] * SPEECH_WEIGHT)
    user = await services_user(bot, alice)
    assert user.balance == GRANT - speech - _reply_cost(media_llm.chat_requests[-1], len(answer.text) // 4 + (
        1 if len(answer.text) % 4 else 0), (1.0, 2.0))


async def test_a_document_becomes_a_private_resource_and_later_answers_cite_it(bot, tg, media_llm) -> None:
    alice = tg.user(504, "Alice")
    chat = tg.private_chat(alice)
    text = b"# Project Heron\n\nThe launch code word for Project Heron is PELICAN-42.\n"
    await tg.send_media(chat, alice, "document", text, file_name="heron.md", mime_type="text/markdown")
    ready = en("media.document_ready", name="heron.md", count=1)
    await tg.wait_until(lambda: ready in visible(tg, chat))
    assert visible(tg, chat)[:2] == [en("media.document_indexing", name="heron.md"), ready]
    await tg.send_text(chat, alice, "What is the code word for Project Heron?")
    (answer,) = await tg.wait_until(lambda: answers(tg, chat))
    assert "PELICAN-42" in str(media_llm.chat_requests[-1]["messages"])
    assert "heron.md" in answer.text   # the sources line names the document
    user = await services_user(bot, alice)
    assert user.storage_used_bytes == len(text)


@pytest.mark.parametrize("kind, data, extra, key, values", [
    ("document", b"not a picture at all\n" * 5, {"file_name": "cat.png", "mime_type": "image/png"},
     "media.not_an_image", {}),
    ("voice", amr_nb(3600), {"duration": 3600}, "media.audio_too_long", {"limit": 300}),
    ("document", b"%PDF-1.4\nbroken", {"file_name": "r.pdf", "mime_type": "application/pdf"}, "media.corrupt_file",
     {"kind": "PDF"}),
    ("document", b"", {"file_name": "empty.txt", "mime_type": "text/plain"}, "media.empty_file", {}),
    ("document", b"PK\x03\x04" + bytes(range(256)) * 4, {"file_name": "a.zip", "mime_type": "application/zip"},
     "media.unsupported_type", {}),
])
async def test_a_bad_file_gets_a_polite_answer_and_nothing_is_stored_or_charged(bot, tg, media_llm, tmp_path, kind,
                                                                                 data, extra, key, values) -> None:
    alice = tg.user(505, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_media(chat, alice, kind, data, **extra)
    await tg.wait_until(lambda: visible(tg, chat))
    if key == "media.audio_too_long":   # the longer of the declared and the probed length (AMR's is an estimate)
        shown = int("".join(ch for ch in visible(tg, chat)[0].split(" seconds")[0] if ch.isdigit()))
        assert shown >= 3600 and shown < 3800
        values = {**values, "seconds": f"{shown:,}"}
    assert visible(tg, chat) == [en(key, **values)]
    user = await services_user(bot, alice)
    assert (user.balance, user.storage_used_bytes) == (GRANT, 0) and stored_files(tmp_path) == []
    assert media_llm.chat_requests == [] and media_llm.transcription_requests == []
