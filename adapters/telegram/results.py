"""A CommandResult as a Telegram message: its lines, described choices listed, every choice an inline button."""
from __future__ import annotations

from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.commands_results import CommandResult
from core.commands_text import choice_line
from core.i18n import Texts

MAX_BUTTON_DATA = 64   # Telegram's limit on callback data, in bytes


def button_url_ok(url: str) -> bool:
    """Whether Telegram takes `url` for a URL button: http(s) with a dotted host. It refuses the whole message
    (BUTTON_URL_INVALID) for `http://localhost:8080/...`, so such a link (a public_url left at localhost) is left out."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and "." in (parts.hostname or "")


def result_text(result: CommandResult, texts: Texts, locale: str) -> str:
    """The lines; choices with a description (roles) are listed too, the current one marked."""
    locale = result.locale or locale
    parts = [texts.join(result.texts, locale)] if result.texts else []
    if any(c.detail is not None for c in result.choices):
        parts.append("\n".join(texts.render(choice_line(c), locale) for c in result.choices))
    return "\n".join(p for p in parts if p)


def result_keyboard(result: CommandResult, texts: Texts, locale: str) -> InlineKeyboardMarkup | None:
    """One button per choice (callback data = Choice.id; one over Telegram's 64-byte limit is left out), then one
    URL button per link (paying on the web)."""
    locale = result.locale or locale
    rows = [[InlineKeyboardButton(texts.render(c.label, locale), callback_data=c.id)]
            for c in result.choices if len(c.id.encode()) <= MAX_BUTTON_DATA]
    rows += [[InlineKeyboardButton(texts.render(link.label, locale), url=link.url)]
             for link in result.links if button_url_ok(link.url)]
    return InlineKeyboardMarkup(rows) if rows else None


def feedback_keyboard(message_id: str) -> InlineKeyboardMarkup:
    """👍/👎 under an answer; the callback data carries the answer's message id."""
    return InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data=f"fb:1:{message_id}"),
                                  InlineKeyboardButton("👎", callback_data=f"fb:-1:{message_id}")]])


BUY_MENU = "buy:menu"   # the "Buy tokens" button under an out-of-tokens notice: the /buy list


def buy_keyboard(texts: Texts, locale: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.get("button.buy", locale), callback_data=BUY_MENU)]])
