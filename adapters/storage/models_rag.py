"""Tortoise models of the knowledge base: resources and their chunks (text, page, float32 vector blob)."""
from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ResourceRow(Model):
    seq = fields.BigIntField(primary_key=True)
    id = fields.CharField(max_length=36, unique=True)
    owner_id = fields.CharField(max_length=36, null=True, db_index=True)  # NULL: global
    name = fields.CharField(max_length=200)
    source = fields.CharField(max_length=16)
    content_type = fields.CharField(max_length=64)
    url = fields.TextField(null=True)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    error = fields.TextField(null=True)
    error_reason = fields.CharField(max_length=64, null=True)
    chunks = fields.IntField(default=0)
    bytes = fields.BigIntField(default=0)
    charged_bytes = fields.BigIntField(default=0)
    content_hash = fields.CharField(max_length=64, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    indexed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "rag_resources"


class ChunkRow(Model):
    seq = fields.BigIntField(primary_key=True)
    id = fields.CharField(max_length=36, unique=True)
    resource_id = fields.CharField(max_length=36, db_index=True)
    position = fields.IntField()
    page = fields.IntField(null=True)
    heading = fields.CharField(max_length=300, default="")
    text = fields.TextField()
    dims = fields.IntField()
    vector = fields.BinaryField()  # float32, little-endian, L2-normalised

    class Meta:
        table = "rag_chunks"


class RagStateRow(Model):
    """Counters other processes poll to keep their in-memory vectors in step (deletions)."""

    key = fields.CharField(max_length=32, primary_key=True)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "rag_state"
