"""ModelCatalog: which models exist, what they cost, and which is the default."""
from __future__ import annotations

from typing import Iterable

from core.domain import ModelSpec
from core.errors import InvalidRequest


class ModelCatalog:
    def __init__(self, specs: Iterable[ModelSpec], default: str, vision_model: str | None = None):
        self._specs = {s.name: s for s in specs}
        self.default = default
        self.vision_model = vision_model

    def for_images(self, spec: ModelSpec) -> ModelSpec:
        """The model that answers a message with images: `spec` when it has vision, else the configured
        vision model; InvalidRequest (reason `vision_unsupported`) when there is none."""
        if spec.vision:
            return spec
        if self.vision_model:
            return self.get(self.vision_model)
        raise InvalidRequest(f"The model {spec.name} cannot read images; send text only.", reason="vision_unsupported")

    def has_vision(self, name: str | None = None) -> bool:
        """Whether a message with images to model `name` (the default when None) can be answered."""
        return bool(self.vision_model) or self.get(name).vision

    def get(self, name: str | None = None) -> ModelSpec:
        spec = self._specs.get(name or self.default)
        if spec is None:
            raise InvalidRequest(f"Unknown model {name!r}; available: {', '.join(sorted(self._specs))}.",
                                 reason="unknown_model")
        return spec

    def names(self) -> list[str]:
        return sorted(self._specs)

    def has(self, name: str) -> bool:
        return name in self._specs

    def specs(self) -> list[ModelSpec]:
        """Every model, by name."""
        return [self._specs[n] for n in sorted(self._specs)]

    def replace(self, specs: Iterable[ModelSpec]) -> None:
        """The models on offer changed (a provider was added or removed while running)."""
        self._specs = {s.name: s for s in specs}
