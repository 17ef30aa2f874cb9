"""The free allowance and the rate limit as users see them: /balance in Telegram (English) and WeChat (Chinese), and
the user centre page /web/me in both languages; nothing about them when neither is configured."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import aiohttp

from core.allowance import period_of
from core.i18n import Text, Texts
from tests.conftest import make_config
from tests.e2e.telegram_harness import launch, services_user, tg  # noqa: F401
from tests.e2e.web_support import new_user, sign_in_by_link
from tests.e2e.wechat_support import client_for, wechat_config
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)

TEXTS = Texts.load()
QUOTA = {"signup_grant": 100, "allowance": {"tokens": 500, "every": "day"},
         "rate_limit": {"messages": 5, "per": "hour"}}


def renewals(every: str) -> set[str]:
    """When the allowance renews, as shown (the test may run across a period's end)."""
    return {f"{period_of(datetime.now(timezone.utc), every)[1]:%Y-%m-%d %H:%M} UTC"}


def allowance_line(locale: str, left: int, tokens: int, every: str, renews: str) -> str:
    return TEXTS.render(Text.of("balance.allowance", left=left, tokens=tokens, every=Text.of(f"balance.every.{every}"),
                                renews=renews), locale)


def rate_pattern(locale: str, messages: int, per: str, used: int) -> re.Pattern:
    """balance.rate_limit with any number of minutes to the window's end."""
    line = TEXTS.render(Text.of("balance.rate_limit", messages=messages, per=Text.of(f"balance.per.{per}"),
                                used=used, minutes="MINUTES"), locale)
    return re.compile(re.escape(line).replace("MINUTES", r"\d+"))


async def test_telegram_balance_shows_the_allowance_and_the_rate_limit(launch, tg) -> None:
    renews = renewals("day")
    running = await launch(quota=QUOTA)
    alice = tg.user(7301, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "/balance")
    [shown] = await tg.wait_until(lambda: tg.bot_messages(chat))
    user = await services_user(running, alice)
    assert user.balance == 600 and shown.text.startswith("Balance: 600 tokens")
    assert any(allowance_line("en", 500, 500, "day", r) in shown.text for r in renews | renewals("day")), shown.text
    assert rate_pattern("en", 5, "hour", 0).search(shown.text), shown.text


async def test_wechat_balance_in_chinese_and_an_exempt_operator(wx, start_app, fake_llm, tmp_path) -> None:
    quota = {"signup_grant": 100, "allowance": {"tokens": 700, "every": "week"},
             "rate_limit": {"messages": 3, "per": "minute", "exempt": ["wechat:o-op"]}}
    renews = renewals("week")
    wechat = wechat_config(tmp_path, fake_llm.base_url, wx).channels.wechat.model_dump()
    running = await start_app(make_config(tmp_path, fake_llm.base_url, channels={"wechat": wechat}, quota=quota))
    client = client_for(running, wx)
    await client.post(client.text("o-op", "余额"))
    [shown] = await wx.wait_sent("o-op", 1)
    assert any(allowance_line("zh", 700, 700, "week", r) in shown for r in renews | renewals("week")), shown
    assert TEXTS.get("balance.rate_exempt", "zh") in shown and "分钟" not in shown


async def test_the_user_centre_shows_them_in_both_languages_and_nothing_when_unset(start_app, tmp_path,
                                                                                  fake_llm) -> None:
    for quota, expect in ((QUOTA, True), ({"signup_grant": 100}, False)):
        renews = renewals("day")
        running = await start_app(make_config(tmp_path / str(expect), fake_llm.base_url, quota=quota))
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(running.base_url, cookie_jar=jar) as http:
            alice = await new_user(http)
            await sign_in_by_link(http, running, alice["user"]["id"])
            for locale in ("en", "zh"):
                async with http.get("/web/me", headers={"Accept-Language": locale}) as r:
                    assert r.status == 200
                    html = await r.text()
                if not expect:
                    assert 'class="hint limit"' not in html
                    continue
                assert any(allowance_line(locale, 500, 500, "day", x) in html for x in renews | renewals("day"))
                assert rate_pattern(locale, 5, "hour", 0).search(html), html
