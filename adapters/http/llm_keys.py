"""A user's own model-provider keys at /api/v1/me/llm-keys/{provider}: checked when saved, shown as the last 4."""
from __future__ import annotations

from aiohttp import web
from pydantic import Field

from adapters.http.endpoint import Call, Endpoint, add_all
from adapters.http.schemas import Body, Out, Timestamp
from adapters.http.keys import services_of
from core.own_keys import OwnKeyInfo


class OwnKeyIn(Body):
    api_key: str = Field(min_length=1, max_length=500)


class OwnKeyOut(Out):
    provider: str
    api_key: str = Field(description="Only the key's last 4 characters, as \"…abcd\".")
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None

    @classmethod
    def of(cls, k: OwnKeyInfo) -> "OwnKeyOut":
        return cls(provider=k.provider, api_key=k.key_hint, created_at=k.created_at, updated_at=k.updated_at)


class OwnKeysOut(Out):
    data: list[OwnKeyOut]


def _keys(call: Call):
    return services_of(call.request).own_keys


async def list_keys(call: Call) -> OwnKeysOut:
    return OwnKeysOut(data=[OwnKeyOut.of(k) for k in await _keys(call).list(call.user_id)])


async def put_key(call: Call) -> OwnKeyOut:
    body: OwnKeyIn = call.body
    return OwnKeyOut.of(await _keys(call).save(call.user_id, call.path("provider"), body.api_key))


async def get_key(call: Call) -> OwnKeyOut:
    return OwnKeyOut.of(await _keys(call).get(call.user_id, call.path("provider")))


async def delete_key(call: Call) -> None:
    await _keys(call).delete(call.user_id, call.path("provider"))


def install(app: web.Application, prefix: str) -> None:
    one, tag = "/me/llm-keys/{provider}", "llm-keys"
    add_all(app, prefix, [
        Endpoint("GET", "/me/llm-keys", list_keys, "Your own provider keys (last 4 characters only)",
                 response=OwnKeysOut, tag=tag),
        Endpoint("PUT", one, put_key, "Bring your own key for a provider: checked with it, stored encrypted; "
                 "answers from its models are then not charged tokens", body=OwnKeyIn, response=OwnKeyOut, tag=tag),
        Endpoint("GET", one, get_key, "Your key for a provider (last 4 characters only)", response=OwnKeyOut,
                 tag=tag),
        Endpoint("DELETE", one, delete_key, "Forget your key for a provider", status=204, tag=tag),
    ])
