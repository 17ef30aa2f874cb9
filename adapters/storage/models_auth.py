"""Tortoise models of the HTTP API's credentials: per-user API keys, stored only as sha256 hashes."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ApiKeyRow(Model):
    user_id = fields.CharField(max_length=36, primary_key=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    hint = fields.CharField(max_length=16, default="")   # the key's first characters, to tell keys apart
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_keys"
