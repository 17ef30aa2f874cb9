"""The knowledge base's values and ports: resources, documents, embedders, the chunk index and their store."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, Sequence

from core.chunking import Chunk, Section
from core.domain import Page

RESOURCE_STATUSES = ("pending", "indexing", "ready", "failed")
ResourceStatus = Literal["pending", "indexing", "ready", "failed"]


@dataclass(frozen=True)
class Resource:
    id: str
    owner_id: str | None          # None: a global resource, added by an operator
    name: str
    source: str                   # "text", "file" or "website"
    content_type: str             # text/plain, text/markdown, application/pdf, text/html
    url: str | None
    status: ResourceStatus
    error: str | None
    error_reason: str | None
    chunks: int
    bytes: int
    charged_bytes: int            # what counts against the owner's storage right now
    content_hash: str | None
    created_at: datetime
    indexed_at: datetime | None

    @property
    def scope(self) -> str:
        return "global" if self.owner_id is None else "private"


@dataclass(frozen=True)
class Viewer:
    """Who asks: a user (private resources of their own plus global ones) or an operator (everything)."""

    user_id: str | None
    is_admin: bool = False


@dataclass(frozen=True)
class Document:
    """Text extracted from a resource, in sections (PDF pages keep their numbers)."""

    sections: tuple[Section, ...]
    title: str = ""


@dataclass(frozen=True)
class Fetched:
    url: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    resource_id: str
    score: float


@dataclass(frozen=True)
class StoredChunk:
    id: str
    resource_id: str
    text: str
    page: int | None
    heading: str


class Embedder(Protocol):
    name: str

    async def embed(self, texts: Sequence[str], kind: Literal["query", "passage"]) -> Sequence[Sequence[float]]:
        """One vector per text, all of the same dimension. Raises core.errors.UpstreamError when a
        remote embeddings endpoint fails."""
        ...


class Extractor(Protocol):
    async def extract(self, body: bytes, content_type: str) -> Document:
        """The text of a document. Raises InvalidRequest with an actionable message ("PDF has no
        extractable text") when there is none."""
        ...


class Fetcher(Protocol):
    async def check(self, url: str, allow_private: bool) -> None:
        """Refuse at once a URL that is not http(s) or (unless allowed) names a private or local address."""
        ...

    async def fetch(self, url: str, allow_private: bool) -> Fetched:
        """GET a web page within the size and time limits. Raises InvalidRequest ("page returned 404",
        "page is larger than ...", "address is private") when it cannot be used."""
        ...


class ChunkIndex(Protocol):
    async def add(self, resource_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> bool:
        """Store chunks with their vectors in one step; False (and nothing stored) when the resource is gone.
        Raises InvalidRequest(reason="embedding_mismatch") when the vectors' dimension differs from the index's."""
        ...

    async def remove(self, resource_id: str) -> int: ...

    async def vector_search(self, vector: Sequence[float], resource_ids: Sequence[str], limit: int) -> list[Hit]:
        """Nearest chunks by cosine similarity, best first."""
        ...

    async def keyword_search(self, terms: Sequence[str], resource_ids: Sequence[str], limit: int) -> list[Hit]:
        """Chunks containing the terms (substrings), best first."""
        ...

    async def chunks(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]: ...


class ResourceRepository(Protocol):
    async def create(self, *, owner_id: str | None, name: str, source: str, content_type: str, url: str | None,
                     bytes: int, charged_bytes: int, content_hash: str | None) -> Resource: ...

    async def get(self, resource_id: str) -> Resource | None: ...

    async def find_duplicate(self, owner_id: str | None, *, content_hash: str | None = None,
                             url: str | None = None, exclude_id: str | None = None) -> Resource | None:
        """A resource of the same owner (or global, for None) with that content or URL that has not failed."""
        ...

    async def list_visible(self, viewer: Viewer, limit: int, cursor: str | None) -> Page:
        """Newest first: global resources and the user's own (an operator sees all)."""
        ...

    async def update(self, resource_id: str, **fields: object) -> Resource | None: ...

    async def delete(self, resource_id: str) -> bool: ...

    async def searchable(self, user_id: str | None, within: Sequence[str]) -> dict[str, str]:
        """{id: name} of ready resources the user may search (global plus own), limited to `within` when given."""
        ...

    async def try_reserve_storage(self, user_id: str, nbytes: int) -> bool:
        """Add to the user's storage use only if it stays within their limit, atomically."""
        ...

    async def release_storage(self, user_id: str, nbytes: int) -> None: ...

    async def fail_stale(self, older_than_seconds: float) -> int:
        """Mark pending/indexing resources untouched for that long as failed (a restart interrupted them)."""
        ...
