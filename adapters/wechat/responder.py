"""What to answer one WeChat callback: events, commands (the command layer) and chat (the engine, read whole with
collect_reply), as plain text in the user's language (Chinese unless they chose otherwise; delivery is elsewhere)."""
from __future__ import annotations

import json
import logging
import time
from typing import Callable, Mapping

from adapters.wechat.codec import Callback
from adapters.wechat.media import Notes, Say, WeChatMedia
from adapters.wechat.payment_prompt import payment_prompt
from core import media_errors
from core.accounts import AccountService
from core.chat import ChatEngine
from core.commands import CommandService
from core.commands_account import login_prompt
from core.commands_results import WECHAT_NATIVE, WECHAT_PAY_PAGE, CommandContext, CommandResult
from core.commands_text import as_plain_text
from core.domain import Identity, ImagePart, InboundMessage, User
from core.errors import DomainError
from core.i18n import Text, Texts
from core.i18n_errors import FAILED, error_text
from core.knowledge import sources_line
from core.login import QrLoginService
from core.menu import WeChatMenu
from core.ports import EphemeralStore
from core.reply_stream import ReplyFailed, collect_reply

log = logging.getLogger(__name__)

CHANNEL = "wechat"
WECHAT_LOCALE = "zh"            # the platform's hint: WeChat users read Chinese unless they chose with /lang
LOGIN_SCENE_PREFIX = "login_"
# What /help lists here (no /cancel: an answer is sent whole); /buy and /paid only while WeChat Pay is on.
WECHAT_MENU = ("help", "new", "role", "roles", "balance", "buy", "paid", "link", "lang", "web", "model")
CHOICES = "wechat-choices"      # the last numbered list a user was shown: a reply "2" picks its second entry
CHOICES_TTL = 300


def chat_key_of(openid: str) -> str:
    return f"wechat:{openid}"


