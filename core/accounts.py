"""Users and identities: first contact creates a user with the signup grant; magic codes link identities."""
from __future__ import annotations

import secrets
from dataclasses import replace

from core.domain import Identity, User
from core.errors import InvalidRequest, NotFound
from core.limits import FailureLimiter
from core.ports import EphemeralStore, Transactions, UserRepository
from core.quota import QuotaLedger

MAGIC_CODE_TTL = 300
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by people
# A code is 8 symbols of 32 (40 bits): its first 3 name it (its slot), so a wrong guess that names a live code
# counts against that code, which dies after MAX_WRONG_TRIES; the other 5 (25 bits) are the secret.
# Why that is enough: docs/security.md, "Magic codes".
CODE_LENGTH, SLOT_LENGTH, MAX_WRONG_TRIES = 8, 3, 5


class AccountService:
    def __init__(self, users: UserRepository, quota: QuotaLedger, codes: EphemeralStore, tx: Transactions,
                 signup_grant: int, default_storage_bytes: int, failures: FailureLimiter | None = None):
        self._users = users
        self._failures = failures or FailureLimiter(codes)
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

    async def set_locale(self, user_id: str, locale: str | None) -> User:
        """Remember the language a user chose (/lang); None goes back to the platform's hint."""
        await self.get(user_id)
        await self._users.set_locale(user_id, locale)
        return await self.get(user_id)

    async def find(self, identity: Identity) -> User | None:
        """The user behind an identity, if it has written before (nobody is created)."""
        return await self._users.find_by_identity(identity)

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
        for _ in range(8):
            code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if await self._codes.add("magic-slot", code[:SLOT_LENGTH], code, MAGIC_CODE_TTL):
                await self._codes.put("magic", code, user_id, MAGIC_CODE_TTL)
                return code
        raise RuntimeError("could not allocate a link code")

    async def redeem_link_code(self, code: str, user_id: str | None = None, *, attempt_by: str = "") -> User:
        """Redeem a code. With `user_id` (the redeeming identity's user), that user is merged into the
        code's user: identities, conversations, orders and balance move over. Returns the joined user.

        `attempt_by` names who is trying (`ip:ADDRESS`, or the chat user): their failed tries are limited
        (TooManyAttempts, 429), and a correct code is refused too while they are over the limit."""
        code = code.strip().upper()
        async with self._failures.attempt("magic:" + (attempt_by or f"user:{user_id}")):
            owner_id = await self._codes.take("magic", code) if len(code) == CODE_LENGTH else None
            if owner_id is None:
                await self._wrong_try(code)
                raise InvalidRequest("That code is unknown, used or expired.", reason="invalid_code")
            await self._codes.delete("magic-slot", code[:SLOT_LENGTH])
        owner = await self.get(owner_id)
        if user_id and user_id != owner_id:
            await self.merge(user_id, owner_id)
        return await self.get(owner.id)

    async def _wrong_try(self, guess: str) -> None:
        """A guess that names a live code (its slot) but misses counts against that code; the 5th kills it."""
        live = await self._codes.get("magic-slot", guess[:SLOT_LENGTH]) if len(guess) >= SLOT_LENGTH else None
        if live is None or live == guess:
            return
        if await self._codes.incr("magic-tries", live, MAGIC_CODE_TTL) >= MAX_WRONG_TRIES:
            await self._codes.delete("magic", live)
            await self._codes.delete("magic-slot", live[:SLOT_LENGTH])

    async def merge(self, from_user_id: str, into_user_id: str) -> None:
        source = await self.get(from_user_id)
        async with self._tx.atomic():
            await self._users.move_identities(from_user_id, into_user_id)
            if source.balance > 0:
                key = f"link:{from_user_id}:{into_user_id}"
                out = await self._quota.debit(from_user_id, source.balance, "adjustment", key=key + ":out", ref=into_user_id)
                if out is not None and out.amount < 0:
                    await self._quota.credit(into_user_id, -out.amount, "adjustment", key=key + ":in", ref=from_user_id)
