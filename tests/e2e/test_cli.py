"""The `bot` command as an operator uses it: real processes, real config files, the local model server."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.conftest import make_config
from tests.e2e.workers import free_port

ROOT = Path(__file__).resolve().parents[2]
BOT = [sys.executable, "-m", "bot"]


def write_config(tmp_path: Path, llm_url: str, **sections) -> Path:
    config = make_config(tmp_path, llm_url, **sections)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    return path


async def run_cli(*args: str, stdin: str = "", env: dict | None = None, cwd: Path | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(*BOT, *args, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                cwd=cwd or ROOT, env={**os.environ, **(env or {})})
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def wait_for_status(url: str, proc: asyncio.subprocess.Process | subprocess.Popen, seconds: float = 30) -> dict:
    async with aiohttp.ClientSession() as http:
        for _ in range(int(seconds * 10)):
            if (proc.returncode if isinstance(proc, asyncio.subprocess.Process) else proc.poll()) is not None:
                raise AssertionError("the server exited early")
            try:
                async with http.get(url + "/api/v1/status") as resp:
                    return await resp.json()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError("the server never answered /api/v1/status")


async def test_check_config_accepts_the_shipped_file_and_names_problems(tmp_path: Path) -> None:
    code, out, _ = await run_cli("check-config", "--config", str(ROOT / "config.yaml"))
    assert code == 0 and "is valid" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels:\n  wechat: {enabled: true, app_id: a, app_secret: b}\nserver: {colour: red}\n")
    code, _, err = await run_cli("check-config", "--config", str(bad))
    assert code == 1
    assert "channels.wechat: token required when the WeChat channel is enabled" in err
    assert "server.colour: unknown key" in err
    code, _, err = await run_cli("check-config", env={"BOT_CONFIG": str(bad)})
    assert code == 1 and "server.colour" in err


async def test_chat_streams_through_the_engine_and_grant_credits(tmp_path: Path, fake_llm) -> None:
    cfg = write_config(tmp_path, fake_llm.base_url)
    code, out, err = await run_cli("chat", "--config", str(cfg), "--user", "alice",
                                   stdin="hello there\n/balance\n/quit\n")
    assert code == 0, err
    assert "bot> Echo: hello there" in out
    spent = 1000 - int(out.split("Balance: ")[1].split(" ")[0])
    assert spent > 0
    code, out, err = await run_cli("grant", "--config", str(cfg), "cli:alice", "500")
    assert code == 0, err
    assert f"balance {1000 - spent + 500}" in out
    code, _, err = await run_cli("grant", "--config", str(cfg), "cli:nobody", "5")
    assert code == 1 and "No user" in err


async def test_run_serves_status_and_stops_cleanly_on_sigterm(tmp_path: Path, fake_llm) -> None:
    cfg = write_config(tmp_path, fake_llm.base_url)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(*BOT, "run", "--config", str(cfg), "--port", str(port), cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        body = await wait_for_status(f"http://127.0.0.1:{port}", proc)
        assert body["status"] == "ok" and body["database"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
async def test_make_run_on_a_fresh_copy_answers_status(tmp_path: Path) -> None:
    """`make run` from a copy of the tracked files, with the shipped config.yaml (SQLite under data/)."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    clone = tmp_path / "clone"
    for name in files:
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    venv = Path(sys.prefix)
    port = free_port()
    # -o: the venv is this test run's own (already installed); the recipe under test is `run`.
    proc = subprocess.Popen(["make", "-o", f"{venv}/.installed", "run", f"VENV={venv}"], cwd=clone,
                            env={**os.environ, "PORT": str(port)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        body = await wait_for_status(f"http://127.0.0.1:{port}", proc)
        assert body["status"] == "ok"
        assert (clone / "data" / "bot.db").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


async def test_sigterm_lets_an_in_flight_reply_finish(tmp_path: Path, fake_llm) -> None:
    cfg = write_config(tmp_path, fake_llm.base_url, server={"shutdown_grace_seconds": 20})
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    proc = await asyncio.create_subprocess_exec(*BOT, "run", "--config", str(cfg), "--port", str(port), cwd=ROOT,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        await wait_for_status(f"http://127.0.0.1:{port}", proc)
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/users", json={"name": "late"}, headers={"X-API-Key": "admin-key"}) as r:
                key = (await r.json())["api_key"]
            headers = {"X-API-Key": key}
            async with http.post(base + "/conversations", json={}, headers=headers) as r:
                conversation = (await r.json())["id"]
            fake_llm.script(reply="Worth the wait.", first_delay=2.0)
            asking = asyncio.create_task(http.post(f"{base}/conversations/{conversation}/messages",
                                                   json={"content": "take your time"}, headers=headers))
            for _ in range(300):
                if fake_llm.chat_requests:
                    break
                await asyncio.sleep(0.02)
            assert fake_llm.chat_requests, "the reply never reached the model"
            proc.send_signal(signal.SIGTERM)  # once: a second one cuts the drain short, as Ctrl-C twice would
            response = await asyncio.wait_for(asking, 30)
            assert response.status == 200
            assert (await response.json())["content"] == "Worth the wait."
    finally:
        if proc.returncode is None and not fake_llm.chat_requests:
            proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-6000:]
