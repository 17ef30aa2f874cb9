"""Telegram's message-text rules for the fake Bot API: HTML parse_mode to visible text, entities in user text."""
from __future__ import annotations

import html
import re

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
                "blockquote", "tg-emoji"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))*)\s*>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")


class EntityError(ValueError):
    """The text cannot be parsed as the parse_mode says; the message is Telegram's."""


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def html_to_text(source: str) -> str:
    """Visible text of a message sent with parse_mode HTML, raising EntityError as Telegram would refuse it."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "<":
            m = _TAG.match(source, i)
            if m is None:
                raise EntityError(f"Unexpected end of name token at byte offset {_offset(source, i)}")
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name not in ALLOWED_TAGS:
                kind = "end" if closing else "start"
                raise EntityError(f'Unsupported {kind} tag "{name}" at byte offset {_offset(source, i)}')
            if closing:
                if not stack or stack[-1] != name:
                    expected = f'"</{stack[-1]}>"' if stack else "nothing"
                    raise EntityError(f'Unmatched end tag at byte offset {_offset(source, i)}, '
                                      f'expected {expected}, found "</{name}>"')
                stack.pop()
            else:
                stack.append(name)
            i = m.end()
        elif ch == "&":
            m = _ENTITY.match(source, i)
            if m is None:
                out.append("&")  # Telegram keeps a lone ampersand that starts no entity
                i += 1
                continue
            out.append(html.unescape(m.group(0)))
            i = m.end()
        elif ch == ">":
            raise EntityError(f"Character '>' is reserved and must be escaped at byte offset {_offset(source, i)}")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_COMMAND = re.compile(r"^/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@])@[a-zA-Z0-9_]{3,32}")


def user_entities(text: str) -> list[dict]:
    """The entities Telegram computes for what a user typed: a leading bot_command, and @mentions.
    Offsets and lengths in UTF-16 code units, as the Bot API sends them."""
    found = []
    m = _COMMAND.match(text)
    if m:
        found.append({"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))})
    for m in _MENTION.finditer(text):
        if found and m.start() < found[0]["length"]:
            continue
        found.append({"type": "mention", "offset": utf16_len(text[:m.start()]), "length": utf16_len(m.group(0))})
    return found
