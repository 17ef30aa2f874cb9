"""Shared pieces of the command-layer tests: a context per channel, a user, rendering a result."""
from __future__ import annotations

from core.commands_results import CancelOutcome, CommandContext, CommandResult, PaymentOption
from core.domain import Identity, User
from tests.unit.memory_model import Core


class RecordingCanceller:
    """The ReplyCanceller port: answers `outcome` and records each request."""

    def __init__(self, outcome: CancelOutcome):
        self.outcome = outcome
        self.asked: list[tuple[str, str]] = []

    async def cancel(self, chat_key: str, user_id: str) -> CancelOutcome:
        self.asked.append((chat_key, user_id))
        return self.outcome


async def user(core: Core, external_id: str = "alice", channel: str = "telegram") -> User:
    return await core.accounts.ensure_user(Identity(channel, external_id), external_id.title())


def context(who: User, *, channel: str = "telegram", locale: str = "en", payments: tuple[PaymentOption, ...] = (),
            **kwargs) -> CommandContext:
    return CommandContext(user=who, chat_key=f"{channel}:{who.id}", channel=channel, locale=locale,
                          payments=payments, **kwargs)


def shown(core: Core, result: CommandResult, locale: str = "en") -> str:
    """The result's lines as the user reads them."""
    return core.texts.join(result.texts, result.locale or locale)
