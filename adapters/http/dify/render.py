"""Our domain values in Dify's JSON: conversations, history items, usage and retriever_resources."""
from __future__ import annotations

from datetime import datetime, timezone

from core.chat_app import Exchange
from core.domain import Citation, Conversation, Message


def unix(moment: datetime) -> int:
    """Dify's timestamps: whole seconds since the epoch (naive datetimes are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def retriever_resources(message_id: str, citations: tuple[Citation, ...]) -> list[dict]:
    """CONTRACT 9: document_id = resource id, document_name = its name, segment_id = chunk id."""
    return [{"position": n, "message_id": message_id, "document_id": c.resource_id, "document_name": c.title,
             "segment_id": c.chunk_id, "score": c.score, "content": c.snippet, "data_source_type": "upload_file",
             "word_count": len(c.snippet)}
            for n, c in enumerate(citations, 1)]


def usage(message: Message, latency: float | None = None) -> dict:
    body = {"prompt_tokens": message.usage.prompt_tokens, "completion_tokens": message.usage.completion_tokens,
            "total_tokens": message.usage.total_tokens, "cost": message.cost}
    if latency is not None:
        body["latency"] = round(latency, 3)
    return body


def metadata(message: Message, latency: float | None = None) -> dict:
    return {"usage": usage(message, latency), "retriever_resources": retriever_resources(message.id, message.citations)}


def conversation(conv: Conversation, introduction: str) -> dict:
    return {"id": conv.id, "name": conv.title, "inputs": {}, "status": "normal", "introduction": introduction,
            "created_at": unix(conv.created_at), "updated_at": unix(conv.updated_at)}


_RATINGS = {1: "like", -1: "dislike"}


def history_item(exchange: Exchange) -> dict:
    answer = exchange.answer
    rating = _RATINGS.get(answer.feedback) if answer else None
    failed = answer is not None and answer.status == "error"
    return {
        "id": exchange.id,
        "conversation_id": exchange.conversation_id,
        "parent_message_id": None,
        "inputs": {},
        "query": exchange.query.content if exchange.query else "",
        "answer": answer.content if answer else "",
        "message_files": [],
        "feedback": {"rating": rating} if rating else None,
        "retriever_resources": retriever_resources(answer.id, answer.citations) if answer else [],
        "agent_thoughts": [],
        "created_at": unix(exchange.created_at),
        "status": "error" if failed else "normal",
        "error": "The model failed to answer." if failed else None,
    }
