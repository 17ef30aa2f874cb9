"""Reading a Dify upload: the multipart body's `file` part and `user` field, each within its byte limit."""
from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from adapters.http.dify.errors import DifyError
from adapters.http.multipart import read_part

MAX_USER_FIELD = 1024


@dataclass(frozen=True)
class Upload:
    name: str               # the file part's filename ("" when none was given)
    data: bytes | None      # None when the body had no `file` part
    user: str | None


async def read_upload(request: web.Request, limit: int, too_large: DifyError, *, not_multipart: DifyError,
                      too_many: DifyError | None = None) -> Upload:
    """The `file` part (refused with `too_large` past `limit`) and the `user` field; other parts are read within
    the same limit and dropped. A second `file` part is refused with `too_many`, or replaces the first without it."""
    if not request.content_type.startswith("multipart/"):
        raise not_multipart
    name, data, user = "", None, None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise DifyError(400, "invalid_param", "Nested multipart bodies are not accepted.")
            if part.name == "file":
                if data is not None and too_many is not None:
                    raise too_many
                name, data = part.filename or "", await read_part(part, limit, lambda: too_large)
            elif part.name == "user":
                raw = await read_part(part, MAX_USER_FIELD,
                                      lambda: DifyError(400, "invalid_param", "user is too long."))
                user = raw.decode("utf-8", "replace")
            else:
                await read_part(part, limit, lambda: too_large)  # skipped, within the same limit
    except (ValueError, AssertionError) as e:  # aiohttp's multipart parser on a malformed body
        raise DifyError(400, "invalid_param", f"The multipart body is malformed ({e}).") from None
    return Upload(name, data, user)
