"""The callback wire format: signatures, plaintext/compatible/safe (AES) modes, parsing, and passive reply XML."""
from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply

from core.errors import Forbidden, InvalidRequest

# WeChat's callbacks are a few hundred bytes; anything near this is not from WeChat.
MAX_BODY_BYTES = 64 * 1024
# A signed request older (or newer) than this is refused even with a valid signature. Within it, the shared
# store remembers each signed query with its body (see marks.SeenQueries), so a captured query cannot carry
# another body. channels.wechat.timestamp_tolerance_seconds.
DEFAULT_TOLERANCE_SECONDS = 300
ENCRYPTIONS = ("plaintext", "compatible", "safe")
_XML_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Callback:
    """One verified, parsed callback: a user's message or event, and how to answer it."""

    openid: str                 # FromUserName: the user
    account: str                # ToUserName: our Official Account
    kind: str                   # text, voice, image, ..., or event
    msg_key: str                # the dedupe key: MsgId, or FromUserName+CreateTime for events
    text: str | None = None     # text content, or the voice Recognition
    event: str = ""             # subscribe, subscribe_scan, unsubscribe, scan, click, ... (lower case)
    event_key: str = ""         # the menu key, or the QR scene (without "qrscene_")
    encrypted: bool = False
    nonce: str = ""
    media_id: str = ""          # image and voice: the file on WeChat's media API (kept 3 days)
    pic_url: str = ""           # image: WeChat's link to the picture (used when the media API fails)
    voice_format: str = ""      # voice: amr or speex
    title: str = ""             # link: the shared page's title, description and address
    description: str = ""
    url: str = ""


