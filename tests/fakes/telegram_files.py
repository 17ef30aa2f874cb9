"""Mixed into FakeTelegram: files people send (photos, voice notes, audio, documents), getFile, and the download
route /file/bot<token>/<file_path>, as the Bot API serves them (files over 20 MB cannot be downloaded by bots)."""
from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from tests.fakes.telegram_state import FakeMessage

BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024


class FileSide:
    token: str

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}   # file_id -> (file_path, bytes)
        self.downloads: list[str] = []                   # file paths downloaded, in order

    def _file(self, data: bytes, path: str) -> dict:
        file_id = "F" + uuid.uuid4().hex
        self.files[file_id] = (path, data)
        return {"file_id": file_id, "file_unique_id": file_id[:16], "file_size": len(data)}

    async def api_getFile(self, params: dict) -> dict:
        from tests.fakes.telegram_state import ApiError

        found = self.files.get(str(params.get("file_id", "")))
        if found is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = found
        if len(data) > BOT_DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": params["file_id"], "file_unique_id": params["file_id"][:16], "file_size": len(data),
                "file_path": path}

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for stored_path, data in self.files.values():
            if stored_path == path:
                self.downloads.append(path)
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    async def send_media(self, chat: dict, user: dict, kind: str, data: bytes, *, caption: str | None = None,
                         file_name: str | None = None, mime_type: str | None = None, duration: int | None = None) -> Any:
        """The user sends a photo, voice note, audio file or document (kind: photo, voice, audio, document)."""
        extra: dict[str, Any] = {}
        if kind == "photo":   # Telegram sends several sizes; the last is the largest
            extra["photo"] = [{**self._file(data[: len(data) // 2] or data, f"photos/small_{uuid.uuid4().hex}.jpg"),
                               "width": 90, "height": 90},
                              {**self._file(data, f"photos/file_{uuid.uuid4().hex}.jpg"), "width": 800, "height": 600}]
        elif kind in ("voice", "audio"):
            folder = "voice" if kind == "voice" else "music"
            extra[kind] = {**self._file(data, f"{folder}/file_{uuid.uuid4().hex}.oga"),
                           "duration": duration or 1, "mime_type": mime_type or "audio/ogg"}
        else:
            extra["document"] = {**self._file(data, f"documents/file_{uuid.uuid4().hex}"),
                                 "file_name": file_name or "file", "mime_type": mime_type or "application/octet-stream"}
        if caption:
            extra["caption"] = caption
        message = FakeMessage(chat, self._new_id(chat["id"]), user, extra=extra)  # type: ignore[attr-defined]
        self.store(message)  # type: ignore[attr-defined]
        await self.deliver({"update_id": self.next_update_id(), "message": message.to_json()})  # type: ignore[attr-defined]
        return message