class WeChatResponder:
    def __init__(self, *, engine: ChatEngine, accounts: AccountService, qr_login: QrLoginService,
                 commands: CommandService, texts: Texts, choices: EphemeralStore, menu: WeChatMenu,
                 aliases: Mapping[str, str], welcome: str = "", sources_prefix: str = "",
                 pay_page: Callable[[str], str] | None = None, media: WeChatMedia | None = None):
        self._engine = engine
        self._media = media     # images, voice without Recognition, links (adapters/wechat/media.py)
        # An order's absolute pay page link (server.public_url + /web/pay/ID) when WeChat Pay is on: a phone cannot
        # scan a weixin:// code shown on its own screen, but it can open a link inside WeChat and pay there (JSAPI).
        self._pay_page = pay_page
        self._accounts = accounts
        self._qr_login = qr_login
        self._commands = commands
        self._texts = texts
        self._choices = choices
        self._menu = menu
        self._aliases = aliases
        self._welcome = welcome
        self._sources_prefix = sources_prefix

    async def respond(self, cb: Callback, say: Say | None = None) -> str:
        """The text to send back ("" for nothing). Never raises for a user's mistake or the model's failure.
        `say` pushes a note before the answer (customer-service mode); without it notes join the reply."""
        locale = self._texts.locale_for(None, WECHAT_LOCALE)
        try:
            return await self._respond(cb, Notes(say))
        except DomainError as e:
            return self._texts.render(error_text(e), locale)
        except Exception:
            log.exception("answering WeChat %s %s failed", cb.kind, cb.msg_key)
            return self._texts.render(FAILED, locale)

    async def _who(self, openid: str) -> tuple[User, str]:
        user = await self._accounts.ensure_user(Identity(CHANNEL, openid))
        return user, self._texts.locale_for(user.locale, WECHAT_LOCALE)

    def _context(self, user: User, openid: str, locale: str) -> CommandContext:
        return CommandContext(user=user, chat_key=chat_key_of(openid), channel=CHANNEL, locale=locale,
                              payments=(WECHAT_PAY_PAGE,) if self._pay_page else (WECHAT_NATIVE,), menu=WECHAT_MENU)

    async def _respond(self, cb: Callback, notes: Notes) -> str:
        if cb.kind == "event":
            return await self._event(cb)
        user, locale = await self._who(cb.openid)
        if self._media is not None and (cb.kind in ("image", "link") or (
                cb.kind == "voice" and not (cb.text or "").strip() and self._media.transcribes)):
            return await self._file(cb, user, locale, notes)
        if cb.kind not in ("text", "voice"):
            return self._texts.get("chat.text_or_voice_only", locale)
        text = (cb.text or "").strip()
        if not text:
            return self._texts.get("chat.voice_unclear" if cb.kind == "voice" else "chat.send_text", locale)
        ctx = self._context(user, cb.openid, locale)
        picked = await self._picked(cb.openid, text)
        if picked is not None:
            return await self._show(ctx, await self._commands.choose(ctx, picked))
        command = self._commands.parse(text, aliases=self._aliases)
        if command is not None and command.name == "confirm" and not text.startswith(("/", "／")) \
                and not await self._qr_login.awaiting(user.id):
            command = None   # "确认" answers a login prompt; with no login waiting it is just chat
        if command is not None:
            return await self._show(ctx, await self._commands.run(ctx, command))
        return await self._chat(user, cb, text, locale)

    async def _picked(self, openid: str, text: str) -> str | None:
        """A reply "2" to the last numbered list (within 5 minutes): the id of its second entry."""
        if not text.isdigit() or len(text) > 3:
            return None
        stored = await self._choices.get(CHOICES, openid)
        ids = json.loads(stored) if stored else []
        number = int(text)
        if not 1 <= number <= len(ids):
            return None
        await self._choices.delete(CHOICES, openid)
        return ids[number - 1]

    async def _show(self, ctx: CommandContext, result: CommandResult) -> str:
        """A command's result as WeChat text: numbered choices (remembered for a numbered reply), the payment."""
        locale = result.locale or ctx.locale
        openid = ctx.chat_key.removeprefix(f"{CHANNEL}:")
        if result.choices:
            await self._choices.put(CHOICES, openid, json.dumps([c.id for c in result.choices]), CHOICES_TTL)
        if result.payment is not None and self._pay_page and result.payment.method == WECHAT_PAY_PAGE.method:
            return payment_prompt(result.payment, self._texts, locale, self._pay_page(result.payment.order.id))
        if result.payment is not None and result.payment.url is not None:
            return payment_prompt(result.payment, self._texts, locale)
        return as_plain_text(result, self._texts, locale, numbered=True)

    async def _file(self, cb: Callback, user: User, locale: str, notes: Notes) -> str:
        """An image, a voice note WeChat did not recognise, or a shared link; a refused file is a polite
        sentence, with nothing stored or charged."""
        assert self._media is not None
        try:
            if cb.kind == "image":
                return await self._media.image(cb, locale, lambda text, images: self._chat(user, cb, text, locale,
                                                                                           images))
            if cb.kind == "link":
                return notes.reply(await self._media.link(cb, user, chat_key_of(cb.openid), locale, notes))
            heard = await self._media.voice(cb, user)
        except DomainError as e:
            log.info("WeChat %s refused: %s (%s)", cb.kind, e.reason, e.message)
            return notes.reply(self._texts.render(media_errors.media_text(e) or error_text(e), locale))
        if not heard.text:
            return self._texts.get("media.heard_nothing", locale)
        await notes.note(self._texts.render(Text.of("media.heard", text=heard.text), locale))
        return notes.reply(await self._chat(user, cb, heard.text, locale))

    async def _chat(self, user: User, cb: Callback, text: str, locale: str,
                    images: tuple[ImagePart, ...] = ()) -> str:
        inbound = InboundMessage(user_id=user.id, text=text, chat_key=chat_key_of(cb.openid), images=images,
                                 request_key=f"wechat:{cb.account}:{cb.msg_key}", metadata={"channel": CHANNEL},
                                 locale=locale)
        outcome = await collect_reply(self._engine.reply(inbound))
        if isinstance(outcome, ReplyFailed):
            error = self._texts.render(outcome.error, locale)
            if not outcome.partial:
                return error
            return outcome.partial + "\n\n" + self._texts.get("reply.failed_note", locale, note=error)
        answer = outcome.text or self._texts.get("reply.empty", locale)
        if self._sources_prefix:   # the operator's own words before the sources (channels.wechat.sources_prefix)
            line = sources_line(outcome.citations, prefix=self._sources_prefix)
        else:
            line = self._texts.render(outcome.sources, locale) if outcome.sources else ""
        return f"{answer}\n\n{line}" if line else answer

    async def _event(self, cb: Callback) -> str:
        if cb.event in ("subscribe", "subscribe_scan"):
            _, locale = await self._who(cb.openid)  # first contact: the user and the signup grant, once
            login = await self._login(cb) if cb.event_key.startswith(LOGIN_SCENE_PREFIX) else ""
            welcome = self._welcome or self._texts.get("welcome.follow", locale)
            return "\n\n".join(x for x in (welcome, login) if x)
        if cb.event == "scan":
            return await self._login(cb) if cb.event_key.startswith(LOGIN_SCENE_PREFIX) else ""
        if cb.event == "click":
            user, locale = await self._who(cb.openid)
            action = await self._menu.action(cb.event_key)
            if not action:
                return self._texts.get("menu.unknown", locale)
            command = self._commands.parse(action, aliases=self._aliases)
            if command is None:  # a menu entry may also be a canned question
                return await self._chat(user, cb, action, locale)
            ctx = self._context(user, cb.openid, locale)
            return await self._show(ctx, await self._commands.run(ctx, command))
        if cb.event == "unsubscribe":
            log.info("WeChat user %s unfollowed", cb.openid)
        return ""

    async def _login(self, cb: Callback) -> str:
        user, locale = await self._who(cb.openid)
        request = await self._qr_login.mark_scanned(cb.event_key, user.id)
        if request is None:
            return self._texts.get("login.expired", locale)
        return self._texts.render(login_prompt(request, time.time()), locale)

