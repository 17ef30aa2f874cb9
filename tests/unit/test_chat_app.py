"""Pairing messages into chat-app exchanges, and cleaning model-written titles (pure core, no I/O)."""
from __future__ import annotations

from datetime import datetime, timezone

from core.chat_app import exchanges_newest_first
from core.domain import Message, Usage
from core.titles import clean_title


def msg(seq: int, role: str) -> Message:
    return Message(f"m{seq}", seq, "c1", "u1", role, f"{role} {seq}", None, "complete", Usage(), 0, (), 0,
                   datetime(2024, 1, 1, tzinfo=timezone.utc))


def shape(messages: list[Message]) -> list[tuple]:
    return [(e.query.seq if e.query else None, e.answer.seq if e.answer else None, e.id)
            for e in exchanges_newest_first(list(reversed(messages)))]


def test_answers_take_the_question_before_them() -> None:
    assert shape([msg(1, "user"), msg(2, "assistant"), msg(3, "user"), msg(4, "assistant")]) == [
        (3, 4, "m4"), (1, 2, "m2")]


def test_unanswered_questions_and_lone_answers_stand_alone() -> None:
    # m5 is still being answered; m2 has no question (history that began with an answer).
    assert shape([msg(2, "assistant"), msg(3, "user"), msg(4, "assistant"), msg(5, "user")]) == [
        (5, None, "m5"), (3, 4, "m4"), (None, 2, "m2")]
    assert shape([msg(1, "user"), msg(2, "user"), msg(3, "assistant")]) == [(2, 3, "m3"), (1, None, "m1")]


def test_titles_lose_quotes_labels_and_final_stops() -> None:
    assert clean_title('"A Week in Paris."\n') == "A Week in Paris"
    assert clean_title("\n\nTitle: 巴黎一周。\nmore") == "巴黎一周"
    assert clean_title("x" * 150) == "x" * 99 + "…"
    assert clean_title("   ") == ""
