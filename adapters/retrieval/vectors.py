"""VectorMatrix: the chunk vectors of this process in one float32 numpy array, searched by cosine similarity."""
from __future__ import annotations

from typing import Sequence

import numpy as np


_blas = None


def _one_blas_thread():
    """BLAS with one thread: a matrix-vector product gains nothing from more, and spinning threads slow a busy host."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def as_unit_matrix(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    """float32 rows of length 1 (zero rows stay zero)."""
    m = np.asarray(vectors, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError("expected one vector per text")
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return m / norms


class VectorMatrix:
    """Append-only rows with a liveness mask: deleting a resource hides its rows; compaction reclaims them."""

    def __init__(self, dims: int):
        self.dims = dims
        self._vectors = np.zeros((0, dims), dtype=np.float32)
        self._codes = np.zeros(0, dtype=np.int32)     # resource of each row, as an index into _resources
        self._alive = np.zeros(0, dtype=bool)
        self._chunk_ids: list[str] = []
        self._resources: list[str] = []
        self._code_of: dict[str, int] = {}
        self.size = 0
        self.alive = 0

    def _code(self, resource_id: str) -> int:
        code = self._code_of.get(resource_id)
        if code is None:
            code = self._code_of[resource_id] = len(self._resources)
            self._resources.append(resource_id)
        return code

    def extend(self, chunk_ids: Sequence[str], resource_ids: Sequence[str], vectors: np.ndarray) -> None:
        n = len(chunk_ids)
        if n == 0:
            return
        if self.size + n > len(self._vectors):
            capacity = max(1024, 2 * (self.size + n))
            grown = np.zeros((capacity, self.dims), dtype=np.float32)
            grown[: self.size] = self._vectors[: self.size]
            codes = np.zeros(capacity, dtype=np.int32)
            codes[: self.size] = self._codes[: self.size]
            alive = np.zeros(capacity, dtype=bool)
            alive[: self.size] = self._alive[: self.size]
            self._vectors, self._codes, self._alive = grown, codes, alive
        end = self.size + n
        self._vectors[self.size:end] = vectors
        self._codes[self.size:end] = [self._code(r) for r in resource_ids]
        self._alive[self.size:end] = True
        self._chunk_ids.extend(chunk_ids)
        self.size = end
        self.alive += n

    def drop_resource(self, resource_id: str) -> None:
        code = self._code_of.get(resource_id)
        if code is None:
            return
        rows = (self._codes[: self.size] == code) & self._alive[: self.size]
        self._alive[: self.size][rows] = False
        self.alive -= int(rows.sum())
        if self.size > 1024 and self.alive < self.size // 2:
            self._compact()

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive[: self.size])
        vectors, codes = self._vectors[keep], self._codes[keep]
        self._chunk_ids = [self._chunk_ids[i] for i in keep]
        self._vectors, self._codes = vectors, codes
        self._alive = np.ones(len(keep), dtype=bool)
        self.size = self.alive = len(keep)

    def search(self, vector: Sequence[float], resource_ids: Sequence[str], limit: int) -> list[tuple[str, str, float]]:
        """(chunk_id, resource_id, cosine) of the best rows among the given resources, best first."""
        codes = [self._code_of[r] for r in resource_ids if r in self._code_of]
        if not codes or self.size == 0 or limit <= 0:
            return []
        size, vectors, row_codes = self.size, self._vectors, self._codes  # a consistent view
        chunk_ids, resources = self._chunk_ids, self._resources
        query = as_unit_matrix([vector])[0]
        mask = self._alive[:size] & np.isin(row_codes[:size], np.asarray(codes, dtype=np.int32))
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            return []
        with _one_blas_thread():
            scores = vectors[rows] @ query if len(rows) < size // 2 else (vectors[:size] @ query)[rows]
        best = np.argpartition(-scores, limit - 1)[:limit] if len(rows) > limit else np.arange(len(rows))
        best = best[np.argsort(-scores[best])]
        return [(chunk_ids[rows[i]], resources[row_codes[rows[i]]], float(scores[i])) for i in best]
