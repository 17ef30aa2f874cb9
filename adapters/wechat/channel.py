"""WeChatChannel: one verified callback in, the HTTP answer out; answers made in order per user (on any worker)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable

from adapters.storage.wechat_inbox import TortoiseWeChatInbox
from adapters.storage.wechat_outbox import TortoiseWeChatOutbox
from adapters.wechat.api import WeChatApi
from adapters.wechat.codec import Callback, WeChatCodec
from adapters.wechat.delivery import CustomerServiceDelivery
from adapters.wechat.inbox import WeChatInbox
from adapters.wechat.media import WeChatMedia
from adapters.wechat.marks import MessageMarks
from adapters.wechat.responder import CHANNEL, WECHAT_LOCALE, WeChatResponder
from adapters.wechat.settings import WeChatSettings
from adapters.wechat.split import TEXT_LIMIT_BYTES
from adapters.wechat.window import ATTEMPTS, PassiveNotes, WeChatReplyWindow
from core.commands import CommandService
from core.domain import Identity, Order
from core.i18n import Text, Texts

if TYPE_CHECKING:
    from adapters.coordination.ports import Coordination
    from core.accounts import AccountService
    from core.chat import ChatEngine
    from core.login import QrLoginService
    from core.menu import WeChatMenu
    from core.ports import EphemeralStore

log = logging.getLogger(__name__)

ACK = "success"                 # WeChat's "received, nothing to say" answer


@dataclass(frozen=True)
class WeChatServices:
    """The core services the channel calls (and the coordination its users' turns share); built by
    bot/wechat_wiring.py."""

    engine: ChatEngine
    accounts: AccountService
    qr_login: QrLoginService
    commands: CommandService
    texts: Texts
    ephemeral: EphemeralStore
    coordination: Coordination
    menu: WeChatMenu            # the CLICK keys, read on every click (an operator's change applies at once)


class WeChatChannel:
    def __init__(self, settings: WeChatSettings, services: WeChatServices, codec: WeChatCodec, api: WeChatApi,
                 outbox: TortoiseWeChatOutbox, inbox: TortoiseWeChatInbox, media: WeChatMedia | None = None):
        cfg = settings.channel
        self._grace_seconds = settings.shutdown_grace_seconds
        self._accounts = services.accounts
        self._coordination = services.coordination
        self.qr_login = services.qr_login    # the QR sign-in route opens its scenes here (adapters/wechat/login.py)
        self._texts = texts = services.texts
        commands = services.commands
        self.codec = codec
        self.api = api
        self.outbox = outbox
        self.passive = cfg.reply_mode == "passive"
        self._responder = WeChatResponder(engine=services.engine, accounts=services.accounts,
                                          qr_login=services.qr_login, commands=commands, texts=texts,
                                          choices=services.ephemeral, menu=services.menu, aliases=cfg.aliases,
                                          welcome=cfg.welcome, sources_prefix=cfg.sources_prefix,
                                          pay_page=settings.pay_page, media=media)
        self.media = media
        # One answer at a time per user, across workers (the lease outlives no crashed worker by long), or in memory.
        self._locks = services.coordination.locks(lease_seconds=cfg.answer_lease_seconds)
        self.marks = MessageMarks(services.ephemeral, cfg.app_id, ATTEMPTS)
        self._tasks: set[asyncio.Task] = set()
        self._last_active = float("-inf")
        self._quiet: set[asyncio.Task] = set()      # the start-up sweep: not activity that needs sweeps after it
        self.window = WeChatReplyWindow(
            outbox=outbox, marks=self.marks, spawn=self._spawn, produce=self._produce,
            window_seconds=cfg.passive_window_seconds, callback_timeout_seconds=cfg.callback_timeout_seconds,
            notes=PassiveNotes(texts, self._locale_of, cfg.pending_text, cfg.more_text), reply_bytes=TEXT_LIMIT_BYTES)
        self.delivery = CustomerServiceDelivery(api, outbox, self.window.part_bytes)
        self.inbox = WeChatInbox(inbox, answer=self._answer, spawn=self._spawn,
                                 user_turn=lambda openid: self._locks.hold(_lock_key(openid)))

    async def _locale_of(self, openid: str) -> str:
        """The language of the WeChat user behind `openid`: their /lang choice, else WeChat's (zh)."""
        user = await self._accounts.find(Identity(CHANNEL, openid))
        return self._texts.locale_for(user.locale if user is not None else None, WECHAT_LOCALE)

    async def handle(self, cb: Callback) -> str:
        """The HTTP answer for one verified callback: "success", "", or a passive reply XML."""
        if self.passive:
            text = await self.window.answer(cb)
            return self.codec.render_text(cb, text) if text else ACK
        # The acknowledgement never waits for the database: the background task's first step records the
        # message (a MsgId seen before is skipped there). Only a crash within those milliseconds loses it.
        self._spawn(self.inbox.serve_if_new(cb))
        return ACK

    # --- customer_service mode ---

    def start_sweeping(self, periodic) -> None:
        """Renew this worker's leases and answer messages a stopped worker left: now, then every lease/3."""
        if not self.passive:
            self._spawn(self._first_sweep(), activity=False)
            lease = self.inbox.repo.lease.total_seconds()
            periodic.every(lease / 3, self.inbox.sweep, "answer WeChat messages left by a stopped worker",
                           when=lambda: self._coordination.shared or self.active_within(2 * lease))

    async def _first_sweep(self) -> None:
        await self.inbox.sweep()
        if await self.inbox.repo.unfinished():
            # A stopped run's messages may still be under its lease: sweep on until they are claimed here.
            self._last_active = asyncio.get_running_loop().time()

    async def _answer(self, cb: Callback) -> None:
        """Make and push one answer; the caller holds the user's turn. Answers start as the loop has room
        (ReplySlots), so acknowledgements are never queued behind all of them."""
        async with self._coordination.slots.slot():
            owed = [not await self.delivery.flush(cb.openid)]

            async def say(note: str) -> None:   # "🎤 I heard: ..." before the answer, in order behind what is owed
                owed[0] = not await self.delivery.push(cb.openid, cb.msg_key, note, owed_before=owed[0])

            text = await self._responder.respond(cb, say)
            await self.delivery.push(cb.openid, cb.msg_key, text, owed_before=owed[0])

    async def notify_paid(self, order: Order) -> None:
        """OrderService paid listener: tell the buyer on WeChat (customer_service mode only)."""
        if self.passive:
            return
        user = await self._accounts.get(order.user_id)
        text = self._texts.render(Text.of("payment.received", product=order.product_name, tokens=order.tokens,
                                          balance=user.balance), self._texts.locale_for(user.locale, WECHAT_LOCALE))
        for identity in user.identities:
            if identity.channel == "wechat":
                self._spawn(self._notify(identity.external_id, text))

    async def _notify(self, openid: str, text: str) -> None:
        async with self._locks.hold(_lock_key(openid)):
            owed_before = not await self.delivery.flush(openid)
            await self.delivery.push(openid, None, text, owed_before=owed_before)

    # --- shared ---

    async def _produce(self, cb: Callback) -> str:
        async with self._locks.hold(_lock_key(cb.openid)):
            return await self._responder.respond(cb)

    def active_within(self, seconds: float) -> bool:
        """Answers are in progress here, or were in the last `seconds` (one worker alone has nothing else to
        sweep: what an earlier run left is swept at start)."""
        return bool(self._tasks) or asyncio.get_running_loop().time() - self._last_active < seconds

    def in_progress(self) -> int:
        """Answers being made or delivered by this worker (the `wechat_answers` queue depth)."""
        return len(self._tasks)

    def _spawn(self, work: Awaitable[None], activity: bool = True) -> None:
        task = asyncio.ensure_future(work)
        if activity:
            self._last_active = asyncio.get_running_loop().time()
        else:
            self._quiet.add(task)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        if task in self._quiet:
            self._quiet.discard(task)
        else:
            self._last_active = asyncio.get_running_loop().time()
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("WeChat background work failed", exc_info=task.exception())

    async def drain(self, grace_seconds: float) -> None:
        """Let answers in progress finish (shutdown); after `grace_seconds` the rest are cancelled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_seconds
        while self._tasks:
            log.info("waiting for %d WeChat answer(s) in progress", len(self._tasks))
            _, pending = await asyncio.wait(list(self._tasks), timeout=max(0.0, deadline - loop.time()))
            if pending and loop.time() >= deadline:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                log.warning("%d WeChat answer(s) were cut short by shutdown", len(pending))

    async def close(self) -> None:
        await self.drain(self._grace_seconds)
        await self.api.close()


def _lock_key(openid: str) -> str:
    return f"wechat-user:{openid}"
