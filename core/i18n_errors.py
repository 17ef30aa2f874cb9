"""The text a user reads for an error: one catalogue key per DomainError reason (core/errors.py)."""
from __future__ import annotations

from core.errors import DomainError
from core.i18n import Text
from core.limits import TooManyAttempts

# Reasons whose key is `error.<reason>`; any other reason of a 4xx reads as invalid_request, of a 5xx as failed.
KNOWN_REASONS = frozenset({
    "quota_exceeded", "upstream_error", "message_too_long", "invalid_request", "not_found", "unknown_model",
    "invalid_code", "invalid_state", "rate_limited", "unsupported_payment_method", "payment_mismatch",
    "refund_failed", "forbidden", "user_blocked", "unauthorized", "conflict", "pending", "invalid_qrcode",
})


# Reasons whose text names the model provider (the error's `provider`): a user's own key failed.
PROVIDER_REASONS = frozenset({"own_key_rejected", "own_key_missing"})


def error_text(error: DomainError) -> Text:
    if isinstance(error, TooManyAttempts):     # failed sign-in attempts (not the message rate): say how long to wait
        return Text.of("error.too_many_attempts", seconds=error.retry_after)
    if error.reason in PROVIDER_REASONS:
        return Text.of(f"error.{error.reason}", provider=getattr(error, "provider", "") or "?")
    if error.reason in KNOWN_REASONS:
        return Text.of(f"error.{error.reason}")
    if error.status >= 500:
        return Text.of("error.upstream_error" if error.status == 502 else "error.failed")
    return Text.of("error.invalid_request")


FAILED = Text.of("error.failed")
