"""The docs pages' files: Swagger UI's from the swagger-ui-bundle-v2 package, and our own few."""
from __future__ import annotations

import functools
from pathlib import Path

from aiohttp import web

from adapters.http.landing import HERE
from core.errors import NotFound

_OWN = HERE / "static"
_SWAGGER = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png",
            "favicon-16x16.png")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}


@functools.cache
def _files() -> dict[str, Path]:
    from swagger_ui_bundle import swagger_ui_path

    found = {name: Path(str(swagger_ui_path / name)) for name in _SWAGGER}
    found.update({p.name: p for p in _OWN.iterdir() if p.suffix in _TYPES})
    return found


async def asset(request: web.Request) -> web.StreamResponse:
    """Only the listed files: a name is looked up, never joined into a path."""
    name = request.match_info["name"]
    path = _files().get(name)
    if path is None or not path.is_file():
        raise NotFound(f"No asset {name!r}.")
    return web.FileResponse(path, headers={"Content-Type": _TYPES[path.suffix], "X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "public, max-age=3600"})
