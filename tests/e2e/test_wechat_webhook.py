"""The webhook's front door: the URL check, forged signatures (403) and bad XML (400), with nothing processed."""
from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.wechat_support import client_for, new_encoding_aes_key, wechat_config
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)
from tests.fakes.wechat_client import MODES, sha1_signature


@pytest.fixture
def aes_key() -> str:
    return new_encoding_aes_key()


async def test_url_verification(wx, start_app, fake_llm, tmp_path, aes_key) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aes_key))
    client = client_for(running, wx)
    assert await client.handshake("echo-4711") == (200, "echo-4711")
    status, _ = await client.handshake("echo-4711", forge=True)
    assert status == 403


@pytest.mark.parametrize("mode", MODES)
async def test_forged_signatures_are_refused_and_nothing_is_processed(wx, start_app, fake_llm, tmp_path, aes_key,
                                                                      mode) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aes_key, encryption="compatible"))
    client = client_for(running, wx, mode, aes_key)
    xml = client.text("o-f", "genuine at last", msg_id=9001)
    target = "signature" if mode == "plaintext" else "msg_signature"
    for forgery in ({"forge": target}, {"forge": "missing"}, {"token": "a-guessed-token"}):
        answer = await client.post(xml, **forgery)
        assert answer.status == 403, forgery
        assert "signature" in answer.body
    assert wx.send_calls == [] and fake_llm.chat_requests == []
    # The same MsgId, signed properly, is answered: the forgeries did not even mark it as seen.
    assert (await client.post(xml)).body == "success"
    assert await wx.wait_sent("o-f", 1) == ["Echo: genuine at last"]


@pytest.mark.parametrize("body", ["this is not xml", "<xml><MsgType>text</MsgType>", "<xml></xml>",
                                  '<!DOCTYPE x [<!ENTITY e "e">]><xml><FromUserName>&e;</FromUserName></xml>'])
async def test_malformed_xml_is_refused(wx, start_app, fake_llm, tmp_path, body) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    params, _ = client.sign("<xml><FromUserName>o</FromUserName></xml>")
    async with aiohttp.ClientSession() as http:
        async with http.post(client.url, params=params, data=body.encode()) as resp:
            assert resp.status == 400
            error = (await resp.json())["error"]
    assert error["reason"] == "malformed_xml"
    assert wx.send_calls == [] and fake_llm.chat_requests == []


async def test_oversized_body_is_refused(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    answer = await client.post(client.text("o-big", "x" * 100_000))
    assert answer.status == 400 and "too large" in answer.body
    assert fake_llm.chat_requests == []


async def test_unreadable_ciphertext_with_a_valid_signature_is_refused(wx, start_app, fake_llm, tmp_path,
                                                                       aes_key) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aes_key))
    client = client_for(running, wx, "safe", aes_key)
    params, _ = client.sign(client.text("o", "hi"))
    garbage = "Z2FyYmFnZSB0aGF0IGlzIG5vdCBhIGNpcGhlcnRleHQ="
    params["msg_signature"] = sha1_signature(client.token, params["timestamp"], params["nonce"], garbage)
    body = f"<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>"
    async with aiohttp.ClientSession() as http:
        async with http.post(client.url, params=params, data=body.encode()) as resp:
            assert resp.status == 400
    assert fake_llm.chat_requests == []


async def test_plaintext_still_accepted_in_compatible_mode(wx, start_app, fake_llm, tmp_path, aes_key) -> None:
    """encryption: compatible (WeChat's transition mode) takes plaintext callbacks while a key is set."""
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aes_key, encryption="compatible"))
    client = client_for(running, wx, "plaintext")
    assert (await client.post(client.text("o-p", "plain"))).body == "success"
    assert await wx.wait_sent("o-p", 1) == ["Echo: plain"]
