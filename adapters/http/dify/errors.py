"""Dify's error shape for /dify/v1: {"code": "...", "message": "...", "status": N}, with Dify's own statuses and
codes (a client maps errors by them: quota is 400 provider_quota_exceeded, a model failure 400
completion_request_error, bad input 400 invalid_param)."""
from __future__ import annotations

import logging
import re
from typing import Awaitable, Callable

from aiohttp import web

from core.errors import DomainError, QuotaExceeded, Unauthorized, UpstreamError
from core.limits import TooManyAttempts

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Our stable reasons that Dify reports as 400 invalid_param (abnormal parameter input).
_INVALID_PARAM = {"invalid_request", "message_too_long", "invalid_url", "private_address", "fetch_failed",
                  "fetch_timeout", "page_too_large", "unsupported_file", "not_an_image", "invalid_input"}
# Reasons whose Dify code and status differ from ours: (status, code).
_DIFY = {
    "quota_exceeded": (400, "provider_quota_exceeded"),
    "vision_unsupported": (400, "model_currently_not_support"),
    "unknown_model": (400, "model_currently_not_support"),
    "upstream_unauthorized": (400, "provider_not_initialize"),
    "upstream_key_missing": (400, "provider_not_initialize"),
    "no_provider": (400, "provider_not_initialize"),
    "storage_exceeded": (413, "file_too_large"),
    "rate_limited": (429, "rate_limit_error"),   # our own limit (quota.rate_limit); Dify's InvokeRateLimitHttpError
}
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "request_entity_too_large", 415: "unsupported_media_type"}


def dify_status_and_code(error: DomainError) -> tuple[int, str]:
    """The status and code Dify gives the failure behind one of our errors."""
    if isinstance(error, UpstreamError) and error.reason not in _DIFY:
        return 400, "completion_request_error"  # the model call failed: Dify's InvokeError
    if isinstance(error, UpstreamError) and error.reason == "rate_limited":
        return 400, "completion_request_error"  # the provider's rate limit, not ours
    if error.reason in _DIFY:
        return _DIFY[error.reason]
    if isinstance(error, QuotaExceeded):
        return 400, "provider_quota_exceeded"
    if error.reason in _INVALID_PARAM:
        return 400, "invalid_param"
    return error.status, error.reason


class DifyError(DomainError):
    """An error already in Dify's terms (code and status as Dify's documentation gives them)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message, reason=code, status=status)


def error_body(status: int, code: str, message: str) -> dict:
    return {"code": code, "message": message, "status": status}


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> web.Response:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return web.json_response(error_body(status, code, message), status=status, headers=headers or None)


def domain_error_body(error: DomainError) -> dict:
    if isinstance(error, DifyError):
        return error_body(error.status, error.reason, error.message)
    status, code = dify_status_and_code(error)
    return error_body(status, code, error.message)


@web.middleware
async def dify_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        try:
            return await handler(request)
        except Unauthorized:
            # Guessing app keys counts against the client address like any other credential (core/limits.py):
            # 429 after 10 failures a minute on all workers together.
            from adapters.http.auth import client_bucket, failure_limiter

            await failure_limiter(request).fail("credentials:" + client_bucket(request))
            raise
    except TooManyAttempts as e:
        return error_response(429, "rate_limit_error", e.message, {"Retry-After": str(e.retry_after)})
    except DomainError as e:
        body = domain_error_body(e)
        return error_response(body["status"], body["code"], body["message"])
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status) or re.sub(r"[^a-z]+", "_", e.reason.lower()).strip("_")
        message = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        return error_response(e.status, code, message)  # a 405's Allow: adapters/http/cors.py adds it
    except Exception:
        log.exception("unhandled error in the Dify API")
        return error_response(500, "internal_server_error", "Internal Server Error, please contact support.")
