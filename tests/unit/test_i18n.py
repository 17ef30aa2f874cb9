"""The zh and en catalogues hold the same keys with the same {placeholders}; every key core names exists;
locale choice, operator overrides and rendering."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.commands_parse import COMMANDS
from core.commands_text import command_menu
from core.i18n import LOCALES, Text, Texts, TextsError, catalogue_texts, placeholders, read_catalogue
from core.i18n_errors import KNOWN_REASONS

CORE = Path(__file__).resolve().parents[2] / "core"
CATALOGUES = {loc: catalogue_texts(read_catalogue(loc)) for loc in LOCALES}


def test_both_catalogues_hold_the_same_keys() -> None:
    zh, en = set(CATALOGUES["zh"]), set(CATALOGUES["en"])
    assert sorted(en - zh) == [], "missing in zh"
    assert sorted(zh - en) == [], "missing in en"


def test_every_text_has_the_same_placeholders_in_both_languages() -> None:
    differ = {key: (placeholders(CATALOGUES["en"][key]), placeholders(CATALOGUES["zh"][key]))
              for key in CATALOGUES["en"] if key in CATALOGUES["zh"]
              and placeholders(CATALOGUES["en"][key]) != placeholders(CATALOGUES["zh"][key])}
    assert differ == {}


def test_no_text_is_left_empty_or_untranslated() -> None:
    for locale, texts in CATALOGUES.items():
        assert [k for k, v in texts.items() if not v.strip()] == [], locale
    # Chinese texts are written in Chinese (a few are only placeholders, names or symbols).
    latin_only = [k for k, v in CATALOGUES["zh"].items()
                  if not any("\u4e00" <= ch <= "\u9fff" for ch in v) and v == CATALOGUES["en"][k]
                  and any(ch.isalpha() for ch in v.replace("{", " {").split("{")[0])]
    assert latin_only == []


def _keys_named_in(paths) -> set[str]:
    """Every literal key given to Text.of / Text(...) / texts.get / CommandResult.say in these files."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = node.args[:2] if name in ("say", "get") else node.args[:1]   # say(command, KEY), get(KEY, loc)
            if name in ("of", "Text", "say", "get"):
                found |= {c for a in args for c in _literals(a) if "." in c and " " not in c}
    return found


def _keys_named_in_core() -> set[str]:
    return _keys_named_in(CORE.rglob("*.py"))


def test_every_key_the_chat_channels_name_is_in_the_catalogues() -> None:
    root = CORE.parent
    paths = [*root.joinpath("adapters", "telegram").glob("*.py"), *root.joinpath("adapters", "wechat").glob("*.py"),
             root / "bot" / "terminal.py"]
    named = _keys_named_in(paths)
    assert {"chat.text_only", "payment.received", "wechat.pending", "reply.undelivered"} <= named  # the scan works
    assert sorted(named - set(CATALOGUES["en"])) == []


def _literals(node: ast.expr) -> list[str]:
    """"a.b", or both branches of `"a.b" if x else "c.d"`."""
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return [node.value] if isinstance(node, ast.Constant) and isinstance(node.value, str) else []


def test_every_key_core_names_is_in_the_catalogues() -> None:
    named = _keys_named_in_core()
    assert len(named) > 50  # the scan found the command layer's keys
    assert sorted(named - set(CATALOGUES["en"])) == []


@pytest.mark.parametrize("family", [
    [f"menu.{c}" for c in COMMANDS],
    [f"error.{r}" for r in KNOWN_REASONS],
    [f"order.status.{s}" for s in ("unpaid", "paying", "paid", "cancelled", "expired", "refunded")],
    [f"lang.name.{loc}" for loc in LOCALES],
], ids=["menu", "errors", "order statuses", "language names"])
def test_keys_built_from_names_exist(family: list[str]) -> None:
    assert sorted(set(family) - set(CATALOGUES["en"])) == []


def test_the_language_is_the_choice_then_the_platform_hint_then_the_default() -> None:
    texts = Texts.load("zh")
    assert texts.locale_for("en", "zh-hans") == "en"          # an explicit /lang wins
    assert texts.locale_for(None, "en-GB") == "en"            # Telegram's language_code
    assert texts.locale_for(None, "zh_CN") == "zh"
    assert texts.locale_for(None, "de") == "zh"               # a language we lack: the default
    assert texts.locale_for(None, None) == "zh"
    assert Texts.load("en").locale_for(None, None) == "en"


def test_rendering_fills_values_in_each_language() -> None:
    texts = Texts.load("en")
    line = Text.of("balance.order", product="Starter", status=Text.of("order.status.paid"), date="2025-01-02")
    assert texts.render(line, "en") == "• Starter: paid (2025-01-02)"
    assert texts.render(line, "zh") == "• Starter：已支付（2025-01-02）"
    assert texts.get("balance.held", "en", held=12345) == "Held for answers being written: 12,345 tokens"
    assert texts.get("reply.sources", "en", names=("A", "B")) == "Sources: A and B"
    assert texts.get("reply.sources", "zh", names=("甲", "乙")) == "来源：甲和乙"


def test_operators_override_a_text_per_language() -> None:
    texts = Texts.load("en", {"zh": {"new.started": "好，重新开始。"}})
    assert texts.get("new.started", "zh") == "好，重新开始。"
    assert texts.get("new.started", "en") == CATALOGUES["en"]["new.started"]


@pytest.mark.parametrize("overrides, problem", [
    ({"zh": {"no.such.key": "x"}}, "zh.no.such.key: no such text"),
    ({"en": {"link.code": "Your code"}}, "en.link.code: must use the placeholders {code}"),
    ({"fr": {"help.intro": "Bonjour"}}, "fr: unknown language"),
])
def test_unusable_overrides_are_refused_with_the_key(overrides, problem) -> None:
    with pytest.raises(TextsError) as refused:
        Texts.load("en", overrides)
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems


def test_telegram_menu_descriptions_exist_in_both_languages() -> None:
    texts = Texts.load("en")
    en, zh = dict(command_menu(texts, "en")), dict(command_menu(texts, "zh"))
    assert set(en) == set(zh) == set(COMMANDS)
    assert en["balance"] == "Tokens, storage and purchases" and zh["balance"] == "余额、存储空间和购买记录"
    assert all(1 <= len(d) <= 256 for d in [*en.values(), *zh.values()])  # setMyCommands' limits


def test_config_overrides_are_checked_when_the_config_is_read() -> None:
    from bot.config import ConfigError, parse_config

    config = parse_config({"i18n": {"default_locale": "zh", "texts": {"zh": {"new.started": "好，重新开始。"}}}}, {})
    texts = Texts.load(config.i18n.default_locale, config.i18n.texts)
    assert texts.get("new.started", texts.locale_for(None, None)) == "好，重新开始。"
    with pytest.raises(ConfigError) as refused:
        parse_config({"i18n": {"texts": {"en": {"link.code": "Your code"}}}}, {})
    assert refused.value.problems == ["i18n: en.link.code: must use the placeholders {code}"]
