"""Inputs that used to answer 500 get a clear 4xx (or a polite chat answer) and log no traceback: over-long
path ids, JSON nested 100k deep, a 5000-digit number, NUL in a file name, a Telegram update without a chat,
and a 5000-character Stars payload."""
from __future__ import annotations

import logging

import aiohttp
import pytest

from adapters.storage.models_rag import ResourceRow
from tests.conftest import make_config
from tests.e2e.telegram_harness import launch, mode, services_user, tg  # noqa: F401
from tests.e2e.test_rag_api import ADMIN, new_user

LONG_ID = "a" * 37


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [(r.name, r.getMessage()) for r in bad]


async def _call(http, method: str, url: str, headers: dict, **kw) -> tuple[int, dict]:
    async with http.request(method, url, headers=headers, **kw) as resp:
        body = await resp.json(content_type=None) if resp.status != 204 else {}
        return resp.status, body


async def test_over_long_path_ids_are_404(start_app, config, caplog) -> None:
    caplog.set_level(logging.INFO)
    running = await start_app(config)
    base = running.base_url + "/api/v1"
    async with aiohttp.ClientSession() as http:
        _, alice = await new_user(http, running.base_url, "alice")
        status, conv = await _call(http, "POST", base + "/conversations", alice, json={})
        assert status == 201, conv
        probes = [
            ("GET", f"/orders/{LONG_ID}", None), ("PATCH", f"/orders/{LONG_ID}", {"note": "x"}),
            ("DELETE", f"/orders/{LONG_ID}", None),
            ("POST", f"/orders/{LONG_ID}/pay", {"payment_method": "wechat_native"}),
            ("GET", f"/orders/{LONG_ID}/qrcode.png", None),
            ("GET", f"/resources/{LONG_ID}", None), ("DELETE", f"/resources/{LONG_ID}", None),
            ("GET", f"/conversations/{conv['id']}/messages/{LONG_ID}", None),
            ("DELETE", f"/conversations/{conv['id']}/messages/{LONG_ID}", None),
            ("POST", f"/messages/{LONG_ID}/feedback", {"rating": 1}),
            ("GET", f"/products/{'p' * 65}", None), ("GET", f"/roles/{'r' * 101}", None),
            ("GET", f"/orders/{'a' * 5000}", None), ("GET", "/orders/a%00b", None),
        ]
        for method, path, body in probes:
            status, answer = await _call(http, method, base + path, alice, json=body)
            assert (status, answer["error"]["reason"]) == (404, "not_found"), (method, path, answer)
            assert answer["correlationId"]
        status, answer = await _call(http, "POST", f"{base}/orders/{LONG_ID}/refund", ADMIN, json={})
        assert (status, answer["error"]["reason"]) == (404, "not_found"), answer
        # The OpenAPI document says how long an id can be, so a fuzzer probes one character beyond it.
        _, doc = await _call(http, "GET", base + "/openapi.json", {})
        params = doc["paths"]["/api/v1/orders/{id}"]["get"]["parameters"]
        assert params[0]["schema"]["maxLength"] == 36
    no_tracebacks(caplog)


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b"1" * 5000,
    b'{"title": "x", "instruction": ' + b"9" * 5000 + b"}",
])
async def test_deep_json_and_huge_numbers_are_400(start_app, tmp_path, fake_llm, caplog, body: bytes) -> None:
    caplog.set_level(logging.INFO)
    running = await start_app(make_config(tmp_path, fake_llm.base_url, dify={"app_keys": ["dify-key"]}))
    async with aiohttp.ClientSession() as http:
        _, alice = await new_user(http, running.base_url, "alice")
        headers = {**alice, "Content-Type": "application/json"}
        for path in ("/api/v1/conversations", "/api/v1/orders"):
            status, answer = await _call(http, "POST", running.base_url + path, headers, data=body)
            assert (status, answer["error"]["reason"]) == (400, "invalid_request"), answer
        # The Dify-compatible API reads JSON its own way: the same refusal in Dify's shape.
        dify = {"Authorization": "Bearer dify-key", "Content-Type": "application/json"}
        status, answer = await _call(http, "POST", running.base_url + "/dify/v1/chat-messages", dify, data=body)
        assert status == 400, answer
        _, convs = await _call(http, "GET", running.base_url + "/api/v1/conversations", alice)
        assert convs["data"] == []
    no_tracebacks(caplog)


