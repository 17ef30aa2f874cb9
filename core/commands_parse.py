"""Which command a chat message asks for: `/balance`, `/role pirate`, `余额`, `角色 海盗`, in any case and spacing."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

# Every command, in the order help and menus list them; each one's menu text is the key `menu.<name>`.
COMMANDS = ("start", "help", "new", "role", "roles", "balance", "buy", "paid", "link", "cancel", "lang", "web",
            "model", "confirm", "mode")
# Listed in help and menus only where a way to pay is on.
PAYING = ("buy", "paid")
# Only for group chats: listed only by a channel whose menu names them.
GROUP_ONLY = ("mode",)

# Words that are a command when a message is exactly the word, or the word, a space and an argument.
ALIASES: Mapping[str, str] = {
    "新对话": "new", "新会话": "new", "角色": "role", "角色列表": "roles", "余额": "balance", "购买": "buy",
    "充值": "buy", "已支付": "paid", "绑定": "link", "取消": "cancel", "停止": "cancel", "帮助": "help",
    "语言": "lang", "确认": "confirm", "確認": "confirm", "模型": "model", "网页": "web", "开始": "start",
    "模式": "mode",
    # QR login: the scanner confirms by sending 确认 or the English word (CONTRACT 10).
    "confirm": "confirm",
}

# A word followed by more text is a command only for these (`角色 海盗`); `余额是多少` or `confirm my order`
# is a question for the model.
TAKES_ARGUMENT = frozenset({"start", "role", "buy", "link", "lang", "model", "mode"})

_SPACES = re.compile(r"[\s\u3000]+")


@dataclass(frozen=True)
class ParsedCommand:
    name: str          # one of COMMANDS, or what the user typed after "/" when `known` is False
    arg: str = ""
    known: bool = True


def _tidy(text: str) -> str:
    """One space between words; a full-width slash from a Chinese input method is a slash."""
    text = _SPACES.sub(" ", text).strip()
    return "/" + text[1:] if text.startswith("／") else text


def parse_command(text: str, aliases: Mapping[str, str] | None = None,
                  bot_username: str | None = None) -> ParsedCommand | None:
    """The command in a message, or None when it is chat for the model.

    `aliases` are the operator's extra words (`channels.wechat.aliases`: {"余额": "/balance"}); a word may
    map to a command with an argument. `/cmd@OtherBot` (a Telegram group command for another bot) is None."""
    text = _tidy(text)
    if not text:
        return None
    if text.startswith("/"):
        head, _, arg = text[1:].partition(" ")
        name, _, addressee = head.partition("@")
        if addressee and bot_username and addressee.casefold() != bot_username.casefold():
            return None
        name = name.casefold()
        if name in COMMANDS:
            return ParsedCommand(name, arg.strip())
        return ParsedCommand(name, arg.strip(), known=False) if name else None
    folded = text.casefold()
    for table, is_command_text in ((aliases or {}, True), (ALIASES, False)):
        for word, target in table.items():
            word = _tidy(word).casefold()
            if not word:
                continue
            if folded == word:
                arg = ""
            elif folded.startswith(word + " "):
                arg = text[len(word) + 1:].strip()
            else:
                continue
            found = parse_command(target) if is_command_text else ParsedCommand(target)
            if found is None or (arg and found.name not in TAKES_ARGUMENT):
                continue
            return ParsedCommand(found.name, " ".join(x for x in (found.arg, arg) if x), found.known)
    return None


def as_command(choice_id: str) -> ParsedCommand | None:
    """A pressed button or a chosen list entry (`role:pirate`, `buy:starter`, `lang:zh`) as its command."""
    name, sep, arg = choice_id.partition(":")
    if not sep or name not in COMMANDS:
        return None
    return ParsedCommand(name, arg)
