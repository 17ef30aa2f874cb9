"""Errors as values a user can act on: a stable `reason`, an HTTP-like `status`, a clear message."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    reason = "invalid_request"

    def __init__(self, message: str, *, reason: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        if status:
            self.status = status


class InvalidRequest(DomainError):
    status, reason = 400, "invalid_request"


class Unauthorized(DomainError):
    status, reason = 401, "unauthorized"


class Forbidden(DomainError):
    status, reason = 403, "forbidden"


class NotFound(DomainError):
    status, reason = 404, "not_found"


class Conflict(DomainError):
    status, reason = 409, "conflict"


class QuotaExceeded(DomainError):
    status, reason = 402, "quota_exceeded"


class RateLimited(DomainError):
    status, reason = 429, "rate_limited"


class UpstreamError(DomainError):
    """The model provider (or another outside service) failed; nothing was charged."""

    status, reason = 502, "upstream_error"


class PaymentMismatch(DomainError):
    """A payment notice does not match the order (amount, currency, merchant)."""

    status, reason = 400, "payment_mismatch"
