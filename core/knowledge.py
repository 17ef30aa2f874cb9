"""The knowledge base service: add, list and delete resources, and ingest them in the background."""
from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence

from core.chunking import chunk_sections
from core.domain import Citation, Page
from core.errors import DomainError, Forbidden, InvalidRequest, NotFound, QuotaExceeded
from core.knowledge_ports import (
    ChunkIndex, Embedder, Extractor, Fetcher, Fetched, Resource, ResourceRepository, Viewer,
)

log = logging.getLogger(__name__)

MB = 1024 * 1024
Progress = Callable[[int, int], None]  # (chunks embedded so far, total chunks)


@dataclass(frozen=True)
class KnowledgeSettings:
    chunk_chars: int = 800
    chunk_overlap: int = 120
    batch_size: int = 32
    allow_private_urls: bool = False


def sources_line(citations: Sequence[Citation], limit: int = 3, prefix: str = "Sources: ") -> str:
    """A short line naming the documents a reply drew on, best first, each once: "Sources: A; B".
    Empty when there are none, so channels can append it unconditionally."""
    names: list[str] = []
    for c in citations:
        if c.title and c.title not in names:
            names.append(c.title)
    if not names:
        return ""
    more = f" (+{len(names) - limit})" if len(names) > limit else ""
    return prefix + "; ".join(names[:limit]) + more


def content_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _size(nbytes: int) -> str:
    return f"{nbytes / MB:.1f} MB" if nbytes >= MB // 10 else f"{max(1, nbytes // 1024)} KB"


