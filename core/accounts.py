"""Users and identities: first contact creates a user with the signup grant; magic codes link identities."""
from __future__ import annotations

import secrets
from dataclasses import replace

from core.domain import Identity, User
from core.errors import InvalidRequest, NotFound
from core.ports import EphemeralStore, Transactions, UserRepository
from core.quota import QuotaLedger

MAGIC_CODE_TTL = 300
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by people


class AccountService:
    def __init__(self, users: UserRepository, quota: QuotaLedger, codes: EphemeralStore, tx: Transactions,
                 signup_grant: int, default_storage_bytes: int):
        self._users = users
        self._quota = quota
        self._codes = codes
        self._tx = tx
        self._grant = signup_grant
        self._storage = default_storage_bytes

    async def get(self, user_id: str) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("No such user.")
        return user

    async def ensure_user(self, identity: Identity, name: str = "") -> User:
        """The user behind an identity, created (with the signup grant, once) on first contact."""
        user = await self._users.find_by_identity(identity)
        if user is not None:
            return user
        user = await self._users.create(name or f"{identity.channel}:{identity.external_id}", identity, self._storage)
        if user.is_new:
            await self._grant_signup(user.id)
            return replace(await self.get(user.id), is_new=True)
        return user

    async def create_user(self, name: str) -> User:
        """A user with no identity yet (integrators, POST /users); credited like any first contact."""
        user = await self._users.create(name, None, self._storage)
        await self._grant_signup(user.id)
        return await self.get(user.id)

    async def _grant_signup(self, user_id: str) -> None:
        if self._grant > 0:
            await self._quota.credit(user_id, self._grant, "grant", key=f"signup:{user_id}", ref="signup")

    async def new_link_code(self, user_id: str) -> str:
        """A single-use code, valid 5 minutes, that joins another identity to this user."""
        for _ in range(5):
            code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
            if await self._codes.add("magic", code, user_id, MAGIC_CODE_TTL):
                return code
        raise RuntimeError("could not allocate a link code")

    async def redeem_link_code(self, code: str, user_id: str | None = None) -> User:
        """Redeem a code. With `user_id` (the redeeming identity's user), that user is merged into the
        code's user: identities, conversations, orders and balance move over. Returns the joined user."""
        owner_id = await self._codes.take("magic", code.strip().upper())
        if owner_id is None:
            raise InvalidRequest("That code is unknown, used or expired.", reason="invalid_code")
        owner = await self.get(owner_id)
        if user_id and user_id != owner_id:
            await self.merge(user_id, owner_id)
        return await self.get(owner.id)

    async def merge(self, from_user_id: str, into_user_id: str) -> None:
        source = await self.get(from_user_id)
        async with self._tx.atomic():
            await self._users.move_identities(from_user_id, into_user_id)
            if source.balance > 0:
                key = f"link:{from_user_id}:{into_user_id}"
                out = await self._quota.debit(from_user_id, source.balance, "adjustment", key=key + ":out", ref=into_user_id)
                if out is not None and out.amount < 0:
                    await self._quota.credit(into_user_id, -out.amount, "adjustment", key=key + ":in", ref=from_user_id)
