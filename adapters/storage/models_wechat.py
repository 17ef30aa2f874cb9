"""Tortoise models of the WeChat channel: answers waiting for the user's next message, messages being answered."""
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


class WeChatInboxRow(Model):
    """One accepted customer-service message: answered by the worker whose lease is current, or, after that
    worker died, by whichever worker claims it first. Its (account, msg_key) is answered once, ever."""

    id = fields.BigIntField(primary_key=True)
    account = fields.CharField(max_length=64)
    msg_key = fields.CharField(max_length=160)
    openid = fields.CharField(max_length=128, db_index=True)
    kind = fields.CharField(max_length=32)
    text = fields.TextField(null=True)
    event = fields.CharField(max_length=64, default="")
    event_key = fields.CharField(max_length=256, default="")
    status = fields.CharField(max_length=16, default="answering")   # answering, done, given_up
    attempts = fields.IntField(default=1)
    claimed_by = fields.CharField(max_length=128, null=True)
    lease_until = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "wechat_inbox"
        unique_together = (("account", "msg_key"),)
