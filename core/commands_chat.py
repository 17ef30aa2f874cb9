"""Chat commands: /new, /role, /roles, /model, /cancel."""
from __future__ import annotations

from core.catalog import ModelCatalog
from core.commands_results import Choice, CommandContext, CommandResult, ModelPreferences
from core.conversations import ConversationService
from core.errors import NotFound
from core.i18n import Text
from core.model_choice import ModelOption


def _weight(weight: float) -> str:
    return f"{weight:g}"


def _price(option: ModelOption | None) -> Text | None:
    """What a model costs, in tokens of balance per token (its weights); with the user's own key, the fee."""
    if option is None:
        return None
    if option.own_key:
        return Text.of("model.price_own_key", input=_weight(option.input_weight),
                       output=_weight(option.output_weight))
    return Text.of("model.price", input=_weight(option.input_weight), output=_weight(option.output_weight))


class ChatCommands:
    def __init__(self, conversations: ConversationService, catalog: ModelCatalog, models: ModelPreferences | None):
        self._conversations = conversations
        self._catalog = catalog
        self._models = models

    async def new(self, ctx: CommandContext, arg: str) -> CommandResult:
        conv = await self._conversations.start_new_chat(ctx.user.id, ctx.chat_key)
        if conv.role:
            return CommandResult.say("new", "new.started_role", role=conv.role)
        return CommandResult.say("new", "new.started")

    async def role(self, ctx: CommandContext, arg: str) -> CommandResult:
        if not arg:
            return await self._role_menu(ctx, "role")
        try:
            role = await self._conversations.role(arg)
        except NotFound:
            return CommandResult("role", (Text.of("role.unknown", name=arg),), error="not_found")
        conv = await self._conversations.set_chat_role(ctx.user.id, ctx.chat_key, role.name)
        return CommandResult("role", (Text.of("role.set", role=conv.role),), toast=Text.of("role.toast", role=conv.role))

    async def roles(self, ctx: CommandContext, arg: str) -> CommandResult:
        return await self._role_menu(ctx, "roles")

    async def _role_menu(self, ctx: CommandContext, command: str) -> CommandResult:
        roles = await self._conversations.roles()
        if not roles:
            return CommandResult.say(command, "role.none")
        current = await self._conversations.for_chat(ctx.chat_key)
        active = current.role if current else None
        choices = tuple(Choice(f"role:{r.name}", Text.plain(r.name),
                               Text.plain(r.description) if r.description else None, selected=r.name == active)
                        for r in roles)
        return CommandResult(command, (Text.of("role.choose"),), choices, hint=Text.of("role.hint"))

    async def model(self, ctx: CommandContext, arg: str) -> CommandResult:
        names = self._catalog.names()
        if arg and arg not in names:
            return CommandResult("model", (Text.of("model.unknown", name=arg, names=", ".join(names)),),
                                 error="unknown_model")
        if self._models is None:  # TODO(models issue): a stored choice per chat, read by the engine
            texts = (Text.of("model.current", model=self._catalog.default), Text.of("model.fixed"))
            return CommandResult("model", texts, error="unavailable" if arg else None)
        if arg:
            await self._models.choose(ctx.user.id, ctx.chat_key, arg)
            return CommandResult("model", (Text.of("model.set", model=arg),), toast=Text.of("model.set", model=arg))
        current = await self._models.current(ctx.user.id, ctx.chat_key) or self._catalog.default
        options = {o.name: o for o in await self._models.options(ctx.user.id)}
        choices = tuple(Choice(f"model:{n}", Text.plain(n), _price(options.get(n)), selected=n == current)
                        for n in names)
        return CommandResult("model", (Text.of("model.choose"),), choices, hint=Text.of("model.hint"))

    async def cancel(self, ctx: CommandContext, arg: str) -> CommandResult:
        """Stops this chat's answer in progress. When it stops, the answer itself ends with `reply.stopped`."""
        outcome = await ctx.cancels.cancel(ctx.chat_key, ctx.user.id) if ctx.cancels else "nothing"
        if outcome == "stopped":
            return CommandResult("cancel", toast=Text.of("cancel.stopping"))
        return CommandResult("cancel", (Text.of(f"cancel.{outcome}"),), error=outcome)
