"""Group chat commands: /mode (answer every message, or only mentions and replies), and who may change a group's
conversation (/new, /role, /model, /mode: its admins, unless the channel lets everyone)."""
from __future__ import annotations

from core.chat_modes import REPLY_TO, ChatModes
from core.commands_results import Choice, CommandContext, CommandResult
from core.i18n import Text

# Commands that change what a whole group chat gets: only the chat's admins may run them there.
ADMIN_IN_GROUPS = frozenset({"new", "role", "model", "mode"})
WORDS = {"all": "all", "全部": "all", "所有": "all", "mentions": "mentions", "mention": "mentions", "提及": "mentions"}


async def refused_in_group(ctx: CommandContext, command: str) -> CommandResult | None:
    """The polite refusal when a group member who is no admin runs one of ADMIN_IN_GROUPS; None: go ahead."""
    if command not in ADMIN_IN_GROUPS or ctx.admins is None or await ctx.admins.is_admin():
        return None
    text = Text.of("group.admins_only", command=command)
    return CommandResult(command, (text,), toast=text, error="forbidden")


class GroupCommands:
    def __init__(self, modes: ChatModes | None):
        self._modes = modes

    async def mode(self, ctx: CommandContext, arg: str) -> CommandResult:
        if not ctx.group or self._modes is None:
            return CommandResult("mode", (Text.of("mode.groups_only"),), error="unavailable")
        if not arg:
            current = await self._modes.reply_to(ctx.chat_key)
            choices = tuple(Choice(f"mode:{m}", Text.of(f"mode.name.{m}"), selected=m == current) for m in REPLY_TO)
            return CommandResult("mode", (Text.of(f"mode.now.{current}"), Text.of("mode.choose")), choices,
                                 hint=Text.of("mode.hint"))
        chosen = WORDS.get(arg.strip().casefold())
        if chosen is None:
            return CommandResult("mode", (Text.of("mode.unknown", value=arg),), error="invalid_request")
        await self._modes.set(ctx.chat_key, chosen)  # type: ignore[arg-type]
        done = Text.of(f"mode.set.{chosen}")
        return CommandResult("mode", (done,), toast=done)
