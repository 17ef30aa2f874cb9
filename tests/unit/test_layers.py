"""Dependencies point inward: core/ imports nothing from adapters/, bot/ or any SDK; adapters/ import nothing from bot/.

Every module is parsed with `ast`: imports inside functions and under TYPE_CHECKING count, and relative imports are
resolved against the module's package before they are judged."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# core/ is the standard library and itself.
CORE_FORBIDDEN = {"adapters", "bot", "aiohttp", "tortoise", "telegram", "wechatpy", "wechatpayv3", "openai", "redis",
                  "asyncpg", "aiosqlite", "tiktoken", "yaml", "pydantic", "numpy"}
# adapters/ may use their SDKs, core and each other; the assembly (bot/) builds them, never the reverse.
ADAPTERS_FORBIDDEN = {"bot"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every module the source imports, absolute; `from . import x` in package a.b names a.b.x and a.b."""
    found: list[str] = []
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # `.` is the module's own package, each further dot one package up.
                base = package[:len(package) - (node.level - 1)] if node.level - 1 <= len(package) else []
                target = ".".join(base + ([node.module] if node.module else []))
                found.append(target)
                if not node.module:
                    found += [".".join(base + [a.name]) for a in node.names]
            elif node.module:
                found.append(node.module)
    return found


def violations(folder: str, forbidden: set[str]) -> list[str]:
    bad = []
    for path in sorted(ROOT.joinpath(folder).rglob("*.py")):
        module = module_name(path)
        for name in imported_modules(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            if name.split(".")[0] in forbidden:
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    return bad


def test_relative_imports_are_resolved_before_they_are_judged() -> None:
    source = "def later():\n    from ..keys import SERVICES\n    from . import context\n    from .settings import X\n"
    assert imported_modules(source, "adapters.http.dify.chat") == [
        "adapters.http.keys", "adapters.http.dify", "adapters.http.dify.context", "adapters.http.dify.settings"]
    assert imported_modules("from .wiring import Services\n", "bot", is_package=True) == ["bot.wiring"]
    assert imported_modules("from ..wiring import Services\n", "core.x", is_package=False) == ["wiring"]


def test_an_import_inside_a_function_is_seen() -> None:
    source = "def handler():\n    from bot.app import SERVICES\n    import telegram.ext\n"
    names = imported_modules(source, "adapters.http.status")
    assert [n for n in names if n.split(".")[0] in ADAPTERS_FORBIDDEN] == ["bot.app"]
    assert [n for n in names if n.split(".")[0] in CORE_FORBIDDEN] == ["bot.app", "telegram.ext"]


def test_core_imports_only_the_standard_library_and_itself() -> None:
    assert violations("core", CORE_FORBIDDEN) == []


def test_adapters_never_import_the_assembly() -> None:
    assert violations("adapters", ADAPTERS_FORBIDDEN) == []
