"""Stored files (uploads, fetched images, later voice and media): the value, the port that keeps them, and the
service that checks who may read them and what they may cost in storage."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, Sequence

from core.domain import ImagePart
from core.errors import InvalidRequest, NotFound, QuotaExceeded
from core.ports import UserRepository

FileKind = Literal["image", "document", "audio", "video"]
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


@dataclass(frozen=True)
class StoredFile:
    id: str
    owner_id: str           # the user who stored it; nobody else reads it
    kind: FileKind
    mime: str
    name: str
    bytes: int              # its size
    created_at: datetime
    source_url: str | None = None   # where it was fetched from (None: uploaded)


class FileStore(Protocol):
    """Files' bytes and what is known of them, and which files a message carries."""

    async def put(self, *, owner_id: str, kind: FileKind, mime: str, name: str, data: bytes,
                  source_url: str | None = None) -> StoredFile: ...

    async def get(self, file_id: str) -> StoredFile | None: ...

    async def read(self, file: StoredFile) -> bytes:
        """The file's bytes; NotFound when they are gone from the disk."""
        ...

    async def delete(self, file_id: str) -> bool: ...

    async def attach(self, message_id: str, file_ids: Sequence[str]) -> None:
        """Record that a message carries these files, in this order."""
        ...

    async def attached(self, message_ids: Sequence[str]) -> dict[str, list[StoredFile]]:
        """The files each message carries, in order (messages without files are left out)."""
        ...


def sniff_image(data: bytes) -> str | None:
    """The image type the bytes really are (PNG, JPEG, GIF, WebP), whatever the name or the sender says."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class AttachmentService:
    """Stores a user's files within their storage limit and hands them back only to them."""

    def __init__(self, files: FileStore, users: UserRepository):
        self._files = files
        self._users = users

    async def store(self, owner_id: str, *, kind: FileKind, mime: str, name: str, data: bytes,
                    source_url: str | None = None) -> StoredFile:
        """Keep a file for its owner, counted against their storage (QuotaExceeded when it does not fit)."""
        user = await self._users.get(owner_id)
        if user is None:
            raise NotFound("User not found.")
        if user.storage_used_bytes + len(data) > user.storage_limit_bytes:
            free = max(0, user.storage_limit_bytes - user.storage_used_bytes)
            raise QuotaExceeded(f"The file ({len(data)} bytes) does not fit in your storage ({free} bytes free).",
                                reason="storage_exceeded")
        stored = await self._files.put(owner_id=owner_id, kind=kind, mime=mime, name=name, data=data,
                                       source_url=source_url)
        await self._users.add_storage_used(owner_id, len(data))
        return stored

    async def get(self, owner_id: str, file_id: str) -> StoredFile:
        """The owner's file; NotFound for an unknown id and for another user's file alike."""
        found = await self._files.get(file_id)
        if found is None or found.owner_id != owner_id:
            raise NotFound("File not found.")
        return found

    async def read(self, owner_id: str, file_id: str) -> tuple[StoredFile, bytes]:
        found = await self.get(owner_id, file_id)
        return found, await self._files.read(found)

    async def read_shared(self, file_id: str) -> tuple[StoredFile, bytes]:
        """A file by id alone, for a caller holding a capability for it (a signed link); NotFound if unknown."""
        found = await self._files.get(file_id)
        if found is None:
            raise NotFound("File not found.")
        return found, await self._files.read(found)

    async def image_parts(self, owner_id: str, file_ids: Sequence[str]) -> tuple[ImagePart, ...]:
        """The owner's image files as the model will see them (InvalidRequest for a file that is no image)."""
        parts = []
        for file_id in file_ids:
            found, data = await self.read(owner_id, file_id)
            if found.kind != "image":
                raise InvalidRequest(f"The file {found.name} is not an image.", reason="not_an_image")
            parts.append(ImagePart(found.mime, data))
        return tuple(parts)

    async def delete(self, owner_id: str, file_id: str, *, release_storage: bool = True) -> bool:
        """Remove the owner's file and give its bytes back to their storage (unless something else holds them)."""
        found = await self._files.get(file_id)
        if found is None or found.owner_id != owner_id:
            return False
        if await self._files.delete(file_id) and release_storage:
            await self._users.add_storage_used(owner_id, -found.bytes)
        return True

    async def release_storage(self, owner_id: str, nbytes: int) -> None:
        """Stop counting `nbytes` of a file (a resource made of it counts them now); negative counts them again."""
        await self._users.add_storage_used(owner_id, -nbytes)

    async def attach(self, message_id: str, file_ids: Sequence[str]) -> None:
        if file_ids:
            await self._files.attach(message_id, file_ids)

    async def attached(self, message_ids: Sequence[str]) -> dict[str, list[StoredFile]]:
        return await self._files.attached(message_ids) if message_ids else {}
