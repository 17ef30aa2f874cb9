"""/api/v1/resources: add (JSON text, a web page, or a multipart file), list, get and delete knowledge-base resources."""
from __future__ import annotations

import json
from typing import Literal

import aiohttp
from aiohttp import web
from pydantic import Field, model_validator

from adapters.http.endpoint import Call, Endpoint, add_all, read_json, validate
from adapters.http.schemas import Body, ListQuery, Out, PageOut, Timestamp
from adapters.retrieval.extractors import MARKDOWN, TEXT, kind_of
from bot.config import AppConfig
from core.errors import DomainError, InvalidRequest, QuotaExceeded
from core.knowledge_ports import Resource, Viewer

PREFIX = "/api/v1"
MB = 1024 * 1024
ENVELOPE_SLACK = 4096  # JSON keys or multipart boundaries around the document itself


class ResourceOut(Out):
    id: str
    name: str
    source: str = Field(description="text, file or website")
    content_type: str
    url: str | None
    scope: Literal["global", "private"]
    status: Literal["pending", "indexing", "ready", "failed"]
    error: str | None
    error_reason: str | None
    chunks: int
    bytes: int
    created_at: Timestamp
    indexed_at: Timestamp | None

    @classmethod
    def of(cls, r: Resource) -> "ResourceOut":
        return cls(id=r.id, name=r.name, source=r.source, content_type=r.content_type, url=r.url, scope=r.scope,
                   status=r.status, error=r.error, error_reason=r.error_reason, chunks=r.chunks, bytes=r.bytes,
                   created_at=r.created_at, indexed_at=r.indexed_at)


class NewResource(Body):
    name: str = Field("", max_length=200)
    source: Literal["text", "website"]
    content: str | None = Field(None, description="the text, for source text")
    format: Literal["text", "markdown"] = "text"
    url: str | None = Field(None, max_length=2000, description="the page, for source website")

    @model_validator(mode="after")
    def _needs_payload(self) -> "NewResource":
        if self.source == "text" and not (self.content or "").strip():
            raise ValueError("content is required for source text")
        if self.source == "website" and not (self.url or "").strip():
            raise ValueError("url is required for source website")
        return self


def _kb(request: web.Request):
    from bot.app import SERVICES
    from bot.knowledge import knowledge_of

    return knowledge_of(request.app[SERVICES]).service


def _viewer(call: Call) -> Viewer:
    assert call.principal is not None
    return Viewer(call.principal.user_id, call.principal.is_admin)


def _answer(resource: Resource, created: bool) -> web.Response:
    # 202: indexing goes on in the background; 200: the same content or URL was already there.
    return web.json_response(ResourceOut.of(resource).model_dump(mode="json"), status=202 if created else 200,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def create(call: Call) -> web.Response:
    request, viewer = call.request, _viewer(call)
    if viewer.user_id is not None and not viewer.is_admin and request.content_length is not None:
        await _refuse_if_over_storage(request, viewer.user_id, request.content_length)
    if request.content_type.startswith("multipart/"):
        return await _upload(call, viewer)
    body: NewResource = validate(NewResource, await read_json(request), "body")  # type: ignore[assignment]
    service = _kb(request)
    if body.source == "website":
        resource, created = await service.add_url(viewer, url=body.url or "", name=body.name.strip())
    else:
        content = body.content or ""
        name = body.name.strip() or content.strip().splitlines()[0][:80]
        resource, created = await service.add_document(
            viewer, name=name, body=content.encode("utf-8"), source="text",
            content_type=MARKDOWN if body.format == "markdown" else TEXT)
    return _answer(resource, created)


async def _upload(call: Call, viewer: Viewer) -> web.Response:
    from bot.app import CONFIG

    config: AppConfig = call.request.app[CONFIG]
    try:
        name, data, filename, declared = await _read_upload(call.request, config.rag.max_upload_mb)
    except (ValueError, AssertionError, aiohttp.ClientPayloadError) as e:
        # aiohttp's multipart reader reports a missing boundary and the like with these.
        raise InvalidRequest(f"The multipart body is malformed ({e}).") from None
    if data is None:
        raise InvalidRequest("The multipart body needs a `file` part (PDF, txt or md).")
    kind = kind_of(filename, declared, data[:8])
    resource, created = await _kb(call.request).add_document(viewer, name=name or filename, body=data,
                                                             content_type=kind, source="file")
    return _answer(resource, created)


async def _read_upload(request: web.Request, limit_mb: int) -> tuple[str, bytes | None, str, str]:
    """The `name` field and the `file` part (its bytes, filename and declared type) of a multipart body."""
    reader = await request.multipart()
    name, data, filename, declared = "", None, "", ""
    async for part in reader:
        if part.name == "name":
            name = (await part.text()).strip()[:200]
        elif part.name == "file":
            filename, declared = part.filename or "upload", part.headers.get("Content-Type", "")
            buf = bytearray()
            while chunk := await part.read_chunk(65536):
                buf += chunk
                if len(buf) > limit_mb * MB:
                    raise DomainError(f"The file is larger than the {limit_mb} MB upload limit.",
                                      reason="payload_too_large", status=413)
            data = bytes(buf)
    return name, data, filename, declared


async def _refuse_if_over_storage(request: web.Request, user_id: str, size: int) -> None:
    """The size is known: refuse before reading a byte when it cannot fit the user's storage."""
    from bot.app import SERVICES

    user = await request.app[SERVICES].accounts.get(user_id)
    if size - ENVELOPE_SLACK > user.storage_limit_bytes - user.storage_used_bytes:
        raise QuotaExceeded(f"This upload ({size / MB:.1f} MB) is over your storage limit "
                            f"({user.storage_used_bytes / MB:.1f} of {user.storage_limit_bytes / MB:.1f} MB "
                            f"used); delete documents or buy a pack with more storage.")


async def list_resources(call: Call) -> PageOut[ResourceOut]:
    q: ListQuery = call.query
    page = await _kb(call.request).list(_viewer(call), q.limit, q.cursor)
    return PageOut[ResourceOut](data=[ResourceOut.of(r) for r in page.items], cursor=page.cursor,
                                has_more=page.has_more)


async def get_resource(call: Call) -> ResourceOut:
    return ResourceOut.of(await _kb(call.request).get(_viewer(call), call.path("id")))


async def delete_resource(call: Call) -> None:
    await _kb(call.request).delete(_viewer(call), call.path("id"))


def install(app: web.Application, config: AppConfig) -> None:
    tag = "knowledge base"
    add_all(app, PREFIX, [
        Endpoint("GET", "/resources", list_resources, "Global resources and your own, newest first",
                 access="any", query=ListQuery, response=PageOut[ResourceOut], tag=tag),
        Endpoint("POST", "/resources", create, "Add text, a web page, or a file (multipart `file`); indexing runs "
                 "in the background", access="any", response=ResourceOut, status=202, tag=tag,
                 extra_statuses=(200,)),
        Endpoint("GET", "/resources/{id}", get_resource, "One resource and its indexing status", access="any",
                 response=ResourceOut, tag=tag),
        Endpoint("DELETE", "/resources/{id}", delete_resource, "Delete a resource with its chunks", access="any",
                 status=204, tag=tag),
    ])
