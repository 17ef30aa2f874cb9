"""Our domain values in Dify's JSON: usage with prices, retriever_resources, conversations, history items, files."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from core.chat_app import Exchange
from core.domain import Citation, Conversation, Message
from core.files import IMAGE_TYPES, StoredFile

PRICE_UNIT = Decimal("0.001")       # Dify's prices are per 1,000 tokens
_PRICE_PLACES = Decimal("0.0000001")
# The knowledge base is one dataset to a Dify client: its id is fixed, so clients can group by it.
DATASET_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "chatbot-platform:knowledge-base"))


def unix(moment: datetime) -> int:
    """Dify's timestamps: whole seconds since the epoch (naive datetimes are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


@dataclass(frozen=True)
class Pricing:
    """metadata.usage prices: a model's unit price is its weight x `per_1k` (dify.price_per_1k_tokens)."""

    per_1k: Decimal
    currency: str
    weights: Callable[[str | None], tuple[float, float]]   # model name -> (input_weight, output_weight)

    def usage(self, message: Message, latency: float | None = None) -> dict:
        u = message.usage
        input_weight, output_weight = self.weights(message.model)
        prompt_unit = Decimal(str(input_weight)) * self.per_1k
        completion_unit = Decimal(str(output_weight)) * self.per_1k
        prompt_price = (u.prompt_tokens * prompt_unit * PRICE_UNIT).quantize(_PRICE_PLACES, ROUND_HALF_UP)
        completion_price = (u.completion_tokens * completion_unit * PRICE_UNIT).quantize(_PRICE_PLACES, ROUND_HALF_UP)
        return {
            "prompt_tokens": u.prompt_tokens, "prompt_unit_price": _plain(prompt_unit),
            "prompt_price_unit": str(PRICE_UNIT), "prompt_price": format(prompt_price, "f"),
            "completion_tokens": u.completion_tokens, "completion_unit_price": _plain(completion_unit),
            "completion_price_unit": str(PRICE_UNIT), "completion_price": format(completion_price, "f"),
            "total_tokens": u.total_tokens, "total_price": format(prompt_price + completion_price, "f"),
            "currency": self.currency, "latency": round(latency or 0.0, 3),
            "cost": message.cost,  # ours: the tokens debited from the user's balance
        }


def retriever_resources(message_id: str, citations: tuple[Citation, ...], dataset_name: str) -> list[dict]:
    """CONTRACT 9: document_id = resource id, document_name = its name, segment_id = chunk id."""
    return [{"position": n, "dataset_id": DATASET_ID, "dataset_name": dataset_name, "document_id": c.resource_id,
             "document_name": c.title, "segment_id": c.chunk_id, "score": c.score, "content": c.snippet,
             "message_id": message_id, "data_source_type": "upload_file", "word_count": len(c.snippet)}
            for n, c in enumerate(citations, 1)]


def metadata(message: Message, pricing: Pricing, dataset_name: str, latency: float | None = None) -> dict:
    return {"usage": pricing.usage(message, latency),
            "retriever_resources": retriever_resources(message.id, message.citations, dataset_name)}


def conversation(conv: Conversation, introduction: str, inputs: dict | None = None) -> dict:
    return {"id": conv.id, "name": conv.title, "inputs": inputs or {}, "status": "normal",
            "introduction": introduction, "created_at": unix(conv.created_at), "updated_at": unix(conv.updated_at)}


def upload(file: StoredFile, preview_url: str | None = None) -> dict:
    """Dify's file object, as POST /files/upload answers it."""
    return {"id": file.id, "name": file.name, "size": file.bytes, "extension": extension(file),
            "mime_type": file.mime, "created_by": file.owner_id, "created_at": unix(file.created_at),
            "preview_url": preview_url, "source_url": file.source_url}


def extension(file: StoredFile) -> str:
    if file.mime in IMAGE_TYPES:
        return IMAGE_TYPES[file.mime]
    return file.name.rsplit(".", 1)[-1].lower() if "." in file.name else ""


def message_file(file: StoredFile, url: str, belongs_to: str = "user") -> dict:
    """An item of a history message's `message_files`."""
    return {"id": file.id, "filename": file.name, "type": file.kind, "url": url, "mime_type": file.mime,
            "size": file.bytes, "transfer_method": "remote_url" if file.source_url else "local_file",
            "belongs_to": belongs_to, "upload_file_id": file.id}


_RATINGS = {1: "like", -1: "dislike"}


def history_item(exchange: Exchange, pricing: Pricing, dataset_name: str, inputs: dict,
                 files: list[dict]) -> dict:
    answer = exchange.answer
    rating = _RATINGS.get(answer.feedback) if answer else None
    failed = answer is not None and answer.status == "error"
    return {
        "id": exchange.id,
        "conversation_id": exchange.conversation_id,
        "parent_message_id": None,
        "inputs": inputs,
        "query": exchange.query.content if exchange.query else "",
        "answer": answer.content if answer else "",
        "message_files": files,
        "feedback": {"rating": rating} if rating else None,
        "retriever_resources": retriever_resources(answer.id, answer.citations, dataset_name) if answer else [],
        "metadata": {"usage": pricing.usage(answer)} if answer else {},
        "agent_thoughts": [],
        "created_at": unix(exchange.created_at),
        "status": "error" if failed else "normal",
        "error": "The model failed to answer." if failed else None,
    }
