"""Small model calls charged to the user like a small reply: a conversation title (TitleWriter) and follow-up
questions after an answer (SuggestionWriter, Dify's suggested_questions_after_answer)."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid

from core.catalog import ModelCatalog
from core.domain import ChatTurn, Usage
from core.errors import UpstreamError
from core.ports import ChatModel, ModelRequest, TextDelta, TokenCounter, UsageReport
from core.quota import QuotaLedger

TITLE_MAX_TOKENS = 32
TITLE_MAX_CHARS = 100
EXCERPT_CHARS = 1000
SUGGESTIONS_MAX_TOKENS = 256
SUGGESTION_MAX_CHARS = 200

TITLE_INSTRUCTION = (
    "Write a title of at most eight words for the conversation below, in the language the user writes in. "
    "Reply with the title only: no quotes, no punctuation at the end."
)
SUGGESTIONS_INSTRUCTION = (
    "Predict the three questions the user is most likely to ask next about the conversation below, each under "
    "20 words, in the language of the assistant's last answer. Reply with a JSON array of three strings only: "
    '["question1", "question2", "question3"]'
)


class ShortAnswer:
    """One small model call: held before, charged after (like a reply), never charged when it fails."""

    def __init__(self, model: ChatModel, catalog: ModelCatalog, counter: TokenCounter, quota: QuotaLedger):
        self._model = model
        self._catalog = catalog
        self._counter = counter
        self._quota = quota

    async def ask(self, user_id: str, instruction: str, body: str, max_tokens: int, kind: str) -> str:
        """The model's answer to `body` under `instruction`. Raises QuotaExceeded before any model call when
        the balance cannot cover it; UpstreamError is not charged."""
        spec = self._catalog.get(None)
        # We ask for at most max_tokens, so the worst case held is that, not a full reply.
        spec = dataclasses.replace(spec, max_output_tokens=min(spec.max_output_tokens, max_tokens))
        turns = (ChatTurn("system", instruction), ChatTurn("user", body))
        prompt_tokens = self._counter.count_turns(turns)
        call_id = f"{kind}:{uuid.uuid4()}"
        hold = await self._quota.hold(user_id, spec, prompt_tokens, key=f"reply:{call_id}")
        lease = self._quota.lease(hold)   # renewed while the model answers, like a reply's
        parts: list[str] = []
        usage: Usage | None = None
        try:
            async for chunk in self._model.stream(ModelRequest(spec.name, turns, spec.max_output_tokens)):
                if isinstance(chunk, TextDelta):
                    parts.append(chunk.text)
                elif isinstance(chunk, UsageReport):
                    usage = chunk.usage
        except BaseException:
            lease.stop()
            await asyncio.shield(self._quota.release(hold))
            raise
        lease.stop()
        text = "".join(parts)
        usage = usage or Usage(prompt_tokens, self._counter.count(text))
        await asyncio.shield(self._quota.settle(hold, spec, usage, call_id))
        return text


def _exchange(question: str, answer: str) -> str:
    return f"User: {question[:EXCERPT_CHARS]}\nAssistant: {answer[:EXCERPT_CHARS]}"


class TitleWriter:
    def __init__(self, model: ChatModel, catalog: ModelCatalog, counter: TokenCounter, quota: QuotaLedger):
        self._ask = ShortAnswer(model, catalog, counter, quota)

    async def write(self, user_id: str, question: str, answer: str) -> str:
        """A title for an exchange, charged like a small reply."""
        text = await self._ask.ask(user_id, TITLE_INSTRUCTION, _exchange(question, answer), TITLE_MAX_TOKENS, "title")
        title = clean_title(text)
        if not title:
            raise UpstreamError("The model returned an empty title.")
        return title


class SuggestionWriter:
    def __init__(self, model: ChatModel, catalog: ModelCatalog, counter: TokenCounter, quota: QuotaLedger):
        self._ask = ShortAnswer(model, catalog, counter, quota)

    async def suggest(self, user_id: str, question: str, answer: str) -> list[str]:
        """Up to three questions the user may ask next, charged like a small reply."""
        text = await self._ask.ask(user_id, SUGGESTIONS_INSTRUCTION, _exchange(question, answer),
                                   SUGGESTIONS_MAX_TOKENS, "suggest")
        return parse_suggestions(text)


def parse_suggestions(text: str) -> list[str]:
    """The JSON array in the model's answer (found inside any prose around it); else its non-empty lines."""
    start, end = text.find("["), text.rfind("]")
    items: list = []
    if 0 <= start < end:
        try:
            found = json.loads(text[start:end + 1])
            items = found if isinstance(found, list) else []
        except ValueError:
            items = []
    if not items:
        items = [line.strip().lstrip("-*0123456789.) ").strip() for line in text.splitlines()]
    cleaned = [str(q).strip()[:SUGGESTION_MAX_CHARS] for q in items if isinstance(q, (str, int, float))]
    return [q for q in cleaned if q][:3]


def clean_title(text: str) -> str:
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = line.strip().strip("\"'“”‘’「」《》").strip()
    if line.lower().startswith("title:"):
        line = line[6:].strip()
    line = line.rstrip("。.!！")
    return line if len(line) <= TITLE_MAX_CHARS else line[: TITLE_MAX_CHARS - 1] + "…"
