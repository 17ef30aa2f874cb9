"""The pages' own CSS and JavaScript from static/: a name is looked up in the folder's listing, never joined."""
from __future__ import annotations

import functools

from aiohttp import web

from adapters.http.web import HERE
from core.errors import NotFound

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png",
          ".svg": "image/svg+xml"}


@functools.cache
def _files() -> dict:
    return {p.name: p for p in (HERE / "static").iterdir() if p.suffix in _TYPES}


async def asset(request: web.Request) -> web.StreamResponse:
    path = _files().get(request.match_info["name"])
    if path is None:
        raise NotFound("No such file.")
    return web.FileResponse(path, headers={"Content-Type": _TYPES[path.suffix], "X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "no-cache"})
