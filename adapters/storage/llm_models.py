"""Tortoise models of the LLM tables: providers added over the API, and the API keys users bring."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class LlmProviderRow(Model):
    name = fields.CharField(max_length=64, primary_key=True)
    base_url = fields.CharField(max_length=500)
    api_key = fields.TextField(default="")              # sealed (adapters/storage/llm_secrets.py); "" for none
    key_hint = fields.CharField(max_length=8, default="")  # its last 4 characters, to show
    timeout_seconds = fields.FloatField(default=60.0)
    models = fields.JSONField(default=list)             # [{name, input_weight, output_weight, context_window, ...}]
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "llm_providers"
        table_description = "Model providers an operator added over /api/v1/llm-providers (config.yaml's are not here)."


class UserLlmKeyRow(Model):
    id = fields.BigIntField(primary_key=True)
    user_id = fields.CharField(max_length=36, db_index=True)
    provider = fields.CharField(max_length=64)
    api_key = fields.TextField()                        # sealed, bound to (user_id, provider)
    key_hint = fields.CharField(max_length=8)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "user_llm_keys"
        unique_together = (("user_id", "provider"),)
        table_description = "API keys users brought for a provider (/api/v1/me/llm-keys), encrypted at rest."
