"""Which messages are commands: slash commands in any case and spacing, Chinese aliases, operator aliases."""
from __future__ import annotations

import pytest

from core.commands_parse import COMMANDS, ParsedCommand, as_command, parse_command


@pytest.mark.parametrize("text, expected", [
    ("/balance", ParsedCommand("balance")),
    ("  /BALANCE  ", ParsedCommand("balance")),
    ("/Role   pirate ", ParsedCommand("role", "pirate")),
    ("/role Old  Sea\u3000Dog", ParsedCommand("role", "Old Sea Dog")),
    ("／余额", ParsedCommand("余额", known=False)),              # a full-width slash, then not a command name
    ("／balance", ParsedCommand("balance")),
    ("/start link_ABCD2345", ParsedCommand("start", "link_ABCD2345")),
    ("/lang en", ParsedCommand("lang", "en")),
    ("/frobnicate now", ParsedCommand("frobnicate", "now", known=False)),
    ("余额", ParsedCommand("balance")),
    (" 新对话 ", ParsedCommand("new")),
    ("角色 海盗", ParsedCommand("role", "海盗")),
    ("角色列表", ParsedCommand("roles")),
    ("购买 starter", ParsedCommand("buy", "starter")),
    ("绑定 ABCD2345", ParsedCommand("link", "ABCD2345")),
    ("取消", ParsedCommand("cancel")),
    ("帮助", ParsedCommand("help")),
    ("语言 英文", ParsedCommand("lang", "英文")),
    ("确认", ParsedCommand("confirm")),
    ("Confirm", ParsedCommand("confirm")),
    ("模型", ParsedCommand("model")),
    ("网页", ParsedCommand("web")),
])
def test_commands_are_recognised(text: str, expected: ParsedCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "hello", "余额是多少？", "我想购买", "confirm my order please", "角色扮演游戏", "/", "what is /balance",
    "余额 还剩多少", "帮助 我写一封信",
])
def test_chat_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_a_group_command_for_another_bot_is_not_ours() -> None:
    assert parse_command("/help@OtherBot", bot_username="our_bot") is None
    assert parse_command("/help@Our_Bot", bot_username="our_bot") == ParsedCommand("help")
    assert parse_command("/role@our_bot pirate", bot_username="our_bot") == ParsedCommand("role", "pirate")


def test_operator_aliases_map_words_to_commands_with_arguments() -> None:
    aliases = {"钱包": "/balance", "海盗": "/role pirate", "Top Up": "/buy"}
    assert parse_command("钱包", aliases) == ParsedCommand("balance")
    assert parse_command("海盗", aliases) == ParsedCommand("role", "pirate")
    assert parse_command("top up starter", aliases) == ParsedCommand("buy", "starter")
    assert parse_command("余额", aliases) == ParsedCommand("balance")     # the built-in words still work


def test_choices_name_their_command() -> None:
    assert as_command("role:pirate") == ParsedCommand("role", "pirate")
    assert as_command("buy:starter") == ParsedCommand("buy", "starter")
    assert as_command("fb:1:abc") is None and as_command("role") is None
    assert set(COMMANDS) >= {"new", "role", "roles", "balance", "buy", "link", "cancel", "help", "lang", "web",
                             "model", "confirm"}
