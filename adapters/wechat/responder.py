"""What to answer one WeChat callback: events, commands and chat, as plain text (delivery is elsewhere)."""
from __future__ import annotations

import logging

from adapters.wechat.codec import Callback
from adapters.wechat.commands import WeChatCommands, confirm_prompt, is_confirm_word, normalize_command
from core.chat import ReplyDelta, ReplyFinished
from core.knowledge import sources_line
from core.domain import Identity, InboundMessage, User
from core.errors import DomainError, QuotaExceeded

log = logging.getLogger(__name__)

LOGIN_SCENE_PREFIX = "login_"
UNSUPPORTED = "Sorry, I can only read text and voice messages for now."
VOICE_UNCLEAR = "Sorry, I could not make out that voice message. Please try again, or type it."
LOGIN_EXPIRED = "This login QR code has expired or was already used. Refresh the web page for a new one."
MENU_UNKNOWN = "This menu item is not set up yet."
OUT_OF_TOKENS = "You have run out of tokens. Send /buy to top up, or /balance to see your balance."
FAILED = "Sorry, something went wrong while answering. Please try again."


def chat_key_of(openid: str) -> str:
    return f"wechat:{openid}"


class WeChatResponder:
    def __init__(self, services, welcome: str, menu: dict[str, str], aliases: dict[str, str],
                 sources_prefix: str = "Sources: "):
        self._s = services
        self._sources_prefix = sources_prefix
        self._welcome = welcome
        self._menu = menu
        self._aliases = aliases
        self._commands = WeChatCommands(services)

    async def respond(self, cb: Callback) -> str:
        """The text to send back ("" for nothing). Never raises for a user's mistake or the model's failure."""
        try:
            return await self._respond(cb)
        except DomainError as e:
            return e.message
        except Exception:
            log.exception("answering WeChat %s %s failed", cb.kind, cb.msg_key)
            return FAILED

    async def _respond(self, cb: Callback) -> str:
        if cb.kind == "event":
            return await self._event(cb)
        if cb.kind not in ("text", "voice"):
            return UNSUPPORTED
        text = (cb.text or "").strip()
        if not text:
            return VOICE_UNCLEAR if cb.kind == "voice" else "Please send some text."
        user = await self._user(cb.openid)
        command = normalize_command(text, self._aliases)
        if command is None and is_confirm_word(text) and await self._s.qr_login.awaiting(user.id):
            command = "/confirm"  # "确认" answers a login prompt; with no login waiting it is just chat
        if command is not None:
            return await self._commands.run(user, chat_key_of(cb.openid), command)
        return await self._chat(user, cb, text)

    async def _chat(self, user: User, cb: Callback, text: str) -> str:
        inbound = InboundMessage(user_id=user.id, text=text, chat_key=chat_key_of(cb.openid),
                                 request_key=f"wechat:{cb.account}:{cb.msg_key}", metadata={"channel": "wechat"})
        parts: list[str] = []
        try:
            async for event in self._s.engine.reply(inbound):
                if isinstance(event, ReplyDelta):
                    parts.append(event.text)
                elif isinstance(event, ReplyFinished):
                    answer = event.message.content or "(The model returned an empty answer.)"
                    line = sources_line(event.message.citations, prefix=self._sources_prefix)
                    return f"{answer}\n\n{line}" if line else answer
        except QuotaExceeded:
            return OUT_OF_TOKENS
        return "".join(parts)

    async def _event(self, cb: Callback) -> str:
        if cb.event in ("subscribe", "subscribe_scan"):
            await self._user(cb.openid)  # first contact: the user and the signup grant, once
            login = await self._login(cb) if cb.event_key.startswith(LOGIN_SCENE_PREFIX) else ""
            return "\n\n".join(x for x in (self._welcome, login) if x)
        if cb.event == "scan":
            return await self._login(cb) if cb.event_key.startswith(LOGIN_SCENE_PREFIX) else ""
        if cb.event == "click":
            action = self._menu.get(cb.event_key, "").strip()
            if not action:
                return MENU_UNKNOWN
            user = await self._user(cb.openid)
            command = normalize_command(action, self._aliases)
            if command is None:  # a menu entry may also be a canned question
                return await self._chat(user, cb, action)
            return await self._commands.run(user, chat_key_of(cb.openid), command)
        if cb.event == "unsubscribe":
            log.info("WeChat user %s unfollowed", cb.openid)
        return ""

    async def _login(self, cb: Callback) -> str:
        user = await self._user(cb.openid)
        request = await self._s.qr_login.mark_scanned(cb.event_key, user.id)
        return confirm_prompt(request) if request else LOGIN_EXPIRED

    async def _user(self, openid: str) -> User:
        return await self._s.accounts.ensure_user(Identity("wechat", openid))
