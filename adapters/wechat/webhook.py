"""GET/POST /webhooks/wechat: WeChat's URL check and its message callbacks."""
from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from adapters.wechat.channel import WeChatChannel
from adapters.wechat.codec import MAX_BODY_BYTES
from adapters.wechat.marks import SeenQueries
from core.errors import Forbidden, InvalidRequest

# What the GET check's query is remembered with: no POST body (always XML) can equal it.
HANDSHAKE = b"\0handshake"


@dataclass
class ChannelSlot:
    """Holds the channel and its replay guard once the services exist (the routes are added before they do)."""

    channel: WeChatChannel | None = None
    seen_queries: SeenQueries | None = None

    def up(self) -> bool:
        """Built and taking callbacks (the console's health page)."""
        return self.channel is not None


WECHAT = web.AppKey("wechat", ChannelSlot)


def channel_of(request: web.Request) -> WeChatChannel:
    channel = request.config_dict[WECHAT].channel
    assert channel is not None, "the services hook has not run"
    return channel


def seen_queries_of(request: web.Request) -> SeenQueries:
    queries = request.config_dict[WECHAT].seen_queries
    assert queries is not None, "the services hook has not run"
    return queries


async def handshake(request: web.Request) -> web.Response:
    echostr = channel_of(request).codec.handshake(request.query)
    # The check's signature is a callback's signature too: remembered, so it cannot be reused for a POST.
    await _admit(request, HANDSHAKE)
    return web.Response(text=echostr, content_type="text/plain")


async def callback(request: web.Request) -> web.Response:
    channel = channel_of(request)
    channel.codec.check_query(request.query)  # refuse forged calls before reading anything
    body = await _read_limited(request)
    cb = channel.codec.decode(request.query, body)
    # Only a verified callback is remembered: forged or broken ones never use up a query.
    await _admit(request, body)
    answer = await channel.handle(cb)
    content_type = "application/xml" if answer.startswith("<") else "text/plain"
    return web.Response(text=answer, content_type=content_type)


async def _admit(request: web.Request, body: bytes) -> None:
    if not await seen_queries_of(request).admit(request.query, body):
        raise Forbidden("This signed query was already used with another body.", reason="replayed_request")


async def _read_limited(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise InvalidRequest("The callback body is too large.", reason="payload_too_large")
    body = bytearray()
    async for chunk in request.content.iter_chunked(16384):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise InvalidRequest("The callback body is too large.", reason="payload_too_large")
    return bytes(body)