def signature_of(*parts: str) -> str:
    """WeChat's SHA-1 over the sorted, concatenated parts (token, timestamp, nonce[, encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


class WeChatCodec:
    def __init__(self, token: str, app_id: str, encoding_aes_key: str = "", clock: Callable[[], float] = time.time,
                 *, encryption: str | None = None, tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS):
        self._token = token
        self._app_id = app_id
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id) if encoding_aes_key else None
        self._clock = clock
        self.encryption = encryption or ("safe" if encoding_aes_key else "plaintext")
        if self.encryption not in ENCRYPTIONS:
            raise ValueError(f"unknown encryption mode {self.encryption!r}")
        self.tolerance_seconds = tolerance_seconds

    def handshake(self, query: Mapping[str, str]) -> str:
        """The echostr to send back when the GET verification request is signed with our token."""
        self._check_plain_signature(query)
        return query.get("echostr", "")

    def check_query(self, query: Mapping[str, str]) -> None:
        """Refuse (403) before reading the body: a mode `encryption` does not allow, a missing or stale
        signature, or (for plaintext callbacks) a wrong one."""
        self._check_mode(query)
        if _is_encrypted(query):
            self._check_timestamp(query)
            if not query.get("msg_signature") or not query.get("nonce"):
                raise Forbidden("Missing msg_signature.", reason="bad_signature")
        else:
            self._check_plain_signature(query)

    def decode(self, query: Mapping[str, str], body: bytes) -> Callback:
        """Verify and parse a POST callback. Forbidden (403) for signatures, InvalidRequest (400) for the XML."""
        self.check_query(query)
        if len(body) > MAX_BODY_BYTES:
            raise InvalidRequest("The callback body is too large.", reason="payload_too_large")
        xml = _text_of(body)
        encrypted = _is_encrypted(query)
        if encrypted:
            xml = self._decrypt(query, xml)
        return _parse(xml, encrypted, query.get("nonce", ""))

    def render_text(self, callback: Callback, text: str) -> str:
        """The passive reply XML for `text`; encrypted when the callback was."""
        content = _XML_CONTROL.sub("", text).replace("]]>", "]]]]><![CDATA[>")
        xml = TextReply(source=callback.account, target=callback.openid, content=content,
                        time=int(self._clock())).render()
        if callback.encrypted and self._crypto is not None:
            return self._crypto.encrypt_message(xml, callback.nonce or "nonce", str(int(self._clock())))
        return xml

    # --- checks ---

    def _check_mode(self, query: Mapping[str, str]) -> None:
        encrypted = _is_encrypted(query)
        if not encrypted and self.encryption == "safe":
            # Safe mode means the body is authenticated (msg_signature covers the ciphertext); a plaintext
            # callback's signature covers only timestamp and nonce, so it would let a captured query carry any body.
            raise Forbidden("Plaintext callbacks are refused: channels.wechat.encryption is 'safe'.",
                            reason="encryption_refused")
        if encrypted and self.encryption == "plaintext" and self._crypto is not None:
            raise Forbidden("Encrypted callbacks are refused: channels.wechat.encryption is 'plaintext'.",
                            reason="encryption_refused")

    def _check_timestamp(self, query: Mapping[str, str]) -> None:
        try:
            stamp = int(query.get("timestamp", ""))
        except ValueError:
            raise Forbidden("Missing or invalid timestamp.", reason="bad_signature") from None
        if abs(self._clock() - stamp) > self.tolerance_seconds:
            raise Forbidden("The request's timestamp is too far from now.", reason="stale_request")

    def _check_plain_signature(self, query: Mapping[str, str]) -> None:
        self._check_timestamp(query)
        given = query.get("signature", "")
        expected = signature_of(self._token, query.get("timestamp", ""), query.get("nonce", ""))
        if not given or not hmac.compare_digest(given, expected):
            raise Forbidden("The signature does not match.", reason="bad_signature")

    def _decrypt(self, query: Mapping[str, str], xml: str) -> str:
        if self._crypto is None:
            raise InvalidRequest("An encrypted callback arrived but channels.wechat.encoding_aes_key is not set.",
                                 reason="encryption_not_configured")
        try:
            return self._crypto.decrypt_message(xml, query["msg_signature"], query["timestamp"], query["nonce"])
        except InvalidSignatureException:
            raise Forbidden("The msg_signature does not match.", reason="bad_signature") from None
        except InvalidAppIdException:
            raise InvalidRequest("The message was encrypted for another app id.", reason="malformed_xml") from None
        except Exception:  # not XML, no <Encrypt>, bad base64 or padding: nothing we can read
            raise InvalidRequest("The encrypted callback cannot be read.", reason="malformed_xml") from None


def _is_encrypted(query: Mapping[str, str]) -> bool:
    return query.get("encrypt_type", "raw").lower() == "aes"


def _text_of(body: bytes) -> str:
    try:
        xml = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The callback body is not UTF-8.", reason="malformed_xml") from None
    # WeChat never sends a DTDs; refusing them rules out entity-expansion tricks.
    if "<!DOCTYPE" in xml.upper() or "<!ENTITY" in xml.upper():
        raise InvalidRequest("DTDs are not accepted.", reason="malformed_xml")
    return xml


def _parse(xml: str, encrypted: bool, nonce: str) -> Callback:
    if encrypted:
        xml = _text_of(xml.encode("utf-8"))
    try:
        message = parse_message(xml)
        if message is None:
            raise ValueError("empty body")
        openid, account, kind = message.source, message.target, message.type
        create_time = int(message.time)
        msg_id = int(message.id or 0) if kind != "event" else 0
    except Exception:  # expat errors, a missing MsgType/CreateTime, a non-mapping root
        raise InvalidRequest("The callback is not a WeChat message XML.", reason="malformed_xml") from None
    if not openid or not isinstance(openid, str) or not account:
        raise InvalidRequest("The callback has no FromUserName/ToUserName.", reason="malformed_xml")
    key = f"msg:{msg_id}" if msg_id else f"evt:{openid}:{create_time}"
    text = None
    if kind == "text":
        text = message.content or ""
    elif kind == "voice":
        text = message.recognition or ""
    event = str(getattr(message, "event", "") or "").lower() if kind == "event" else ""
    event_key = ""
    if kind == "event":
        event_key = str(getattr(message, "scene_id", None) or getattr(message, "key", None) or "")
    return Callback(openid=openid, account=account, kind=kind, msg_key=key, text=text, event=event,
                    event_key=event_key, encrypted=encrypted, nonce=nonce, **_media_fields(message, kind))


def _media_fields(message, kind: str) -> dict[str, str]:
    """The fields of image, voice and link messages (adapters/wechat/media.py), as plain strings."""
    def field(name: str) -> str:
        value = getattr(message, name, None)
        return str(value).strip() if value is not None else ""

    if kind == "image":
        return {"media_id": field("media_id"), "pic_url": field("image")}
    if kind == "voice":
        return {"media_id": field("media_id"), "voice_format": field("format").lower()}
    if kind == "link":
        return {"title": field("title"), "description": field("description"), "url": field("url")}
    return {}
