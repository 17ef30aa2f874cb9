"""Tortoise models of the operator's side: the audit log, which config items were ever seeded, WeChat menu keys."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditRow(Model):
    seq = fields.BigIntField(primary_key=True)
    id = fields.CharField(max_length=36, unique=True)
    actor = fields.CharField(max_length=100)
    action = fields.CharField(max_length=64, db_index=True)
    target = fields.CharField(max_length=200, db_index=True)
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_log"


class ConfigSeedRow(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=16)
    key = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "config_seeds"
        unique_together = (("kind", "key"),)


class MenuKeyRow(Model):
    key = fields.CharField(max_length=100, primary_key=True)
    action = fields.CharField(max_length=500)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "wechat_menu_keys"
        table_description = "What each WeChat menu CLICK key runs (config.yaml seeds keys never seen)."
