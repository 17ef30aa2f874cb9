"""SqlChunkIndex: chunks and float32 vectors in our database, keyword search (SQLite FTS5 trigram or
PostgreSQL pg_trgm), and vector search by pgvector or else in memory, kept in step with every process's writes."""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timezone
from typing import Sequence

import numpy as np
from tortoise import Tortoise
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from adapters.retrieval.pgvector import PgVectorColumn, create_extension
from adapters.retrieval.vectors import VectorMatrix, as_unit_matrix
from adapters.storage.models_rag import ChunkRow, RagStateRow, ResourceRow
from core.chunking import Chunk
from core.errors import DomainError
from core.knowledge_ports import Hit, StoredChunk

log = logging.getLogger(__name__)

GENERATION = "generation"
LOAD_BATCH = 5000
THREAD_ABOVE = 20_000  # rows; larger searches leave the event loop free
SQL_IN_LIMIT = 500


class EmbeddingMismatch(DomainError):
    status, reason = 500, "embedding_mismatch"

    def __init__(self, given: int, held: int):
        super().__init__(f"The embedder gives {given}-dimension vectors but the knowledge base holds {held}-dimension "
                         f"ones; switch llm.embeddings back, or delete every resource and ingest again.")


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SqlChunkIndex:
    def __init__(self) -> None:
        self._matrix: VectorMatrix | None = None
        self._max_seq = 0
        self._generation = -1
        self._sync_lock = asyncio.Lock()
        self._dialect = "sqlite"
        self.pg_trgm = False
        self._pgvector: PgVectorColumn | None = None

    @property
    def vector_backend(self) -> str:
        """"pgvector" (PostgreSQL searches) or "numpy" (this process holds every vector in memory)."""
        return "pgvector" if self._pgvector is not None else "numpy"

    @property
    def vectors_in_memory(self) -> int:
        return self._matrix.size if self._matrix is not None else 0

    # --- schema --------------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Create the keyword index (raw SQL: tortoise knows no FTS) and the pgvector column, or load the vectors."""
        conn = Tortoise.get_connection("default")
        self._dialect = conn.capabilities.dialect
        if self._dialect == "sqlite":
            await conn.execute_script("CREATE VIRTUAL TABLE IF NOT EXISTS rag_chunks_fts "
                                      "USING fts5(text, tokenize='trigram')")
        else:
            # LIKE on a stored lower-cased copy: ILIKE's per-row case folding of multibyte text is 3x slower.
            await conn.execute_script("ALTER TABLE rag_chunks ADD COLUMN IF NOT EXISTS search_text text "
                                      "GENERATED ALWAYS AS (lower(text)) STORED")
            try:
                await conn.execute_script("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                await conn.execute_script("CREATE INDEX IF NOT EXISTS rag_chunks_search_trgm "
                                          "ON rag_chunks USING gin (search_text gin_trgm_ops)")
                self.pg_trgm = True
            except Exception as e:  # no rights to create the extension: keyword search still works, unindexed
                log.warning("pg_trgm unavailable (%s); keyword search scans chunks without an index", e)
            if await create_extension():
                self._pgvector = PgVectorColumn()
                if dims := await self.stored_dims():
                    await self._pgvector.ensure(dims)
        await RagStateRow.get_or_create(key=GENERATION, defaults={"value": 0})
        log.info("vector search: %s", "pgvector in PostgreSQL" if self._pgvector else "numpy, vectors in memory")
        if self._pgvector is None:  # pgvector searches in the database: no vectors held here
            await self._sync()

    # --- writes --------------------------------------------------------------------------------

    async def stored_dims(self) -> int | None:
        row = await ChunkRow.all().order_by("seq").first().values_list("dims", flat=True)
        return row  # type: ignore[return-value]

    async def add(self, resource_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> bool:
        matrix = as_unit_matrix(vectors)
        if len(matrix) != len(chunks):
            raise ValueError("one vector per chunk expected")
        dims = self._matrix.dims if self._matrix is not None else await self.stored_dims()
        if dims is not None and matrix.shape[1] != dims:
            raise EmbeddingMismatch(matrix.shape[1], dims)
        if self._pgvector is not None and self._pgvector.dims != matrix.shape[1]:
            await self._pgvector.ensure(matrix.shape[1])  # DDL before the transaction: no lock held meanwhile
        rows = [ChunkRow(id=str(uuid.uuid4()), resource_id=resource_id, position=c.position, page=c.page,
                         heading=c.heading[:300], text=c.text, dims=matrix.shape[1], vector=v.tobytes())
                for c, v in zip(chunks, matrix)]
        async with in_transaction() as conn:
            # Lock the resource row: a concurrent delete waits, then removes what this batch added.
            if await ResourceRow.filter(id=resource_id).select_for_update().using_db(conn).first() is None:
                return False
            await ChunkRow.bulk_create(rows, using_db=conn)
            if self._pgvector is not None:
                await self._pgvector.write(conn, [r.id for r in rows], matrix)
            await ResourceRow.filter(id=resource_id).using_db(conn).update(updated_at=datetime.now(timezone.utc))
            if self._dialect == "sqlite":
                marks = ",".join("?" * len(rows))
                await conn.execute_query(f"INSERT INTO rag_chunks_fts(rowid, text) SELECT seq, text FROM rag_chunks "
                                         f"WHERE id IN ({marks})", [r.id for r in rows])
            await self._bump(conn)
        return True

    async def remove(self, resource_id: str) -> int:
        async with in_transaction() as conn:
            if self._dialect == "sqlite":
                await conn.execute_query("DELETE FROM rag_chunks_fts WHERE rowid IN "
                                         "(SELECT seq FROM rag_chunks WHERE resource_id = ?)", [resource_id])
            removed = await ChunkRow.filter(resource_id=resource_id).using_db(conn).delete()
            if removed:
                await self._bump(conn)
        if self._matrix is not None:
            self._matrix.drop_resource(resource_id)
        return removed

    @staticmethod
    async def _bump(conn) -> None:
        await RagStateRow.filter(key=GENERATION).using_db(conn).update(value=F("value") + 1)

    # --- keeping the in-memory vectors in step ---------------------------------------------------

    async def _sync(self) -> None:
        generation = await RagStateRow.filter(key=GENERATION).first().values_list("value", flat=True)
        if generation == self._generation:
            return
        async with self._sync_lock:
            if generation == self._generation:
                return
            await self._load_after(self._max_seq)
            total = await ChunkRow.filter(dims=self._matrix.dims).count() if self._matrix else 0
            if self._matrix is not None and total != self._matrix.alive:
                # Another process deleted chunks (or committed out of order): rebuild from the database.
                self._matrix, self._max_seq = None, 0
                await self._load_after(0)
            self._generation = generation  # type: ignore[assignment]

    async def _load_after(self, seq: int) -> None:
        while True:
            rows = await (ChunkRow.filter(seq__gt=seq).order_by("seq").limit(LOAD_BATCH)
                          .values_list("seq", "id", "resource_id", "dims", "vector"))
            if not rows:
                return
            if self._matrix is None:
                self._matrix = VectorMatrix(rows[0][3])
            dims = self._matrix.dims
            good = [r for r in rows if r[3] == dims]
            if len(good) < len(rows):
                log.error("%d chunks have vectors of another dimension than %d; they are left out of vector search",
                          len(rows) - len(good), dims)
            if good:
                vectors = np.frombuffer(b"".join(bytes(r[4]) for r in good), dtype=np.float32).reshape(len(good), dims)
                self._matrix.extend([r[1] for r in good], [r[2] for r in good], vectors)
            seq = self._max_seq = rows[-1][0]

    # --- search --------------------------------------------------------------------------------

    async def vector_search(self, vector: Sequence[float], resource_ids: Sequence[str], limit: int) -> list[Hit]:
        if self._pgvector is not None:
            return await self._pg_vector_search(vector, resource_ids, limit)
        await self._sync()
        matrix = self._matrix
        if matrix is None:
            return []
        if len(vector) != matrix.dims:
            raise EmbeddingMismatch(len(vector), matrix.dims)
        if matrix.size > THREAD_ABOVE:
            found = await asyncio.to_thread(matrix.search, vector, resource_ids, limit)
        else:
            found = matrix.search(vector, resource_ids, limit)
        return [Hit(c, r, s) for c, r, s in found]

    async def _pg_vector_search(self, vector: Sequence[float], resource_ids: Sequence[str], limit: int) -> list[Hit]:
        pg = self._pgvector
        assert pg is not None
        dims = pg.dims or await pg.column_dims()  # another process may have stored the first vectors
        if dims is None or not resource_ids or limit <= 0:
            return []
        if len(vector) != dims:
            raise EmbeddingMismatch(len(vector), dims)
        found = await pg.search(as_unit_matrix([vector])[0], resource_ids, limit)
        return [Hit(c, r, s) for c, r, s in found]

    async def keyword_search(self, terms: Sequence[str], resource_ids: Sequence[str], limit: int) -> list[Hit]:
        if not terms or not resource_ids:
            return []
        scope = list(resource_ids) if len(resource_ids) <= SQL_IN_LIMIT else None
        fetch = limit if scope is not None else limit * 10
        if self._dialect == "sqlite":
            rows = await self._sqlite_keyword(terms, scope, fetch)
        else:
            rows = await self._pg_keyword(terms, scope, fetch)
        allowed = set(resource_ids)
        return [Hit(r[0], r[1], round(float(r[2]), 6)) for r in rows if r[1] in allowed][:limit]

    async def _sqlite_keyword(self, terms: Sequence[str], scope: list[str] | None, limit: int) -> list:
        conn = Tortoise.get_connection("default")
        long_terms = [t for t in terms if len(t) >= 3]  # the trigram tokenizer matches 3+ characters
        where, params = "", []
        if scope is not None:
            where = f" AND c.resource_id IN ({','.join('?' * len(scope))})"
            params = list(scope)
        if long_terms:
            match = " OR ".join('"' + t.replace('"', '""') + '"' for t in long_terms)
            sql = (f"SELECT c.id, c.resource_id, -bm25(rag_chunks_fts) AS score FROM rag_chunks_fts "
                   f"JOIN rag_chunks c ON c.seq = rag_chunks_fts.rowid WHERE rag_chunks_fts MATCH ?{where} "
                   f"ORDER BY bm25(rag_chunks_fts) LIMIT ?")
            _, rows = await conn.execute_query(sql, [match, *params, limit])
            return [tuple(r) for r in rows]
        score = " + ".join("(c.text LIKE ? ESCAPE '\\')" for _ in terms)
        sql = (f"SELECT c.id, c.resource_id, ({score}) AS score FROM rag_chunks c WHERE ({score}) > 0{where} "
               f"ORDER BY score DESC, c.seq LIMIT ?")
        likes = [_like(t) for t in terms]
        _, rows = await conn.execute_query(sql, [*likes, *likes, *params, limit])
        return [tuple(r) for r in rows]

    async def _pg_keyword(self, terms: Sequence[str], scope: list[str] | None, limit: int) -> list:
        """Substring matches (LIKE on the lower-cased text, served by the pg_trgm index), each term weighted by
        its rarity (BM25 idf).

        One statement: only rows matching some term are read (a bitmap OR over the index), and each term's
        document frequency is counted over those rows by a window function."""
        conn = Tortoise.get_connection("default")
        likes = [_like(t.lower()) for t in terms]
        n = len(likes)
        in_scope = f"resource_id = ANY(${n + 1}::varchar[])" if scope is not None else "TRUE"
        flags = ", ".join(f"(search_text LIKE ${i + 1}) AS h{i}" for i in range(n))
        dfs = ", ".join(f"count(*) FILTER (WHERE h{i}) OVER () AS df{i}" for i in range(n))
        idf = " + ".join(f"CASE WHEN h{i} THEN ln(1 + (t.total - df{i} + 0.5) / (df{i} + 0.5)) ELSE 0 END"
                         for i in range(n))
        any_match = " OR ".join(f"search_text LIKE ${i + 1}" for i in range(n))
        sql = (f"WITH m AS (SELECT id, resource_id, seq, {flags} FROM rag_chunks WHERE ({any_match}) AND {in_scope}), "
               f"d AS (SELECT *, {dfs} FROM m), "
               f"t AS (SELECT count(*)::float AS total FROM rag_chunks WHERE {in_scope}) "
               f"SELECT d.id, d.resource_id, ({idf}) AS score FROM d, t ORDER BY score DESC, d.seq "
               f"LIMIT ${n + 1 + (scope is not None)}")
        params = [*likes, *([scope] if scope is not None else []), limit]
        _, rows = await conn.execute_query(sql, params)
        return [tuple(r) for r in rows]

    async def chunks(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]:
        if not chunk_ids:
            return {}
        rows = await ChunkRow.filter(id__in=list(chunk_ids)).values_list("id", "resource_id", "text", "page", "heading")
        return {r[0]: StoredChunk(*r) for r in rows}
