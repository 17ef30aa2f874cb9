"""channels.wechat.encryption over HTTP against the real app: `safe` refuses plaintext callbacks (whose signature
does not cover the body), `compatible` takes both, `plaintext` refuses encrypted ones; refused means unprocessed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main as bot_main
from tests.e2e.wechat_support import client_for, new_encoding_aes_key, stored_state, wechat_config
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)


@pytest.fixture
def aes_key() -> str:
    return new_encoding_aes_key()


def _reason(answer) -> str:
    return json.loads(answer.body)["error"]["reason"]


@pytest.mark.parametrize("encryption", [None, "safe"])   # None: the default when a key is set
async def test_safe_mode_refuses_plaintext_and_processes_nothing(wx, start_app, fake_llm, tmp_path, aes_key,
                                                                 encryption) -> None:
    settings = {"encryption": encryption} if encryption else {}
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aes_key, **settings))
    plain = client_for(running, wx, "plaintext")
    before = await stored_state()
    for xml in (plain.text("o-plain", "/link ABCDEF"), plain.event("o-plain", "subscribe"),
                plain.text("o-plain", "free answers")):
        answer = await plain.post(xml)
        assert (answer.status, _reason(answer)) == (403, "encryption_refused"), answer
    assert await stored_state() == before
    assert fake_llm.chat_requests == [] and wx.send_calls == []

    safe = client_for(running, wx, "safe", aes_key)      # the same account, encrypted as configured: answered
    assert (await safe.post(safe.text("o-plain", "encrypted hello"))).body == "success"
    assert await wx.wait_sent("o-plain", 1) == ["Echo: encrypted hello"]
    # A compatible-mode callback (plaintext fields beside <Encrypt>) is encrypted too: accepted.
    compatible = client_for(running, wx, "compatible", aes_key)
    assert (await compatible.post(compatible.text("o-plain", "both"))).body == "success"
    assert await wx.wait_sent("o-plain", 2) == ["Echo: encrypted hello", "Echo: both"]


async def test_safe_mode_refuses_an_encrypted_callbacks_query_stripped_to_plaintext(wx, start_app, fake_llm,
                                                                                   tmp_path, aes_key) -> None:
    """An encrypted callback's query carries a valid plain `signature` too; without encrypt_type and
    msg_signature it would be a plaintext callback with any body."""
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aes_key))
    safe = client_for(running, wx, "safe", aes_key)
    query, _ = safe.sign(safe.text("o-s", "hi"))
    stripped = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
    before = await stored_state()
    answer = await safe.send(stripped, safe.text("o-s", "/link ABCDEF"))
    assert (answer.status, _reason(answer)) == (403, "encryption_refused")
    assert await stored_state() == before and fake_llm.chat_requests == []


async def test_compatible_mode_accepts_both_kinds(wx, start_app, fake_llm, tmp_path, aes_key) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aes_key, encryption="compatible"))
    for n, mode in enumerate(("plaintext", "compatible", "safe"), start=1):
        client = client_for(running, wx, mode, aes_key)
        assert (await client.post(client.text("o-c", f"in {mode}"))).body == "success"
    assert await wx.wait_sent("o-c", 3) == ["Echo: in plaintext", "Echo: in compatible", "Echo: in safe"]


async def test_compatible_mode_still_refuses_a_replayed_plaintext_query(wx, start_app, fake_llm, tmp_path,
                                                                        aes_key) -> None:
    """Accepting plaintext (compatible) brings back the replay risk, which the query memory closes."""
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aes_key, encryption="compatible"))
    safe = client_for(running, wx, "safe", aes_key)
    await safe.post(safe.text("o-victim", "hello"))
    assert await wx.wait_sent("o-victim", 1) == ["Echo: hello"]
    query, _ = safe.sent[-1]
    stripped = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
    before = await stored_state()
    answer = await safe.send(stripped, safe.text("o-victim", "/link ABCDEF"))
    assert (answer.status, _reason(answer)) == (403, "replayed_request")
    assert await stored_state() == before and len(fake_llm.chat_requests) == 1


async def test_plaintext_mode_with_a_key_refuses_encrypted_callbacks(wx, start_app, fake_llm, tmp_path,
                                                                     aes_key) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, aes_key, encryption="plaintext"))
    before = await stored_state()
    for mode in ("compatible", "safe"):
        client = client_for(running, wx, mode, aes_key)
        answer = await client.post(client.text("o-p", f"in {mode}"))
        assert (answer.status, _reason(answer)) == (403, "encryption_refused")
    assert await stored_state() == before and fake_llm.chat_requests == []
    plain = client_for(running, wx, "plaintext")
    assert (await plain.post(plain.text("o-p", "plain"))).body == "success"
    assert await wx.wait_sent("o-p", 1) == ["Echo: plain"]


def _check_config(path: Path) -> int:
    try:
        return bot_main(["check-config", "--config", str(path)])
    except SystemExit as stop:
        return int(stop.code or 0)


@pytest.mark.parametrize("encryption", ["safe", "compatible"])
def test_config_check_names_a_mode_that_needs_a_key(tmp_path: Path, capsys, encryption: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("channels:\n  wechat: {enabled: true, app_id: wx1, app_secret: s, token: t, "
                    f"encryption: {encryption}}}\n", encoding="utf-8")
    assert _check_config(path) == 1
    err = capsys.readouterr().err
    assert f"channels.wechat.encryption: '{encryption}' needs encoding_aes_key" in err
    path.write_text("channels:\n  wechat: {enabled: true, app_id: wx1, app_secret: s, token: t, "
                    "encryption: sometimes}\n", encoding="utf-8")
    assert _check_config(path) == 1
    assert "channels.wechat.encryption" in capsys.readouterr().err
