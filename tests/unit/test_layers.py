"""core/ imports nothing from adapters/, bot/ or any SDK (dependencies point inward)."""
from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"adapters", "bot", "aiohttp", "tortoise", "telegram", "wechatpy", "wechatpayv3", "openai", "redis",
             "asyncpg", "aiosqlite", "tiktoken", "yaml", "pydantic", "numpy"}


def test_core_imports_only_the_standard_library_and_itself() -> None:
    bad = []
    for path in Path(__file__).resolve().parents[2].joinpath("core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert bad == []
