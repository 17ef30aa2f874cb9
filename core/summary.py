"""Summarizer: folds turns that no longer fit the history budget into the conversation's rolling summary."""
from __future__ import annotations

import logging
from typing import Sequence

from core.domain import ChatTurn, Message
from core.ports import ChatModel, ConversationRepository, MessageRepository, ModelRequest, TextDelta, TokenCounter
from core.prompt import history_turns

log = logging.getLogger(__name__)

SUMMARY_INSTRUCTION = (
    "You maintain a running summary of a conversation between a user and an assistant. Merge the existing "
    "summary with the new turns into one concise summary (at most 200 words) that keeps names, facts, "
    "decisions, preferences and open questions. Write in the language of the conversation. Reply with the "
    "summary only."
)


class Summarizer:
    def __init__(self, model: ChatModel, model_name: str, counter: TokenCounter, conversations: ConversationRepository,
                 messages: MessageRepository, history_tokens: int):
        self._model = model
        self._model_name = model_name
        self._counter = counter
        self._conversations = conversations
        self._messages = messages
        self._budget = history_tokens

    async def maybe_summarize(self, conversation_id: str) -> bool:
        """When the unsummarized history is over budget, fold its oldest half into the summary."""
        conv = await self._conversations.get(conversation_id)
        if conv is None:
            return False
        history = await self._messages.recent(conversation_id, conv.summary_until, 500)
        sizes = [self._counter.count(m.content) + 4 for m in history]
        if sum(sizes) <= self._budget:
            return False
        # Fold the oldest messages until what is left fits in half the budget, so this runs rarely.
        remaining, cut = sum(sizes), 0
        while cut < len(history) and remaining > self._budget // 2:
            remaining -= sizes[cut]
            cut += 1
        folded = history[:cut]
        try:
            summary = await self._summarize(conv.summary, folded)
        except Exception:
            log.warning("summary of conversation %s failed; history is only trimmed this time", conversation_id,
                        exc_info=True)
            return False
        await self._conversations.set_summary(conversation_id, summary, folded[-1].seq)
        return True

    async def _summarize(self, previous: str, folded: Sequence[Message]) -> str:
        transcript = "\n".join(f"{t.role}: {t.content}" for t in history_turns(folded))
        body = (f"Existing summary:\n{previous or '(none)'}\n\nNew turns:\n{transcript}")
        request = ModelRequest(self._model_name, (ChatTurn("system", SUMMARY_INSTRUCTION), ChatTurn("user", body)), 400)
        parts = [c.text async for c in self._model.stream(request) if isinstance(c, TextDelta)]
        text = "".join(parts).strip()
        if not text:
            raise ValueError("empty summary")
        return text
