"""The callback codec against an independent implementation of WeChat's signing and AES (tests/fakes/wechat_client)."""
from __future__ import annotations

import re
import time

import pytest

from adapters.wechat.codec import MAX_BODY_BYTES, WeChatCodec
from core.errors import Forbidden, InvalidRequest
from tests.fakes.wechat_client import WeChatCallbackClient, new_encoding_aes_key, sha1_signature

TOKEN, APP_ID = "tok-123", "wx0123456789abcdef"
KEY = new_encoding_aes_key()


def client(mode: str) -> WeChatCallbackClient:
    return WeChatCallbackClient("http://unused", token=TOKEN, app_id=APP_ID, encoding_aes_key=KEY, mode=mode)


@pytest.fixture
def codec() -> WeChatCodec:
    return WeChatCodec(TOKEN, APP_ID, KEY, encryption="compatible")   # both kinds, so each mode can be decoded


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_decodes_every_mode(codec: WeChatCodec, mode: str) -> None:
    c = client(mode)
    params, body = c.sign(c.text("openid-1", "你好 <b>&amp;", msg_id=42))
    cb = codec.decode(params, body.encode())
    assert (cb.openid, cb.kind, cb.text, cb.msg_key, cb.encrypted) == (
        "openid-1", "text", "你好 <b>&amp;", "msg:42", mode != "plaintext")


FORGERIES = [(mode, forge) for mode in ("plaintext", "compatible", "safe")
             for forge in ("signature", "msg_signature", "missing", "other-token")
             if not (mode == "plaintext" and forge == "msg_signature")]  # plaintext has no msg_signature


@pytest.mark.parametrize("mode,forge", FORGERIES)
def test_forged_or_missing_signatures_are_forbidden(codec: WeChatCodec, mode: str, forge: str) -> None:
    c = client(mode)
    if forge == "signature" and mode != "plaintext":
        # Encrypted callbacks are checked by msg_signature; a wrong plain `signature` alone is harmless,
        # so forge both (what an attacker without the token would do).
        params, body = c.sign(c.text("o", "hi"), forge="msg_signature")
        params["signature"] = "1" * 40
    elif forge == "other-token":
        params, body = c.sign(c.text("o", "hi"), token="not-our-token")
    else:
        params, body = c.sign(c.text("o", "hi"), forge=forge)
    with pytest.raises(Forbidden):
        codec.decode(params, body.encode())


def test_tampered_ciphertext_is_forbidden(codec: WeChatCodec) -> None:
    c = client("safe")
    params, body = c.sign(c.text("o", "hi"))
    tampered = body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[AAAA")
    with pytest.raises(Forbidden):
        codec.decode(params, tampered.encode())


def test_stale_timestamp_is_forbidden(codec: WeChatCodec) -> None:
    c = client("plaintext")
    params, body = c.sign(c.text("o", "hi"))
    late = WeChatCodec(TOKEN, APP_ID, KEY, clock=lambda: time.time() + 301, encryption="compatible")
    with pytest.raises(Forbidden):
        late.decode(params, body.encode())


@pytest.mark.parametrize("body", [
    "not xml at all", "<xml><ToUserName>x</ToUserName>", "<xml><MsgType>text</MsgType></xml>",
    '<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName></xml>', "<xml/>",
    "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>x</CreateTime>"
    "<MsgType>text</MsgType><Content>hi</Content></xml>",
])
def test_malformed_xml_is_invalid(codec: WeChatCodec, body: str) -> None:
    params, _ = client("plaintext").sign("<xml><FromUserName>o</FromUserName></xml>")
    with pytest.raises(InvalidRequest):
        codec.decode(params, body.encode())


def test_encrypted_garbage_with_a_valid_signature_is_invalid(codec: WeChatCodec) -> None:
    c = client("safe")
    params, body = c.sign(c.text("o", "hi"))
    garbage = "bm90IGEgcmVhbCBjaXBoZXJ0ZXh0"
    body = re.sub(r"<Encrypt>.*</Encrypt>", f"<Encrypt><![CDATA[{garbage}]]></Encrypt>", body)
    params["msg_signature"] = sha1_signature(TOKEN, params["timestamp"], params["nonce"], garbage)
    with pytest.raises(InvalidRequest):
        codec.decode(params, body.encode())


def test_oversized_body_is_invalid(codec: WeChatCodec) -> None:
    c = client("plaintext")
    params, body = c.sign(c.text("o", "x" * (MAX_BODY_BYTES + 1)))
    with pytest.raises(InvalidRequest):
        codec.decode(params, body.encode())


def test_an_encrypted_callback_without_a_configured_key_is_invalid() -> None:
    c = client("safe")
    params, body = c.sign(c.text("o", "hi"))
    with pytest.raises(InvalidRequest):
        WeChatCodec(TOKEN, APP_ID, "").decode(params, body.encode())


def test_events_are_keyed_by_user_and_time_and_scenes_are_unwrapped(codec: WeChatCodec) -> None:
    c = client("plaintext")
    params, body = c.sign(c.event("o9", "subscribe", "qrscene_login_abc", create_time=1700000000, ticket="T"))
    cb = codec.decode(params, body.encode())
    assert (cb.kind, cb.event, cb.event_key, cb.msg_key) == ("event", "subscribe_scan", "login_abc",
                                                              "evt:o9:1700000000")
    params, body = c.sign(c.event("o9", "CLICK", "MENU_BALANCE"))
    assert codec.decode(params, body.encode()).event_key == "MENU_BALANCE"


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_replies_are_encrypted_when_the_callback_was(codec: WeChatCodec, mode: str) -> None:
    c = client(mode)
    params, body = c.sign(c.text("openid-7", "hi"))
    cb = codec.decode(params, body.encode())
    xml = codec.render_text(cb, "答案 ]]> <tag> & done")
    fields = c.read_reply(xml, 200)  # verifies MsgSignature and decrypts with the independent AES code
    assert fields is not None
    assert fields["Content"] == "答案 ]]> <tag> & done"
    assert (fields["ToUserName"], fields["FromUserName"], fields["MsgType"]) == ("openid-7", c.account, "text")
    assert ("<Encrypt>" in xml) == (mode != "plaintext")


def test_handshake_echoes_only_when_signed(codec: WeChatCodec) -> None:
    params, _ = client("plaintext").sign("<xml><FromUserName>o</FromUserName></xml>")
    assert codec.handshake({**params, "echostr": "e123"}) == "e123"
    with pytest.raises(Forbidden):
        codec.handshake({**params, "signature": "0" * 40, "echostr": "e123"})
