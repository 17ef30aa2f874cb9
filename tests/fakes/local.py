"""serve_local: run an aiohttp app on a free 127.0.0.1 port, as every fake server of the tests does."""
from __future__ import annotations

from typing import Any

from aiohttp import web


async def serve_local(app: web.Application, **runner_options: Any) -> tuple[web.AppRunner, str]:
    """Start `app`; returns its runner (call `cleanup()` to stop it) and its base URL, http://127.0.0.1:PORT."""
    runner = web.AppRunner(app, access_log=None, **runner_options)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"
