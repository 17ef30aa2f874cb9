"""WeChat images, voice without Recognition and link messages through the real app and the fake WeChat server
(/cgi-bin/media/get): images to the vision model, voice converted by ffmpeg, transcribed, shown and billed per
second, shared pages as private resources of the conversation; bad files answered politely in the user's
language with nothing stored or charged. Names are answered by a stand-in resolver; nothing leaves 127.0.0.1."""
from __future__ import annotations

import base64
import math

import pytest
from aiohttp import web

from adapters.storage.models import LedgerRow
from adapters.storage.models_rag import ResourceRow
from bot.knowledge import knowledge_of
from bot.wechat_wiring import wechat_slot
from core.domain import Identity
from tests.e2e.dify_media import png
from tests.e2e.media_support import SPEECH_WEIGHT, media_config, media_llm, stored_files  # noqa: F401
from tests.e2e.test_security_ssrf import StandInResolver
from tests.e2e.wechat_support import CALLBACK_TOKEN, client_for, wx_fixture, zh  # noqa: F401
from tests.fakes.audio import amr_nb
from tests.fakes.local import serve_local
from tests.fakes.openai_server import images_of, prompt_tokens_of

GRANT = 100_000
PASSIVE_TRY_SECONDS = 6.0   # WeChat's 5 s callback timeout, and a little


def _config(tmp_path, llm_url, wx, *, reply_mode="customer_service", media=None, rag=None, **changes):
    section = {"enabled": True, "app_id": wx.app_id, "app_secret": wx.app_secret, "token": CALLBACK_TOKEN,
               "api_base_url": wx.base_url, "reply_mode": reply_mode}
    sections = {"rag": rag} if rag else {}
    return media_config(tmp_path, llm_url, grant=GRANT, media=media, channels={"wechat": section}, **sections,
                        **changes)


@pytest.fixture
def app(wx, media_llm, start_app, tmp_path):
    async def start(**changes):
        running = await start_app(_config(tmp_path, media_llm.base_url, wx, **changes))
        return running, client_for(running, wx)
    return start


async def _user(running, openid: str):
    return await running.services.accounts.ensure_user(Identity("wechat", openid))


async def _charges(running, openid: str) -> list[tuple[str, int]]:
    user = await _user(running, openid)
    return [(e.ref, e.amount) for e in await LedgerRow.filter(user_id=user.id, kind="usage").order_by("seq")]


def _cost(request: dict, completion: int, weights: tuple[float, float]) -> int:
    return math.ceil(prompt_tokens_of(request["messages"]) * weights[0] + completion * weights[1])


