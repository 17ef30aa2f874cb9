"""SignInLinkService on the real EphemeralStores (database, Redis): one use, 5 minutes, only a hash stored."""
from __future__ import annotations

import pytest

from core.errors import Unauthorized
from core.sign_in import SignInLinkService


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_link_signs_in_once_within_five_minutes(store) -> None:
    clock = Clock()
    links = SignInLinkService(store, lambda t, _next: f"https://bot.example/web/login/link?token={t}", clock=clock)
    link = await links.issue("user-1")
    token = link.url.split("token=", 1)[1]
    assert link.url.startswith("https://bot.example/web/login/link?token=") and len(token) >= 40
    assert (link.expires_at.timestamp() - clock.now) == 300
    assert await store.get("web-sign-in", token) is None     # the token itself is not what the store keeps
    assert await links.redeem(token) == "user-1"
    with pytest.raises(Unauthorized) as used:
        await links.redeem(token)
    assert used.value.reason == "invalid_link"
    late = await links.issue("user-2")
    clock.now += 301     # the store may still hold it (a database purges later): the link's own expiry refuses
    with pytest.raises(Unauthorized):
        await links.redeem(late.url.split("token=", 1)[1])
    for forged in ("", "   ", "nope", token + "x"):
        with pytest.raises(Unauthorized):
            await links.redeem(forged)
