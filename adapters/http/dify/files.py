"""POST /files/upload and GET /files/{file_id}/preview, and the images a chat message brings (`files`)."""
from __future__ import annotations

from aiohttp import web

from adapters.http.dify import context, render
from adapters.http.dify.errors import DifyError
from adapters.http.dify.requests import ChatFile, EndUser, app_key, end_user, path_id
from adapters.http.dify.uploads import read_upload
from core.errors import DomainError, NotFound
from core.files import IMAGE_TYPES, StoredFile, sniff_image


def _image_limit(request: web.Request) -> int:
    return context.dify(request).image_file_size_limit_mb * 1024 * 1024


def _too_large(limit: int) -> DifyError:
    return DifyError(413, "file_too_large", f"File size exceeded. The limit is {limit // (1024 * 1024)} MB.")


def _unsupported() -> DifyError:
    return DifyError(415, "unsupported_file_type",
                     f"File type not allowed: only {', '.join(sorted(set(IMAGE_TYPES.values())))} images.")


def _upload_enabled(request: web.Request) -> None:
    if not context.dify(request).image_upload:
        raise DifyError(400, "invalid_param", "File upload is not enabled for this app.")


async def upload(request: web.Request) -> web.Response:
    fingerprint = app_key(request)
    _upload_enabled(request)
    limit = _image_limit(request)
    found = await read_upload(
        request, limit, _too_large(limit), too_many=DifyError(400, "too_many_files", "Only one file is allowed."),
        not_multipart=DifyError(400, "no_file_uploaded",
                                "Please upload your file (multipart/form-data, field `file`)."))
    if found.data is None:
        raise DifyError(400, "no_file_uploaded", "Please upload your file.")
    name, data, user = found.name, found.data, found.user
    mime = sniff_image(data)
    if mime is None:
        raise _unsupported()
    who = await end_user(request, fingerprint, user)
    stored = await context.files(request).store(who.user_id, kind="image", mime=mime, data=data,
                                                name=name or f"image.{IMAGE_TYPES[mime]}")
    return web.json_response(render.upload(stored, context.file_url(request, stored)), status=201)


async def preview(request: web.Request) -> web.Response:
    """The file's bytes: for a signed link (message_files urls), or for its owner with the app key and `user`."""
    file_id = path_id(request, "file_id", "File not found.")
    files = context.files(request)
    if context.signed_link_valid(request, file_id):
        stored, data = await files.read_shared(file_id)
    else:
        who = await end_user(request, app_key(request), request.query.get("user"))
        stored, data = await files.read(who.user_id, file_id)
    as_attachment = request.query.get("as_attachment", "").lower() in ("1", "true", "yes")
    if stored.kind != "image" and not as_attachment:
        raise DifyError(400, "unsupported_preview", "This file cannot be previewed; download it with as_attachment=true.")
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; sandbox"}
    if as_attachment:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quoted(stored.name)}"
    return web.Response(body=data, content_type="application/octet-stream" if as_attachment else stored.mime,
                        headers=headers)


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


async def chat_images(request: web.Request, who: EndUser, specs: list[ChatFile]) -> list[StoredFile]:
    """The images a chat message brings, stored for the user: their uploads (local_file) and pictures fetched
    from the addresses given (remote_url, through the SSRF-safe fetcher). Checked before anything is fetched:
    how many, what type, and whether any model here can look at images."""
    if not specs:
        return []
    _upload_enabled(request)
    dify = context.dify(request)
    if len(specs) > dify.image_number_limits:
        raise DifyError(400, "invalid_param", f"At most {dify.image_number_limits} images may come with a message.")
    if any(s.type != "image" for s in specs):
        raise DifyError(400, "invalid_param", "Only image files are supported by this app.")
    if not context.services(request).catalog.has_vision():
        raise DifyError(400, "model_currently_not_support", "The model of this app cannot read images.")
    found = []
    for spec in specs:
        if spec.transfer_method == "local_file":
            found.append(await _uploaded(request, who, spec.upload_file_id))
        else:
            found.append(await _fetched(request, who, spec.url))
    return found


async def _uploaded(request: web.Request, who: EndUser, file_id: str | None) -> StoredFile:
    try:
        stored = await context.files(request).get(who.user_id, str(file_id or ""))
    except NotFound:
        raise DifyError(400, "invalid_param", f"Invalid upload file id {file_id!r}: no such file of this user.") from None
    if stored.kind != "image":
        raise DifyError(400, "invalid_param", f"The file {stored.name} is not an image.")
    return stored


async def _fetched(request: web.Request, who: EndUser, url: str | None) -> StoredFile:
    if not url:
        raise DifyError(400, "invalid_param", "url is required for a remote_url file.")
    fetcher = context.dify_services(request).image_fetcher
    allow_private = context.settings(request).allow_private_urls
    try:
        page = await fetcher.fetch(url, allow_private)
    except DomainError as e:
        if e.reason == "page_too_large":
            raise _too_large(_image_limit(request)) from None
        raise DifyError(400, "invalid_param", f"The image at url could not be used: {e.message}") from None
    mime = sniff_image(page.body)
    if mime is None:
        raise _unsupported()
    name = url.rsplit("/", 1)[-1].split("?", 1)[0][:100] or f"image.{IMAGE_TYPES[mime]}"
    return await context.files(request).store(who.user_id, kind="image", mime=mime, name=name, data=page.body,
                                              source_url=url)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/files/upload", upload)
    app.router.add_get("/files/{file_id}/preview", preview)
