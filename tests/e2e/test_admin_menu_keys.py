"""WeChat menu keys edited live in the console: the next CLICK runs the new action, a restart keeps the change."""
from __future__ import annotations

import aiohttp
from tests.e2e.test_admin_console import page, post, sign_in
from tests.e2e.wechat_support import client_for, wechat_config, zh
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)

MENU = {"M_BALANCE": "/balance", "M_JOKE": "Tell me a joke"}


def _is_balance(text: str) -> bool:
    """/balance's answer (the balance itself moves as the model answers)."""
    return text.startswith(zh("balance.tokens", balance=7, available=7).split("7")[0]) and "Echo" not in text


def _console(running) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(running.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_a_menu_key_edited_in_the_console_changes_the_next_click_and_survives_a_restart(
        wx, start_app, fake_llm, tmp_path) -> None:
    config = wechat_config(tmp_path, fake_llm.base_url, wx, menu=MENU)
    running = await start_app(config)
    client = client_for(running, wx)
    await client.post(client.event("o-k", "CLICK", "M_JOKE", create_time=1_700_000_001))
    assert await wx.wait_sent("o-k", 1) == ["Echo: Tell me a joke"]

    async with _console(running) as http:
        assert (await sign_in(http)).status == 303
        _, html = await page(http, "/admin/catalogue")
        assert "M_BALANCE" in html and "Tell me a joke" in html
        # Without the CSRF token nothing changes.
        async with http.post("/admin/menu", data={"key": "M_JOKE", "action": "/help"}, allow_redirects=False) as r:
            assert r.status == 403
        for data, path in (({"key": "M_JOKE", "action": "/balance"}, "/admin/menu"),
                           ({"key": "M_NEW", "action": "Hello there"}, "/admin/menu"),
                           ({"key": "M_BALANCE"}, "/admin/menu/delete")):
            r = await post(http, path, data, "/admin/catalogue")
            assert r.status == 303 and r.headers["Location"] == "/admin/catalogue#menu"
        r = await post(http, "/admin/menu", {"key": "has space", "action": "/help"}, "/admin/catalogue")
        assert r.status == 400
        _, audit = await page(http, "/admin/audit")
        assert "menu.put" in audit and "menu.delete" in audit

    # No restart: the very next clicks run the operator's mapping.
    await client.post(client.event("o-k", "CLICK", "M_JOKE", create_time=1_700_000_002))
    await client.post(client.event("o-k", "CLICK", "M_NEW", create_time=1_700_000_003))
    await client.post(client.event("o-k", "CLICK", "M_BALANCE", create_time=1_700_000_004))
    _, balance, hello, gone = await wx.wait_sent("o-k", 4)
    assert _is_balance(balance)
    assert hello == "Echo: Hello there" and gone == zh("menu.unknown")
    entries = (await running.services.admin.audit.list(10, action="menu.")).items
    by_target = {(e.action, e.target): e for e in entries}
    changed = by_target[("menu.put", "menu:M_JOKE")]
    assert changed.actor.startswith("admin:")
    assert (changed.before, changed.after) == ({"action": "Tell me a joke"}, {"action": "/balance"})
    assert by_target[("menu.delete", "menu:M_BALANCE")].before == {"action": "/balance"}
    assert by_target[("menu.put", "menu:M_NEW")].before is None
    await running.runner.cleanup()

    # The same config.yaml again: the operator's mapping stays (M_BALANCE is not brought back).
    again = await start_app(config)
    assert await again.services.admin.menu.all() == {"M_JOKE": "/balance", "M_NEW": "Hello there"}
    client = client_for(again, wx)
    await client.post(client.event("o-k", "CLICK", "M_BALANCE", create_time=1_700_000_005))
    await client.post(client.event("o-k", "CLICK", "M_JOKE", create_time=1_700_000_006))
    sent = await wx.wait_sent("o-k", 6)
    assert sent[4] == zh("menu.unknown")
    assert _is_balance(sent[5])
