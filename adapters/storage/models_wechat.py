"""Tortoise models of the WeChat channel: answers waiting for the user's next message."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class WeChatPendingRow(Model):
    """One text (at most one WeChat message long) owed to a user, delivered oldest first."""

    id = fields.BigIntField(primary_key=True)
    openid = fields.CharField(max_length=128, db_index=True)
    msg_key = fields.CharField(max_length=160, null=True)
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "wechat_pending"
