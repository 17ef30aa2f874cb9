"""Model output for Telegram: split at 4096 characters on safe boundaries, and Markdown-ish text as HTML."""
from __future__ import annotations

import html
import re

LIMIT = 4096
_CLOSE = "\n```"
_FENCE = re.compile(r"^\s*```")


def tg_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _fitting(text: str, units: int) -> int:
    """The longest prefix (an index into `text`) whose UTF-16 length is at most `units`."""
    count = 0
    for i, ch in enumerate(text):
        count += 2 if ord(ch) > 0xFFFF else 1
        if count > units:
            return i
    return len(text)


def open_fence(text: str) -> str | None:
    """The opening line (```lang) of a code block still open at the end of `text`, else None."""
    fence = None
    for line in text.split("\n"):
        if _FENCE.match(line):
            fence = None if fence is not None else line.strip()
    return fence


def _breaks(body: str, end: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """Break positions before `end`: paragraph and line breaks outside code, line breaks inside code,
    spaces outside code. A position p means the segment would be body[:p]."""
    paras, lines, code_lines, spaces = [], [], [], []
    inside, start = False, 0
    for line in body[:end].split("\n"):
        stop = start + len(line)
        fence = bool(_FENCE.match(line))
        if not inside and not fence:
            spaces.extend(start + i for i, ch in enumerate(line) if ch == " " and i)
        inside ^= fence
        if stop < end:
            (code_lines if inside else lines).append(stop)
            if not inside and body.startswith("\n\n", stop):
                paras.append(stop)
        start = stop + 1
    return paras, lines, code_lines, spaces


def _cut(body: str, limit: int) -> int:
    """Where to end a segment of `body` (which is longer than `limit`): a paragraph or line break outside
    code, else a line break inside code (the block is closed and reopened), else a space, else anywhere."""
    window = _fitting(body, limit - len(_CLOSE))
    floor = max(1, window // 3)  # a break too early wastes most of a message
    for candidates in _breaks(body, window + 1):
        usable = [p for p in candidates if floor <= p <= window]
        if usable:
            return usable[-1]
    return window


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Segments of at most `limit` UTF-16 units; a code block cut in two is closed and reopened.

    Appending text never changes a segment that is not the last one: a streaming reply can send the
    earlier segments as final while the last one still grows."""
    segments: list[str] = []
    body = text
    while tg_len(body) > limit:
        cut = _cut(body, limit)
        head, rest = body[:cut], body[cut:]
        fence = open_fence(head)
        if fence is not None:
            head = head.rstrip("\n") + _CLOSE
            rest = fence + "\n" + rest.lstrip("\n")
        else:
            rest = rest[2:] if rest.startswith("\n\n") else rest[1:] if rest[:1] in ("\n", " ") else rest
        segments.append(head)
        body = rest
    segments.append(body)
    return segments


# --- Markdown-ish to Telegram HTML ------------------------------------------------------------

_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"\[([^\]\n<>]+)\]\((https?://[^\s)<>\"]+)\)")
_BOLD = re.compile(r"\*\*(?!\s)([^*\n<>]+?)(?<!\s)\*\*|__(?!\s)([^_\n<>]+?)(?<!\s)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?![\s*])([^*\n<>]+?)(?<![\s*])\*(?![\w*])")
_STRIKE = re.compile(r"~~(?!\s)([^~\n<>]+?)(?<!\s)~~")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[*-]\s+")


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _styled(text: str) -> str:
    out = _esc(text)
    out = _LINK.sub(lambda m: f'<a href="{m.group(2).replace(chr(34), "&quot;")}">{m.group(1)}</a>', out)
    out = _BOLD.sub(lambda m: f"<b>{m.group(1) or m.group(2)}</b>", out)
    out = _ITALIC.sub(r"<i>\1</i>", out)
    return _STRIKE.sub(r"<s>\1</s>", out)


def _inline(line: str) -> str:
    heading = _HEADING.match(line)
    if heading:
        return f"<b>{_inline(heading.group(1))}</b>"
    line = _BULLET.sub(lambda m: m.group(1) + "• ", line)
    out, pos = [], 0
    for m in _INLINE_CODE.finditer(line):
        out.append(_styled(line[pos:m.start()]))
        out.append(f"<code>{_esc(m.group(2))}</code>")
        pos = m.end()
    out.append(_styled(line[pos:]))
    return "".join(out)


def _pre(lines: list[str], lang: str) -> str:
    code = _esc("\n".join(lines))
    if lang:
        return f'<pre><code class="language-{_esc(lang)}">{code}</code></pre>'
    return f"<pre>{code}</pre>"


def to_html(text: str) -> str:
    """Telegram HTML for model output: fenced and inline code, bold, italic, strikethrough, links,
    headings (as bold) and bullets; everything else escaped. An unclosed fence runs to the end."""
    pieces: list[str] = []
    code: list[str] | None = None
    lang = ""
    for line in text.split("\n"):
        if code is not None:
            if _FENCE.match(line):
                pieces.append(_pre(code, lang))
                code = None
            else:
                code.append(line)
        elif _FENCE.match(line):
            code, lang = [], re.sub(r"[^\w+#.-]", "", line.strip()[3:])
        else:
            pieces.append(_inline(line))
    if code is not None:
        pieces.append(_pre(code, lang))
    return "\n".join(pieces)