class Pages:
    """Web pages and pictures on 127.0.0.1 that count every request."""

    def __init__(self, routes: dict[str, tuple[bytes, str]]):
        self.routes = routes
        self.hits: list[str] = []

    async def _serve(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        if request.path not in self.routes:
            raise web.HTTPNotFound()
        body, kind = self.routes[request.path]
        return web.Response(body=body, content_type=kind)

    async def __aenter__(self) -> "Pages":
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self._runner, self.base_url = await serve_local(app)
        self.port = int(self.base_url.rsplit(":", 1)[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


# --- images ---------------------------------------------------------------------------------------------

async def test_an_image_is_downloaded_by_media_id_and_answered_by_the_vision_model(app, wx, media_llm,
                                                                                    tmp_path) -> None:
    running, client = await app()
    picture = png(5, 5)
    media_id = wx.add_media(picture, "image/png", "png")
    media_llm.script(reply="一个红色的方块。", completion_tokens=6)
    await client.post(client.image("o-img", media_id=media_id))
    assert await wx.wait_sent("o-img", 1) == ["一个红色的方块。"]
    sent = media_llm.chat_requests[-1]
    (image,) = images_of(sent["messages"])
    assert sent["model"] == "vision-model" and base64.b64decode(image["url"].split(",", 1)[1]) == picture
    assert sent["messages"][-1]["content"][0]["text"] == zh("media.image_question")
    assert wx.media_gets == [media_id]
    # The charge is the usage the provider reported, image tokens included, at the vision model's weights.
    cost = _cost(sent, 6, (2.0, 4.0))
    assert [amount for _, amount in await _charges(running, "o-img")] == [-cost]
    user = await _user(running, "o-img")
    assert user.balance == GRANT - cost and user.storage_used_bytes == 0 and stored_files(tmp_path) == []


async def test_an_expired_access_token_is_refreshed_for_a_media_download(app, wx, media_llm) -> None:
    running, client = await app()
    await client.post(client.text("o-tok", "hello"))
    await wx.wait_sent("o-tok", 1)
    wx.expire_tokens(42001)
    media_id = wx.add_media(png(2, 2), "image/png", "png")
    media_llm.script(reply="A dot.", completion_tokens=2)
    await client.post(client.image("o-tok", media_id=media_id))
    assert (await wx.wait_sent("o-tok", 2))[-1] == "A dot."
    assert wx.media_gets == [media_id, media_id] and wx.token_calls == 2   # refused once, fetched with a new token


async def test_passive_mode_image_and_the_picurl_fallback_within_the_ssrf_rule(app, wx, media_llm) -> None:
    picture = png(4, 4)
    async with Pages({"/cat.png": (picture, "image/png")}) as pages:
        # The media API does not know the id: the PicUrl is tried, and a name resolving to this machine is refused.
        running, client = await app(reply_mode="passive")
        resolver = StandInResolver({"mmbiz.example": ["127.0.0.1"]})
        wechat_slot(running.app).channel.media.image_fetcher.resolver = resolver
        xml = client.image("o-pic", media_id="expired-id", pic_url=f"http://mmbiz.example:{pages.port}/cat.png")
        answer, _ = await client.deliver(xml, attempt_timeout=PASSIVE_TRY_SECONDS)
        assert answer is not None and answer.content == zh("media.download_failed")
        assert resolver.asked == ["mmbiz.example"] and pages.hits == [] and media_llm.chat_requests == []
        assert wx.media_gets == ["expired-id"] and await _charges(running, "o-pic") == []

    async with Pages({"/cat.png": (picture, "image/png")}) as pages:
        # An operator who allows private addresses (rag.allow_private_urls) gets the picture from its PicUrl.
        running, client = await app(reply_mode="passive", rag={"allow_private_urls": True})
        media_llm.script(reply="A small square.", completion_tokens=4)
        xml = client.image("o-pic2", media_id="expired-id", pic_url=f"{pages.base_url}/cat.png")
        answer, _ = await client.deliver(xml, attempt_timeout=PASSIVE_TRY_SECONDS)
        assert answer is not None and answer.content == "A small square."
        assert pages.hits == ["/cat.png"] and len(images_of(media_llm.chat_requests[-1]["messages"])) == 1
        assert [a for _, a in await _charges(running, "o-pic2")] == [-_cost(media_llm.chat_requests[-1], 4,
                                                                             (2.0, 4.0))]


async def test_an_image_with_no_vision_model_is_answered_with_a_clear_message(app, wx, media_llm) -> None:
    running, client = await app(vision_model=None)   # a text-only default model and no llm.vision_model
    await client.post(client.image("o-nv", media_id=wx.add_media(png(3, 3), "image/png", "png")))
    assert await wx.wait_sent("o-nv", 1) == [zh("media.vision_unsupported", model="test-model")]
    assert wx.media_gets == [] and media_llm.chat_requests == [] and await _charges(running, "o-nv") == []


@pytest.mark.parametrize("case", ["empty", "renamed", "oversized"])
async def test_bad_images_are_refused_politely_with_nothing_stored_or_charged(app, wx, media_llm, tmp_path,
                                                                              case) -> None:
    running, client = await app(media={"max_image_mb": 1})
    data, expected = {
        "empty": (b"", zh("media.empty_file")),
        "renamed": (b"%!PS-Adobe-3.0 not a picture at all\n" * 4, zh("media.not_an_image")),
        "oversized": (png(3, 3) + bytes(3 * 1024 * 1024), zh("media.file_too_large", limit_mb="1")),
    }[case]
    await client.post(client.image("o-bad", media_id=wx.add_media(data, "image/jpeg", "jpg")))
    assert await wx.wait_sent("o-bad", 1) == [expected]
    assert media_llm.chat_requests == [] and await _charges(running, "o-bad") == []
    user = await _user(running, "o-bad")
    assert user.balance == GRANT and user.storage_used_bytes == 0 and stored_files(tmp_path) == []


# --- voice ----------------------------------------------------------------------------------------------

async def test_voice_without_recognition_is_converted_transcribed_shown_and_billed(app, wx, media_llm) -> None:
    running, client = await app()
    media_id = wx.add_media(amr_nb(3.0), "audio/amr", "amr")
    media_llm.script(reply="好的，我听到了。", completion_tokens=5)
    xml = client.voice_file("o-voice", media_id)
    await client.post(xml)
    sent = await wx.wait_sent("o-voice", 2)
    (heard,) = media_llm.transcription_requests
    assert heard["filename"] == "audio.wav" and heard["seconds"] == 3.0   # AMR converted by ffmpeg first
    assert sent == [zh("media.heard", text=heard["text"]), "好的，我听到了。"]
    question = media_llm.chat_requests[-1]["messages"][-1]
    assert question["content"] == heard["text"]
    speech = math.ceil(heard["seconds"] * SPEECH_WEIGHT)
    reply = _cost(media_llm.chat_requests[-1], 5, (1.0, 2.0))
    charges = await _charges(running, "o-voice")
    assert charges[0][0].startswith("wechat:o-voice:msg:") and [a for _, a in charges] == [-speech, -reply]
    assert (await _user(running, "o-voice")).balance == GRANT - speech - reply


async def test_passive_mode_puts_what_was_heard_and_the_answer_in_one_reply(app, wx, media_llm) -> None:
    running, client = await app(reply_mode="passive")
    media_id = wx.add_media(amr_nb(2.0), "audio/amr", "amr")
    media_llm.script(reply="明白。", completion_tokens=2)
    answer, _ = await client.deliver(client.voice_file("o-pv", media_id), attempt_timeout=PASSIVE_TRY_SECONDS)
    (heard,) = media_llm.transcription_requests
    assert answer is not None and answer.content == zh("media.heard", text=heard["text"]) + "\n\n明白。"
    assert [a for _, a in await _charges(running, "o-pv")][0] == -math.ceil(heard["seconds"] * SPEECH_WEIGHT)


async def test_voice_with_recognition_still_uses_wechats_words(app, wx, media_llm) -> None:
    running, client = await app()
    await client.post(client.voice("o-rec", "今天天气怎么样"))
    assert await wx.wait_sent("o-rec", 1) == ["Echo: 今天天气怎么样"]
    assert media_llm.transcription_requests == [] and wx.media_gets == []


@pytest.mark.parametrize("case", ["sixty_minutes", "not_audio", "unknown_media_id"])
async def test_bad_voice_is_refused_politely_with_nothing_charged(app, wx, media_llm, tmp_path, case) -> None:
    running, client = await app(media={"max_audio_mb": 25})
    if case == "sixty_minutes":   # ffprobe's length of an AMR file is an estimate from its size: at least 3600 s
        media_id, expected = wx.add_media(amr_nb(3600.0), "audio/amr", "amr"), [zh(
            "media.audio_too_long", seconds=n, limit=300) for n in range(3600, 4000)]
    elif case == "not_audio":
        media_id, expected = wx.add_media(b"\x00\x01\x02 renamed.exe \xff" * 40, "audio/amr", "amr"), [zh(
            "media.corrupt_file", kind="audio")]
    else:
        media_id, expected = "no-such-media", [zh("media.download_failed")]
    await client.post(client.voice_file("o-badv", media_id))
    (said,) = await wx.wait_sent("o-badv", 1)
    assert said in expected
    assert media_llm.transcription_requests == [] and media_llm.chat_requests == []
    assert await _charges(running, "o-badv") == [] and (await _user(running, "o-badv")).balance == GRANT
    assert stored_files(tmp_path) == []


async def test_refusals_follow_the_users_language_and_unsupported_types_are_answered(app, wx, media_llm) -> None:
    from core.i18n import Texts

    running, client = await app()
    await client.post(client.text("o-en", "/lang en"))
    await wx.wait_sent("o-en", 1)
    await client.post(client.image("o-en", media_id=wx.add_media(b"", "image/jpeg", "jpg")))
    await client.post(client.location("o-en"))
    sent = await wx.wait_sent("o-en", 3)
    texts = Texts.load()
    assert sent[1:] == [texts.get("media.empty_file", "en"), texts.get("chat.text_or_voice_only", "en")]
    assert media_llm.chat_requests == [] and await _charges(running, "o-en") == []


# --- links ----------------------------------------------------------------------------------------------

HERON = ("<html><head><title>Heron</title></head><body><h1>Project Heron</h1><p>The launch code word for "
         "Project Heron is PELICAN-42. It ships in March.</p></body></html>").encode()


@pytest.mark.parametrize("reply_mode", ["customer_service", "passive"])
async def test_a_shared_link_becomes_a_private_resource_and_the_next_question_cites_it(app, wx, media_llm,
                                                                                      reply_mode) -> None:
    async with Pages({"/heron.html": (HERON, "text/html")}) as pages:
        running, client = await app(reply_mode=reply_mode, rag={"allow_private_urls": True})
        link = client.link("o-link", "Heron 项目", f"{pages.base_url}/heron.html", "项目说明")
        ready = zh("media.document_ready", name="Heron 项目", count=1)
        reading = zh("media.document_indexing", name="Heron 项目")
        if reply_mode == "passive":
            answer, _ = await client.deliver(link, attempt_timeout=PASSIVE_TRY_SECONDS)
            assert answer is not None and answer.content == reading + "\n\n" + ready
            answer, _ = await client.deliver(client.text("o-link", "What is the launch code word for Heron?"),
                                             attempt_timeout=PASSIVE_TRY_SECONDS)
            assert answer is not None
            reply = answer.content or ""
        else:
            await client.post(link)
            assert await wx.wait_sent("o-link", 2) == [reading, ready]
            await client.post(client.text("o-link", "What is the launch code word for Heron?"))
            reply = (await wx.wait_sent("o-link", 3))[-1]
        assert pages.hits == ["/heron.html"]
        assert reply.endswith("来源：Heron 项目")
        assert "PELICAN-42" in media_llm.chat_requests[-1]["messages"][0]["content"]
        user = await _user(running, "o-link")
        (row,) = await ResourceRow.all()
        assert row.owner_id == user.id and user.storage_used_bytes == len(HERON)
        conversation = await running.services.conversations.for_chat("wechat:o-link")
        assert conversation is not None and conversation.resource_ids == (row.id,)


async def test_a_link_to_a_private_address_is_refused_and_nothing_is_stored(app, wx, media_llm) -> None:
    async with Pages({"/admin": (b"<html><body>internal notes</body></html>", "text/html")}) as pages:
        running, client = await app()   # rag.allow_private_urls is off: users' links must be globally routable
        resolver = StandInResolver({"intranet.example": ["10.0.0.7"]})
        knowledge_of(running.services).fetcher.resolver = resolver
        await client.post(client.link("o-ssrf", "内部", f"http://intranet.example:{pages.port}/admin"))
        await client.post(client.link("o-ssrf", "本机", f"{pages.base_url}/admin"))
        sent = await wx.wait_sent("o-ssrf", 2)
        assert sent == [zh("media.link_refused")] * 2
        assert resolver.asked == ["intranet.example"] and pages.hits == []
        assert await ResourceRow.all().count() == 0 and media_llm.chat_requests == []


async def test_a_link_that_cannot_be_read_leaves_nothing_behind(app, wx, media_llm) -> None:
    async with Pages({}) as pages:
        running, client = await app(rag={"allow_private_urls": True})
        await client.post(client.link("o-404", "丢失的页面", f"{pages.base_url}/gone"))
        sent = await wx.wait_sent("o-404", 2)
        assert sent == [zh("media.document_indexing", name="丢失的页面"), zh("media.link_failed", name="丢失的页面")]
        assert pages.hits == ["/gone"] and await ResourceRow.all().count() == 0
        assert (await _user(running, "o-404")).storage_used_bytes == 0
