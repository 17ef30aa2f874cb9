"""One-time sign-in links (/web): a random token valid 5 minutes that signs its user in once, on any worker."""
from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime, timezone
from typing import Callable

from core.commands_results import SignInLink
from core.errors import Unauthorized
from core.ports import EphemeralStore

LINK_TTL = 300
_NAMESPACE = "web-sign-in"


def _key(token: str) -> str:
    # Only a hash is stored: whoever reads the store cannot sign in with what they read.
    return hashlib.sha256(token.encode()).hexdigest()


class SignInLinkService:
    """Implements core.commands_results.SignInLinks. `url_for(token, next_path)` makes the absolute link (the web
    adapter's path on server.public_url; it keeps `next_path` only when it is one of the user pages); `redeem`
    hands the user id out once, through the store's atomic `take`."""

    def __init__(self, store: EphemeralStore, url_for: Callable[[str, str | None], str], ttl: int = LINK_TTL,
                 clock: Callable[[], float] = time.time):
        self._store = store
        self._url_for = url_for
        self._ttl = ttl
        self._clock = clock

    async def issue(self, user_id: str, next_path: str | None = None) -> SignInLink:
        """A link that signs `user_id` in once and lands on `next_path` (a /web page), else the chat page."""
        token = secrets.token_urlsafe(32)
        expires = self._clock() + self._ttl
        await self._store.put(_NAMESPACE, _key(token), f"{user_id}|{expires}", self._ttl)
        return SignInLink(self._url_for(token, next_path), datetime.fromtimestamp(expires, timezone.utc))

    async def redeem(self, token: str) -> str:
        """The user the link was made for; Unauthorized (reason `invalid_link`) when it is unknown, used or old."""
        value = await self._store.take(_NAMESPACE, _key(token.strip())) if token.strip() else None
        if value is None:
            raise Unauthorized("This sign-in link is unknown, already used or expired. Send /web again.",
                               reason="invalid_link")
        user_id, _, expires = value.rpartition("|")
        if float(expires) < self._clock():   # the store's own expiry may lag (database purge)
            raise Unauthorized("This sign-in link has expired. Send /web again.", reason="invalid_link")
        return user_id
