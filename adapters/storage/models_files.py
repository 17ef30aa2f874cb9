"""Tortoise models of stored files, the files each message carries, and a chat app's conversation inputs."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class StoredFileRow(Model):
    id = fields.CharField(max_length=36, primary_key=True)
    owner_id = fields.CharField(max_length=36, db_index=True)
    kind = fields.CharField(max_length=16)
    mime = fields.CharField(max_length=100)
    name = fields.CharField(max_length=255)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    source_url = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "stored_files"


class MessageFileRow(Model):
    id = fields.BigIntField(primary_key=True)
    message_id = fields.CharField(max_length=36, db_index=True)
    file_id = fields.CharField(max_length=36)
    position = fields.IntField(default=0)

    class Meta:
        table = "message_files"
        unique_together = (("message_id", "file_id"),)


class ConversationInputsRow(Model):
    """The `inputs` a chat-app conversation was started with (Dify keeps them for the whole conversation)."""

    conversation_id = fields.CharField(max_length=36, primary_key=True)
    inputs = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "conversation_inputs"
