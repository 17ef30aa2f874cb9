"""The people in the fake Telegram: users and chats, typing messages and pressing inline buttons."""
from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.telegram_entities import user_entities
from tests.fakes.telegram_state import FakeMessage


class UserSide:
    """Mixed into FakeTelegram: builds updates exactly as Telegram sends them and delivers them."""

    chats: dict[int, dict]
    messages: dict
    callback_answers: dict[str, dict]

    def __init__(self) -> None:
        self._update_id = 100
        self.issued_callbacks: dict[str, dict] = {}
        self.updates: list[dict] = []  # every update delivered, so tests can replay one

    def next_update_id(self) -> int:
        self._update_id += 1
        return self._update_id

    def user(self, user_id: int, first_name: str, username: str | None = None) -> dict:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        if username:
            user["username"] = username
        return user

    def private_chat(self, user: dict) -> dict:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self.chats[chat["id"]] = chat
        return chat

    def group_chat(self, chat_id: int, title: str = "Group") -> dict:
        chat = {"id": chat_id, "type": "supergroup", "title": title}
        self.chats[chat_id] = chat
        return chat

    async def send_text(self, chat: dict, user: dict, text: str, reply_to: Any = None, target: str | None = None) -> Any:
        """The user types `text` in `chat` (optionally replying to a message); returns the stored message.
        `target`: the webhook URL this update goes to (see deliver)."""
        entities = user_entities(text)
        message = FakeMessage(chat, self._new_id(chat["id"]), user, text, reply_to=reply_to,  # type: ignore[attr-defined]
                              extra={"entities": entities} if entities else {})
        self.store(message)  # type: ignore[attr-defined]
        await self.deliver({"update_id": self.next_update_id(), "message": message.to_json()},  # type: ignore[attr-defined]
                           target=target)
        return message

    async def press(self, user: dict, message: Any, data: str) -> str:
        """The user presses the inline button with callback `data` under `message`; returns the query id."""
        query_id = uuid.uuid4().hex[:16]
        query = {"id": query_id, "from": user, "message": message.to_json(), "chat_instance": str(message.chat["id"]),
                 "data": data}
        self.issued_callbacks[query_id] = query
        await self.deliver({"update_id": self.next_update_id(), "callback_query": query})  # type: ignore[attr-defined]
        return query_id

    async def callback_answer(self, query_id: str) -> dict:
        """What the bot answered to a button press (answerCallbackQuery), once it has."""
        return await self.wait_until(lambda: self.callback_answers.get(query_id))  # type: ignore[attr-defined]

    @staticmethod
    def buttons(message: Any) -> dict[str, str]:
        """The inline keyboard under a message: button text -> callback data (or url)."""
        rows = (message.reply_markup or {}).get("inline_keyboard", [])
        return {b["text"]: b.get("callback_data") or b.get("url", "") for row in rows for b in row}
