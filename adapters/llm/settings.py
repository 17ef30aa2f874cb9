"""The `llm` section of config.yaml: providers and their models, embeddings, fallbacks, retry, breaker and speech."""
from __future__ import annotations

from pydantic import Field, model_validator

from adapters.config_fields import Strict

class ModelConfig(Strict):
    name: str
    input_weight: float = Field(1.0, ge=0)
    output_weight: float = Field(1.0, ge=0)
    context_window: int = Field(8192, ge=256)
    max_output_tokens: int = Field(1024, ge=1)
    vision: bool = False  # the model reads images (OpenAI image_url content parts)


class ProviderConfig(Strict):
    name: str
    base_url: str
    api_key: str = ""
    timeout_seconds: float = Field(60.0, gt=0)
    models: list[ModelConfig] = Field(default_factory=list)


class EmbeddingsConfig(Strict):
    provider: str = "local"
    model: str | None = None
    batch_size: int = Field(32, ge=1)


class RetryConfig(Strict):
    """Before a reply's first token: connect errors, 429 and 5xx are retried on the same provider."""

    attempts: int = Field(3, ge=1, le=10)               # calls to one provider before its fallbacks
    base_delay_seconds: float = Field(0.5, ge=0)        # doubled after each retry
    max_delay_seconds: float = Field(8.0, ge=0)
    max_retry_after_seconds: float = Field(20.0, ge=0)  # a longer Retry-After moves on to the next provider


class BreakerConfig(Strict):
    """A provider failing `failures` times in a row is skipped for `cooldown_seconds`, then probed once."""

    failures: int = Field(5, ge=1)
    cooldown_seconds: float = Field(30.0, ge=0)


class SpeechConfig(Strict):
    """Voice to text through a provider's OpenAI-compatible /audio/transcriptions (docs/media.md)."""

    provider: str                                   # a name under llm.providers
    model: str = "whisper-1"
    weight_per_second: float = Field(1.0, ge=0)     # tokens charged per second of audio


class LLMConfig(Strict):
    default_model: str = "gpt-4o-mini"
    providers: list[ProviderConfig] = Field(default_factory=list)
    embeddings: EmbeddingsConfig = Field(default_factory=EmbeddingsConfig)
    # The model that answers a message with images when the chosen model has no `vision`; unset: refused.
    vision_model: str | None = None
    # {MODEL: ["PROVIDER/MODEL", ...]}: where a model's replies go, in order, when its provider fails before
    # the first token. The fallback's own weights price the reply (a model listed under that provider), or the
    # original's when it is the same model name served by another provider.
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    # Replies made with a user's own key (/api/v1/me/llm-keys) cost this many tokens per token used; 0: free.
    byok_fee_weight: float = Field(0.0, ge=0)
    # Voice notes and audio attachments are transcribed by this provider's model; unset: voice is refused.
    speech: SpeechConfig | None = None

    @model_validator(mode="after")
    def _speech_provider_known(self) -> "LLMConfig":
        if self.speech and self.speech.provider not in {p.name for p in self.providers}:
            raise ValueError(f"speech.provider {self.speech.provider!r} is not configured under llm.providers")
        return self

    @model_validator(mode="after")
    def _fallbacks_known(self) -> "LLMConfig":
        names = {m.name for p in self.providers for m in p.models}
        providers = {p.name for p in self.providers}
        for model, targets in self.fallbacks.items():
            if self.providers and model not in names:
                raise ValueError(f"fallbacks: {model!r} is not listed under any provider's models")
            for target in targets:
                provider, _, name = target.partition("/")
                if not provider or not name:
                    raise ValueError(f"fallbacks.{model}: {target!r} is not PROVIDER/MODEL")
                if provider not in providers:
                    raise ValueError(f"fallbacks.{model}: provider {provider!r} is not configured")
                if name != model and name not in names:
                    raise ValueError(f"fallbacks.{model}: {name!r} is not listed under any provider's models "
                                     "(list it with its weights)")
        return self

    @model_validator(mode="after")
    def _default_model_known(self) -> "LLMConfig":
        names = [m.name for p in self.providers for m in p.models]
        if self.providers and self.default_model not in names:
            raise ValueError(f"default_model {self.default_model!r} is not listed under any provider's models")
        if self.vision_model and not any(m.name == self.vision_model and m.vision
                                         for p in self.providers for m in p.models):
            raise ValueError(f"vision_model {self.vision_model!r} is not a listed model with vision: true")
        if len(names) != len(set(names)):
            raise ValueError("a model name is listed under more than one provider")
        emb = self.embeddings.provider
        if emb != "local" and emb not in {p.name for p in self.providers}:
            raise ValueError(f"embeddings.provider {emb!r} is neither 'local' nor a provider name")
        return self
