"""Knowledge-base benchmark: ingest throughput (chunks/s) and retrieval latency (p50/p95) at 1k, 10k, 100k chunks.

    .venv/bin/python -m bench.rag_bench                       # SQLite in a temp folder, all sizes
    .venv/bin/python -m bench.rag_bench --sizes 1000,10000 --database postgres://postgres@127.0.0.1:5432/bench
    .venv/bin/python -m bench.rag_bench --sizes 1000,10000 --pgvector     # a throwaway PostgreSQL with pgvector

Ingest throughput is measured end to end (chunking, the offline encoder, storing) on a few hundred real
chunks. Embedding 100k chunks with the local encoder would take about half an hour, so the larger indexes
are filled with synthetic text and random unit vectors through the same index writes (that write rate is
reported too); retrieval latency then includes embedding the query with the real encoder.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from adapters.retrieval.index import SqlChunkIndex
from adapters.retrieval.store import TortoiseResources
from adapters.storage import db
from bot.knowledge import build_embedder
from bot.wiring import open_services
from core.chunking import Chunk
from core.knowledge_ports import Viewer
from core.retrieval import KnowledgeRetriever
from tests.conftest import make_config

LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
RESOURCES = 100


class Vocabulary:
    """Made-up English-like words and common Chinese characters, both drawn with Zipf frequencies, so the
    keyword index sees a realistic spread of common and rare trigrams."""

    def __init__(self, rng: random.Random, words: int = 20000, hanzi: int = 3000):
        self.rng = rng
        weights = [1 / (i + 1) ** 0.5 for i in range(len(LETTERS))]
        self.words = ["".join(rng.choices(LETTERS, weights, k=rng.randint(3, 10))) for _ in range(words)]
        self.hanzi = [chr(0x4E00 + i * 7) for i in range(hanzi)]
        self.word_weights = [1 / (i + 1) for i in range(words)]
        self.hanzi_weights = [1 / (i + 1) for i in range(hanzi)]

    def text(self) -> str:
        english = " ".join(self.rng.choices(self.words, self.word_weights, k=self.rng.randint(40, 90))) + "."
        chinese = "".join(self.rng.choices(self.hanzi, self.hanzi_weights, k=self.rng.randint(40, 120))) + "。"
        return english + " " + chinese

    def query(self) -> str:
        return " ".join(self.rng.choices(self.words, k=4)) + " " + "".join(self.rng.choices(self.hanzi, k=4))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def ingest_throughput(config, chunks: int) -> float:
    """Real documents through the real pipeline: chunks per second."""
    vocab = Vocabulary(random.Random(1))
    from bot.knowledge import knowledge_of

    async with open_services(config, background=False) as services:
        kb = knowledge_of(services)
        await kb.embedder.embed(["warm up"], "query")  # model load is not ingest time
        per_doc = 20
        docs = ["\n\n".join(vocab.text() for _ in range(per_doc * 2)) for _ in range(chunks // per_doc)]
        admin = Viewer(None, is_admin=True)
        start = time.perf_counter()
        total = 0
        for i, text in enumerate(docs):
            resource, _ = await kb.service.add_document(admin, name=f"doc {i}", body=text.encode(),
                                                        content_type="text/plain", source="file")
            await kb.service.wait(resource.id)
            total += (await kb.service.get(admin, resource.id)).chunks
        return total / (time.perf_counter() - start)


async def fill(index: SqlChunkIndex, resource_ids: list[str], have: int, want: int, dims: int,
               vocab: Vocabulary) -> float:
    """Synthetic chunks with random unit vectors until the index holds `want`; rows written per second."""
    np_rng = np.random.default_rng(have)
    start, batch = time.perf_counter(), 256
    for at in range(have, want, batch):
        n = min(batch, want - at)
        chunks = [Chunk(vocab.text(), at + j) for j in range(n)]
        await index.add(resource_ids[(at // batch) % len(resource_ids)], chunks, np_rng.standard_normal((n, dims)))
    return (want - have) / max(time.perf_counter() - start, 1e-9)


async def latency(retriever: KnowledgeRetriever, scope: list[str], queries: list[str], mode: str) -> tuple[float, float]:
    retriever.mode = mode  # type: ignore[assignment]
    await retriever.search(queries[0], scope, 4)  # the first call loads new vectors into memory
    times = []
    for q in queries:
        start = time.perf_counter()
        await retriever.search(q, scope, 4)
        times.append((time.perf_counter() - start) * 1000)
    return percentile(times, 0.5), percentile(times, 0.95)


async def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    url = args.database or f"sqlite://{folder}/bench.db"
    server = None
    if args.pgvector:  # a throwaway PostgreSQL with pgvector (the `pgserver` package, a dev extra)
        import pgserver

        server = pgserver.get_server(folder / "pg", cleanup_mode="stop")
        server.psql('CREATE DATABASE "bench"')
        url = f"postgres://postgres@/bench?host={folder / 'pg'}"
    config = make_config(folder, database_url=url)
    print(f"database: {url.split('://', 1)[0]}  embedder: {build_embedder(config).name}")
    rate = await ingest_throughput(config, args.ingest_chunks)
    print(f"ingest (chunk + embed + store, real encoder): {rate:.1f} chunks/s")

    await db.open_database(url)
    try:
        index = SqlChunkIndex()
        await index.prepare()
        print(f"vector search: {index.vector_backend}")
        resources = TortoiseResources()
        embedder = build_embedder(config)
        dims = len((await embedder.embed(["x"], "query"))[0])
        ids = []
        for i in range(RESOURCES):
            r = await resources.create(owner_id=None, name=f"bench {i}", source="text", content_type="text/plain",
                                       url=None, bytes=0, charged_bytes=0, content_hash=None)
            await resources.update(r.id, status="ready")
            ids.append(r.id)
        retriever = KnowledgeRetriever(resources=resources, index=index, embedder=embedder, min_similarity=-1)
        vocab = Vocabulary(random.Random(2))
        queries = [vocab.query() for _ in range(args.queries)]
        have = 0
        print(f"{'chunks':>8} {'write/s':>9}  " + "  ".join(f"{m + ' p50/p95 ms':>24}" for m in
                                                             ("vector", "keyword", "hybrid")))
        for size in args.sizes:
            write_rate = await fill(index, ids, have, size, dims, vocab)
            have = size
            cells = []
            for mode in ("vector", "keyword", "hybrid"):
                p50, p95 = await latency(retriever, ids, queries, mode)
                cells.append(f"{p50:>11.1f} / {p95:<10.1f}")
            print(f"{size:>8} {write_rate:>9.0f}  " + "  ".join(cells), flush=True)
    finally:
        await db.close_database()
        if server is not None:
            server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--ingest-chunks", type=int, default=300)
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--pgvector", action="store_true", help="start a PostgreSQL with pgvector (pgserver) and use it")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
