"""TelegramUsers: our user behind a Telegram account (made on first contact) and the language they read."""
from __future__ import annotations

from telegram import User as TelegramUser

from core.accounts import AccountService
from core.domain import Identity, User
from core.i18n import Texts

CHANNEL = "telegram"


def chat_key(chat_id: int) -> str:
    """History is per chat: every member of a group talks in the same conversation."""
    return f"telegram:{chat_id}"


class TelegramUsers:
    def __init__(self, accounts: AccountService, texts: Texts):
        self._accounts = accounts
        self._texts = texts

    async def user(self, tg_user: TelegramUser) -> User:
        """Billing is per person: the user behind this Telegram account, created on first contact."""
        return await self.by_id(tg_user.id, tg_user.full_name)

    async def by_id(self, telegram_user_id: int, name: str = "") -> User:
        return await self._accounts.ensure_user(Identity(CHANNEL, str(telegram_user_id)), name)

    def locale(self, user: User, language_code: str | None) -> str:
        """Their /lang choice, else the language their Telegram app is set to, else i18n.default_locale."""
        return self._texts.locale_for(user.locale, language_code)

    async def user_and_locale(self, tg_user: TelegramUser) -> tuple[User, str]:
        user = await self.user(tg_user)
        return user, self.locale(user, tg_user.language_code)
