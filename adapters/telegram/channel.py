"""TelegramChannel: the PTB Application inside our app; one entry point (feed_update) for webhook and polling."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import BotCommand, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes

from adapters.storage.urgency import urgent
from adapters.telegram.admins import GroupAdmins
from adapters.telegram.answerer import Answerer
from adapters.telegram.callbacks import Buttons
from adapters.telegram.commands import TELEGRAM_MENU, TELEGRAM_PAYMENTS, CommandRunner, TelegramMessages
from adapters.telegram.lanes import ChatLanes
from adapters.telegram.sender import TelegramSender, retry_seconds
from adapters.telegram.speaker import Speaker
from adapters.telegram.stars import StarsCheckout, StarsProvider, paid_listener
from adapters.telegram.transport import AiohttpBotRequest
from adapters.telegram.settings import TelegramSettings
from adapters.telegram.users import TelegramUsers
from core.commands import CommandService
from core.commands_text import command_menu
from core.i18n import Texts
from core.i18n_errors import FAILED

if TYPE_CHECKING:
    from adapters.coordination.ports import Coordination
    from core.accounts import AccountService
    from core.catalog import ModelCatalog
    from core.chat_modes import ChatModes
    from core.chat import ChatEngine
    from core.conversations import ConversationService
    from core.media import MediaService
    from core.orders import OrderService
    from core.ports import EphemeralStore

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query"]
SEEN_TTL = 86400


def file_url(api_base_url: str) -> str:
    """Telegram serves files under /file/bot<token>/ beside /bot<token>/."""
    base = api_base_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"


def unusable(update: Update) -> str | None:
    """Why an update cannot be served, or None. Messages and button presses need a chat and a sender."""
    message = update.message or update.edited_message
    if message is not None and (message.chat is None or message.from_user is None):
        return "a message without its chat or sender"
    query = update.callback_query
    if query is not None and (query.from_user is None or (query.message is not None and query.message.chat is None)):
        return "a button press without its chat or sender"
    payment = update.pre_checkout_query
    if payment is not None and payment.from_user is None:
        return "a pre-checkout query without its sender"
    return None


@dataclass(frozen=True)
class TelegramServices:
    """The core services the channel calls (and the coordination its chats share); built by bot/telegram_wiring.py."""

    accounts: AccountService
    conversations: ConversationService
    engine: ChatEngine
    orders: OrderService
    catalog: ModelCatalog
    ephemeral: EphemeralStore
    coordination: Coordination
    commands: CommandService
    texts: Texts
    media: MediaService | None = None   # photos, voice and documents; None when media handling is off
    chat_modes: ChatModes | None = None  # a group's /mode (answer every message or only mentions)


class TelegramChannel:
    def __init__(self, settings: TelegramSettings, services: TelegramServices):
        tg = self._tg = settings.channel
        self._settings = settings
        self._ephemeral = services.ephemeral
        self._commands = commands = services.commands
        self._texts = texts = services.texts
        # Bot API calls over aiohttp with JSON bodies (transport.py); getUpdates on a connection of its own.
        self.application = (Application.builder().token(tg.token).base_url(tg.api_base_url)
                            .base_file_url(file_url(tg.api_base_url)).updater(None)
                            .request(AiohttpBotRequest()).get_updates_request(AiohttpBotRequest(pool_size=1))
                            .build())
        self.bot = self.application.bot
        # Flood-control pauses, edit pacing, per-chat order and /cancel: shared by every worker through Redis, or
        # in memory with one worker.
        sender = TelegramSender(self.bot, pacing=services.coordination.pacing())
        users = TelegramUsers(services.accounts, texts)
        self._speaker = speaker = Speaker(sender, users, texts)
        self._answerer = Answerer(services.engine, users, sender, texts, tg.edit_interval_private,
                                  tg.edit_interval_group, media=services.media)
        self.lanes = ChatLanes(self._answerer, services.coordination)
        stars_token = settings.stars_token
        checkout = StarsCheckout(services.orders, services.accounts, services.ephemeral, users, speaker, texts,
                                 stars_token)
        admins = GroupAdmins(self.bot, tg.admin_cache_seconds) if tg.group_commands == "admins" else None
        runner = CommandRunner(commands, texts, users, speaker, self.lanes, checkout, self.bot, admins)
        self.stars_provider = StarsProvider(sender, services.accounts, texts, stars_token)
        self.notify_paid = paid_listener(services.accounts, sender, texts)
        self.application.add_handlers([*self._media_handlers(services, users, speaker),
                                       *TelegramMessages(runner, speaker, self.lanes, self.bot,
                                                         services.chat_modes).handlers(),
                                       *checkout.handlers(),
                                       Buttons(runner, services.conversations, users, sender, texts).handler()])
        self.application.add_error_handler(self._on_error)
        self.accepting = False
        self.ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._offset: int | None = None
        self._fetching = False

    def _media_handlers(self, services: TelegramServices, users: TelegramUsers, speaker: Speaker) -> list:
        """Photos, voice and documents (adapters/telegram/media.py), before the answer that only text is read."""
        from adapters.telegram.media import TelegramMedia

        media = services.media
        if media is None:
            return []
        return TelegramMedia(media, services.catalog, services.conversations, users, speaker, self.lanes,
                             self._texts).handlers()

    @property
    def webhook_url(self) -> str:
        return self._settings.public_url.rstrip("/") + WEBHOOK_PATH

    async def feed_update(self, update: Update) -> None:
        """Handle one update, whichever way it came. An update seen before (a webhook retry, a poll repeated
        after a restart) is skipped. One Telegram never sends (a message without its chat or sender) is
        ignored: nothing can be answered or billed."""
        problem = unusable(update)
        if problem:
            log.info("Telegram update %s ignored: %s", update.update_id, problem)
            return
        with urgent():   # the webhook's answer waits for this one statement: no turn for queued work first
            new = await self._ephemeral.add("telegram_update", f"{self.bot.id}:{update.update_id}", "1",
                                                     SEEN_TTL)
        if not new:
            log.info("Telegram update %s seen before; skipped", update.update_id)
            return
        await self.application.process_update(update)

    def parse(self, data: dict) -> Update:
        """An update as Telegram sends it (JSON) to PTB's Update, bound to our bot."""
        return Update.de_json(data, self.bot)

    # --- lifecycle ---

    async def start(self) -> None:
        """Connect in the background: the server starts even while Telegram is unreachable."""
        # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
        httpx_log = logging.getLogger("httpx")
        if httpx_log.getEffectiveLevel() < logging.WARNING:
            httpx_log.setLevel(logging.WARNING)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="telegram-channel")

    async def stop(self) -> None:
        self.accepting = False
        if self._task is not None:
            # Stop a long poll at once, but let an update being handled finish (its offset is then confirmed).
            if self._fetching or not self.ready.is_set():
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.lanes.close(self._settings.shutdown_grace_seconds)
        if self._offset is not None:
            try:  # confirm what was handled, so a restart does not fetch it again
                await self.bot.get_updates(offset=self._offset, timeout=0, read_timeout=2)
            except TelegramError as e:
                log.debug("confirming the update offset failed: %s", e)
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def _run(self) -> None:
        if not await self._connect():
            return
        await self._announce()
        self.accepting = True
        self.ready.set()
        if self._tg.mode == "polling":
            await self._poll()

    async def _connect(self) -> bool:
        delay = 1.0
        while True:
            try:
                await self.application.initialize()
                await self.application.start()
                log.info("Telegram channel connected as @%s (%s mode)", self.bot.username,
                         self._tg.mode)
                return True
            except InvalidToken:
                log.error("Telegram rejected channels.telegram.token; the Telegram channel is off until it is fixed")
                return False
            except TelegramError as e:
                log.warning("cannot reach Telegram (%s); retrying in %.0fs", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)

    async def _announce(self) -> None:
        """Register the command menu in each language, and the webhook (or remove it, so getUpdates may be used)."""
        menu = self._commands.listed(TELEGRAM_MENU, TELEGRAM_PAYMENTS)
        # One menu per language Telegram apps are set to; the one without language_code (set last) for the rest.
        for language in (*self._texts.locales, None):
            locale = language or self._texts.default_locale
            try:
                await self.bot.set_my_commands([BotCommand(name, about) for name, about in
                                                command_menu(self._texts, locale, menu)], language_code=language)
            except TelegramError as e:
                log.warning("setMyCommands (%s) failed: %s", language or "default", e)
        tg = self._tg
        try:
            if tg.mode == "webhook":
                await self.bot.set_webhook(self.webhook_url, secret_token=tg.webhook_secret,
                                           allowed_updates=ALLOWED_UPDATES,
                                           max_connections=tg.webhook_max_connections)
            else:
                await self.bot.delete_webhook()
        except TelegramError as e:
            log.error("setting up Telegram %s mode failed: %s", tg.mode, e)

    async def _poll(self) -> None:
        timeout = self._tg.poll_timeout
        delay = 1.0
        while self.accepting:
            try:
                self._fetching = True
                updates = await self.bot.get_updates(offset=self._offset, timeout=timeout,
                                                     allowed_updates=ALLOWED_UPDATES)
                delay = 1.0
            except RetryAfter as e:
                await asyncio.sleep(retry_seconds(e))
                continue
            except InvalidToken:
                log.error("Telegram rejected channels.telegram.token; polling stopped")
                return
            except TelegramError as e:
                level = logging.ERROR if isinstance(e, Conflict) else logging.WARNING
                log.log(level, "getUpdates failed (%s); retrying in %.0fs", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
                continue
            finally:
                self._fetching = False
            for update in updates:
                if not self.accepting:
                    return  # the rest is fetched again after a restart
                try:
                    await self.feed_update(update)
                except Exception:
                    log.exception("handling Telegram update %s failed", update.update_id)
                self._offset = update.update_id + 1

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A handler failed: the traceback goes to the log, a short apology to the user (in their language)."""
        log.error("Telegram update failed", exc_info=context.error)
        if not isinstance(update, Update):
            return
        try:
            sorry = self._texts.render(FAILED, await self._speaker.locale_of(update))
        except Exception:  # the store itself may be what failed
            sorry = self._texts.render(FAILED, self._texts.default_locale)
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(sorry)
            elif update.pre_checkout_query is not None:
                await update.pre_checkout_query.answer(ok=False, error_message=sorry)
            elif update.effective_chat is not None:
                await self._speaker.say(update, sorry)
        except TelegramError:
            pass