def _multipart(disposition: bytes, content: bytes = b"Some plain words.") -> tuple[bytes, str]:
    """A hand-made multipart body (aiohttp's client refuses to send control characters in a header)."""
    boundary = "nul-test-boundary"
    body = (f"--{boundary}\r\n".encode() + b"Content-Disposition: form-data; " + disposition + b"\r\n"
            b"Content-Type: text/plain\r\n\r\n" + content + f"\r\n--{boundary}--\r\n".encode())
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("disposition", [
    b'name="file"; filename="a\x00b.txt"',              # a raw NUL byte
    b"name=\"file\"; filename*=UTF-8''notes%00.pdf",     # RFC 5987, decoded to a NUL
    b'name="name"',                                      # the `name` field holds the NUL (below)
])
async def test_nul_in_a_multipart_file_name_is_400(start_app, config, caplog, disposition: bytes) -> None:
    caplog.set_level(logging.INFO)
    running = await start_app(config)
    async with aiohttp.ClientSession() as http:
        user_id, alice = await new_user(http, running.base_url, "alice")
        for headers in (alice, ADMIN):
            if disposition == b'name="name"':
                body, kind = _multipart(disposition, b"bad\x00name")
                tail = b'--nul-test-boundary--\r\n'
                body = body[: -len(tail)] + b'--nul-test-boundary\r\nContent-Disposition: form-data; name="file"; ' \
                    b'filename="ok.txt"\r\nContent-Type: text/plain\r\n\r\nFine words.\r\n' + tail
            else:
                body, kind = _multipart(disposition)
            status, answer = await _call(http, "POST", running.base_url + "/api/v1/resources",
                                         {**headers, "Content-Type": kind}, data=body)
            assert (status, answer["error"]["reason"]) == (400, "invalid_request"), answer
    assert await ResourceRow.all().count() == 0
    assert (await running.services.accounts.get(user_id)).storage_used_bytes == 0
    no_tracebacks(caplog)


async def test_a_telegram_update_without_chat_is_ignored(launch, tg, fake_llm, mode, caplog) -> None:
    caplog.set_level(logging.INFO)
    running = await launch(mode)
    mallory = tg.user(9301, "Mallory")
    chatless = [
        {"message_id": 1, "date": 1700000000, "text": "/start", "from": mallory,
         "entities": [{"type": "bot_command", "offset": 0, "length": 6}]},
        {"message_id": 2, "date": 1700000000, "text": "/balance", "from": mallory,
         "entities": [{"type": "bot_command", "offset": 0, "length": 8}]},
        {"message_id": 3, "date": 1700000000, "text": "hello there", "from": mallory},
    ]
    for message in chatless:
        status = await tg.deliver({"update_id": tg.next_update_id(), "message": message})
        assert status in (None, 200)  # webhook: acknowledged, so Telegram does not retry it
    button = {"id": "q1", "from": mallory, "chat_instance": "1", "data": "role:assistant",
              "message": {"message_id": 4, "date": 1700000000, "text": "pick one"}}
    await tg.deliver({"update_id": tg.next_update_id(), "callback_query": button})
    # Updates are handled in order: once a later good one is answered, the bad ones are behind us.
    alice = tg.user(9302, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "/help")
    await tg.wait_until(lambda: tg.bot_messages(chat))
    from core.domain import Identity

    no_tracebacks(caplog)
    assert await running.services.repos.users.find_by_identity(Identity("telegram", "9301")) is None
    assert fake_llm.chat_requests == []


async def test_a_5000_character_stars_payload_is_refused_politely(launch, tg, fake_llm, mode, caplog) -> None:
    caplog.set_level(logging.INFO)
    running = await launch(mode)
    alice = tg.user(9401, "Alice")
    chat = tg.private_chat(alice)
    payload = "x" * 5000
    answer = await tg.pre_checkout(alice, payload, 100)
    assert answer["ok"] is False and "does not exist" in answer["error_message"]

    charge_id = "stxn-long-payload"
    tg.charges[charge_id] = {"user_id": alice["id"], "amount": 100, "refunded": False}
    paid = {"currency": "XTR", "total_amount": 100, "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": ""}
    message = {"message_id": 50, "date": 1700000000, "chat": chat, "from": alice, "successful_payment": paid}
    await tg.deliver({"update_id": tg.next_update_id(), "message": message})
    notice = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if "could not be applied" in m.text])
    assert "refunded" in notice[0].text
    assert tg.charges[charge_id]["refunded"] is True  # the Stars went back to the payer
    user = await services_user(running, alice)
    ledger = await running.services.repos.ledger.entries(user.id, 50, None)
    assert [e.kind for e in ledger.items] == ["grant"]
    no_tracebacks(caplog)