class ResourceService:
    def __init__(self, *, resources: ResourceRepository, index: ChunkIndex, embedder: Embedder,
                 extractor: Extractor, fetcher: Fetcher, settings: KnowledgeSettings):
        self._resources = resources
        self._index = index
        self._embedder = embedder
        self._extractor = extractor
        self._fetcher = fetcher
        self._settings = settings
        self._tasks: dict[str, asyncio.Task] = {}

    # --- adding -------------------------------------------------------------------------------

    async def add_document(self, viewer: Viewer, *, name: str, body: bytes, content_type: str,
                           source: str, progress: Progress | None = None) -> tuple[Resource, bool]:
        """Store an upload (or pasted text) and start indexing it. Returns (resource, created); an
        identical document already there is returned with created=False. A user's upload over their
        storage limit raises QuotaExceeded and stores nothing."""
        if not body.strip():
            raise InvalidRequest("The document is empty.", reason="empty_document")
        owner = self._owner(viewer)
        digest = content_hash(body)
        existing = await self._resources.find_duplicate(owner, content_hash=digest)
        if existing is not None:
            return existing, False
        charged = 0
        if owner is not None:
            if not await self._resources.try_reserve_storage(owner, len(body)):
                raise QuotaExceeded(f"This document ({_size(len(body))}) is over your storage limit; delete "
                                    f"documents or buy a pack with more storage.")
            charged = len(body)
        try:
            resource = await self._resources.create(owner_id=owner, name=(name or "Untitled")[:200], source=source,
                                                    content_type=content_type, url=None, bytes=len(body),
                                                    charged_bytes=charged, content_hash=digest)
        except BaseException:
            if charged:
                await self._resources.release_storage(owner, charged)  # type: ignore[arg-type]
            raise
        self.start(resource.id, lambda: self._extract_upload(body, content_type), progress=progress)
        return resource, True

    async def add_url(self, viewer: Viewer, *, url: str, name: str = "",
                      progress: Progress | None = None) -> tuple[Resource, bool]:
        """Start fetching and indexing a web page; the same URL already there is returned with created=False."""
        url = url.strip()
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidRequest("The URL must start with http:// or https://.", reason="invalid_url")
        owner = self._owner(viewer)
        existing = await self._resources.find_duplicate(owner, url=url)
        if existing is not None:
            return existing, False
        allow_private = viewer.is_admin or self._settings.allow_private_urls
        await self._fetcher.check(url, allow_private)
        resource = await self._resources.create(owner_id=owner, name=(name or url)[:200], source="website",
                                                content_type="text/html", url=url, bytes=0, charged_bytes=0,
                                                content_hash=None)
        self.start(resource.id, lambda: self._fetch_page(resource, allow_private), named=bool(name),
                   progress=progress)
        return resource, True

    @staticmethod
    def _owner(viewer: Viewer) -> str | None:
        if viewer.user_id is None and not viewer.is_admin:
            raise Forbidden("Sign in to add documents.")
        return None if viewer.is_admin and viewer.user_id is None else viewer.user_id

    # --- reading and deleting -------------------------------------------------------------------

    async def list(self, viewer: Viewer, limit: int = 20, cursor: str | None = None) -> Page:
        return await self._resources.list_visible(viewer, limit, cursor)

    async def get(self, viewer: Viewer, resource_id: str) -> Resource:
        resource = await self._resources.get(resource_id)
        if resource is None or not (viewer.is_admin or resource.owner_id in (None, viewer.user_id)):
            raise NotFound("Resource not found.")
        return resource

    async def delete(self, viewer: Viewer, resource_id: str) -> None:
        """Delete a resource with its chunks and vectors; an ingestion in progress stops and leaves nothing."""
        resource = await self.get(viewer, resource_id)
        if resource.owner_id is None and not viewer.is_admin:
            raise Forbidden("Only an operator can delete a shared resource.")
        task = self._tasks.pop(resource_id, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        current = await self._resources.get(resource_id)  # an ingestion may have charged a fetched page
        if current is not None and await self._resources.delete(resource_id):
            await self._index.remove(resource_id)
            if current.owner_id is not None and current.charged_bytes:
                await self._resources.release_storage(current.owner_id, current.charged_bytes)

    # --- ingestion ------------------------------------------------------------------------------

    def start(self, resource_id: str, load: Callable, named: bool = True, progress: Progress | None = None) -> None:
        """Run ingestion in the background; the task ends with the resource ready or failed."""
        task = asyncio.get_running_loop().create_task(self.ingest(resource_id, load, progress, named),
                                                      name=f"ingest {resource_id}")
        self._tasks[resource_id] = task
        task.add_done_callback(lambda t: self._tasks.pop(resource_id, None) if self._tasks.get(resource_id) is t
                               else None)

    async def wait(self, resource_id: str) -> None:
        """Wait until this process's ingestion of a resource has ended (the CLI and tests)."""
        task = self._tasks.get(resource_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    async def ingest(self, resource_id: str, load: Callable, progress: Progress | None = None,
                     named: bool = True) -> Resource | None:
        """pending -> indexing -> ready | failed. Errors become the resource's `error`; never raises
        except on cancellation, after removing whatever was stored."""
        try:
            if await self._resources.update(resource_id, status="indexing") is None:
                return None
            document = await load()
            if not named and document.title:
                await self._resources.update(resource_id, name=document.title[:200])
            chunks = chunk_sections(document.sections, self._settings.chunk_chars, self._settings.chunk_overlap)
            if not chunks:
                raise InvalidRequest("The document has no text to index.", reason="no_text")
            size = self._settings.batch_size
            for start in range(0, len(chunks), size):
                batch = chunks[start:start + size]
                vectors = await self._embedder.embed([c.text for c in batch], "passage")
                if not await self._index.add(resource_id, batch, vectors):
                    await self._index.remove(resource_id)  # deleted meanwhile (perhaps by another process)
                    return None
                if progress:
                    progress(start + len(batch), len(chunks))
            return await self._resources.update(resource_id, status="ready", chunks=len(chunks), error=None,
                                                error_reason=None, indexed_at=datetime.now(timezone.utc))
        except asyncio.CancelledError:
            await asyncio.shield(self._index.remove(resource_id))
            raise
        except DomainError as e:
            return await self._fail(resource_id, e.message, e.reason)
        except Exception:
            log.exception("ingesting resource %s failed", resource_id)
            return await self._fail(resource_id, "Indexing failed because of an error on our side; it has been "
                                    "logged. Try again later.", "internal_error")

    async def _fail(self, resource_id: str, message: str, reason: str) -> Resource | None:
        await self._index.remove(resource_id)
        resource = await self._resources.get(resource_id)
        if resource is None:
            return None
        if resource.owner_id is not None and resource.charged_bytes:
            await self._resources.release_storage(resource.owner_id, resource.charged_bytes)
        return await self._resources.update(resource_id, status="failed", error=message, error_reason=reason,
                                            charged_bytes=0, chunks=0)

    async def _extract_upload(self, body: bytes, content_type: str):
        return await self._extractor.extract(body, content_type)

    async def _fetch_page(self, resource: Resource, allow_private: bool):
        page: Fetched = await self._fetcher.fetch(resource.url or "", allow_private)
        digest = content_hash(page.body)
        other = await self._resources.find_duplicate(resource.owner_id, content_hash=digest, exclude_id=resource.id)
        if other is not None:
            raise InvalidRequest(f"This page has the same content as the resource {other.name!r} ({other.id}).",
                                 reason="duplicate")
        if resource.owner_id is not None:
            if not await self._resources.try_reserve_storage(resource.owner_id, len(page.body)):
                raise QuotaExceeded(f"The page ({_size(len(page.body))}) is over your storage limit.")
            await self._resources.update(resource.id, charged_bytes=len(page.body))
        await self._resources.update(resource.id, bytes=len(page.body), content_hash=digest,
                                     content_type=page.content_type)
        return await self._extractor.extract(page.body, page.content_type)

    async def close(self) -> None:
        """Stop ingestions in flight (shutdown); their resources are marked failed as interrupted."""
        tasks = list(self._tasks.items())
        for _, task in tasks:
            task.cancel()
        await asyncio.gather(*(t for _, t in tasks), return_exceptions=True)
        for resource_id, _ in tasks:
            await self._fail(resource_id, "Indexing was interrupted by a restart; delete the resource and add "
                             "it again.", "interrupted")
