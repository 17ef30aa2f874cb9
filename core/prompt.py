"""Prompt assembly: system text, rolling summary, retrieved passages and as much history as the budget allows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from core.domain import ChatTurn, Message
from core.ports import Passage, TokenCounter


@dataclass(frozen=True)
class Prompt:
    turns: tuple[ChatTurn, ...]
    prompt_tokens: int
    history_used: int
    history_tokens: int = 0      # what the kept history costs against the budget
    trimmed: bool = False        # older turns did not fit the budget


def system_text(instruction: str, summary: str, passages: Sequence[Passage]) -> str:
    parts = [instruction.strip()]
    if summary:
        parts.append("Summary of the earlier conversation:\n" + summary.strip())
    if passages:
        blocks = [f"[{i}] {p.title}\n{p.text.strip()}" for i, p in enumerate(passages, 1)]
        parts.append("Use these passages from the knowledge base when they help, and say which ones you used "
                     "by their number. If they do not answer the question, say so.\n\n" + "\n\n".join(blocks))
    return "\n\n".join(p for p in parts if p)


def history_turns(history: Sequence[Message]) -> list[ChatTurn]:
    """Only finished exchanges go back to the model; failed replies and their questions are left out."""
    turns: list[ChatTurn] = []
    for m in history:
        if m.role == "assistant" and m.status == "error":
            if turns and turns[-1].role == "user":
                turns.pop()
            continue
        if m.content:
            turns.append(ChatTurn(m.role, m.content))
    return turns


def build_prompt(counter: TokenCounter, *, instruction: str, summary: str, passages: Sequence[Passage],
                 history: Sequence[Message], question: str, history_tokens: int) -> Prompt:
    """Newest history first until `history_tokens` is spent; older turns live on in the summary."""
    system = ChatTurn("system", system_text(instruction, summary, passages))
    user = ChatTurn("user", question)
    kept: list[ChatTurn] = []
    budget = history_tokens
    trimmed = False
    for turn in reversed(history_turns(history)):
        cost = counter.count(turn.content) + 4
        if cost > budget:
            trimmed = True
            break
        budget -= cost
        kept.append(turn)
    kept.reverse()
    # A history that starts with an assistant turn reads oddly to most models.
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    turns = (system, *kept, user)
    return Prompt(turns, counter.count_turns(turns), len(kept), history_tokens - budget, trimmed)
