"""TitleWriter: asks the model for a short conversation title, charged to the user like a small reply."""
from __future__ import annotations

import asyncio
import dataclasses
import uuid

from core.catalog import ModelCatalog
from core.domain import ChatTurn, Usage
from core.errors import UpstreamError
from core.ports import ChatModel, ModelRequest, TextDelta, TokenCounter, UsageReport
from core.quota import QuotaLedger

TITLE_MAX_TOKENS = 32
TITLE_MAX_CHARS = 100
EXCERPT_CHARS = 1000

TITLE_INSTRUCTION = (
    "Write a title of at most eight words for the conversation below, in the language the user writes in. "
    "Reply with the title only: no quotes, no punctuation at the end."
)


class TitleWriter:
    def __init__(self, model: ChatModel, catalog: ModelCatalog, counter: TokenCounter, quota: QuotaLedger):
        self._model = model
        self._catalog = catalog
        self._counter = counter
        self._quota = quota

    async def write(self, user_id: str, question: str, answer: str) -> str:
        """A title for an exchange. The call is held and charged like a reply (raises QuotaExceeded
        before any model call when the balance cannot cover it; UpstreamError is not charged)."""
        spec = self._catalog.get(None)
        # We ask for at most TITLE_MAX_TOKENS, so the worst case held is that, not a full reply.
        spec = dataclasses.replace(spec, max_output_tokens=min(spec.max_output_tokens, TITLE_MAX_TOKENS))
        body = f"User: {question[:EXCERPT_CHARS]}\nAssistant: {answer[:EXCERPT_CHARS]}"
        turns = (ChatTurn("system", TITLE_INSTRUCTION), ChatTurn("user", body))
        prompt_tokens = self._counter.count_turns(turns)
        call_id = f"title:{uuid.uuid4()}"
        hold = await self._quota.hold(user_id, spec, prompt_tokens, key=f"reply:{call_id}")
        parts: list[str] = []
        usage: Usage | None = None
        try:
            async for chunk in self._model.stream(ModelRequest(spec.name, turns, spec.max_output_tokens)):
                if isinstance(chunk, TextDelta):
                    parts.append(chunk.text)
                elif isinstance(chunk, UsageReport):
                    usage = chunk.usage
        except BaseException:
            await asyncio.shield(self._quota.release(hold))
            raise
        text = "".join(parts)
        usage = usage or Usage(prompt_tokens, self._counter.count(text))
        await asyncio.shield(self._quota.settle(hold, spec, usage, call_id))
        title = clean_title(text)
        if not title:
            raise UpstreamError("The model returned an empty title.")
        return title


def clean_title(text: str) -> str:
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = line.strip().strip("\"'“”‘’「」《》").strip()
    if line.lower().startswith("title:"):
        line = line[6:].strip()
    line = line.rstrip("。.!！")
    return line if len(line) <= TITLE_MAX_CHARS else line[: TITLE_MAX_CHARS - 1] + "…"
