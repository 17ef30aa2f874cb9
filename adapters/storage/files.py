"""core.files.FileStore on a local folder (the bytes) and the database (what is known of them)."""
from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path
from typing import Sequence

from adapters.storage.models_files import MessageFileRow, StoredFileRow
from core.errors import NotFound
from core.files import FileKind, StoredFile


def _file(row: StoredFileRow) -> StoredFile:
    return StoredFile(row.id, row.owner_id, row.kind, row.mime, row.name, row.size, row.created_at,  # type: ignore[arg-type]
                      row.source_url)


class DiskFileStore:
    """Each file lives at FOLDER/ab/<id> (ab: the id's first two characters), written whole before its row
    exists, so a row always points at complete bytes."""

    def __init__(self, folder: str | os.PathLike[str]):
        self._folder = Path(folder)

    def _path(self, file_id: str) -> Path:
        # ids are uuid4 strings we made; never a name from outside, so no path can escape the folder.
        return self._folder / file_id[:2] / file_id

    async def put(self, *, owner_id: str, kind: FileKind, mime: str, name: str, data: bytes,
                  source_url: str | None = None) -> StoredFile:
        file_id = str(uuid.uuid4())
        await asyncio.to_thread(_write, self._path(file_id), data)
        row = await StoredFileRow.create(id=file_id, owner_id=owner_id, kind=kind, mime=mime, name=name[:255],
                                         size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                         source_url=source_url)
        return _file(row)

    async def get(self, file_id: str) -> StoredFile | None:
        row = await StoredFileRow.get_or_none(id=file_id)
        return _file(row) if row is not None else None

    async def read(self, file: StoredFile) -> bytes:
        try:
            return await asyncio.to_thread(self._path(file.id).read_bytes)
        except FileNotFoundError:
            raise NotFound("The file's contents are gone.") from None

    async def delete(self, file_id: str) -> bool:
        deleted = bool(await StoredFileRow.filter(id=file_id).delete())
        await MessageFileRow.filter(file_id=file_id).delete()
        await asyncio.to_thread(self._path(file_id).unlink, missing_ok=True)
        return deleted

    async def attach(self, message_id: str, file_ids: Sequence[str]) -> None:
        await MessageFileRow.bulk_create([MessageFileRow(message_id=message_id, file_id=f, position=n)
                                          for n, f in enumerate(file_ids)])

    async def attached(self, message_ids: Sequence[str]) -> dict[str, list[StoredFile]]:
        links = await MessageFileRow.filter(message_id__in=list(message_ids)).order_by("message_id", "position")
        rows = {r.id: r for r in await StoredFileRow.filter(id__in=[link.file_id for link in links])}
        found: dict[str, list[StoredFile]] = {}
        for link in links:
            if link.file_id in rows:
                found.setdefault(link.message_id, []).append(_file(rows[link.file_id]))
        return found


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)
