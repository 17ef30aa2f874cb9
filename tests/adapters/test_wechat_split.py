"""Splitting answers on WeChat's UTF-8 byte limit: no piece too long, no character broken, nothing lost."""
from __future__ import annotations

import pytest

from adapters.wechat.split import TEXT_LIMIT_BYTES, split_utf8, utf8_len


@pytest.mark.parametrize("text", [
    "你好，世界。" * 700,                       # 3-byte characters with sentence ends
    "这是一个没有标点的很长的句子" * 300,         # nothing to cut at but characters
    "😀🚀" * 1000,                            # 4-byte characters
    ("English words and 中文 mixed together. " * 200),
    "a" * 5000,
])
def test_pieces_fit_and_join_back(text: str) -> None:
    pieces = split_utf8(text)
    assert "".join(pieces) == text
    assert len(pieces) > 1
    assert all(0 < utf8_len(p) <= TEXT_LIMIT_BYTES for p in pieces)
    for piece in pieces:
        piece.encode("utf-8").decode("utf-8")  # whole characters only


def test_short_text_is_one_piece() -> None:
    assert split_utf8("你好") == ["你好"]
    assert split_utf8("") == [""]


def test_cut_prefers_a_paragraph_end() -> None:
    first = "第一段。" * 150          # 1800 bytes
    text = first + "\n\n" + "第二段。" * 150
    pieces = split_utf8(text)
    assert pieces[0] == first + "\n\n"


def test_exactly_at_the_limit_is_not_split() -> None:
    text = "中" * (TEXT_LIMIT_BYTES // 3) + "ab"   # 2046 + 2 bytes
    assert utf8_len(text) == TEXT_LIMIT_BYTES
    assert split_utf8(text) == [text]
