"""A test client that calls our webhook exactly as WeChat's servers do: signed, and AES-encrypted in the
compatible and safe modes, retrying a silent callback like WeChat (3 tries, ~5 s apart).

The encryption is written here from WeChat's documentation with `cryptography` (not wechatpy), so the
tests check our wechatpy-based code against an independent implementation:
    AESKey = base64(EncodingAESKey + "="); IV = AESKey[:16]; AES-256-CBC over
    random(16) + len(msg) (4 bytes, network order) + msg + AppId, PKCS#7-padded to 32 bytes;
    msg_signature = sha1(sorted([token, timestamp, nonce, Encrypt])).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import aiohttp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MODES = ("plaintext", "compatible", "safe")


def new_encoding_aes_key() -> str:
    """A random EncodingAESKey as the WeChat console shows it: 43 characters."""
    return base64.b64encode(os.urandom(32)).decode()[:-1]


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class WeChatAes:
    def __init__(self, encoding_aes_key: str, app_id: str):
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.app_id = app_id

    def encrypt(self, text: str) -> str:
        raw = text.encode()
        plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + self.app_id.encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        enc = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        dec = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = dec.update(base64.b64decode(encrypted)) + dec.finalize()
        plain = plain[: -plain[-1]]
        (length,) = struct.unpack(">I", plain[16:20])
        if plain[20 + length:].decode() != self.app_id:
            raise AssertionError("the reply was encrypted for another app id")
        return plain[20:20 + length].decode()


@dataclass
class Answer:
    status: int
    body: str
    seconds: float
    fields: dict[str, str] | None = None   # the (decrypted) reply XML's fields, when it is one

    @property
    def content(self) -> str | None:
        return (self.fields or {}).get("Content")


class WeChatCallbackClient:
    def __init__(self, url: str, *, token: str, app_id: str, encoding_aes_key: str = "", mode: str = "plaintext",
                 account: str = "gh_0123456789ab"):
        assert mode in MODES
        self.url = url
        self.token = token
        self.app_id = app_id
        self.mode = mode
        self.account = account
        self.aes = WeChatAes(encoding_aes_key, app_id) if encoding_aes_key else None
        self._msg_ids = iter(range(int(time.time() * 1000), 2**63))
        self.sent: list[tuple[dict[str, str], str]] = []   # every (query, body) posted, as an eavesdropper saw it

    # --- messages as WeChat sends them ---

    def next_msg_id(self) -> int:
        return next(self._msg_ids)

    def _envelope(self, openid: str, msg_type: str, body: str, create_time: int | None) -> str:
        return (f"<xml><ToUserName>{cdata(self.account)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
                f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType>{cdata(msg_type)}</MsgType>"
                f"{body}</xml>")

    def text(self, openid: str, content: str, msg_id: int | None = None) -> str:
        return self._envelope(openid, "text", f"<Content>{cdata(content)}</Content>"
                              f"<MsgId>{msg_id or self.next_msg_id()}</MsgId>", None)

    def voice(self, openid: str, recognition: str, msg_id: int | None = None) -> str:
        return self._envelope(openid, "voice", f"<MediaId>{cdata('media-1')}</MediaId><Format>{cdata('amr')}</Format>"
                              f"<Recognition>{cdata(recognition)}</Recognition>"
                              f"<MsgId>{msg_id or self.next_msg_id()}</MsgId>", None)

    def image(self, openid: str, msg_id: int | None = None, media_id: str = "media-2",
              pic_url: str = "http://mmbiz.qpic.cn/x.jpg") -> str:
        return self._envelope(openid, "image", f"<PicUrl>{cdata(pic_url)}</PicUrl>"
                              f"<MediaId>{cdata(media_id)}</MediaId><MsgId>{msg_id or self.next_msg_id()}</MsgId>",
                              None)

    def voice_file(self, openid: str, media_id: str, fmt: str = "amr", msg_id: int | None = None) -> str:
        """A voice message without <Recognition> (the account has WeChat's own recognition off)."""
        return self._envelope(openid, "voice", f"<MediaId>{cdata(media_id)}</MediaId><Format>{cdata(fmt)}</Format>"
                              f"<MsgId>{msg_id or self.next_msg_id()}</MsgId>", None)

    def link(self, openid: str, title: str, url: str, description: str = "", msg_id: int | None = None) -> str:
        return self._envelope(openid, "link", f"<Title>{cdata(title)}</Title><Description>{cdata(description)}"
                              f"</Description><Url>{cdata(url)}</Url><MsgId>{msg_id or self.next_msg_id()}</MsgId>",
                              None)

    def location(self, openid: str, msg_id: int | None = None) -> str:
        """A type we do not read (a shared location)."""
        return self._envelope(openid, "location", "<Location_X>23.134521</Location_X><Location_Y>113.358803"
                              f"</Location_Y><Scale>20</Scale><Label>{cdata('广州市')}</Label>"
                              f"<MsgId>{msg_id or self.next_msg_id()}</MsgId>", None)

    def event(self, openid: str, event: str, key: str | None = None, create_time: int | None = None,
              ticket: str | None = None) -> str:
        body = f"<Event>{cdata(event)}</Event>"
        if key is not None:
            body += f"<EventKey>{cdata(key)}</EventKey>"
        if ticket is not None:
            body += f"<Ticket>{cdata(ticket)}</Ticket>"
        return self._envelope(openid, "event", body, create_time or int(time.time()))

    # --- signing and encryption ---

    def sign(self, xml: str, *, forge: str | None = None, token: str | None = None, timestamp: int | None = None,
             nonce: str | None = None) -> tuple[dict[str, str], str]:
        """Query parameters and body for a callback. `forge`: "signature" or "msg_signature" is replaced
        by a wrong value, "missing" drops it; `token` signs with another token; `timestamp` and `nonce`
        replace now and a random nonce (the signature is still made properly over them)."""
        token = token or self.token
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce if nonce is not None else str(secrets.randbelow(10**10))
        params = {"signature": sha1_signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                  "openid": _field(xml, "FromUserName")}
        body = xml
        if self.mode != "plaintext":
            assert self.aes is not None
            encrypted = self.aes.encrypt(xml)
            if self.mode == "safe":
                body = f"<xml><ToUserName>{cdata(self.account)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
            else:  # compatible: the plaintext fields and the ciphertext side by side
                body = xml.replace("</xml>", f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>")
            params.update(encrypt_type="aes", msg_signature=sha1_signature(token, timestamp, nonce, encrypted))
        target = "msg_signature" if self.mode != "plaintext" else "signature"
        if forge == "missing":
            params.pop(target)
        elif forge:
            params[forge] = "0" * 40
        return params, body

    async def post(self, xml: str, *, timeout: float | None = None, **sign: str) -> Answer:
        """One callback; raises asyncio.TimeoutError when no answer comes within `timeout` (WeChat gives up)."""
        params, body = self.sign(xml, **sign)
        return await self.send(params, body, timeout=timeout)

    async def send(self, params: dict[str, str], body: str, *, timeout: float | None = None) -> Answer:
        """POST this exact query and body (a retry, or an attacker's replay of a captured query)."""
        self.sent.append((dict(params), body))
        started = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.post(self.url, params=params, data=body.encode(),
                                 headers={"Content-Type": "text/xml"}) as resp:
                text = await resp.text()
        return Answer(resp.status, text, time.monotonic() - started, self.read_reply(text, resp.status))

    async def deliver(self, xml: str, *, attempt_timeout: float, attempts: int = 3) -> tuple[Answer | None, int]:
        """What WeChat does: the same callback again whenever one gets no answer in time. Returns the
        answer that arrived (None if every try timed out) and how many tries were made."""
        for n in range(1, attempts + 1):
            try:
                return await self.post(xml, timeout=attempt_timeout), n
            except asyncio.TimeoutError:
                continue
        return None, attempts

    async def handshake(self, echostr: str, *, forge: bool = False, timestamp: int | None = None,
                        nonce: str | None = None) -> tuple[int, str]:
        timestamp_ = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce if nonce is not None else str(secrets.randbelow(10**10))
        signature = "0" * 40 if forge else sha1_signature(self.token, timestamp_, nonce)
        params = {"signature": signature, "timestamp": timestamp_, "nonce": nonce, "echostr": echostr}
        self.sent.append((dict(params), ""))
        async with aiohttp.ClientSession() as http:
            async with http.get(self.url, params=params) as resp:
                return resp.status, await resp.text()

    def read_reply(self, text: str, status: int) -> dict[str, str] | None:
        """The reply's fields; an encrypted reply is verified (MsgSignature) and decrypted first."""
        if status != 200 or not text.startswith("<xml"):
            return None
        fields = _fields(text)
        if "Encrypt" in fields:
            assert self.aes is not None, "an encrypted reply to a plaintext client"
            expected = sha1_signature(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
            assert fields["MsgSignature"] == expected, "the reply's MsgSignature does not verify"
            return _fields(self.aes.decrypt(fields["Encrypt"]))
        assert self.mode == "plaintext", "an encrypted request got a plaintext reply"
        return fields


def _fields(xml: str) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(xml)}


def _field(xml: str, name: str) -> str:
    return _fields(xml).get(name, "")
