"""WeChat Pay API v3 cryptography: request signatures, answer/notify verification, AES-256-GCM resources."""
from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_SECONDS = 300


class SignatureError(Exception):
    """A WeChat Pay signature, timestamp or serial did not check out; `reason` says which."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def load_private_key(path: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def load_public_key(path: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} is not an RSA public key")
    return key


@dataclass(frozen=True)
class MerchantSigner:
    """Signs our requests with the merchant API private key (the `Authorization` header)."""

    mchid: str
    serial_no: str
    private_key: rsa.RSAPrivateKey

    def authorization(self, method: str, url_path: str, body: str, *, timestamp: int | None = None,
                      nonce: str | None = None) -> str:
        """`url_path` is the path plus query string exactly as sent; `body` is the exact JSON text ('' for GET)."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or secrets.token_hex(16).upper()
        signature = self.sign(f"{method}\n{url_path}\n{ts}\n{nonce}\n{body}\n")
        return (f'{SCHEME} mchid="{self.mchid}",nonce_str="{nonce}",signature="{signature}",'
                f'timestamp="{ts}",serial_no="{self.serial_no}"')

    def sign(self, message: str) -> str:
        """base64(RSA-SHA256) of `message` with the merchant key: the JSAPI paySign, for one."""
        return base64.b64encode(self.private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


@dataclass(frozen=True)
class PlatformVerifier:
    """Checks the Wechatpay-* headers of WeChat Pay's answers and notifies with the platform public key."""

    public_key_id: str
    public_key: rsa.RSAPublicKey
    max_skew: int = MAX_SKEW_SECONDS

    def verify(self, headers, body: bytes, *, now: float | None = None) -> None:
        """Raise SignatureError unless the headers sign `body` with our platform key, recently."""
        signature = headers.get("Wechatpay-Signature", "")
        timestamp = headers.get("Wechatpay-Timestamp", "")
        nonce = headers.get("Wechatpay-Nonce", "")
        serial = headers.get("Wechatpay-Serial", "")
        if not (signature and timestamp and nonce and serial):
            raise SignatureError("missing_signature", "Wechatpay-Signature, -Timestamp, -Nonce and -Serial are required.")
        if serial != self.public_key_id:
            raise SignatureError("unknown_serial", f"Wechatpay-Serial {serial!r} is not the configured platform public key id.")
        try:
            ts = int(timestamp)
        except ValueError:
            raise SignatureError("bad_timestamp", "Wechatpay-Timestamp is not a number.") from None
        if abs((time.time() if now is None else now) - ts) > self.max_skew:
            raise SignatureError("stale_timestamp", f"Wechatpay-Timestamp is more than {self.max_skew} s away from now.")
        try:
            raw = base64.b64decode(signature, validate=True)
            self.public_key.verify(raw, timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n",
                                   padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise SignatureError("bad_signature", "Wechatpay-Signature does not verify with the platform public key.") from None


def decrypt_resource(apiv3_key: str, resource: dict) -> bytes:
    """Open an AEAD_AES_256_GCM `resource` of a notify. Raises ValueError when it does not decrypt."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise ValueError(f"unsupported resource algorithm {resource.get('algorithm')!r}")
    try:
        return AESGCM(apiv3_key.encode()).decrypt(str(resource["nonce"]).encode(),
                                                   base64.b64decode(resource["ciphertext"]),
                                                   str(resource.get("associated_data") or "").encode())
    except (InvalidTag, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"the notify resource does not decrypt with apiv3_key ({e.__class__.__name__})") from None
