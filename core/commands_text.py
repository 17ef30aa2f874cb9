"""A CommandResult as plain text (WeChat, the terminal), and the command menu Telegram shows (setMyCommands)."""
from __future__ import annotations

from typing import Sequence

from core.commands_parse import COMMANDS
from core.commands_results import Choice, CommandResult
from core.i18n import Text, Texts


def choice_line(choice: Choice) -> Text:
    if choice.detail is not None:
        return Text.of("choice.line_selected" if choice.selected else "choice.line", label=choice.label,
                       detail=choice.detail)
    return Text.of("choice.short_selected" if choice.selected else "choice.short", label=choice.label)


def as_plain_text(result: CommandResult, texts: Texts, locale: str, numbered: bool = False) -> str:
    """Lines, then the choices as lines (numbered: "1. ..." and a reply-with-a-number hint), then the hint.
    A channel that numbers choices remembers `result.choices` to map a reply "2" to `choose(ctx, id)`."""
    locale = result.locale or locale
    parts = [texts.join(result.texts, locale)] if result.texts else []
    if result.choices:
        lines = [texts.render(choice_line(c), locale) for c in result.choices]
        if numbered:
            lines = [texts.get("choice.numbered", locale, number=str(i), line=line)
                     for i, line in enumerate(lines, 1)]
        parts.append("\n".join(lines))
        hint = Text.of("choice.reply_number") if numbered else result.hint
        if hint is not None:
            parts.append(texts.render(hint, locale))
    return "\n\n".join(p for p in parts if p)


def command_menu(texts: Texts, locale: str, commands: Sequence[str] = COMMANDS) -> list[tuple[str, str]]:
    """(command, description) pairs for Telegram's setMyCommands, one call per language_code."""
    return [(c, texts.get(f"menu.{c}", locale)) for c in commands]
