"""Blocked users: the one check every reply and command passes, answering in the user's own language."""
from __future__ import annotations

from core.errors import Forbidden
from core.i18n import Texts
from core.ports import UserRepository


class UserBlocked(Forbidden):
    """An operator blocked this user: 403, reason `user_blocked`, a message in the user's language."""

    status, reason = 403, "user_blocked"


class AccessGuard:
    def __init__(self, users: UserRepository, texts: Texts):
        self._users = users
        self._texts = texts

    async def check(self, user_id: str) -> None:
        """Raise UserBlocked when an operator blocked `user_id` (one indexed lookup otherwise)."""
        if await self._users.is_blocked(user_id):
            user = await self._users.get(user_id)
            raise UserBlocked(self.message(user.locale if user else None))

    def message(self, locale: str | None) -> str:
        return self._texts.get("error.user_blocked", self._texts.locale_for(locale))
