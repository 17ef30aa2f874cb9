"""Splitting answers at Telegram's 4096 characters and turning model Markdown into Telegram HTML."""
from __future__ import annotations

import pytest

from adapters.telegram.formatting import open_fence, split_message, tg_len, to_html
from tests.fakes.telegram_entities import html_to_text


def test_short_text_is_one_segment() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == [""]


def test_cuts_prefer_paragraphs_then_lines_then_spaces() -> None:
    para = "a" * 3000 + "\n\n" + "b" * 2000
    assert split_message(para) == ["a" * 3000, "b" * 2000]
    lines = "\n".join(["c" * 99] * 60)
    parts = split_message(lines)
    assert "\n".join(parts) == lines and all(len(p) <= 4096 and not p.endswith("\n") for p in parts)
    words = " ".join(["word"] * 2000)
    parts = split_message(words)
    assert " ".join(parts) == words and all(p.startswith("word") and p.endswith("word") for p in parts)
    blob = "z" * 9000
    assert "".join(split_message(blob)) == blob


def test_a_code_block_is_closed_and_reopened_across_messages() -> None:
    code = "Here:\n\n```python\n" + "\n".join(f"print({i})" for i in range(900)) + "\n```\nDone."
    parts = split_message(code)
    assert len(parts) == 3
    for part in parts:
        assert tg_len(part) <= 4096 and open_fence(part) is None  # every message is balanced
    assert parts[1].startswith("```python\n") and parts[0].endswith("\n```")
    assert parts[-1].endswith("```\nDone.")
    # every line of code appears exactly once
    body = [line for p in parts for line in p.split("\n") if line.startswith("print(")]
    assert body == [f"print({i})" for i in range(900)]


def test_text_before_a_code_block_is_cut_outside_it() -> None:
    text = "intro line\n" * 200 + "```\n" + "x = 1\n" * 800 + "```"
    first = split_message(text)[0]
    assert open_fence(first) is None and not first.endswith("```")  # the cut came before the block


def test_length_counts_utf16_units() -> None:
    emoji = "😀" * 3000  # 6000 UTF-16 units
    parts = split_message(emoji)
    assert "".join(parts) == emoji and all(tg_len(p) <= 4096 for p in parts) and len(parts) == 2


@pytest.mark.parametrize("extra", ["more words here. " * 50, "\n\nnew paragraph", "```\ncode\n" * 30])
def test_sealed_segments_never_change_as_text_grows(extra: str) -> None:
    base = "\n".join(["line " + "y" * 80] * 100) + "\n```js\n" + "let a = 1;\n" * 100
    before = split_message(base)
    after = split_message(base + extra)
    assert after[: len(before) - 1] == before[:-1]


def test_html_escapes_and_formats() -> None:
    source = "# Title\n**bold** and *it* `a<b` [x](http://a.b/?q=1&r=2) 5 < 6 & 7 > 3\n- item\n```py\nif a < b:\n    pass\n```"
    html = to_html(source)
    assert "<b>Title</b>" in html and "<b>bold</b>" in html and "<i>it</i>" in html
    assert "<code>a&lt;b</code>" in html and '<a href="http://a.b/?q=1&amp;r=2">x</a>' in html
    assert "5 &lt; 6 &amp; 7 &gt; 3" in html and "• item" in html
    assert '<pre><code class="language-py">if a &lt; b:\n    pass</code></pre>' in html
    shown = html_to_text(html)  # Telegram accepts it, and shows no markup characters
    assert "**" not in shown and "```" not in shown and "if a < b:" in shown


@pytest.mark.parametrize("source", ["snake_case_name and 2*3*4", "**unclosed bold", "a * b * c", "<script>x</script>",
                                    "```\nunclosed code", "mixed **bold *and* more** text", "[not a link](javascript:x)",
                                    "tag-like <b>text</b> from the model", "&amp; already"])
def test_html_is_always_accepted_and_never_longer_to_read(source: str) -> None:
    shown = html_to_text(to_html(source))
    assert tg_len(shown) <= tg_len(source)
    assert "snake_case_name" in shown or "snake" not in source
