"""A local fake Telegram Bot API for tests: real HTTP at /bot<token>/<method>, per-chat message state.

    async with FakeTelegram(token="123:ABC", username="test_bot") as tg:
        config api_base_url = tg.api_base_url               # http://127.0.0.1:PORT/bot
        alice = tg.user(1001, "Alice"); chat = tg.private_chat(alice)
        await tg.send_text(chat, alice, "hello")            # getUpdates, or POSTed to the webhook
        await tg.wait_until(lambda: tg.bot_messages(chat) and ...)
        tg.flood(chat["id"], retry_after=1)                 # the next edit there starts a 429 window

People act through telegram_users.UserSide (typing, pressing buttons) and telegram_stars.StarsApi (paying);
the bot's calls are answered with the Bot API's own result shapes and error descriptions.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from aiohttp import ClientSession, web

from tests.fakes.telegram_entities import EntityError, html_to_text, utf16_len
from tests.fakes.telegram_files import FileSide
from tests.fakes.telegram_members import MemberSide
from tests.fakes.telegram_state import ApiError, Call, FakeMessage
from tests.fakes.telegram_stars import StarsApi
from tests.fakes.telegram_users import UserSide
from tests.fakes.local import serve_local

NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message")
# Form fields PTB sends as plain strings; every other field is JSON-encoded.
_STRINGS = {"text", "parse_mode", "title", "description", "payload", "provider_token", "currency", "url",
            "secret_token", "callback_query_id", "pre_checkout_query_id", "error_message", "action",
            "telegram_payment_charge_id", "start_parameter", "language_code"}


class FakeTelegram(UserSide, StarsApi, FileSide, MemberSide):
    def __init__(self, token: str = "123:ABC", username: str = "test_bot"):
        self.token = token
        self.me = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": "Test Bot", "username": username,
                   "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
        self.calls: list[Call] = []
        self.chats: dict[int, dict] = {}
        self.messages: dict[tuple[int, int], FakeMessage] = {}
        self._ids: dict[int, int] = {}
        self.webhook: dict | None = None
        self.webhook_target: str | None = None  # where deliver() posts (the registered URL by default)
        self.polled = False
        self.commands: list[dict] = []                  # the menu for every language (no language_code)
        self.menus: dict[str | None, list[dict]] = {}    # setMyCommands by language_code (None: the default)
        self.callback_answers: dict[str, dict] = {}
        self.pre_checkout_answers: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.invoice_links: dict[str, dict] = {}
        self.issued_pre_checkouts: set[str] = set()
        self._pending: list[dict] = []
        self._fetched = 0
        self._floods: dict[int, float] = {}
        self._traps: dict[int, tuple[int, tuple[str, ...]]] = {}
        self._entity_rejects: dict[int, int] = {}
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None
        self.base_url = ""
        super().__init__()
        FileSide.__init__(self)   # photos, voice and documents people send; getFile and downloads
        MemberSide.__init__(self)  # group owners and admins; getChatMember

    @property
    def api_base_url(self) -> str:
        return self.base_url + "/bot"

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> "FakeTelegram":
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner, self.base_url = await serve_local(app, shutdown_timeout=0.5, handler_cancellation=True)
        self._http = ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        await self._notify()  # long polls end now rather than at their timeout
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests look at ------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait (without polling sleeps) until predicate() is truthy after some API call or delivery."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
        return predicate()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def calls_of(self, method: str) -> list[dict]:
        return [c.params for c in self.calls if c.method == method and c.error is None]

    def rejected(self, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.error is not None and (method is None or c.method == method)]

    def bot_messages(self, chat: dict | int) -> list[FakeMessage]:
        chat_id = chat if isinstance(chat, int) else chat["id"]
        return [m for (cid, _), m in sorted(self.messages.items()) if cid == chat_id and m.from_bot]

    def flood(self, chat_id: int, retry_after: int = 1, methods: tuple[str, ...] = ("editMessageText",)) -> None:
        """The next call of `methods` in this chat opens a flood-control window: every call for the chat
        answers 429 with parameters.retry_after until it closes, as Telegram does."""
        self._traps[chat_id] = (retry_after, methods)

    def reject_entities(self, chat_id: int, times: int = 1) -> None:
        """The next `times` calls with a parse_mode in this chat answer "can't parse entities"."""
        self._entity_rejects[chat_id] = times

    # --- the HTTP side -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = await _params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        handler = getattr(self, "api_" + method, None)
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            self._check_flood(method, params.get("chat_id"))
            result = await handler(params)
        except ApiError as e:
            call.error = e.description
            await self._notify()
            body: dict[str, Any] = {"ok": False, "error_code": e.code, "description": e.description}
            if e.retry_after is not None:
                body["parameters"] = {"retry_after": e.retry_after}
            return web.json_response(body, status=e.code)
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    def _check_flood(self, method: str, chat_id: Any) -> None:
        if not isinstance(chat_id, int):
            return
        now = time.monotonic()
        trap = self._traps.get(chat_id)
        if trap and method in trap[1]:
            del self._traps[chat_id]
            self._floods[chat_id] = now + trap[0]
        until = self._floods.get(chat_id, 0)
        if until > now:
            wait = max(1, int(until - now + 0.999))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    def _new_id(self, chat_id: int) -> int:
        self._ids[chat_id] = self._ids.get(chat_id, 0) + 1
        return self._ids[chat_id]

    def _chat(self, chat_id: Any) -> dict:
        if chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        return self.chats[chat_id]

    def _render(self, params: dict, chat_id: int) -> tuple[str, str | None]:
        text, mode = params.get("text", ""), params.get("parse_mode")
        source = None
        if mode:
            if str(mode).upper() != "HTML":
                raise ApiError(400, f"Bad Request: unsupported parse_mode {mode}")
            if self._entity_rejects.get(chat_id):
                self._entity_rejects[chat_id] -= 1
                raise ApiError(400, "Bad Request: can't parse entities: Can't find end of the entity starting "
                                    "at byte offset 0")
            try:
                source, text = text, html_to_text(text)
            except EntityError as e:
                raise ApiError(400, f"Bad Request: can't parse entities: {e}") from None
        text = text.strip()  # Telegram trims the text it shows
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return text, source

    def store(self, message: FakeMessage) -> FakeMessage:
        message.times.append(time.monotonic())
        message.edits.append(message.text)
        self.messages[(message.chat["id"], message.message_id)] = message
        return message

    # --- Bot API methods the bot calls -------------------------------------------------------

    async def api_getMe(self, params: dict) -> dict:
        return self.me

    async def api_sendMessage(self, params: dict) -> dict:
        chat = self._chat(params.get("chat_id"))
        text, source = self._render(params, chat["id"])
        _check_markup(params.get("reply_markup"))
        reply_id = (params.get("reply_parameters") or {}).get("message_id") or params.get("reply_to_message_id")
        message = FakeMessage(chat, self._new_id(chat["id"]), self.me, text, source, params.get("reply_markup"),
                              reply_to=self.messages.get((chat["id"], reply_id)))
        return self.store(message).to_json()

    async def api_editMessageText(self, params: dict) -> dict:
        chat = self._chat(params.get("chat_id"))
        message = self.messages.get((chat["id"], params.get("message_id")))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        text, source = self._render(params, chat["id"])
        markup = params.get("reply_markup")
        _check_markup(markup)
        if (text, source, markup) == (message.text, message.html, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        message.text, message.html, message.reply_markup = text, source, markup
        message.edits.append(text)
        message.times.append(time.monotonic())
        return message.to_json()

    async def api_sendChatAction(self, params: dict) -> bool:
        self._chat(params.get("chat_id"))
        return True

    async def api_answerCallbackQuery(self, params: dict) -> bool:
        query_id = params.get("callback_query_id")
        if query_id not in self.issued_callbacks or query_id in self.callback_answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.callback_answers[query_id] = params
        return True

    async def api_setMyCommands(self, params: dict) -> bool:
        for command in params.get("commands") or []:
            if not (1 <= len(command.get("command", "")) <= 32 and command["command"].islower()):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        commands = list(params.get("commands") or [])
        language = params.get("language_code") or None
        if language is not None and not (len(language) == 2 and language.isalpha() and language.islower()):
            raise ApiError(400, "Bad Request: invalid language code specified")
        self.menus[language] = commands
        if language is None:
            self.commands = commands
        return True

    async def api_setWebhook(self, params: dict) -> bool:
        secret = params.get("secret_token", "")
        if secret and not all(c.isalnum() or c in "_-" for c in secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = params
        return True

    async def api_deleteWebhook(self, params: dict) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def api_getUpdates(self, params: dict) -> list[dict]:
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
                                "to delete the webhook first")
        self.polled = True
        await self._notify()
        offset = params.get("offset") or 0
        self._pending = [u for u in self._pending if u["update_id"] >= offset]
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: self._pending or self._closing),
                                       params.get("timeout") or 0)
        except asyncio.TimeoutError:
            pass
        batch = self._pending[: params.get("limit") or 100]
        if batch:
            self._fetched = max(self._fetched, batch[-1]["update_id"])
        return batch

    # deliver(): how an update reaches the bot, by the mode the bot chose
    async def deliver(self, update: dict, target: str | None = None) -> int | None:
        """Hand an update to the bot: POSTed to the webhook (returns the HTTP status), or queued for
        getUpdates (returns once a getUpdates call has taken it). `target` picks the webhook URL for this one
        update (one worker of several behind a load balancer)."""
        await self.wait_until(lambda: self.webhook or self.polled)
        self.updates.append(update)
        if self.webhook:
            assert self._http is not None
            headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook.get("secret_token", "")}
            async with self._http.post(target or self.webhook_target or self.webhook["url"], json=update,
                                       headers=headers) as resp:
                await self._notify()
                return resp.status
        self._pending.append(update)
        await self._notify()
        await self.wait_until(lambda: self._fetched >= update["update_id"])
        return None


def _check_markup(markup: Any) -> None:
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if len(button.get("callback_data", "").encode()) > 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            # Telegram takes only http(s) URLs whose host has a dot (http://localhost:8080 is refused).
            url = urlsplit(button["url"]) if "url" in button else None
            if url is not None and (url.scheme not in ("http", "https") or "." not in (url.hostname or "")):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")


async def _params(request: web.Request) -> dict:
    """The Bot API takes query strings, urlencoded or multipart forms, or JSON; PTB sends forms whose
    non-string values are JSON-encoded."""
    if request.content_type == "application/json":
        body = await request.json()
        return body if isinstance(body, dict) else {}
    raw = {**request.query, **(await request.post())}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        value = str(value)
        if key in _STRINGS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params
