"""SecretBox: API keys sealed with AES-GCM under a key derived (HKDF-SHA256) from a configured secret."""
from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import DomainError

PREFIX = "v1:"


class EncryptionUnavailable(DomainError):
    status, reason = 503, "encryption_unavailable"


class SecretBox:
    """Seals short secrets. Each is bound to a context (the row it belongs to: "user:ID:PROVIDER"), so a sealed
    value copied to another row does not open there."""

    def __init__(self, secret: str):
        self._aead: AESGCM | None = None
        if secret:
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"chatbot-platform/llm-keys",
                       info=b"api keys at rest v1").derive(secret.encode())
            self._aead = AESGCM(key)

    @property
    def available(self) -> bool:
        return self._aead is not None

    def _box(self) -> AESGCM:
        if self._aead is None:
            raise EncryptionUnavailable("Keys cannot be stored: no security.encryption_secret (or token_secret) is "
                                        "configured to encrypt them with.")
        return self._aead

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._box().encrypt(nonce, plaintext.encode(), context.encode())
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, sealed: str, context: str) -> str | None:
        """The plaintext; None when it cannot be opened (another secret, another row, tampered)."""
        if not sealed.startswith(PREFIX):
            return None
        raw = base64.b64decode(sealed[len(PREFIX):])
        try:
            return self._box().decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError):
            return None
