"""ModelChoice: the models a user may pick, with their prices, and the model a chat or conversation answers with."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from core.catalog import ModelCatalog
from core.domain import Conversation
from core.errors import NotFound
from core.ports import ConversationRepository, RoleRepository

# (user_id, provider) -> whether the user brought their own key for that provider
OwnKeyCheck = Callable[[str, str], Awaitable[bool]]


async def chosen_model(conversation: Conversation | None, roles: RoleRepository, catalog: ModelCatalog) -> str | None:
    """The conversation's model, else its role's; None (the default) when neither is set or still offered."""
    if conversation is None:
        return None
    name = conversation.model
    if not name and conversation.role:
        role = await roles.get(conversation.role)
        name = role.model if role else None
    return name if name and catalog.has(name) else None


@dataclass(frozen=True)
class ModelOption:
    name: str
    provider: str
    input_weight: float      # tokens charged per prompt token
    output_weight: float     # tokens charged per completion token
    vision: bool
    context_window: int
    max_output_tokens: int
    own_key: bool = False    # answered with the user's own key: not charged (or the platform fee)


@dataclass(frozen=True)
class ModelMenu:
    """What `/model` shows: every option, and the one this chat uses now."""

    options: tuple[ModelOption, ...]
    current: str


class ModelChoiceService:
    """Implements the command layer's ModelPreferences (current / choose per chat) and serves GET /models."""

    def __init__(self, catalog: ModelCatalog, conversations: ConversationRepository, roles: RoleRepository,
                 provider_of: Callable[[str], str | None], own_key: OwnKeyCheck | None = None,
                 own_key_weight: float = 0.0):
        self._catalog = catalog
        self._conversations = conversations
        self._roles = roles
        self._provider_of = provider_of
        self.own_key_check = own_key
        self._own_key_weight = own_key_weight

    async def options(self, user_id: str | None = None) -> list[ModelOption]:
        """Every model on offer, by name; with a user, the prices they pay (their own keys' models at the fee)."""
        out = []
        for spec in self._catalog.specs():
            provider = self._provider_of(spec.name) or ""
            own = bool(user_id and provider and self.own_key_check and await self.own_key_check(user_id, provider))
            weights = (self._own_key_weight, self._own_key_weight) if own else (spec.input_weight, spec.output_weight)
            out.append(ModelOption(spec.name, provider, *weights, spec.vision, spec.context_window,
                                   spec.max_output_tokens, own))
        return out

    async def menu(self, user_id: str, chat_key: str) -> ModelMenu:
        return ModelMenu(tuple(await self.options(user_id)), await self.current(user_id, chat_key)
                         or self._catalog.default)

    async def current(self, user_id: str, chat_key: str) -> str | None:
        """The model a chat's next answer uses when it was chosen (here or by the role); None: the default."""
        return await self.effective(await self._conversations.latest_for_chat(chat_key))

    async def effective(self, conversation: Conversation | None) -> str | None:
        return await chosen_model(conversation, self._roles, self._catalog)

    async def choose(self, user_id: str, chat_key: str, model: str) -> None:
        """`/model NAME`: the chat's current conversation answers with `model` from now on (InvalidRequest
        `unknown_model` when it is not offered). A chat with no conversation yet gets one."""
        self._catalog.get(model)
        conversation = await self._conversations.latest_for_chat(chat_key)
        if conversation is None:
            await self._conversations.create(user_id, chat_key=chat_key, model=model)
        else:
            await self._conversations.update(conversation.id, model=model)

    async def choose_for_conversation(self, user_id: str, conversation_id: str, model: str | None) -> Conversation:
        """Set (or with None clear) one of the user's conversations' model."""
        if model:
            self._catalog.get(model)
        conversation = await self._conversations.get(conversation_id)
        if conversation is None or conversation.user_id != user_id:
            raise NotFound("Conversation not found.")
        updated = await self._conversations.update(conversation_id, model=model)
        assert updated is not None
        return updated
