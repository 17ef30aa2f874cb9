"""ModelChoiceService: the options with prices (own keys at the fee), /model NAME per chat through the command
layer, a role's model, and the engine answering with the chat's choice."""
from __future__ import annotations

import pytest

from core.domain import InboundMessage, Role
from core.errors import InvalidRequest
from core.model_choice import ModelChoiceService
from tests.unit.commands_support import context, user
from tests.unit.memory_chats import MemoryConversations, MemoryRoles
from tests.unit.memory_model import build

PROVIDERS = {"test-model": "main", "other-model": "backup"}


def service(core, own_keys: set[tuple[str, str]] = frozenset(), fee: float = 0.0) -> ModelChoiceService:
    async def has_key(user_id: str, provider: str) -> bool:
        return (user_id, provider) in own_keys

    return ModelChoiceService(core.catalog, MemoryConversations(core.db), MemoryRoles(core.db), PROVIDERS.get,
                              own_key=has_key, own_key_weight=fee)


async def _reply(core, who, chat_key: str):
    events = [e async for e in core.engine.reply(InboundMessage(who.id, "hello", chat_key=chat_key))]
    return events[-1].message


async def _answer(core, who, chat_key: str) -> str:
    return (await _reply(core, who, chat_key)).model


async def test_options_list_every_model_with_its_price_and_own_keys_at_the_fee() -> None:
    core = build()
    alice = await user(core)
    choice = service(core, own_keys={(alice.id, "backup")}, fee=0.5)
    anyone = {o.name: o for o in await choice.options()}
    assert (anyone["other-model"].provider, anyone["other-model"].input_weight,
            anyone["other-model"].output_weight, anyone["other-model"].own_key) == ("backup", 2.0, 4.0, False)
    mine = {o.name: o for o in await choice.options(alice.id)}
    assert (mine["other-model"].input_weight, mine["other-model"].output_weight, mine["other-model"].own_key) == (
        0.5, 0.5, True)
    assert (mine["test-model"].input_weight, mine["test-model"].own_key) == (1.0, False)


async def test_model_command_sets_the_chat_model_and_the_engine_answers_with_it() -> None:
    core = build()
    alice = await user(core)
    choice = service(core)
    commands = core.commands_with(models=choice)
    ctx = context(alice)
    listing = await commands.run(ctx, "/model")
    assert [c.id for c in listing.choices] == ["model:other-model", "model:test-model"]
    assert [c.selected for c in listing.choices] == [False, True]   # the default until one is chosen
    assert (await commands.run(ctx, "/model other-model")).error is None
    assert await choice.current(alice.id, ctx.chat_key) == "other-model"
    message = await _reply(core, alice, ctx.chat_key)
    assert message.model == "other-model" and core.model.requests[-1].model == "other-model"
    # Priced by the chosen model's weights (2 and 4), not the default's.
    usage = message.usage
    assert message.cost == usage.prompt_tokens * 2 + usage.completion_tokens * 4
    refused = await commands.run(ctx, "/model gpt-nope")
    assert refused.error == "unknown_model" and await choice.current(alice.id, ctx.chat_key) == "other-model"


async def test_a_role_names_its_model_and_a_chosen_model_wins() -> None:
    core = build()
    alice = await user(core)
    await core.conversations.put_role(Role("poet", "", "Write verse.", model="other-model"))
    choice = service(core)
    chat = "telegram:poetry"
    await core.conversations.set_chat_role(alice.id, chat, "poet")
    assert await choice.current(alice.id, chat) == "other-model"
    assert await _answer(core, alice, chat) == "other-model"
    await choice.choose(alice.id, chat, "test-model")
    assert await _answer(core, alice, chat) == "test-model"


async def test_choosing_for_a_conversation_is_scoped_to_its_owner() -> None:
    core = build()
    alice, bob = await user(core, "alice"), await user(core, "bob")
    conv = await core.conversations.create(alice.id)
    choice = service(core)
    assert (await choice.choose_for_conversation(alice.id, conv.id, "other-model")).model == "other-model"
    with pytest.raises(Exception) as caught:
        await choice.choose_for_conversation(bob.id, conv.id, "test-model")
    assert getattr(caught.value, "reason", "") == "not_found"
    with pytest.raises(InvalidRequest):
        await choice.choose_for_conversation(alice.id, conv.id, "gpt-nope")
    assert (await choice.choose_for_conversation(alice.id, conv.id, None)).model is None
