"""Retrieval quality on a small bilingual corpus: every question finds its source in the top 3, in each mode,
on SQLite (FTS5 trigram), PostgreSQL (pg_trgm; numpy vectors) and PostgreSQL with pgvector, with the offline
multilingual embedder."""
from __future__ import annotations

import pytest

from bot.knowledge import knowledge_of
from bot.wiring import open_services
from core.knowledge_ports import Viewer
from tests.conftest import make_config
from tests.fakes import rag_corpus as corpus

ADMIN = Viewer(None, is_admin=True)
DOCS = [
    ("eiffel.md", corpus.EIFFEL_MD.encode(), "text/markdown"),
    ("photosynthesis.txt", corpus.PHOTOSYNTHESIS_TXT.encode(), "text/plain"),
    ("python.txt", corpus.PYTHON_TXT.encode(), "text/plain"),
    ("panda.txt", corpus.PANDA_ZH.encode(), "text/plain"),
    ("great-wall.txt", corpus.GREAT_WALL_ZH.encode(), "text/plain"),
    ("green-tea.txt", corpus.GREEN_TEA_ZH.encode("gbk"), "text/plain"),
    ("moon.txt", corpus.MOON_ZH.encode(), "text/plain"),
    ("volcanoes.pdf", corpus.make_pdf(corpus.PDF_PAGES), "application/pdf"),
]


async def ingest_corpus(kb, pages_url: str) -> dict[str, str]:
    """Ingest every document and the web page as an operator; {name: resource id}, all ready."""
    ids = {}
    for name, body, kind in DOCS:
        resource, created = await kb.service.add_document(ADMIN, name=name, body=body, content_type=kind, source="file")
        assert created
        ids[name] = resource.id
    page, _ = await kb.service.add_url(ADMIN, url=pages_url + "/sourdough")
    ids["web"] = page.id
    for rid in ids.values():
        await kb.service.wait(rid)
    for name, rid in ids.items():
        resource = await kb.service.get(ADMIN, rid)
        assert resource.status == "ready", (name, resource.error)
    page = await kb.service.get(ADMIN, ids.pop("web"))
    ids[page.name] = page.id
    return ids


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
async def test_each_question_finds_its_source_in_the_top_3(mode, index_database_url, tmp_path) -> None:
    config = make_config(tmp_path, database_url=index_database_url, rag={"mode": mode})
    async with corpus.PageServer() as pages, open_services(config, background=False) as services:
        kb = knowledge_of(services)
        ids = await ingest_corpus(kb, pages.base_url)
        assert kb.retriever.mode == mode
        pgvector = "?host=" in index_database_url  # the pgserver instance, reached over its socket
        assert kb.index.vector_backend == ("pgvector" if pgvector else "numpy")
        misses = []
        for q in corpus.QUESTIONS:
            passages = await kb.retriever.retrieve(None, q.text, (), 3)
            if ids[q.source] not in [p.resource_id for p in passages]:
                misses.append((q.text, [p.title for p in passages]))
        assert misses == []
        if pgvector:
            assert kb.index.vectors_in_memory == 0


async def test_pdf_pages_and_gbk_text_are_kept(tmp_path) -> None:
    config = make_config(tmp_path)
    async with corpus.PageServer() as pages, open_services(config, background=False) as services:
        kb = knowledge_of(services)
        ids = await ingest_corpus(kb, pages.base_url)
        found = await kb.retriever.retrieve(None, "Basalt lava cools quickly", [ids["volcanoes.pdf"]], 1)
        assert found[0].title == "volcanoes.pdf" and found[0].text.startswith("(page 2) Lava and rock")
        tea = await kb.retriever.retrieve(None, "龙井和碧螺春", [ids["green-tea.txt"]], 1)
        assert "龙井和碧螺春都是著名的中国绿茶" in tea[0].text  # decoded from GBK, not mojibake
        page = await kb.service.get(ADMIN, ids["Baking sourdough bread"])
        web = await kb.retriever.retrieve(None, "sourdough", [page.id], 4)
        text = " ".join(p.text for p in web)
        assert "wild yeast" in text and "Cookie settings" not in text and "Log in" not in text  # main text only


async def test_resource_ids_narrow_retrieval(tmp_path) -> None:
    config = make_config(tmp_path)
    async with corpus.PageServer() as pages, open_services(config, background=False) as services:
        kb = knowledge_of(services)
        assert services.engine.retriever is kb.retriever  # every entry point (bot chat too) gets retrieval
        ids = await ingest_corpus(kb, pages.base_url)
        everywhere = await kb.retriever.retrieve(None, "When was the Eiffel Tower completed?", (), 4)
        assert ids["eiffel.md"] in [p.resource_id for p in everywhere]
        only = [ids["panda.txt"], ids["moon.txt"]]
        narrowed = await kb.retriever.retrieve(None, "When was the Eiffel Tower completed?", only, 4)
        assert {p.resource_id for p in narrowed} <= set(only)
        found = await kb.retriever.retrieve(None, "大熊猫主要吃什么食物？", only, 4)
        assert found[0].resource_id == ids["panda.txt"]
