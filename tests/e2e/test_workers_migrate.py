"""Schema migrations as an operator runs them: `bot migrate [--check]`, and a worker with
database.migrate_on_start: false refusing a database that is behind."""
from __future__ import annotations

import asyncio
import sys

from tests.conftest import make_config
from adapters.storage.schema import MIGRATIONS_DIR
from tests.e2e.workers import BOT, ROOT, Worker, write_config

MIGRATIONS = sorted(p.stem for p in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


async def _bot(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*BOT, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_a_worker_refuses_a_database_that_is_behind_until_bot_migrate(tmp_path, postgres_url) -> None:
    config = make_config(tmp_path, database_url=postgres_url, database={"url": postgres_url, "migrate_on_start": False})
    path = str(write_config(tmp_path / "config.yaml", config))

    code, out = await _bot("run", "--config", path, "--port", "0")
    assert code == 1 and "refusing to start" in out and "0001_initial" in out and "bot migrate" in out
    assert "Traceback" not in out

    code, out = await _bot("migrate", "--config", path, "--check")
    assert code == 1 and f"{len(MIGRATIONS)} migration(s) behind" in out and "0001_initial" in out
    code, out = await _bot("migrate", "--config", path)
    assert code == 0 and f"applied {', '.join(MIGRATIONS)}" in out, out
    code, out = await _bot("migrate", "--config", path, "--check")
    assert code == 0 and "up to date" in out
    code, out = await _bot("migrate", "--config", path)
    assert code == 0 and "nothing to apply" in out

    worker = await Worker("checked", tmp_path / "config.yaml", tmp_path).start()
    await worker.ready()
    assert await worker.stop() == 0


async def test_migrate_names_an_unreachable_database(tmp_path) -> None:
    url = "postgres://postgres@127.0.0.1:9/nowhere"
    config = make_config(tmp_path, database_url=url)
    code, out = await _bot("migrate", "--config", str(write_config(tmp_path / "config.yaml", config)), "--check")
    assert code == 1 and "cannot reach the database" in out and "Traceback" not in out


async def test_makemigrations_check_passes_when_the_files_match_the_models() -> None:
    code, out = await _bot("makemigrations", "--check")
    assert code == 0 and "match the models" in out, out
    assert sys.executable  # the same interpreter runs the CLI
