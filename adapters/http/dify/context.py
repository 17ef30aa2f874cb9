"""What every /dify/v1 handler reaches: the app's config, the services, prices, stored inputs and file links."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from aiohttp import web

from adapters.http.dify.render import Pricing
from bot.config_dify import DifyConfig
from core.errors import InvalidRequest
from core.files import AttachmentService, StoredFile

INPUTS = "dify_conversation_inputs"   # services.extras key
LINK_SECONDS = 300                    # how long a signed file link opens the file (Dify's FILES_ACCESS_TIMEOUT)


def services(request: web.Request):
    from bot.app import SERVICES

    return request.config_dict[SERVICES]


def config(request: web.Request):
    from bot.app import CONFIG

    return request.config_dict[CONFIG]


def dify(request: web.Request) -> DifyConfig:
    return config(request).dify


def files(request: web.Request) -> AttachmentService:
    found = services(request).files
    assert found is not None, "the services were built without a file store"
    return found


def inputs_store(request: web.Request):
    """adapters.storage.chat_app.TortoiseConversationInputs, put in the services at start-up."""
    return services(request).extras[INPUTS]


def pricing(request: web.Request) -> Pricing:
    catalog = services(request).catalog

    def weights(model: str | None) -> tuple[float, float]:
        try:
            spec = catalog.get(model) if model else catalog.get(None)
        except InvalidRequest:  # a model since removed from the config: no price known
            return 0.0, 0.0
        return spec.input_weight, spec.output_weight

    return Pricing(dify(request).price_per_1k_tokens, dify(request).currency, weights)


def _signature(secret: str, file_id: str, timestamp: str, nonce: str) -> str:
    return hmac.new(secret.encode(), f"file-preview|{file_id}|{timestamp}|{nonce}".encode(), hashlib.sha256).hexdigest()


def file_url(request: web.Request, file: StoredFile) -> str:
    """A link to the file's preview that opens it without the app key for LINK_SECONDS (signed with
    security.token_secret), so a browser can show it in an <img>; unsigned when no secret is set."""
    base = f"{config(request).server.public_url.rstrip('/')}/dify/v1/files/{file.id}/preview"
    secret = config(request).security.token_secret
    if not secret:
        return base
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    return f"{base}?timestamp={timestamp}&nonce={nonce}&sign={_signature(secret, file.id, timestamp, nonce)}"


def signed_link_valid(request: web.Request, file_id: str) -> bool:
    q = request.query
    secret = config(request).security.token_secret
    timestamp, nonce, sign = q.get("timestamp", ""), q.get("nonce", ""), q.get("sign", "")
    if not (secret and timestamp.isdigit() and nonce and sign):
        return False
    if abs(time.time() - int(timestamp)) > LINK_SECONDS:
        return False
    return hmac.compare_digest(sign, _signature(secret, file_id, timestamp, nonce))
