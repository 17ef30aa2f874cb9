"""Retrieval: vector, keyword or hybrid search over the caller's resources, fused by reciprocal rank."""
from __future__ import annotations

import logging
import re
from typing import Literal, Sequence

from core.errors import DomainError
from core.knowledge_ports import ChunkIndex, Embedder, Hit, ResourceRepository
from core.ports import Passage

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "vector", "keyword"]
RRF_K = 60
MAX_TERMS = 32

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset("""a an and are as at be but by can did do does for from had has have how i if in into is it
its me my no not of on or our she so than that the their them then there these they this to was we were what
when where which who whom why will with would you your about should could""".split())


def keyword_terms(query: str, limit: int = MAX_TERMS) -> list[str]:
    """Substrings to look for: Latin words of 3+ letters (no stop words) and every 3-character run of
    Chinese/Japanese/Korean text, which has no spaces to split on. Lower-cased, each once, in order."""
    terms: list[str] = []
    for run in _CJK_RUN.findall(query):
        if len(run) < 3:
            terms.append(run)
        else:
            terms.extend(run[i:i + 3] for i in range(len(run) - 2))
    for word in _WORD.findall(_CJK_RUN.sub(" ", query.lower())):
        if len(word) >= 3 and word not in _STOPWORDS:
            terms.append(word)
    seen: dict[str, None] = {}
    for t in terms:
        seen.setdefault(t, None)
    return list(seen)[:limit]


def fuse_rrf(rankings: Sequence[Sequence[Hit]], k: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion: each list adds 1/(k + rank) to a chunk's score; best first."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, 1):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (k + rank)
            first.setdefault(hit.chunk_id, hit)
    ordered = sorted(scores, key=lambda cid: -scores[cid])
    return [Hit(cid, first[cid].resource_id, round(scores[cid], 6)) for cid in ordered]


class KnowledgeRetriever:
    """core.ports.Retriever over the chunk index."""

    def __init__(self, *, resources: ResourceRepository, index: ChunkIndex, embedder: Embedder, mode: Mode = "hybrid",
                 min_similarity: float = 0.0, candidates: int = 4):
        self._resources = resources
        self._index = index
        self._embedder = embedder
        self.mode: Mode = mode
        self._min_similarity = min_similarity
        self._candidates = candidates

    async def retrieve(self, user_id: str | None, query: str, resource_ids: Sequence[str], top_k: int) -> list[Passage]:
        names = await self._resources.searchable(user_id, resource_ids)
        if not names or not query.strip():
            return []
        scope = list(names)
        hits = await self.search(query, scope, top_k)
        chunks = await self._index.chunks([h.chunk_id for h in hits])
        passages = []
        for hit in hits:
            chunk = chunks.get(hit.chunk_id)
            if chunk is None:
                continue
            # The title stays the resource's name (Dify's document_name); a PDF page leads the text instead.
            text = f"(page {chunk.page}) {chunk.text}" if chunk.page is not None else chunk.text
            passages.append(Passage(chunk.resource_id, chunk.id, names.get(chunk.resource_id, ""), text, hit.score))
        return passages

    async def search(self, query: str, scope: Sequence[str], top_k: int) -> list[Hit]:
        """The best `top_k` chunks of the given resources for a query, by the configured mode."""
        wide = top_k * self._candidates
        rankings: list[list[Hit]] = []
        if self.mode in ("vector", "hybrid"):
            try:
                vector = (await self._embedder.embed([query], "query"))[0]
                found = await self._index.vector_search(vector, scope, wide)
                rankings.append([h for h in found if h.score >= self._min_similarity])
            except DomainError as e:
                if self.mode == "vector":
                    raise
                # Hybrid still answers from keywords when the embeddings endpoint is down or mismatched.
                log.warning("vector search failed (%s: %s); using keyword search alone", e.reason, e.message)
        if self.mode in ("keyword", "hybrid"):
            terms = keyword_terms(query)
            rankings.append(await self._index.keyword_search(terms, scope, wide) if terms else [])
        if len(rankings) == 1:
            return rankings[0][:top_k]
        return fuse_rrf(rankings)[:top_k]
