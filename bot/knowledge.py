"""Knowledge-base wiring: build the resource service and retriever from config (the engine is built with the
retriever), prepare the index at start-up, and the `bot ingest` command."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from adapters.retrieval.embedders import LocalEmbedder, OpenAIEmbedder
from adapters.retrieval.extractors import DocumentExtractor, kind_of
from adapters.retrieval.fetcher import PageFetcher
from adapters.retrieval.index import SqlChunkIndex
from adapters.retrieval.store import TortoiseResources
from bot.config import AppConfig
from core.errors import DomainError
from core.knowledge import KnowledgeSettings, ResourceService
from core.knowledge_ports import Embedder, Viewer
from core.retrieval import KnowledgeRetriever

log = logging.getLogger(__name__)

STALE_SECONDS = 15 * 60      # an ingestion untouched this long was interrupted by a restart


@dataclass
class Knowledge:
    service: ResourceService
    retriever: KnowledgeRetriever
    index: SqlChunkIndex
    embedder: Embedder
    fetcher: PageFetcher  # its public `resolver` is the seam a test or an operator's hook may replace


def build_embedder(config: AppConfig) -> Embedder:
    emb = config.llm.embeddings
    if emb.provider == "local":
        return LocalEmbedder()
    provider = next(p for p in config.llm.providers if p.name == emb.provider)
    if not emb.model:
        raise ValueError("llm.embeddings.model is required when llm.embeddings.provider names a provider")
    return OpenAIEmbedder(base_url=provider.base_url, api_key=provider.api_key, model=emb.model,
                          timeout=provider.timeout_seconds, provider=provider.name)


def build_knowledge(config: AppConfig) -> Knowledge:
    """The resource service and the retriever the engine is built with (nothing is read until `knowledge_hook`)."""
    rag = config.rag
    index = SqlChunkIndex()
    embedder = build_embedder(config)
    resources = TortoiseResources()
    fetcher = PageFetcher(max_bytes=rag.max_page_kb * 1024, timeout_seconds=rag.fetch_timeout_seconds)
    service = ResourceService(
        resources=resources, index=index, embedder=embedder, extractor=DocumentExtractor(), fetcher=fetcher,
        settings=KnowledgeSettings(rag.chunk_chars, rag.chunk_overlap, config.llm.embeddings.batch_size,
                                   rag.allow_private_urls))
    retriever = KnowledgeRetriever(resources=resources, index=index, embedder=embedder, mode=rag.mode,
                                   min_similarity=rag.min_similarity)
    return Knowledge(service, retriever, index, embedder, fetcher)


async def knowledge_hook(services) -> None:
    """A ServiceHook: the index's tables are ready, its vectors fit the embedder, an interrupted ingestion is
    marked failed."""
    knowledge: Knowledge = services.knowledge
    index, embedder = knowledge.index, knowledge.embedder
    await index.prepare()
    dims = getattr(embedder, "dimensions", None)
    stored = await index.stored_dims()
    if dims and stored and dims != stored:
        log.error("the knowledge base holds %d-dimension vectors but %s gives %d; vector search will fail until "
                  "llm.embeddings is switched back or every resource is ingested again", stored, embedder.name, dims)
    if await TortoiseResources().fail_stale(STALE_SECONDS):
        log.warning("resources left half-indexed by an earlier run were marked failed")


def knowledge_closers(knowledge: Knowledge) -> list:
    close = getattr(knowledge.embedder, "close", None)
    return [knowledge.service.close, *([close] if close is not None else [])]


def knowledge_of(services) -> Knowledge:
    return services.knowledge


# --- bot ingest --------------------------------------------------------------------------------------

async def ingest(config: AppConfig, target: str, name: str | None) -> int:
    """Add a file or web page to the global knowledge base, with a progress bar; exit status 1 on failure."""
    from tqdm import tqdm

    from bot.wiring import open_services

    async with open_services(config, background=False) as services:
        kb = knowledge_of(services)
        bar = tqdm(total=0, unit="chunk", desc="indexing", file=sys.stderr, leave=True)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        admin = Viewer(None, is_admin=True)
        try:
            if target.lower().startswith(("http://", "https://")):
                resource, created = await kb.service.add_url(admin, url=target, name=name or "", progress=progress)
            else:
                path = Path(target)
                if not path.is_file():
                    print(f"{target}: no such file", file=sys.stderr)
                    return 1
                body = path.read_bytes()
                resource, created = await kb.service.add_document(
                    admin, name=name or path.name, body=body, content_type=kind_of(path.name, "", body[:8]),
                    source="file", progress=progress)
        except DomainError as e:
            bar.close()
            print(f"[{e.reason}] {e.message}", file=sys.stderr)
            return 1
        if not created:
            bar.close()
            print(f"already in the knowledge base: {resource.name} ({resource.id}), status {resource.status}")
            return 0
        await kb.service.wait(resource.id)
        bar.close()
        final = await kb.service.get(admin, resource.id)
        if final.status != "ready":
            print(f"failed: {final.error} ({final.id})", file=sys.stderr)
            return 1
        print(f"ingested {final.name}: {final.chunks} chunks, {final.bytes} bytes (id {final.id})")
        return 0


def add_ingest_command(sub, command) -> None:
    """`bot ingest PATH_OR_URL [--name N]` (bot/cli.py extensions())."""
    parser = command("ingest", "add a document or web page to the global knowledge base")
    parser.add_argument("target", metavar="PATH_OR_URL", help="a PDF, text or Markdown file, or an http(s) URL")
    parser.add_argument("--name", help="the name shown in citations (default: file name or page title)")

    def run(args: argparse.Namespace) -> int:
        from bot.cli import _load

        return asyncio.run(ingest(_load(args), args.target, args.name))

    parser.set_defaults(func=run)
