"""customer_service mode's delivery: push answers with the customer-service API, keep what WeChat refuses."""
from __future__ import annotations

import logging

from adapters.storage.wechat_outbox import TortoiseWeChatOutbox
from adapters.wechat.api import WINDOW_CLOSED, WeChatApi, WeChatApiError
from adapters.wechat.split import TEXT_LIMIT_BYTES, split_utf8

log = logging.getLogger(__name__)


class CustomerServiceDelivery:
    """Nothing is dropped: a part WeChat refuses (45015, the 48-hour window, or any other failure) and
    everything after it is parked in the outbox and sent first when the user next writes."""

    def __init__(self, api: WeChatApi, outbox: TortoiseWeChatOutbox, park_bytes: int):
        self._api = api
        self._outbox = outbox
        self._park_bytes = park_bytes

    async def flush(self, openid: str) -> bool:
        """Send what the user is owed, oldest first; True when nothing is left."""
        for part in await self._outbox.pending(openid):
            try:
                await self._api.send_text(openid, part.text)
            except WeChatApiError as e:
                _log_refusal(openid, e, "a parked answer")
                return False
            await self._outbox.remove(part.id)
        return True

    async def push(self, openid: str, msg_key: str | None, text: str, *, owed_before: bool = False) -> bool:
        """Send `text` split on the byte limit; True when all of it was delivered. With `owed_before`
        (earlier answers still parked) it is parked behind them, so the user reads answers in order."""
        if not text:
            return True
        parts = split_utf8(text, TEXT_LIMIT_BYTES)
        for n, part in enumerate(parts):
            if not owed_before:
                try:
                    await self._api.send_text(openid, part)
                    continue
                except WeChatApiError as e:
                    _log_refusal(openid, e, "an answer")
            await self._outbox.park(openid, msg_key, split_utf8("".join(parts[n:]), self._park_bytes))
            return False
        return True


def _log_refusal(openid: str, error: WeChatApiError, what: str) -> None:
    if error.errcode == WINDOW_CLOSED:
        log.info("WeChat user %s is outside the 48-hour window; %s is kept for their next message", openid, what)
    else:
        log.warning("sending %s to WeChat user %s failed (%s); it is kept for their next message",
                    what, openid, error.message)
