"""The first five minutes, as a newcomer meets them: the shipped config.yaml, copied unchanged, run by the real
`bot` command with only environment variables pointing it at the local fakes."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.preflight import env_references
from tests.e2e.test_cli import wait_for_status
from tests.e2e.workers import free_port
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.yaml"
BOT = [sys.executable, "-m", "bot"]
KEY = "sk-test"


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any variable the shipped config reads (a developer's own
    OPENAI_API_KEY must not leak in), plus `values`."""
    read = {name for names in env_references(SHIPPED).values() for name in names}
    env = {k: v for k, v in os.environ.items() if k not in read and not k.startswith("BOT_")}
    return {**env, **values}


def shipped_copy(folder: Path) -> Path:
    """config.yaml byte for byte in a folder of its own (its relative SQLite path lands there, not in the repo)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHIPPED, folder / "config.yaml")
    return folder / "config.yaml"


async def bot(*args: str, env: dict[str, str], cwd: Path, stdin: str = "") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(*BOT, *args, stdin=asyncio.subprocess.PIPE, cwd=cwd, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 90)
    return proc.returncode, out.decode(), err.decode()


def orders_in(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]


@pytest.fixture
async def llm():
    async with FakeOpenAI(api_key=KEY, models=["gpt-4o-mini"]) as fake:
        yield fake


async def test_shipped_config_answers_in_telegram_with_only_environment_variables(tmp_path: Path, llm) -> None:
    config = shipped_copy(tmp_path / "app")
    assert config.read_bytes() == SHIPPED.read_bytes()
    port = free_port()
    async with FakeTelegram(token="123:ABC", username="first_bot") as tg:
        env = clean_env(TELEGRAM_BOT_TOKEN="123:ABC", TELEGRAM_API_BASE_URL=tg.api_base_url, OPENAI_API_KEY=KEY,
                        OPENAI_BASE_URL=llm.base_url, PORT=str(port))
        proc = await asyncio.create_subprocess_exec(*BOT, "run", "--config", str(config), cwd=tmp_path, env=env,
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            await wait_for_status(f"http://127.0.0.1:{port}", proc, seconds=60)
            await tg.wait_until(lambda: tg.commands and tg.polled, timeout=30)
            alice = tg.user(4242, "Alice")
            chat = tg.private_chat(alice)
            await tg.send_text(chat, alice, "hello from Telegram")
            await tg.wait_until(lambda: any(m.text.startswith("Echo: hello from Telegram")
                                            for m in tg.bot_messages(chat)), timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert llm.chat_requests[-1]["model"] == "gpt-4o-mini"
    assert proc.returncode == 0, err.decode()[-3000:]
    assert (tmp_path / "app" / "data" / "bot.db").exists()  # beside the config file, whatever the cwd
    log = err.decode()
    assert f"database opened: SQLite {tmp_path / 'app' / 'data' / 'bot.db'}" in log
    # The secrets it was not given are named, with what they stop; the ones it was given are not.
    for name in ("ADMIN_API_KEY", "TOKEN_SECRET", "DIFY_APP_KEY"):
        assert f"WARNING bot: {name} (" in log
    assert "OPENAI_API_KEY" not in log and "TELEGRAM_BOT_TOKEN" not in log


async def test_check_config_names_every_missing_secret_and_how_to_turn_channels_on(tmp_path: Path) -> None:
    config = shipped_copy(tmp_path / "app")
    code, out, err = await bot("check-config", "--config", str(config), env=clean_env(), cwd=tmp_path)
    assert code == 0, err
    assert f"database SQLite {tmp_path / 'app' / 'data' / 'bot.db'}" in out
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert [w.split(" ")[1] for w in warnings] == ["OPENAI_API_KEY", "ADMIN_API_KEY", "TOKEN_SECRET", "DIFY_APP_KEY"]
    assert "every answer fails" in warnings[0] and "admin API" in warnings[1] and "bearer tokens are off" in warnings[2]
    assert "note: Telegram is off: set TELEGRAM_BOT_TOKEN to turn it on." in out
    assert "note: WeChat is off: set WECHAT_TOKEN to turn it on." in out

    given = clean_env(OPENAI_API_KEY="sk-1", ADMIN_API_KEY="adm", TOKEN_SECRET="s" * 32, DIFY_APP_KEY="app-1",
                      TELEGRAM_BOT_TOKEN="1:abc")
    code, out, _ = await bot("check-config", "--config", str(config), env=given, cwd=tmp_path)
    assert code == 0 and "warning:" not in out and "channels telegram;" in out and "Telegram is off" not in out

    # A channel switched on with secrets missing: the problem names the variables to set.
    code, _, err = await bot("check-config", "--config", str(config), env=clean_env(WECHAT_TOKEN="t"), cwd=tmp_path)
    assert code == 1
    assert "channels.wechat: app_id, app_secret required when the WeChat channel is enabled " \
           "(set WECHAT_APP_ID, WECHAT_APP_SECRET)" in err


async def test_a_model_call_without_a_key_says_the_key_is_missing(tmp_path: Path) -> None:
    config = shipped_copy(tmp_path / "app")
    with socket.socket() as s:  # nothing listens here: without the key check this would be "cannot be reached"
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = clean_env(OPENAI_BASE_URL=f"http://127.0.0.1:{closed}/v1")
    code, out, err = await bot("chat", "--config", str(config), "--user", "newcomer", env=env, cwd=tmp_path,
                               stdin="hello\n/quit\n")
    assert code == 0, err
    assert "[upstream_key_missing] No API key is configured for the model provider openai" in out
    assert "OPENAI_API_KEY" in out and "cannot be reached" not in out


async def test_chat_shows_only_the_conversation_and_logs_go_to_a_file(tmp_path: Path, llm) -> None:
    config = shipped_copy(tmp_path / "app")
    env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=llm.base_url)
    code, out, err = await bot("chat", "--config", str(config), "--user", "ann", env=env, cwd=tmp_path,
                               stdin="hello there\n/quit\n")
    assert code == 0, err
    assert "bot> Echo: hello there" in out
    assert " INFO " not in out + err and "HTTP Request" not in out + err
    assert all(line.startswith(("Chatting as", "you> ", "bot> ", "   (")) for line in out.splitlines() if line)
    log_file = tmp_path / "bot.log"
    code, out, err = await bot("chat", "--config", str(config), "--user", "ann", "--log-file", str(log_file),
                               env=env, cwd=tmp_path, stdin="again\n/quit\n")
    assert code == 0 and "bot> Echo: again" in out and err == ""
    assert f"INFO bot.wiring: database opened: SQLite {tmp_path / 'app' / 'data' / 'bot.db'}" in log_file.read_text()


async def test_relative_sqlite_path_is_the_config_folders_from_any_directory(tmp_path: Path, llm) -> None:
    config = shipped_copy(tmp_path / "app")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=llm.base_url)
    code, out, err = await bot("chat", "--config", str(config), "--user", "bo", env=env, cwd=tmp_path / "app",
                               stdin="one\n/quit\n")
    assert code == 0, err
    code, _, err = await bot("grant", "--config", "../app/config.yaml", "cli:bo", "777", env=env, cwd=elsewhere)
    assert code == 0, err  # the same database: from elsewhere, the user made above is found
    assert not (elsewhere / "data").exists() and (tmp_path / "app" / "data" / "bot.db").exists()


async def test_terminal_buy_without_a_payment_method_creates_no_order(tmp_path: Path, llm) -> None:
    config = shipped_copy(tmp_path / "app")
    env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=llm.base_url)
    code, out, err = await bot("chat", "--config", str(config), "--user", "cy", env=env, cwd=tmp_path,
                               stdin="/buy\n/buy starter\n/help\n/quit\n")
    assert code == 0, err
    from core.i18n import Texts

    assert out.count(Texts.load().get("buy.no_payment_method", "en")) == 2   # the terminal reads i18n.default_locale
    assert "/buy" not in out.split("you> ")[-2] and "/balance" in out.split("you> ")[-2]  # the /help answer
    assert "/buy" not in out.splitlines()[0]  # nor the greeting's command list
    assert orders_in(tmp_path / "app" / "data" / "bot.db") == 0


async def test_port_in_use_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    config = shipped_copy(tmp_path / "app")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args, env in ((["--port", str(port)], clean_env()), ([], clean_env(PORT=str(port)))):
            code, out, err = await bot("run", "--config", str(config), *args, env=env, cwd=tmp_path)
            assert code == 1
            assert "Traceback" not in out + err
            [line] = [line for line in err.splitlines() if line.startswith("cannot start")]
            assert line == err.splitlines()[-1]  # the last word, after the start-up log
            assert line.startswith(f"cannot start: port {port} on 127.0.0.1 is already in use")
            assert "--port" in line and "server.port" in line and "PORT" in line


async def test_config_doc_command_writes_and_checks_the_reference(tmp_path: Path) -> None:
    code, out, err = await bot("config-doc", "--check", str(ROOT / "docs" / "configuration.md"), env=clean_env(),
                               cwd=tmp_path)
    assert code == 0 and "up to date" in out, out + err
    stale = tmp_path / "configuration.md"
    stale.write_text((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").replace("`8080`", "`80`"))
    code, out, _ = await bot("config-doc", "--check", str(stale), env=clean_env(), cwd=tmp_path)
    assert code == 1 and "is stale: regenerate it with `bot config-doc --output" in out
    code, _, _ = await bot("config-doc", "--output", str(stale), env=clean_env(), cwd=tmp_path)
    assert code == 0 and stale.read_text(encoding="utf-8") == (ROOT / "docs" / "configuration.md").read_text("utf-8")


async def test_http_answer_without_a_model_key_names_the_key_and_charges_nothing(start_app, tmp_path, fake_llm) -> None:
    from tests.conftest import make_config
    from tests.e2e.http_native import assert_error, serve

    keyless = {"name": "openai", "base_url": fake_llm.base_url, "api_key": "",
               "models": [{"name": "test-model", "max_output_tokens": 100}]}
    config = make_config(tmp_path, fake_llm.base_url, llm={"default_model": "test-model", "providers": [keyless]})
    async with serve(start_app, config) as api:
        me, _ = await api.new_user("kay")
        conversation = (await me.post("/conversations", {})).body["id"]
        reply = await me.post(f"/conversations/{conversation}/messages", {"content": "hello"})
        assert_error(reply, 503, "upstream_key_missing")
        assert reply.body["error"]["message"].startswith("No API key is configured for the model provider openai")
        assert (await me.get("/me")).body["balance"] == 1000  # the signup grant, untouched
