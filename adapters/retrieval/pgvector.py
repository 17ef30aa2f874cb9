"""PgVectorColumn: chunk vectors in a pgvector `vector(N)` column of rag_chunks with an HNSW cosine index,
searched inside PostgreSQL (used when the `vector` extension can be created)."""
from __future__ import annotations

import asyncio
import logging
from typing import Sequence

import numpy as np
from tortoise import Tortoise
from tortoise.transactions import in_transaction

log = logging.getLogger(__name__)

COLUMN_DIMS = ("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'rag_chunks'::regclass "
               "AND attname = 'embedding' AND NOT attisdropped")
SEARCH = ("SELECT id, resource_id, 1 - (embedding <=> $1::text::vector) AS score FROM rag_chunks "
          "WHERE resource_id = ANY($2::varchar[]) AND embedding IS NOT NULL "
          "ORDER BY embedding <=> $1::text::vector LIMIT $3")
BACKFILL_BATCH = 2000


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form; 9 significant digits keep a float32 exact."""
    return "[" + ",".join(f"{x:.9g}" for x in vector.tolist()) + "]"


async def create_extension() -> bool:
    """True when `CREATE EXTENSION IF NOT EXISTS vector` works (the package is installed and we may create it)."""
    conn = Tortoise.get_connection("default")
    try:
        await conn.execute_script("CREATE EXTENSION IF NOT EXISTS vector")
        return True
    except Exception as e:  # not installed, or no rights: the caller falls back to numpy in memory
        log.info("pgvector unavailable (%s)", str(e).splitlines()[0] if str(e) else e.__class__.__name__)
        return False


class PgVectorColumn:
    """The `embedding vector(N)` column beside the float32 blob; N is fixed once the first vectors arrive."""

    def __init__(self) -> None:
        self.dims: int | None = None
        self._ensure_lock = asyncio.Lock()

    async def column_dims(self, conn=None) -> int | None:
        _, rows = await (conn or Tortoise.get_connection("default")).execute_query(COLUMN_DIMS)
        self.dims = int(rows[0][0]) if rows and rows[0][0] > 0 else None
        return self.dims

    async def ensure(self, dims: int) -> None:
        """The column for `dims`-dimension vectors and its index, then vectors of chunks stored before it existed.

        Another dimension is only asked for when the knowledge base holds none of the old vectors (the index
        refuses a mismatched embedder first), so the column is re-typed by dropping it."""
        # Ingestions run concurrently (here and in other processes): one of them changes the schema at a time.
        async with self._ensure_lock, in_transaction() as conn:
            await conn.execute_query("SELECT pg_advisory_xact_lock(hashtext('rag_chunks.embedding'))")
            current = await self.column_dims(conn)
            if current is not None and current != dims:
                await conn.execute_script("ALTER TABLE rag_chunks DROP COLUMN IF EXISTS embedding")
            if current != dims:
                await conn.execute_script(f"ALTER TABLE rag_chunks ADD COLUMN embedding vector({int(dims)})")
                await conn.execute_script("CREATE INDEX IF NOT EXISTS rag_chunks_embedding_hnsw "
                                          "ON rag_chunks USING hnsw (embedding vector_cosine_ops)")
        self.dims = dims
        await self._backfill(dims)

    async def _backfill(self, dims: int) -> None:
        conn = Tortoise.get_connection("default")
        copied = 0
        while True:
            _, rows = await conn.execute_query("SELECT id, vector FROM rag_chunks WHERE embedding IS NULL AND dims = $1 "
                                               "ORDER BY seq LIMIT $2", [dims, BACKFILL_BATCH])
            if not rows:
                break
            vectors = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype=np.float32).reshape(len(rows), dims)
            await self.write(conn, [r[0] for r in rows], vectors)
            copied += len(rows)
        if copied:
            log.info("copied %d stored vectors into the pgvector column", copied)

    @staticmethod
    async def write(conn, chunk_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Fill the column for chunks just inserted (in the caller's transaction)."""
        await conn.execute_query("UPDATE rag_chunks c SET embedding = v.e::vector "
                                 "FROM unnest($1::varchar[], $2::text[]) AS v(id, e) WHERE c.id = v.id",
                                 [list(chunk_ids), [vector_literal(v) for v in vectors]])

    async def search(self, query: np.ndarray, resource_ids: Sequence[str], limit: int) -> list[tuple[str, str, float]]:
        """(chunk_id, resource_id, cosine) of the nearest chunks among the given resources, best first."""
        params = [vector_literal(query), list(resource_ids), limit]
        async with in_transaction() as conn:
            # More HNSW candidates for a bigger `limit` (pgvector 0.6 has no iterative scan).
            await conn.execute_script(f"SET LOCAL hnsw.ef_search = {min(max(40, limit * 4), 1000)}")
            _, rows = await conn.execute_query(SEARCH, params)
            if len(rows) < limit:
                # The HNSW scan drops candidates outside the scope after choosing them, so a narrow scope can
                # come back short: an exact scan of the scoped rows (by the resource_id index) settles it.
                await conn.execute_script("SET LOCAL enable_indexscan = off")
                _, rows = await conn.execute_query(SEARCH, params)
        return [(r[0], r[1], float(r[2])) for r in rows]
