"""Dify's error shape for /dify/v1: {"code": "...", "message": "...", "status": N}, whatever goes wrong."""
from __future__ import annotations

import logging
import re
from typing import Awaitable, Callable

from aiohttp import web

from core.errors import DomainError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Our stable reasons, renamed where Dify has its own code for the same thing.
_DIFY_CODES = {"invalid_request": "invalid_param", "message_too_long": "invalid_param",
               "upstream_error": "completion_request_error", "rate_limited": "too_many_requests"}
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "request_entity_too_large", 415: "unsupported_media_type"}


def dify_code(reason: str) -> str:
    return _DIFY_CODES.get(reason, reason)


def error_body(status: int, code: str, message: str) -> dict:
    return {"code": code, "message": message, "status": status}


def error_response(status: int, code: str, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else None
    return web.json_response(error_body(status, code, message), status=status, headers=headers)


def domain_error_body(error: DomainError) -> dict:
    return error_body(error.status, dify_code(error.reason), error.message)


@web.middleware
async def dify_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as e:
        return error_response(e.status, dify_code(e.reason), e.message)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status) or re.sub(r"[^a-z]+", "_", e.reason.lower()).strip("_")
        message = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        return error_response(e.status, code, message)
    except Exception:
        log.exception("unhandled error in the Dify API")
        return error_response(500, "internal_server_error", "Internal Server Error, please contact support.")
