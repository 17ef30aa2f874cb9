"""/balance shows the same facts in Telegram, WeChat and the terminal: one account linked across the three, with an
order and an answer's hold, read in each (English in Telegram and the terminal, Chinese in WeChat)."""
from __future__ import annotations

import re

import yaml

from core.i18n import Text
from tests.conftest import make_config
from tests.e2e.telegram_harness import services_user, telegram_section, tg, visible  # noqa: F401
from tests.e2e.test_cli import run_cli
from tests.e2e.wechat_support import CALLBACK_TOKEN, client_for
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)

HOLD = 250


def balance_lines(user, order) -> tuple[Text, ...]:
    """The facts /balance must show, as the catalogue keys and values every channel renders."""
    return (Text.of("balance.tokens", balance=user.balance, available=user.available),
            Text.of("balance.held", held=user.held),
            Text.of("balance.storage", used="0.0", limit="5.0"),
            Text.of("balance.orders"),
            Text.of("balance.order", product="Starter pack", status=Text.of("order.status.unpaid"),
                    date=f"{order.created_at:%Y-%m-%d}"))


async def _link_code(tg, chat, alice) -> str:
    """A new link code from Alice's Telegram chat."""
    def codes() -> list[str]:
        return [m.text for m in tg.bot_messages(chat) if "Your link code" in m.text]

    before = len(codes())
    await tg.send_text(chat, alice, "/link")
    newest = (await tg.wait_until(lambda: len(codes()) > before and codes()))[-1]
    return re.search(r"code: ([A-Z0-9]{8})", newest).group(1)


async def test_balance_is_the_same_in_telegram_wechat_and_the_terminal(tg, wx, start_app, fake_llm, tmp_path) -> None:
    wechat = {"enabled": True, "app_id": wx.app_id, "app_secret": wx.app_secret, "token": CALLBACK_TOKEN,
              "api_base_url": wx.base_url}
    config = make_config(tmp_path, fake_llm.base_url,
                         channels={"telegram": telegram_section(tg, "polling"), "wechat": wechat})
    running = await start_app(config)
    await tg.wait_until(lambda: tg.commands and tg.polled)
    alice = tg.user(4401, "Alice")
    chat = tg.private_chat(alice)
    # One account: WeChat and the terminal join Alice's Telegram account with link codes.
    code = await _link_code(tg, chat, alice)
    client = client_for(running, wx)
    await client.post(client.text("o-alice", f"绑定 {code}"))
    await wx.wait_sent("o-alice", 1)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    code = await _link_code(tg, chat, alice)
    status, out, err = await run_cli("chat", "--config", str(path), "--user", "alice", stdin=f"/link {code}\n/quit\n")
    assert status == 0, err
    user = await services_user(running, alice)
    assert {(i.channel, i.external_id) for i in user.identities} == \
        {("telegram", "4401"), ("wechat", "o-alice"), ("cli", "alice")}
    order = await running.services.orders.create(user.id, "starter", note="test")
    await running.services.quota.hold_amount(user.id, HOLD, "balance-test-hold", "a test")
    user = await running.services.accounts.get(user.id)
    assert user.held == HOLD
    texts = running.services.texts
    lines = balance_lines(user, order)

    await tg.send_text(chat, alice, "/balance")
    [in_telegram] = await tg.wait_until(lambda: [t for t in visible(tg, chat) if t.startswith("Balance:")])
    await client.post(client.text("o-alice", "余额"))
    in_wechat = (await wx.wait_sent("o-alice", 2))[1]
    status, out, err = await run_cli("chat", "--config", str(path), "--user", "alice", stdin="/balance\n/quit\n")
    assert status == 0, err

    assert in_telegram == texts.join(lines, "en")
    assert in_wechat == texts.join(lines, "zh")
    assert texts.join(lines, "en") in out
    assert f"{user.balance:,}" in in_telegram and f"{user.available:,}" in in_wechat and f"{HOLD}" in out
    assert "Starter pack: unpaid" in in_telegram and "Starter pack：未支付" in in_wechat
