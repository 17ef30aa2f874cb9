"""GET /api/v1/models: the models on offer, with their provider, prices (weights), vision and context sizes."""
from __future__ import annotations

from aiohttp import web

from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.paging import page_list
from adapters.http.schemas import ListQuery, Out, PageOut
from adapters.http.keys import services_of
from core.model_choice import ModelOption


class ModelOut(Out):
    name: str
    provider: str
    input_weight: float       # tokens charged per prompt token
    output_weight: float      # tokens charged per completion token
    vision: bool              # reads images
    context_window: int
    max_output_tokens: int
    default: bool             # answers when nothing else is chosen
    own_key: bool = False     # the caller brought a key for its provider: priced at llm.byok_fee_weight

    @classmethod
    def of(cls, m: ModelOption, default: str) -> "ModelOut":
        return cls(name=m.name, provider=m.provider, input_weight=m.input_weight, output_weight=m.output_weight,
                   vision=m.vision, context_window=m.context_window, max_output_tokens=m.max_output_tokens,
                   default=m.name == default, own_key=m.own_key)


async def list_models(call: Call) -> PageOut[ModelOut]:
    q: ListQuery = call.query
    services = services_of(call.request)
    user_id = call.principal.user_id if call.principal else None
    options = await services.models.options(user_id)
    page = page_list(options, lambda m: m.name, q.limit, q.cursor)
    default = services.catalog.default
    return PageOut[ModelOut](data=[ModelOut.of(m, default) for m in page.items], cursor=page.cursor,
                             has_more=page.has_more)


def install(app: web.Application, prefix: str) -> None:
    add_all(app, prefix, [
        Endpoint("GET", "/models", list_models, "The models a conversation or message can name, with their prices",
                 access="any", query=ListQuery, response=PageOut[ModelOut], tag="models"),
    ])
