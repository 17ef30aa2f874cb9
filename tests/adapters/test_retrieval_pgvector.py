"""Vector search on PostgreSQL: pgvector when the extension can be created (no vectors in memory), scoped like
the in-memory search; the numpy fallback on a PostgreSQL without it."""
from __future__ import annotations

import asyncpg
import numpy as np
import pytest
from tortoise import Tortoise

from adapters.retrieval.index import SqlChunkIndex
from adapters.retrieval.store import TortoiseResources
from adapters.retrieval.vectors import as_unit_matrix
from adapters.storage import db
from bot.knowledge import knowledge_of
from bot.wiring import open_services
from core.chunking import Chunk
from core.knowledge_ports import Viewer
from tests.conftest import PG_ADMIN_URL, make_config
from tests.fakes import rag_corpus as corpus

ADMIN = Viewer(None, is_admin=True)


async def add(kb, viewer: Viewer, name: str, text: str) -> str:
    resource, _ = await kb.service.add_document(viewer, name=name, body=text.encode(), content_type="text/plain",
                                                source="file")
    await kb.service.wait(resource.id)
    assert (await kb.service.get(ADMIN, resource.id)).status == "ready"
    return resource.id


async def embedded_rows() -> int:
    _, rows = await Tortoise.get_connection("default").execute_query(
        "SELECT count(*) FROM rag_chunks WHERE embedding IS NOT NULL")
    return rows[0][0]


async def test_scope_delete_and_no_vectors_in_memory(pgvector_url, tmp_path) -> None:
    # No similarity floor: every chunk in scope is a candidate, so only the scope decides what comes back.
    config = make_config(tmp_path, database_url=pgvector_url, rag={"mode": "vector", "min_similarity": 0})
    async with open_services(config, background=False) as services:
        kb = knowledge_of(services)
        assert kb.index.vector_backend == "pgvector"
        alice = await services.accounts.create_user("alice")
        bob = await services.accounts.create_user("bob")
        shared = await add(kb, ADMIN, "moon.txt", corpus.MOON_ZH)
        mine = await add(kb, Viewer(alice.id), "panda.txt", corpus.PANDA_ZH)
        theirs = await add(kb, Viewer(bob.id), "eiffel.txt", corpus.EIFFEL_MD)
        assert await embedded_rows() > 0

        eiffel = "When was the Eiffel Tower built?"
        assert theirs in {p.resource_id for p in await kb.retriever.retrieve(bob.id, eiffel, (), 10)}
        found = {p.resource_id for p in await kb.retriever.retrieve(alice.id, eiffel, (), 10)}
        assert found == {shared, mine}  # global + alice's own only
        found = {p.resource_id for p in await kb.retriever.retrieve(None, eiffel, (), 10)}
        assert found == {shared}  # no user: global resources only
        narrowed = await kb.retriever.retrieve(bob.id, "大熊猫吃什么？", [theirs], 10)
        assert {p.resource_id for p in narrowed} == {theirs}  # resource_ids narrow it
        top = await kb.retriever.retrieve(alice.id, "大熊猫吃什么？", (), 1)
        assert top[0].resource_id == mine and 0 < top[0].score <= 1

        await kb.service.delete(Viewer(alice.id), mine)
        assert await kb.retriever.retrieve(alice.id, "大熊猫吃什么？", [mine], 3) == []
        _, rows = await Tortoise.get_connection("default").execute_query(
            "SELECT count(*) FROM rag_chunks WHERE resource_id = $1", [mine])
        assert rows[0][0] == 0
        assert kb.index.vectors_in_memory == 0  # never loaded


async def test_a_narrow_scope_returns_the_exact_nearest(pgvector_url) -> None:
    """Many chunks and an HNSW index: a one-resource scope still gets its `limit` true nearest chunks."""
    await db.open_database(pgvector_url)
    try:
        index = SqlChunkIndex()
        await index.prepare()
        assert index.vector_backend == "pgvector"
        resources = TortoiseResources()
        rng = np.random.default_rng(7)
        ids, vectors = [], {}
        for r in range(20):
            rid = (await resources.create(owner_id=None, name=f"r{r}", source="file", content_type="text/plain",
                                          url=None, bytes=1, charged_bytes=0, content_hash=None)).id
            vectors[rid] = rng.standard_normal((100, 64)).astype(np.float32)
            assert await index.add(rid, [Chunk(f"chunk {r}-{i}", i) for i in range(100)], vectors[rid])
            ids.append(rid)
        await Tortoise.get_connection("default").execute_script("ANALYZE rag_chunks")
        query = rng.standard_normal(64).astype(np.float32)
        target = ids[5]
        hits = await index.vector_search(query.tolist(), [target], 8)
        expected = as_unit_matrix(vectors[target]) @ as_unit_matrix([query])[0]
        assert [round(h.score, 4) for h in hits] == [round(float(s), 4) for s in np.sort(expected)[::-1][:8]]
        assert {h.resource_id for h in hits} == {target}
    finally:
        await db.close_database()


async def test_vectors_stored_before_the_extension_are_copied(pgvector_url, tmp_path) -> None:
    config = make_config(tmp_path, database_url=pgvector_url, rag={"mode": "vector"})
    async with open_services(config, background=False) as services:
        kb = knowledge_of(services)
        rid = await add(kb, ADMIN, "panda.txt", corpus.PANDA_ZH)
        await Tortoise.get_connection("default").execute_script("UPDATE rag_chunks SET embedding = NULL")
    async with open_services(config, background=False) as services:  # start-up fills the column from the blobs
        kb = knowledge_of(services)
        assert await embedded_rows() > 0
        assert (await kb.retriever.retrieve(None, "大熊猫吃什么？", (), 1))[0].resource_id == rid


async def test_the_local_postgres_without_pgvector_falls_back_to_numpy(postgres_url, tmp_path) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://", 1), timeout=3)
    try:
        if await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"):
            pytest.skip("this PostgreSQL has pgvector installed; the fallback is covered by the SQLite runs only")
    finally:
        await conn.close()
    config = make_config(tmp_path, database_url=postgres_url, rag={"mode": "vector"})
    async with open_services(config, background=False) as services:
        kb = knowledge_of(services)
        assert kb.index.vector_backend == "numpy"
        rid = await add(kb, ADMIN, "panda.txt", corpus.PANDA_ZH)
        assert (await kb.retriever.retrieve(None, "大熊猫吃什么？", (), 1))[0].resource_id == rid
        assert kb.index.vectors_in_memory > 0
