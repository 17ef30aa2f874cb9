"""The `bot` command: run, check-config, chat, grant (and `python -m bot`)."""
from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import sys
from typing import Sequence

from bot.config import AppConfig, ConfigError, load_config

log = logging.getLogger("bot")


def _config_path(args: argparse.Namespace) -> str:
    return args.config or os.environ.get("BOT_CONFIG") or "config.yaml"


def _load(args: argparse.Namespace) -> AppConfig:
    from bot.preflight import env_references, problem_hint

    try:
        return load_config(_config_path(args))
    except ConfigError as e:
        refs = env_references(_config_path(args))
        print(f"config {_config_path(args)} has problems:", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}{problem_hint(problem, refs)}", file=sys.stderr)
        raise SystemExit(1)


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.preflight import channels_off, database_label, env_references, missing_secrets

    config = _load(args)
    refs = env_references(_config_path(args))
    models = ", ".join(m.name for p in config.llm.providers for m in p.models) or "none"
    channels = [n for n in ("telegram", "wechat") if getattr(config.channels, n).enabled]
    print(f"config {_config_path(args)} is valid: models {models}; channels {', '.join(channels) or 'none'}; "
          f"database {database_label(config.database.url)}")
    for line in missing_secrets(config, refs):
        print(f"warning: {line}")
    for line in channels_off(config, refs):
        print(f"note: {line}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from adapters.storage.schema import DatabaseUnavailable, SchemaBehind
    from bot.app import create_app
    from bot.preflight import env_references, missing_secrets

    config = _load(args)
    for line in missing_secrets(config, env_references(_config_path(args))):
        log.warning("%s", line)
    app = create_app(config)
    port = args.port or config.server.port
    try:
        _serve(app, args, config)
    except SchemaBehind as e:
        print(f"refusing to start: {e}", file=sys.stderr)
        return 1
    except DatabaseUnavailable as e:
        print(f"refusing to start: cannot reach the database ({e})", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        why = "is already in use" if e.errno == errno.EADDRINUSE else "cannot be used"
        print(f"cannot start: port {port} on {args.host or config.server.host} {why}; choose "
              f"another with `bot run --port {port + 1 if port < 65535 else 8081}`, server.port in the config file, "
              "or the PORT environment variable (the shipped config.yaml reads it).", file=sys.stderr)
        return 1
    return 0


def event_loop():
    """uvloop's event loop when it is installed (`pip install .[fast]`) and BOT_EVENT_LOOP is not `asyncio`;
    None: asyncio's own. The same code runs on either (docs/benchmarks.md has what uvloop saves)."""
    import os

    if os.environ.get("BOT_EVENT_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop()


async def _freeze_heap(app) -> None:
    """After start-up (services built, tables loaded), keep what was made so far out of the garbage collector's
    full passes: they would walk it all again and again, pausing every request for tens of milliseconds."""
    import gc

    gc.collect()
    gc.freeze()


def _serve(app, args: argparse.Namespace, config: AppConfig) -> None:
    from aiohttp import web

    # run_app turns SIGINT/SIGTERM into a graceful stop: in-flight replies get shutdown_timeout to finish.
    loop = event_loop()
    if loop is not None:
        print("event loop: uvloop", flush=True)
    app.on_startup.append(_freeze_heap)
    web.run_app(app, host=args.host or config.server.host, port=args.port or config.server.port,
                shutdown_timeout=config.server.shutdown_grace_seconds, access_log=None, loop=loop,
                print=lambda msg: print(msg, flush=True))


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.terminal import chat

    return asyncio.run(chat(_load(args), args.user))


def cmd_config_doc(args: argparse.Namespace) -> int:
    from bot.config_doc import run

    return run(args.output, args.check)


def cmd_grant(args: argparse.Namespace) -> int:
    from bot.terminal import grant

    return asyncio.run(grant(_load(args), args.user, args.tokens))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="Chatbot platform for WeChat, Telegram and HTTP clients")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--config", help="config file (default: $BOT_CONFIG or config.yaml)")
        p.add_argument("--log-file", default=os.environ.get("BOT_LOG_FILE"),
                       help="write log lines to this file (default: $BOT_LOG_FILE, else standard error)")
        return p

    run = command("run", "start the server")
    run.add_argument("--host", help="address to listen on (default: server.host)")
    run.add_argument("--port", type=int, help="port to listen on (default: server.port; the shipped config reads PORT)")
    run.set_defaults(func=cmd_run)
    command("check-config", "validate the config file").set_defaults(func=cmd_check_config)
    doc = sub.add_parser("config-doc", help="the configuration reference (docs/configuration.md) from the config model")
    doc.add_argument("--output", help="write it to this file instead of printing it")
    doc.add_argument("--check", metavar="PATH", help="exit 1 when PATH differs from what would be generated")
    doc.set_defaults(func=cmd_config_doc)
    chat = command("chat", "chat in the terminal through the engine")
    chat.add_argument("--user", default=os.environ.get("USER", "operator"))
    chat.set_defaults(func=cmd_chat)
    grant = command("grant", "credit tokens to a user (ledger entry 'adjustment')")
    grant.add_argument("user", help="user id or channel:external_id")
    grant.add_argument("tokens", type=int)
    grant.set_defaults(func=cmd_grant)
    for extend in extensions():
        extend(sub, command)
    return parser


def extensions() -> list:
    """Later features add CLI commands here (ingest, migrate)."""
    from bot.knowledge import add_ingest_command
    from bot.cli_admin import add_admin_commands
    from bot.migrate import add_migrate_commands

    return [add_ingest_command, add_migrate_commands, add_admin_commands]


# Commands whose standard streams are a conversation with a person: log lines would land in the middle of it.
QUIET_COMMANDS = {"chat"}


def setup_logging(command: str, log_file: str | None) -> None:
    """Logs go to --log-file / $BOT_LOG_FILE at $BOT_LOG_LEVEL (INFO), else to standard error; `bot chat`
    shows only the conversation, so without a file it logs warnings and errors only."""
    level = os.environ.get("BOT_LOG_LEVEL", "INFO")
    if command in QUIET_COMMANDS and not log_file:
        level = "WARNING"
    handler = logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler(sys.stderr)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.command, getattr(args, "log_file", None))
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
