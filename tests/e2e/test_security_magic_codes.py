"""Attacks on link (magic) codes: brute force from one address, guessing one code, guessing through the chats."""
from __future__ import annotations

import re

import pytest

from core.domain import Identity
from tests.e2e.http_native import assert_error, serve
from tests.e2e.security_support import CODE, client_from, wrong_guesses
from tests.e2e.wechat_support import client_for, wechat_config, zh
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)


@pytest.fixture
async def api(start_app, config):
    async with serve(start_app, config) as client:
        yield client


async def test_codes_are_eight_symbols_of_an_unambiguous_alphabet(api) -> None:
    victim = await api.services.accounts.ensure_user(Identity("telegram", "1"), "Victim")
    codes = {await api.services.accounts.new_link_code(victim.id) for _ in range(20)}
    assert len(codes) == 20 and all(CODE.match(c) for c in codes)


async def test_brute_force_from_one_address_is_refused_even_with_the_right_code(api) -> None:
    victim = await api.services.accounts.ensure_user(Identity("telegram", "42"), "Victim")
    code = await api.services.accounts.new_link_code(victim.id)
    async with client_from("127.0.0.2", api.base_url, api.running) as attacker:
        mallory, mallory_user = await api.new_user("mallory")
        mallory = attacker.as_(mallory.headers)   # signed in: a hit would merge the victim's account into theirs
        for guess in wrong_guesses(code, 10, same_slot=False):
            assert_error(await mallory.post("/auth/token", {"magic_code": guess}), 400, "invalid_code")
        refused = await mallory.post("/auth/token", {"magic_code": wrong_guesses(code, 11, False)[-1]})
        assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["Retry-After"]) <= 120
        # Even the right code is refused from this address now: the limit is checked before any code is tried.
        right = await mallory.post("/auth/token", {"magic_code": code})
        assert_error(right, 429, "rate_limited")
        assert "token" not in right.body
    # Nothing was taken over: the victim's code is still live and their account untouched.
    assert await api.services.ephemeral.get("magic", code) == victim.id
    me = await api.as_(mallory.headers).get("/me")
    assert me.body["id"] == mallory_user["id"] and me.body["identities"] == []
    # The rightful owner, elsewhere, still signs in with it.
    async with client_from("127.0.0.3", api.base_url) as owner:
        reply = await owner.post("/auth/token", {"magic_code": code})
    assert reply.status == 200 and reply.body["user_id"] == victim.id


async def test_a_code_dies_after_five_wrong_tries_against_it(api) -> None:
    victim = await api.services.accounts.ensure_user(Identity("telegram", "7"), "Victim")
    code = await api.services.accounts.new_link_code(victim.id)
    # Five guesses that name this code (its first 3 symbols), each from an address of its own.
    for n, guess in enumerate(wrong_guesses(code, 5, same_slot=True)):
        async with client_from(f"127.0.1.{n + 1}", api.base_url) as attacker:
            assert_error(await attacker.post("/auth/token", {"magic_code": guess}), 400, "invalid_code")
    assert await api.services.ephemeral.get("magic", code) is None
    async with client_from("127.0.2.1", api.base_url) as owner:
        assert_error(await owner.post("/auth/token", {"magic_code": code}), 400, "invalid_code")
        # The owner asks for a new code, which works.
        fresh = await api.services.accounts.new_link_code(victim.id)
        assert (await owner.post("/auth/token", {"magic_code": fresh})).body["user_id"] == victim.id


async def test_four_wrong_tries_leave_the_code_alive(api) -> None:
    victim = await api.services.accounts.ensure_user(Identity("telegram", "8"), "Victim")
    code = await api.services.accounts.new_link_code(victim.id)
    for guess in wrong_guesses(code, 4, same_slot=True):
        assert_error(await api.post("/auth/token", {"magic_code": guess}), 400, "invalid_code")
    async with client_from("127.0.2.2", api.base_url) as owner:
        assert (await owner.post("/auth/token", {"magic_code": code})).body["user_id"] == victim.id


async def test_guessing_in_a_chat_gets_a_polite_refusal_and_links_nothing(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    await client.post(client.text("o-victim", "/link"))
    code = re.search(r"/link ([A-Z0-9]{8})", (await wx.wait_sent("o-victim", 1))[0]).group(1)
    assert CODE.match(code)
    for n, guess in enumerate(wrong_guesses(code, 10, same_slot=False)):
        await client.post(client.text("o-attacker", f"/link {guess}"))
        assert (await wx.wait_sent("o-attacker", n + 1))[-1] == zh("error.invalid_code")
    await client.post(client.text("o-attacker", f"/link {code}"))
    refusal = (await wx.wait_sent("o-attacker", 11))[-1]
    seconds = int(re.search(r"(\d+)", refusal).group(1))
    assert 1 <= seconds <= 120 and refusal == zh("error.too_many_attempts", seconds=seconds)
    victim = await running.services.accounts.ensure_user(Identity("wechat", "o-victim"))
    attacker = await running.services.accounts.ensure_user(Identity("wechat", "o-attacker"))
    assert victim.id != attacker.id
    assert await running.services.ephemeral.get("magic", code) == victim.id   # still the victim's, unused
