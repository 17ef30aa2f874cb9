"""core.auth: bearer tokens sign, expire and refuse tampering; API keys are kept only as hashes and rotate."""
from __future__ import annotations

import pytest

from core.auth import ApiKeyService, TokenSigner, TokensDisabled, hash_api_key
from core.errors import Unauthorized


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class MemoryKeys:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str]] = {}  # user -> (hash, hint)

    async def replace(self, user_id: str, key_hash: str, hint: str) -> None:
        self.rows[user_id] = (key_hash, hint)

    async def delete(self, user_id: str) -> bool:
        return self.rows.pop(user_id, None) is not None

    async def user_for(self, key_hash: str) -> str | None:
        return next((u for u, (h, _) in self.rows.items() if h == key_hash), None)


def test_token_round_trip_and_expiry() -> None:
    clock = Clock()
    signer = TokenSigner("secret", 60, clock)
    issued = signer.issue("user-1")
    assert signer.verify(issued.token) == "user-1"
    assert issued.expiry.timestamp() == clock.now + 60
    clock.now += 59
    assert signer.verify(issued.token) == "user-1"
    clock.now += 1
    with pytest.raises(Unauthorized, match="expired"):
        signer.verify(issued.token)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),           # signature changed
    lambda t: "v1." + t.split(".")[1][:-2] + "." + t.split(".")[2],  # payload changed
    lambda t: t.replace("v1.", "v0.", 1),
    lambda t: "garbage",
    lambda t: "v1.!!!.???",
])
def test_tampered_tokens_are_refused(mangle) -> None:
    signer = TokenSigner("secret", 60)
    with pytest.raises(Unauthorized):
        signer.verify(mangle(signer.issue("user-1").token))


def test_a_token_from_another_secret_is_refused() -> None:
    with pytest.raises(Unauthorized):
        TokenSigner("secret", 60).verify(TokenSigner("other", 60).issue("user-1").token)


def test_no_secret_no_tokens() -> None:
    signer = TokenSigner("", 60)
    with pytest.raises(TokensDisabled) as refused:
        signer.issue("user-1")
    assert refused.value.status == 503 and "token_secret" in refused.value.message
    with pytest.raises(Unauthorized):
        signer.verify("v1.e30.AAAA")


async def test_api_keys_rotate_revoke_and_are_stored_hashed() -> None:
    keys = MemoryKeys()
    service = ApiKeyService(keys)
    first = await service.rotate("u1")
    assert await service.user_for(first) == "u1"
    stored_hash, hint = keys.rows["u1"]
    assert stored_hash == hash_api_key(first) and first not in (stored_hash, hint) and first.startswith(hint)
    second = await service.rotate("u1")
    assert second != first and await service.user_for(first) is None and await service.user_for(second) == "u1"
    assert await service.revoke("u1") and await service.user_for(second) is None
    assert await service.user_for("not-a-key") is None
