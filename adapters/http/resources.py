"""/api/v1/resources: add (JSON text, a web page, or a multipart file), list, get and delete knowledge-base resources."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Literal

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import Field, model_validator

from adapters.http.endpoint import Call, Endpoint, add_all, read_json, validate
from adapters.http.keys import services_of, settings_of
from adapters.http.multipart import read_part
from adapters.http.schemas import Body, ListQuery, Out, PageOut, Timestamp
from adapters.retrieval.extractors import MARKDOWN, TEXT, kind_of
from core.errors import DomainError, InvalidRequest, QuotaExceeded
from core.knowledge_ports import Resource, Viewer

PREFIX = "/api/v1"
MB = 1024 * 1024
ENVELOPE_SLACK = 4096  # JSON keys or multipart boundaries around the document itself
FIELD_BYTES = 4096     # a multipart form field other than `file`


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
    found = services_of(request).knowledge
    assert found is not None, "the services were built without the knowledge base"
    return found


def _viewer(call: Call) -> Viewer:
    assert call.principal is not None
    return Viewer(call.principal.user_id, call.principal.is_admin)


async def _audited(call: Call, resource: Resource, created: bool) -> web.Response:
    """An admin's new global resource goes in the audit log (like the console's); a user's own does not."""
    if created and call.principal is not None and call.principal.is_admin:
        await call.audit("resource.add", f"resource:{resource.id}", None,
                         {"name": resource.name, "source": resource.source, "url": resource.url})
    return _answer(resource, created)


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
    return await _audited(call, resource, created)


async def _upload(call: Call, viewer: Viewer) -> web.Response:
    limit = await _upload_limit(call.request, viewer, settings_of(call.request).max_upload_mb)
    try:
        name, data, filename, declared = await _read_upload(call.request, limit)
    except (ValueError, AssertionError, aiohttp.ClientPayloadError, HttpProcessingError) as e:
        # aiohttp's multipart reader reports a missing boundary, a control character in a part's
        # headers (NUL in a file name) and the like with these.
        message = getattr(e, "message", None) or str(e)
        raise InvalidRequest(f"The multipart body is malformed ({message!r:.200}).") from None
    if data is None:
        raise InvalidRequest("The multipart body needs a `file` part (PDF, txt or md).")
    kind = kind_of(filename, declared, data[:8])
    resource, created = await _kb(call.request).add_document(viewer, name=name or filename, body=data,
                                                             content_type=kind, source="file")
    return await _audited(call, resource, created)


@dataclass(frozen=True)
class _Limit:
    """How many bytes the file part may have, and the error once it has more."""
    bytes: int
    refusal: Callable[[], DomainError]


async def _upload_limit(request: web.Request, viewer: Viewer, max_upload_mb: int) -> _Limit:
    """The smaller of `rag.max_upload_mb` and, for a user, the storage they have left."""
    limit = _Limit(max_upload_mb * MB, lambda: DomainError(
        f"The file is larger than the {max_upload_mb} MB upload limit.", reason="payload_too_large", status=413))
    if viewer.user_id is None or viewer.is_admin:
        return limit
    user = await services_of(request).accounts.get(viewer.user_id)
    room = max(0, user.storage_limit_bytes - user.storage_used_bytes)
    if room >= limit.bytes:
        return limit
    return _Limit(room, lambda: QuotaExceeded(
        f"This upload is over your storage limit ({user.storage_used_bytes / MB:.1f} of "
        f"{user.storage_limit_bytes / MB:.1f} MB used); delete documents or buy a pack with more storage."))


async def _read_upload(request: web.Request, limit: _Limit) -> tuple[str, bytes | None, str, str]:
    """The `name` field and the `file` part (its bytes, filename and declared type) of a multipart body,
    counted while streaming: reading stops, and nothing is kept, as soon as the file passes the limit."""
    reader = await request.multipart()
    name, data, filename, declared = "", None, "", ""
    async for part in reader:
        if not isinstance(part, aiohttp.BodyPartReader):
            raise InvalidRequest("Nested multipart bodies are not accepted.")
        if part.name == "file":
            if data is not None:
                raise InvalidRequest("Send one `file` part per upload.")
            filename, declared = _clean(part.filename or "upload", "filename"), part.headers.get("Content-Type", "")
            data = await read_part(part, limit.bytes, limit.refusal)
        else:  # small form fields only: `name`, or anything else a client adds (read and dropped)
            text = (await read_part(part, FIELD_BYTES, lambda: InvalidRequest(
                f"The form field {part.name!r} is too long."))).decode("utf-8", "replace")
            if part.name == "name":
                name = _clean(text.strip()[:200], "name")
    return name, data, filename, declared


def _clean(text: str, field: str) -> str:
    if any(ord(c) < 32 and c not in "\t" or ord(c) == 127 for c in text):
        raise InvalidRequest(f"The {field} contains control characters (such as NUL).")
    return text


async def _refuse_if_over_storage(request: web.Request, user_id: str, size: int) -> None:
    """The size is known: refuse before reading a byte when it cannot fit the user's storage."""
    user = await services_of(request).accounts.get(user_id)
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
    viewer = _viewer(call)
    resource = await _kb(call.request).get(viewer, call.path("id"))
    await _kb(call.request).delete(viewer, resource.id)
    if viewer.is_admin:
        await call.audit("resource.delete", f"resource:{resource.id}",
                         {"name": resource.name, "source": resource.source}, None)


def install(app: web.Application) -> None:
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
