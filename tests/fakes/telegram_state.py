"""The fake Telegram's records: messages as a user would see them, calls the bot made, API errors."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


@dataclass
class FakeMessage:
    chat: dict
    message_id: int
    sender: dict
    text: str = ""
    html: str | None = None
    reply_markup: dict | None = None
    reply_to: "FakeMessage | None" = None
    extra: dict = field(default_factory=dict)  # entities, invoice, successful_payment, ...
    edits: list[str] = field(default_factory=list)  # every text shown, the first one included
    times: list[float] = field(default_factory=list)
    payload: str | None = None  # an invoice's payload: known to Telegram, never shown to the user

    @property
    def from_bot(self) -> bool:
        return bool(self.sender.get("is_bot"))

    def to_json(self, nested: bool = True) -> dict:
        data: dict[str, Any] = {"message_id": self.message_id, "from": self.sender, "chat": self.chat,
                                "date": int(self.times[0] if self.times else time.time()), **self.extra}
        if self.text:
            data["text"] = self.text
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.reply_to is not None and nested:
            data["reply_to_message"] = self.reply_to.to_json(nested=False)
        if len(self.edits) > 1:
            data["edit_date"] = int(self.times[-1])
        return data


@dataclass
class Call:
    method: str
    params: dict
    at: float
    error: str | None = None
