"""ModelCatalog: which models exist, what they cost, and which is the default."""
from __future__ import annotations

from typing import Iterable

from core.domain import ModelSpec
from core.errors import InvalidRequest


class ModelCatalog:
    def __init__(self, specs: Iterable[ModelSpec], default: str):
        self._specs = {s.name: s for s in specs}
        self.default = default

    def get(self, name: str | None = None) -> ModelSpec:
        spec = self._specs.get(name or self.default)
        if spec is None:
            raise InvalidRequest(f"Unknown model {name!r}; available: {', '.join(sorted(self._specs))}.",
                                 reason="unknown_model")
        return spec

    def names(self) -> list[str]:
        return sorted(self._specs)
