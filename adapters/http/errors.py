"""The HTTP error shape: every error answers {correlationId, error: {code, reason, message}}."""
from __future__ import annotations

import json
import logging
import uuid
from typing import Awaitable, Callable

from aiohttp import web
from tortoise.exceptions import ValidationError

from core.errors import DomainError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CORRELATION_ID = web.RequestKey("correlation_id", str)

_HTTP_REASONS = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
                 429: "rate_limited", 502: "upstream_error"}


def correlation_id(request: web.Request) -> str:
    cid = request.get(CORRELATION_ID)
    if cid is None:
        cid = request.headers.get("X-Request-Id", "")[:100] or uuid.uuid4().hex
        request[CORRELATION_ID] = cid
    return cid


def error_body(cid: str, status: int, reason: str, message: str) -> dict:
    return {"correlationId": cid, "error": {"code": status, "reason": reason, "message": message}}


def error_response(request: web.Request, status: int, reason: str, message: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=json.dumps(error_body(correlation_id(request), status, reason, message)),
                        content_type="application/json", headers={"X-Request-Id": correlation_id(request), **headers})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    cid = correlation_id(request)
    try:
        response = await handler(request)
    except DomainError as e:
        retry_after = getattr(e, "retry_after", None)  # a limit says how long to wait
        extra = {"Retry-After": str(retry_after)} if retry_after else {}
        return error_response(request, e.status, e.reason, e.message, **extra)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        reason = _HTTP_REASONS.get(e.status, "http_error")
        message = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        return error_response(request, e.status, reason, message)
    except ValidationError as e:
        # A value the database cannot hold (longer than its column): the caller's input, not our fault.
        log.warning("refused a value the database cannot hold (correlationId %s): %s", cid, e)
        return error_response(request, 400, "invalid_request", "A value in the request is too long or malformed.")
    except Exception:
        log.exception("unhandled error (correlationId %s)", cid)
        return error_response(request, 500, "internal_error", "Something went wrong on our side; it has been logged.")
    if not response.prepared:
        response.headers.setdefault("X-Request-Id", cid)
    return response
