"""Group membership in the fake Telegram: who is a group's owner or admin, and getChatMember answering it in the
Bot API's ChatMember shapes (creator, administrator, member)."""
from __future__ import annotations

from tests.fakes.telegram_state import ApiError

# Every right a ChatMemberAdministrator carries (python-telegram-bot requires them all).
ADMIN_RIGHTS = ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
                "can_post_stories", "can_edit_stories", "can_delete_stories")


class MemberSide:
    """Mixed into FakeTelegram. `tg.make_admin(group, alice)`, `tg.make_owner(group, bob)`, `tg.demote(...)`;
    `member_lookups` counts getChatMember calls per (chat, user), so tests can see the bot's cache at work."""

    chats: dict[int, dict]

    def __init__(self) -> None:
        self.roles: dict[tuple[int, int], str] = {}
        self.people: dict[int, dict] = {}
        self.member_lookups: dict[tuple[int, int], int] = {}

    def _set_role(self, chat: dict, user: dict, status: str) -> None:
        self.people[user["id"]] = user
        self.roles[(chat["id"], user["id"])] = status

    def make_admin(self, chat: dict, user: dict) -> None:
        self._set_role(chat, user, "administrator")

    def make_owner(self, chat: dict, user: dict) -> None:
        self._set_role(chat, user, "creator")

    def demote(self, chat: dict, user: dict) -> None:
        self._set_role(chat, user, "member")

    async def api_getChatMember(self, params: dict) -> dict:
        chat_id, user_id = params.get("chat_id"), params.get("user_id")
        if chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        if not isinstance(user_id, int):
            raise ApiError(400, "Bad Request: invalid user_id specified")
        self.member_lookups[(chat_id, user_id)] = self.member_lookups.get((chat_id, user_id), 0) + 1
        user = self.people.get(user_id, {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"})
        status = self.roles.get((chat_id, user_id), "member")
        member: dict = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update({right: right in ("can_manage_chat", "can_delete_messages", "can_invite_users")
                           for right in ADMIN_RIGHTS})
        return member
