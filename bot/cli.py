"""The `bot` command: run, check-config, chat, grant (and `python -m bot`)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Sequence

from bot.config import AppConfig, ConfigError, load_config


def _config_path(args: argparse.Namespace) -> str:
    return args.config or os.environ.get("BOT_CONFIG") or "config.yaml"


def _load(args: argparse.Namespace) -> AppConfig:
    try:
        return load_config(_config_path(args))
    except ConfigError as e:
        print(f"config {_config_path(args)} has problems:", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(1)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    models = ", ".join(m.name for p in config.llm.providers for m in p.models) or "none"
    channels = [n for n in ("telegram", "wechat") if getattr(config.channels, n).enabled]
    print(f"config {_config_path(args)} is valid: models {models}; channels {', '.join(channels) or 'none'}; "
          f"database {config.database.url.split('://', 1)[0]}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from adapters.storage.schema import DatabaseUnavailable, SchemaBehind
    from bot.app import create_app

    config = _load(args)
    app = create_app(config)
    try:
        _serve(app, args, config)
    except SchemaBehind as e:
        print(f"refusing to start: {e}", file=sys.stderr)
        return 1
    except DatabaseUnavailable as e:
        print(f"refusing to start: cannot reach the database ({e})", file=sys.stderr)
        return 1
    return 0


def _serve(app, args: argparse.Namespace, config: AppConfig) -> None:
    from aiohttp import web

    # run_app turns SIGINT/SIGTERM into a graceful stop: in-flight replies get shutdown_timeout to finish.
    web.run_app(app, host=args.host or config.server.host, port=args.port or config.server.port,
                shutdown_timeout=config.server.shutdown_grace_seconds, access_log=None,
                print=lambda msg: print(msg, flush=True))


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.terminal import chat

    return asyncio.run(chat(_load(args), args.user))


def cmd_grant(args: argparse.Namespace) -> int:
    from bot.terminal import grant

    return asyncio.run(grant(_load(args), args.user, args.tokens))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="Chatbot platform for WeChat, Telegram and HTTP clients")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--config", help="config file (default: $BOT_CONFIG or config.yaml)")
        return p

    run = command("run", "start the server")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.set_defaults(func=cmd_run)
    command("check-config", "validate the config file").set_defaults(func=cmd_check_config)
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
    from bot.migrate import add_migrate_commands

    return [add_ingest_command, add_migrate_commands]


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("BOT_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
