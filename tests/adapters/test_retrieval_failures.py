"""Ingestion failures end `failed` with an error a person can act on, and leave nothing behind."""
from __future__ import annotations

import asyncio

import pytest
from tortoise import Tortoise

from adapters.storage.models_rag import ChunkRow, ResourceRow
from bot.knowledge import knowledge_of
from bot.wiring import open_services
from core.errors import InvalidRequest, QuotaExceeded, UpstreamError
from core.knowledge_ports import Viewer
from tests.conftest import make_config
from tests.fakes import rag_corpus as corpus
from tests.fakes.embeddings_gate import GatedEmbeddings

ADMIN = Viewer(None, is_admin=True)


def embed_config(tmp_path, base_url: str, database_url: str | None = None, **rag):
    chat = {"name": "fake", "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-test",
            "models": [{"name": "test-model"}]}
    embed = {"name": "embed", "base_url": base_url, "api_key": "sk-embed", "models": []}
    return make_config(tmp_path, database_url=database_url, llm={"providers": [chat, embed], "embeddings": {
        "provider": "embed", "model": "text-embedding-3-small", "batch_size": 2}}, rag=rag)


async def add_and_wait(kb, viewer=ADMIN, **kw):
    if "url" in kw:
        resource, created = await kb.service.add_url(viewer, **kw)
    else:
        resource, created = await kb.service.add_document(viewer, source="file", **kw)
    await kb.service.wait(resource.id)
    return await kb.service.get(ADMIN, resource.id)


async def test_a_pdf_without_text_fails_with_a_reason(services) -> None:
    kb = knowledge_of(services)
    final = await add_and_wait(kb, name="scan.pdf", body=corpus.make_pdf([[], []]), content_type="application/pdf")
    assert (final.status, final.error_reason) == ("failed", "pdf_no_text")
    assert final.error.startswith("PDF has no extractable text")
    assert await ChunkRow.filter(resource_id=final.id).count() == 0


async def test_a_missing_page_and_a_huge_page_fail(tmp_path) -> None:
    config = make_config(tmp_path, rag={"max_page_kb": 64})
    async with corpus.PageServer() as pages, open_services(config, background=False) as services:
        kb = knowledge_of(services)
        missing = await add_and_wait(kb, url=pages.base_url + "/missing")
        assert (missing.status, missing.error) == ("failed", "The page returned 404 (Not Found).")
        huge = await add_and_wait(kb, url=pages.base_url + "/huge")
        assert (huge.status, huge.error_reason) == ("failed", "page_too_large")
        assert "64 KB" in huge.error
        await asyncio.wait_for(pages.huge_done.wait(), 5)
        assert pages.huge_sent < pages.HUGE_TOTAL / 4  # the download was cut, not read to the end


async def test_a_users_private_url_is_refused_unless_allowed(tmp_path) -> None:
    async with corpus.PageServer() as pages:
        for allow in (False, True):
            config = make_config(tmp_path, rag={"allow_private_urls": allow})
            async with open_services(config, background=False) as services:
                kb = knowledge_of(services)
                user = await services.accounts.create_user("alice")
                url = pages.base_url.replace("127.0.0.1", "localhost") + "/sourdough"
                if not allow:
                    with pytest.raises(InvalidRequest) as refused:
                        await kb.service.add_url(Viewer(user.id), url=url)
                    assert refused.value.reason == "private_address"
                    with pytest.raises(InvalidRequest):
                        await kb.service.add_url(Viewer(user.id), url="http://10.1.2.3/")
                    assert await ResourceRow.filter(owner_id=user.id).count() == 0
                    admin_page = await add_and_wait(kb, url=pages.base_url + "/sourdough")
                    assert admin_page.status == "ready"
                else:
                    page = await add_and_wait(kb, Viewer(user.id), url=url)
                    assert (page.status, page.scope) == ("ready", "private")
                    assert (await services.accounts.get(user.id)).storage_used_bytes == page.bytes > 0


async def test_the_same_content_is_detected(services) -> None:
    kb = knowledge_of(services)
    first, created = await kb.service.add_document(ADMIN, name="a.txt", body=b"Same words here.", content_type="text/plain",
                                                   source="file")
    again, created_again = await kb.service.add_document(ADMIN, name="b.txt", body=b"Same words here.",
                                                         content_type="text/plain", source="file")
    assert created and not created_again and again.id == first.id
    await kb.service.wait(first.id)
    assert await ResourceRow.all().count() == 1


