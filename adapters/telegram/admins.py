"""Who the admins of a Telegram group are, asked with getChatMember and remembered briefly (a promotion or demotion
counts within `ttl_seconds`)."""
from __future__ import annotations

import logging
import time
from typing import Callable

from telegram import Bot, ChatMember
from telegram.error import TelegramError

log = logging.getLogger(__name__)

ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})


class GroupAdmins:
    def __init__(self, bot: Bot, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._bot = bot
        self._ttl = ttl_seconds
        self._clock = clock
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        now = self._clock()
        known = self._known.get((chat_id, user_id))
        if known is not None and known[1] > now:
            return known[0]
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramError as e:   # not asked: refuse this time, ask again next time
            log.info("getChatMember %s/%s failed: %s", chat_id, user_id, e)
            return False
        admin = member.status in ADMIN_STATUSES
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[(chat_id, user_id)] = (admin, now + self._ttl)
        return admin

    def asker(self, chat_id: int, user_id: int) -> "GroupAsker":
        return GroupAsker(self, chat_id, user_id)


class GroupAsker:
    """core.commands_results.ChatAdmins for one person in one group."""

    def __init__(self, admins: GroupAdmins, chat_id: int, user_id: int):
        self._admins = admins
        self._chat_id = chat_id
        self._user_id = user_id

    async def is_admin(self) -> bool:
        return await self._admins.is_admin(self._chat_id, self._user_id)

