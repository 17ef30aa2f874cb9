"""What every /dify/v1 handler reaches: the app's settings, the services, prices, stored inputs and file links."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from adapters.http.dify.render import Pricing
from adapters.http.dify.settings import DifyConfig
from adapters.http.dify.tasks import ReplyTasks
from adapters.http.keys import HttpServices, HttpSettings, services_of, settings_of
from adapters.retrieval.fetcher import PageFetcher
from adapters.storage.chat_app import TortoiseConversationInputs as ConversationInputs
from core.chat_app import ChatAppService
from core.errors import InvalidRequest
from core.files import AttachmentService, StoredFile
from core.media import MediaService
from core.titles import SuggestionWriter

LINK_SECONDS = 300                    # how long a signed file link opens the file (Dify's FILES_ACCESS_TIMEOUT)


@dataclass(frozen=True)
class DifySettings:
    """The `dify:` section and the two values from elsewhere in config.yaml that the sub-app reads."""

    app: DifyConfig
    speech: bool               # llm.speech is set: /audio-to-text transcribes
    allow_private_urls: bool   # rag.allow_private_urls: remote_url images may be fetched from private addresses


@dataclass(frozen=True)
class DifyServices:
    """What only the Dify sub-app calls, built by bot/http_wiring.py."""

    chat_app: ChatAppService
    suggestions: SuggestionWriter
    inputs: ConversationInputs
    image_fetcher: PageFetcher   # remote_url images, through the knowledge base's SSRF-safe fetcher
    tasks: ReplyTasks


SETTINGS = web.AppKey("dify_settings", DifySettings)
SERVICES = web.AppKey("dify_services", DifyServices)


def services(request: web.Request) -> HttpServices:
    return services_of(request)


def dify_services(request: web.Request) -> DifyServices:
    return request.config_dict[SERVICES]


def http_settings(request: web.Request) -> HttpSettings:
    return settings_of(request)


def settings(request: web.Request) -> DifySettings:
    return request.config_dict[SETTINGS]


def dify(request: web.Request) -> DifyConfig:
    return settings(request).app


def media(request: web.Request) -> MediaService:
    found = services(request).media
    assert found is not None, "the services were built without the media service"
    return found


def files(request: web.Request) -> AttachmentService:
    found = services(request).files
    assert found is not None, "the services were built without a file store"
    return found


def inputs_store(request: web.Request) -> ConversationInputs:
    return dify_services(request).inputs


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
    base = f"{http_settings(request).public_url.rstrip('/')}/dify/v1/files/{file.id}/preview"
    secret = http_settings(request).token_secret
    if not secret:
        return base
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    return f"{base}?timestamp={timestamp}&nonce={nonce}&sign={_signature(secret, file.id, timestamp, nonce)}"


def signed_link_valid(request: web.Request, file_id: str) -> bool:
    q = request.query
    secret = http_settings(request).token_secret
    timestamp, nonce, sign = q.get("timestamp", ""), q.get("nonce", ""), q.get("sign", "")
    if not (secret and timestamp.isdigit() and nonce and sign):
        return False
    if abs(time.time() - int(timestamp)) > LINK_SECONDS:
        return False
    return hmac.compare_digest(sign, _signature(secret, file_id, timestamp, nonce))
