"""Per-chat settings on tortoise (a Telegram group's /mode): core.chat_modes.ChatSettingsStore."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ChatSettingRow(Model):
    chat_key = fields.CharField(max_length=200, primary_key=True)   # "telegram:-100123"
    reply_to = fields.CharField(max_length=16)                      # "all" or "mentions"
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "chat_settings"
        table_description = "Per-chat settings a chat's admin chose (/mode: answer every message or only mentions)."


class TortoiseChatSettings:
    async def reply_to(self, chat_key: str) -> str | None:
        row = await ChatSettingRow.get_or_none(chat_key=chat_key)
        return row.reply_to if row else None

    async def set_reply_to(self, chat_key: str, reply_to: str) -> None:
        await ChatSettingRow.update_or_create(defaults={"reply_to": reply_to}, chat_key=chat_key)
