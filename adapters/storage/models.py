"""Tortoise models: the tables of the engine. Repositories translate them to core.domain values."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class UserRow(Model):
    id = fields.CharField(max_length=36, primary_key=True)
    name = fields.CharField(max_length=200)
    balance = fields.BigIntField(default=0)
    held = fields.BigIntField(default=0)
    storage_limit_bytes = fields.BigIntField(default=0)
    storage_used_bytes = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    locale = fields.CharField(max_length=16, null=True)  # chosen with /lang; NULL: the platform's hint
    blocked = fields.BooleanField(default=False, db_default=False)  # an operator blocked this user (the console, core/admin.py)

    class Meta:
        table = "users"


class IdentityRow(Model):
    id = fields.BigIntField(primary_key=True)
    user_id = fields.CharField(max_length=36, db_index=True)
    channel = fields.CharField(max_length=32)
    external_id = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "identities"
        unique_together = (("channel", "external_id"),)


class ConversationRow(Model):
    seq = fields.BigIntField(primary_key=True)
    id = fields.CharField(max_length=36, unique=True)
    user_id = fields.CharField(max_length=36, db_index=True)
    title = fields.CharField(max_length=200, default="")
    instruction = fields.TextField(null=True)
    role = fields.CharField(max_length=100, null=True)
    resource_ids = fields.JSONField(default=list)
    summary = fields.TextField(default="")
    summary_until = fields.BigIntField(default=0)
    token_usage = fields.BigIntField(default=0)
    chat_key = fields.CharField(max_length=200, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    model = fields.CharField(max_length=100, null=True)  # chosen for this conversation; NULL: the role's or default

    class Meta:
        table = "conversations"


class MessageRow(Model):
    seq = fields.BigIntField(primary_key=True)
    id = fields.CharField(max_length=36, unique=True)
    conversation_id = fields.CharField(max_length=36, db_index=True)
    user_id = fields.CharField(max_length=36, db_index=True)
    role = fields.CharField(max_length=16)
    content = fields.TextField()
    model = fields.CharField(max_length=100, null=True)
    status = fields.CharField(max_length=16, default="complete")
    prompt_tokens = fields.IntField(default=0)
    completion_tokens = fields.IntField(default=0)
    cost = fields.BigIntField(default=0)
    citations = fields.JSONField(default=list)
    feedback = fields.SmallIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "messages"


class LedgerRow(Model):
    seq = fields.BigIntField(primary_key=True)
    id = fields.CharField(max_length=36, unique=True)
    user_id = fields.CharField(max_length=36, db_index=True)
    kind = fields.CharField(max_length=16)
    amount = fields.BigIntField()
    balance_after = fields.BigIntField()
    key = fields.CharField(max_length=200, unique=True)
    ref = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_entries"


class HoldRow(Model):
    id = fields.CharField(max_length=36, primary_key=True)
    user_id = fields.CharField(max_length=36, db_index=True)
    amount = fields.BigIntField()
    key = fields.CharField(max_length=200, unique=True)
    status = fields.CharField(max_length=16, default="active", db_index=True)
    expires_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "quota_holds"


class RoleRow(Model):
    name = fields.CharField(max_length=100, primary_key=True)
    description = fields.TextField(default="")
    system_prompt = fields.TextField()
    model = fields.CharField(max_length=100, null=True)  # the role's default model

    class Meta:
        table = "roles"


class ProductRow(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=8, default="CNY")
    tokens = fields.BigIntField(default=0)
    storage_mb = fields.IntField(default=0)
    stars = fields.IntField(default=0)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "products"


class OrderRow(Model):
    seq = fields.BigIntField(primary_key=True)
    id = fields.CharField(max_length=36, unique=True)
    user_id = fields.CharField(max_length=36, db_index=True)
    product_id = fields.CharField(max_length=64)
    product_name = fields.CharField(max_length=200)
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=8)
    tokens = fields.BigIntField(default=0)
    storage_mb = fields.IntField(default=0)
    stars = fields.IntField(default=0)
    status = fields.CharField(max_length=16, default="unpaid", db_index=True)
    payment_method = fields.CharField(max_length=32, null=True)
    provider_txn_id = fields.CharField(max_length=128, null=True)
    payment_ref = fields.TextField(null=True)
    note = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    paid_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "orders"


class EphemeralRow(Model):
    id = fields.BigIntField(primary_key=True)
    namespace = fields.CharField(max_length=64)
    key = fields.CharField(max_length=255)
    value = fields.TextField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "ephemeral"
        unique_together = (("namespace", "key"),)
