"""ConversationService: a user's conversations, messages, feedback and roles, always scoped to their owner."""
from __future__ import annotations

from typing import Iterable, Sequence

from core.domain import Conversation, Message, Page, Role
from core.errors import InvalidRequest, NotFound
from core.ports import ConversationRepository, MessageRepository, RoleRepository


class ConversationService:
    def __init__(self, conversations: ConversationRepository, messages: MessageRepository, roles: RoleRepository):
        self._conversations = conversations
        self._messages = messages
        self._roles = roles

    async def create(self, user_id: str, *, title: str = "", instruction: str | None = None, role: str | None = None,
                     resource_ids: Iterable[str] = (), chat_key: str | None = None,
                     model: str | None = None) -> Conversation:
        if role:
            await self.role(role)
        return await self._conversations.create(user_id, title=title, instruction=instruction, role=role,
                                                resource_ids=tuple(resource_ids), chat_key=chat_key, model=model)

    async def get(self, user_id: str, conversation_id: str) -> Conversation:
        conv = await self._conversations.get(conversation_id)
        if conv is None or conv.user_id != user_id:
            raise NotFound("Conversation not found.")
        return conv

    async def list(self, user_id: str, limit: int = 20, cursor: str | None = None) -> Page:
        return await self._conversations.list_for_user(user_id, limit, cursor)

    async def update(self, user_id: str, conversation_id: str, **fields: object) -> Conversation:
        await self.get(user_id, conversation_id)
        if fields.get("role"):
            await self.role(str(fields["role"]))
        updated = await self._conversations.update(conversation_id, **fields)
        if updated is None:
            raise NotFound("Conversation not found.")
        return updated

    async def delete(self, user_id: str, conversation_id: str) -> None:
        await self.get(user_id, conversation_id)
        await self._conversations.delete(conversation_id)

    async def for_chat(self, chat_key: str) -> Conversation | None:
        return await self._conversations.latest_for_chat(chat_key)

    async def start_new_chat(self, user_id: str, chat_key: str, role: str | None = None) -> Conversation:
        """`/new`: later messages in this chat go to a fresh conversation (keeping the chat's role)."""
        if role is None:
            current = await self._conversations.latest_for_chat(chat_key)
            role = current.role if current else None
        return await self.create(user_id, role=role, chat_key=chat_key)

    async def set_chat_role(self, user_id: str, chat_key: str, role: str) -> Conversation:
        """`/role NAME` in a chat: a fresh conversation with that role, so the old prompt does not leak in."""
        return await self.create(user_id, role=role, chat_key=chat_key)

    # --- messages ---

    async def messages(self, user_id: str, conversation_id: str, limit: int = 20, cursor: str | None = None) -> Page:
        await self.get(user_id, conversation_id)
        return await self._messages.list(conversation_id, limit, cursor)

    async def message(self, user_id: str, message_id: str, conversation_id: str | None = None) -> Message:
        message = await self._messages.get(message_id)
        if message is None or (conversation_id and message.conversation_id != conversation_id):
            raise NotFound("Message not found.")
        conv = await self._conversations.get(message.conversation_id)
        if conv is None or (conv.user_id != user_id and message.user_id != user_id):
            raise NotFound("Message not found.")
        return message

    async def delete_message(self, user_id: str, conversation_id: str, message_id: str) -> None:
        await self.get(user_id, conversation_id)
        await self.message(user_id, message_id, conversation_id)
        await self._messages.delete(message_id)

    async def feedback(self, user_id: str, message_id: str, rating: int) -> Message:
        """Rate an answer: 1, -1, or 0 to clear. Only the conversation's owner (or asker) may rate."""
        if rating not in (1, -1, 0):
            raise InvalidRequest("rating must be 1, -1 or 0.")
        message = await self.message(user_id, message_id)
        if message.role != "assistant":
            raise InvalidRequest("Only answers can be rated.")
        await self._messages.set_feedback(message_id, rating)
        return await self.message(user_id, message_id)

    # --- roles ---

    async def roles(self) -> Sequence[Role]:
        return await self._roles.list()

    async def role(self, name: str) -> Role:
        role = await self._roles.get(name)
        if role is None:
            raise NotFound(f"No role named {name!r}.")
        return role

    async def put_role(self, role: Role) -> Role:
        if not role.name.strip():
            raise InvalidRequest("A role needs a name.")
        return await self._roles.put(role)

    async def delete_role(self, name: str) -> None:
        if not await self._roles.delete(name):
            raise NotFound(f"No role named {name!r}.")

    async def sync_roles(self, configured: Iterable[Role]) -> None:
        for role in configured:
            await self._roles.put(role)