async def test_deleting_during_indexing_stops_and_leaves_nothing(tmp_path, index_database_url) -> None:
    database_url = index_database_url
    text = "\n\n".join(f"Paragraph {i} about topic number {i}. " * 30 for i in range(12))
    async with GatedEmbeddings(open_requests=2) as gate:
        config = embed_config(tmp_path, gate.base_url, database_url, chunk_chars=400, chunk_overlap=0)
        async with open_services(config, background=False) as services:
            kb = knowledge_of(services)
            user = await services.accounts.create_user("bob")
            resource, _ = await kb.service.add_document(Viewer(user.id), name="long.txt", body=text.encode(),
                                                        content_type="text/plain", source="file")
            await asyncio.wait_for(gate.waiting.wait(), 10)
            assert (await kb.service.get(ADMIN, resource.id)).status == "indexing"
            assert await ChunkRow.filter(resource_id=resource.id).count() == 4  # two batches stored so far
            await kb.service.delete(Viewer(user.id), resource.id)
            asked = len(gate.requests)
            gate.release()
            await asyncio.sleep(0)  # let a (wrongly) surviving ingestion run on
            await kb.service.wait(resource.id)
            assert len(gate.requests) == asked == 3
            assert await ResourceRow.filter(id=resource.id).count() == 0
            assert await ChunkRow.filter(resource_id=resource.id).count() == 0
            if database_url.startswith("sqlite"):
                conn = Tortoise.get_connection("default")
                _, fts = await conn.execute_query("SELECT count(*) FROM rag_chunks_fts")
                assert fts[0][0] == 0
            assert kb.index._matrix is None or kb.index._matrix.alive == 0
            if "?host=" in database_url:  # pgvector: the vectors lived in the rows just deleted
                assert kb.index.vector_backend == "pgvector" and kb.index.vectors_in_memory == 0
            assert (await services.accounts.get(user.id)).storage_used_bytes == 0


async def test_openai_embeddings_and_a_dimension_mismatch(tmp_path) -> None:
    async with GatedEmbeddings(dimensions=64) as gate:
        async with open_services(embed_config(tmp_path, gate.base_url), background=False) as services:
            kb = knowledge_of(services)
            done = await add_and_wait(kb, name="cats.txt", body=b"Cats purr when they are content.",
                                      content_type="text/plain")
            assert done.status == "ready" and gate.requests[0]["model"] == "text-embedding-3-small"
            found = await kb.retriever.retrieve(None, "Cats purr when they are content.", (), 1)
            assert found[0].resource_id == done.id
        # The same database with the local 512-dimension encoder: a clear error, not garbage results.
        async with open_services(make_config(tmp_path, rag={"mode": "vector"}), background=False) as services:
            kb = knowledge_of(services)
            other = await add_and_wait(kb, name="dogs.txt", body=b"Dogs bark.", content_type="text/plain")
            assert (other.status, other.error_reason) == ("failed", "embedding_mismatch")
            assert "512-dimension" in other.error and "64-dimension" in other.error


async def test_storage_limits_for_documents_and_pages(tmp_path) -> None:
    config = make_config(tmp_path, rag={"user_storage_mb": 0, "allow_private_urls": True})
    async with corpus.PageServer() as pages, open_services(config, background=False) as services:
        kb = knowledge_of(services)
        user = await services.accounts.create_user("carol")
        await services.repos.users.add_storage_limit(user.id, 1000)
        with pytest.raises(QuotaExceeded):
            await kb.service.add_document(Viewer(user.id), name="big.txt", body=b"x" * 1001, content_type="text/plain",
                                          source="file")
        assert await ResourceRow.filter(owner_id=user.id).count() == 0
        fits = await add_and_wait(kb, Viewer(user.id), name="small.txt", body=b"tiny note" * 100,
                                  content_type="text/plain")
        assert fits.status == "ready" and (await services.accounts.get(user.id)).storage_used_bytes == 900
        page = await add_and_wait(kb, Viewer(user.id), url=pages.base_url + "/sourdough")
        assert (page.status, page.error_reason) == ("failed", "quota_exceeded")
        assert "over your storage limit" in page.error
        assert (await services.accounts.get(user.id)).storage_used_bytes == 900


async def test_hybrid_falls_back_to_keywords_when_embeddings_are_down(tmp_path) -> None:
    gate = GatedEmbeddings()
    async with gate:
        config = embed_config(tmp_path, gate.base_url)
        async with open_services(config, background=False) as services:
            kb = knowledge_of(services)
            done = await add_and_wait(kb, name="owls.txt", body=b"Owls hunt at night with silent feathers.",
                                      content_type="text/plain")
            assert done.status == "ready"
            await gate.__aexit__()  # the embeddings endpoint goes away
            found = await kb.retriever.retrieve(None, "silent owls", (), 3)
            assert [p.resource_id for p in found] == [done.id]
            kb.retriever.mode = "vector"
            with pytest.raises(UpstreamError):
                await kb.retriever.retrieve(None, "silent owls", (), 3)
