"""Texts: every sentence a user reads, by key, from the gettext catalogues in core/locales (zh, en), read with Babel."""
from __future__ import annotations

import io
import logging
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.lists import format_list
from babel.numbers import format_decimal
from babel.support import Translations

log = logging.getLogger(__name__)

LOCALES = ("zh", "en")
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"

# What people and platforms call the two languages (Telegram sends `language_code` such as "zh-hans", "en-GB").
_NAMES = {"zh": "zh", "cn": "zh", "chinese": "zh", "中文": "zh", "汉语": "zh", "简体中文": "zh",
          "en": "en", "english": "en", "英文": "en", "英语": "en"}


@dataclass(frozen=True)
class Text:
    """A sentence to show, as a catalogue key and the values of its {placeholders} (a Text may hold Texts)."""

    key: str
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, key: str, **values: object) -> "Text":
        return cls(key, tuple(sorted(values.items())))

    @classmethod
    def plain(cls, text: str) -> "Text":
        """Words that are not ours to translate (a role's or a product's name)."""
        return cls.of("text.plain", text=text)

    def value(self, name: str) -> object:
        return dict(self.values)[name]


def normalize_locale(hint: str | None) -> str | None:
    """'zh-hans', 'zh_CN', 'EN-gb', '中文' → 'zh' / 'en'; None for a language we do not have."""
    if not hint:
        return None
    word = hint.strip().casefold()
    if word in _NAMES:
        return _NAMES[word]
    return _NAMES.get(word.replace("_", "-").split("-")[0])


def placeholders(template: str) -> set[str]:
    """The {names} a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def read_catalogue(locale: str, folder: Path = LOCALES_DIR) -> Catalog:
    with open(folder / locale / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def _translations(catalog: Catalog) -> Translations:
    # gettext reads compiled catalogues; compiling in memory at start-up spares a build step.
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def catalogue_texts(catalog: Catalog) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in catalog if m.id}


class TextsError(ValueError):
    """The catalogues or the operator's overrides cannot be used; `problems` name each key."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def override_problems(base: Mapping[str, Mapping[str, str]],
                      overrides: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Why operator overrides (`i18n.texts`) cannot be used: an unknown locale or key, or other {placeholders}."""
    problems = []
    for locale, texts in overrides.items():
        if locale not in base:
            problems.append(f"{locale}: unknown language (have {', '.join(LOCALES)})")
            continue
        for key, text in texts.items():
            if key not in base[locale]:
                problems.append(f"{locale}.{key}: no such text")
            elif placeholders(text) != placeholders(base[locale][key]):
                want = ", ".join(sorted("{" + p + "}" for p in placeholders(base[locale][key]))) or "none"
                problems.append(f"{locale}.{key}: must use the placeholders {want}")
    return problems


class Texts:
    """Renders Text values in a locale: operator overrides first, then the catalogue."""

    def __init__(self, catalogues: Mapping[str, Catalog], default_locale: str = "en",
                 overrides: Mapping[str, Mapping[str, str]] | None = None):
        if default_locale not in catalogues:
            raise TextsError([f"default_locale: unknown language {default_locale!r}"])
        base = {loc: catalogue_texts(cat) for loc, cat in catalogues.items()}
        problems = override_problems(base, overrides or {})
        if problems:
            raise TextsError(problems)
        self.default_locale = default_locale
        self._gettext = {loc: _translations(cat) for loc, cat in catalogues.items()}
        self._keys = {loc: set(texts) for loc, texts in base.items()}
        self._overrides = {loc: dict(t) for loc, t in (overrides or {}).items()}

    @classmethod
    def load(cls, default_locale: str = "en", overrides: Mapping[str, Mapping[str, str]] | None = None,
             folder: Path = LOCALES_DIR, locales: Iterable[str] = LOCALES) -> "Texts":
        """Read the catalogues (at start-up, in wiring)."""
        return cls({loc: read_catalogue(loc, folder) for loc in locales}, default_locale, overrides)

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self._gettext)

    def keys(self, locale: str) -> set[str]:
        return set(self._keys[locale])

    def locale_for(self, chosen: str | None = None, hint: str | None = None) -> str:
        """The user's explicit choice (/lang), else the platform's hint, else `i18n.default_locale`."""
        for candidate in (chosen, hint):
            locale = normalize_locale(candidate)
            if locale in self._gettext:
                return locale
        return self.default_locale

    def template(self, key: str, locale: str) -> str:
        locale = locale if locale in self._gettext else self.default_locale
        if key in self._overrides.get(locale, {}):
            return self._overrides[locale][key]
        if key in self._keys[locale]:
            return self._gettext[locale].gettext(key)
        log.error("no text %r in the %s catalogue", key, locale)
        return key

    def render(self, text: Text, locale: str) -> str:
        values = {name: self._value(v, locale) for name, v in text.values}
        template = self.template(text.key, locale)
        try:
            return template.format_map(values)
        except (KeyError, IndexError, ValueError):
            log.error("text %r in %s does not fit its values %s", text.key, locale, sorted(values))
            return template

    def get(self, key: str, locale: str, **values: object) -> str:
        return self.render(Text.of(key, **values), locale)

    def join(self, texts: Iterable[Text], locale: str, sep: str = "\n") -> str:
        return sep.join(self.render(t, locale) for t in texts)

    def _value(self, value: object, locale: str) -> object:
        if isinstance(value, Text):
            return self.render(value, locale)
        if isinstance(value, int) and not isinstance(value, bool):
            return format_decimal(value, locale=locale)
        if isinstance(value, tuple):  # names: "A, B and C" / "A、B和C"
            return format_list([str(v) for v in value], locale=locale) if value else ""
        return value
