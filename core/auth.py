"""Credentials of the HTTP API: signed expiring bearer tokens and per-user API keys stored only as hashes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Protocol

from core.errors import DomainError, Unauthorized

API_KEY_PREFIX = "bk_"


class TokensDisabled(DomainError):
    """Bearer tokens cannot be issued because no signing secret is configured."""

    status, reason = 503, "tokens_disabled"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    user_id: str
    expiry: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Bearer tokens `v1.<payload>.<hmac-sha256>`: the payload names the user and the expiry."""

    def __init__(self, secret: str, ttl_seconds: int, clock: Callable[[], float] = time.time):
        self._key = secret.encode()
        self._ttl = ttl_seconds
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return bool(self._key)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, f"v1.{payload}".encode(), hashlib.sha256).digest())

    def require_enabled(self) -> None:
        """Raise TokensDisabled when no secret is configured (check before spending a login code)."""
        if not self.enabled:
            raise TokensDisabled("Bearer tokens are disabled: set security.token_secret (e.g. TOKEN_SECRET) "
                                 "in the server's config. API keys still work.")

    def issue(self, user_id: str, now: float | None = None) -> IssuedToken:
        """A token for `user_id` valid for the configured TTL. Raises TokensDisabled without a secret."""
        self.require_enabled()
        issued = int(self._clock() if now is None else now)
        expiry = issued + self._ttl
        payload = _b64(json.dumps({"sub": user_id, "iat": issued, "exp": expiry}, separators=(",", ":")).encode())
        return IssuedToken(f"v1.{payload}.{self._sign(payload)}", user_id,
                           datetime.fromtimestamp(expiry, timezone.utc))

    def verify(self, token: str) -> str:
        """The user id in a valid, unexpired token; Unauthorized otherwise."""
        version, _, rest = token.strip().partition(".")
        payload, _, signature = rest.partition(".")
        if not self.enabled or version != "v1" or not payload or not signature:
            raise Unauthorized("The bearer token is not valid.")
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise Unauthorized("The bearer token is not valid.")
        try:
            claims = json.loads(_unb64(payload))
            user_id, expiry = str(claims["sub"]), int(claims["exp"])
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("The bearer token is not valid.") from None
        if expiry <= self._clock():
            raise Unauthorized("The bearer token has expired; request a new one.")
        return user_id


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyRepository(Protocol):
    """Per-user API keys, stored as sha256 hashes: one live key per user."""

    async def replace(self, user_id: str, key_hash: str, hint: str) -> None:
        """Make `key_hash` the user's only key (the previous one stops working)."""
        ...

    async def delete(self, user_id: str) -> bool: ...

    async def user_for(self, key_hash: str) -> str | None: ...


class ApiKeyService:
    def __init__(self, keys: ApiKeyRepository):
        self._keys = keys

    async def rotate(self, user_id: str) -> str:
        """A new key for the user, returned once; any older key stops working."""
        key = new_api_key()
        await self._keys.replace(user_id, hash_api_key(key), key[: len(API_KEY_PREFIX) + 4])
        return key

    async def revoke(self, user_id: str) -> bool:
        return await self._keys.delete(user_id)

    async def user_for(self, key: str) -> str | None:
        if not key.startswith(API_KEY_PREFIX):
            return None
        return await self._keys.user_for(hash_api_key(key))
