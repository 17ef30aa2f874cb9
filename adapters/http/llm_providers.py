"""Admin CRUD of model providers at /api/v1/llm-providers: stored in the database, live without a restart;
config.yaml's providers are listed (`source: "config"`) and read-only here."""
from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field, field_validator

from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.paging import page_list
from adapters.http.schemas import Body, ListQuery, Out, PageOut, Timestamp
from adapters.http.keys import services_of
from core.domain import ModelSpec
from core.providers import LLMProvider

NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class ProviderModelIn(Body):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^/\s]+$")
    input_weight: float = Field(1.0, ge=0, le=10_000)
    output_weight: float = Field(1.0, ge=0, le=10_000)
    context_window: int = Field(8192, ge=256, le=10_000_000)
    max_output_tokens: int = Field(1024, ge=1, le=1_000_000)
    vision: bool = False

    def spec(self) -> ModelSpec:
        return ModelSpec(self.name, self.input_weight, self.output_weight, self.context_window,
                         self.max_output_tokens, self.vision)


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")) or len(url) < 10:
        raise ValueError("must be an http:// or https:// URL, like https://api.openai.com/v1")
    return url.rstrip("/")


class ProviderIn(Body):
    name: str = Field(pattern=NAME)
    base_url: str = Field(max_length=500)
    api_key: str = Field("", max_length=500, description="Write-only: answers show its last 4 characters.")
    timeout_seconds: float = Field(60.0, gt=0, le=600)
    models: list[ProviderModelIn] = Field(min_length=1, max_length=100)

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        return _http_url(url)


class ProviderPatch(Body):
    base_url: str | None = Field(None, max_length=500)
    api_key: str | None = Field(None, max_length=500, description="Write-only; \"\" removes it.")
    timeout_seconds: float | None = Field(None, gt=0, le=600)
    models: list[ProviderModelIn] | None = Field(None, min_length=1, max_length=100)

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        return url if url is None else _http_url(url)


class ProviderModelOut(Out):
    name: str
    input_weight: float
    output_weight: float
    context_window: int
    max_output_tokens: int
    vision: bool


class ProviderOut(Out):
    name: str
    base_url: str
    api_key: str | None = Field(description="Only the key's last 4 characters (\"…abcd\"); null: none set.")
    timeout_seconds: float
    models: list[ProviderModelOut]
    source: Literal["config", "database"] = Field(description="config: from config.yaml, read-only here.")
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None

    @classmethod
    def of(cls, p: LLMProvider) -> "ProviderOut":
        return cls(name=p.name, base_url=p.base_url, api_key=p.key_hint, timeout_seconds=p.timeout_seconds,
                   models=[ProviderModelOut(**m.__dict__) for m in p.models], source=p.source,
                   created_at=p.created_at, updated_at=p.updated_at)


def _registry(call: Call):
    return services_of(call.request).providers


async def list_providers(call: Call) -> PageOut[ProviderOut]:
    q: ListQuery = call.query
    page = page_list(await _registry(call).list(), lambda p: p.name, q.limit, q.cursor)
    return PageOut[ProviderOut](data=[ProviderOut.of(p) for p in page.items], cursor=page.cursor,
                                has_more=page.has_more)


async def create_provider(call: Call) -> ProviderOut:
    b: ProviderIn = call.body
    provider = LLMProvider(b.name, b.base_url, b.api_key, tuple(m.spec() for m in b.models), b.timeout_seconds)
    created = ProviderOut.of(await _registry(call).create(provider))
    await call.audit("llm_provider.create", f"llm_provider:{created.name}", None, _recorded(created))
    return created


async def get_provider(call: Call) -> ProviderOut:
    return ProviderOut.of(await _registry(call).get(call.path("name")))


async def update_provider(call: Call) -> ProviderOut:
    b: ProviderPatch = call.body
    changes = {k: v for k, v in b.model_dump(exclude_unset=True).items() if v is not None}
    if b.models is not None:
        changes["models"] = tuple(m.spec() for m in b.models)
    before = ProviderOut.of(await _registry(call).get(call.path("name")))
    after = ProviderOut.of(await _registry(call).update(call.path("name"), **changes))
    await call.audit("llm_provider.update", f"llm_provider:{after.name}", _recorded(before), _recorded(after))
    return after


async def delete_provider(call: Call) -> None:
    before = ProviderOut.of(await _registry(call).get(call.path("name")))
    await _registry(call).delete(call.path("name"))
    await call.audit("llm_provider.delete", f"llm_provider:{before.name}", _recorded(before), None)


def _recorded(p: ProviderOut) -> dict:
    """A provider as the audit log keeps it: the key only as its last 4 characters, like the API shows it."""
    return p.model_dump(mode="json", exclude={"created_at", "updated_at"})


def install(app: web.Application, prefix: str) -> None:
    one, tag = "/llm-providers/{name}", "llm-providers"
    add_all(app, prefix, [
        Endpoint("GET", "/llm-providers", list_providers, "Model providers, config.yaml's first (admin)",
                 access="admin", query=ListQuery, response=PageOut[ProviderOut], tag=tag),
        Endpoint("POST", "/llm-providers", create_provider, "Add a model provider with its models (admin)",
                 access="admin", body=ProviderIn, response=ProviderOut, status=201, tag=tag),
        Endpoint("GET", one, get_provider, "One model provider (admin)", access="admin", response=ProviderOut,
                 tag=tag),
        Endpoint("PATCH", one, update_provider, "Change a provider added here (admin; config.yaml's are 409)",
                 access="admin", body=ProviderPatch, response=ProviderOut, tag=tag),
        Endpoint("DELETE", one, delete_provider, "Remove a provider added here (admin; config.yaml's are 409)",
                 access="admin", status=204, tag=tag),
    ])
