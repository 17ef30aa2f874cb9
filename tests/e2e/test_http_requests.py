"""Bad requests over real HTTP: malformed JSON, wrong types, oversized bodies, unknown routes, all in the error shape."""
from __future__ import annotations

import pytest

from tests.conftest import make_config
from tests.e2e.http_native import ADMIN, assert_error, serve


@pytest.fixture
async def api(start_app, tmp_path, fake_llm):
    config = make_config(tmp_path, fake_llm.base_url, server={"max_body_bytes": 4096})
    async with serve(start_app, config) as client:
        yield client


@pytest.mark.parametrize("raw, reason, words", [
    (b'{"content": "hi"', "invalid_request", "not valid JSON"),
    (b"{'content': 'hi'}", "invalid_request", "line 1"),
    (b"\xff\xfe", "invalid_request", "UTF-8"),
    (b"", "invalid_request", "JSON body"),
    (b'["content"]', "invalid_request", "body"),
    (b'"hi"', "invalid_request", "body"),
])
async def test_malformed_bodies_are_400_and_nothing_happens(api, fake_llm, raw, reason, words) -> None:
    user, _ = await api.new_user()
    cid = (await user.post("/conversations")).body["id"]
    reply = await user.post(f"/conversations/{cid}/messages", data=raw, headers={"Content-Type": "application/json"})
    assert_error(reply, 400, reason)
    assert words in reply.body["error"]["message"]
    assert fake_llm.chat_requests == []
    assert (await user.get(f"/conversations/{cid}/messages")).body["data"] == []


@pytest.mark.parametrize("path, body, field", [
    ("/conversations", {"title": 5}, "title"),
    ("/conversations", {"resource_ids": "r1"}, "resource_ids"),
    ("/conversations", {"color": "red"}, "color"),
    ("/orders", {"product_id": ["starter"]}, "product_id"),
    ("/orders", {"product_id": "starter", "note": None}, "note"),
])
async def test_wrong_types_and_unknown_fields_name_the_field(api, path, body, field) -> None:
    user, _ = await api.new_user()
    reply = await user.post(path, body)
    assert_error(reply, 400, "invalid_request")
    assert reply.body["error"]["message"].count(field) >= 1
    listed = await user.get(path)
    assert listed.body["data"] == []  # nothing was created


async def test_oversized_body_is_413_in_the_error_shape(api, fake_llm) -> None:
    user, _ = await api.new_user()
    cid = (await user.post("/conversations")).body["id"]
    reply = await user.post(f"/conversations/{cid}/messages", {"content": "x" * 5000})
    assert_error(reply, 413, "payload_too_large")
    assert fake_llm.chat_requests == []
    ok = await user.post(f"/conversations/{cid}/messages", {"content": "small"})
    assert ok.status == 200


async def test_unauthenticated_requests_are_refused_before_the_body_is_read(api) -> None:
    assert_error(await api.post("/conversations", data=b"{not json", headers={"Content-Type": "application/json"}),
                 401, "unauthorized")
    assert_error(await api.post("/users", data=b"x" * 10000, headers={"X-API-Key": "guess"}), 401)
    assert_error(await api.as_(ADMIN).post("/users", data=b"x" * 10000), 413)


async def test_unknown_routes_and_methods(api) -> None:
    user, _ = await api.new_user()
    assert_error(await user.get("/nowhere"), 404, "not_found")
    assert_error(await user.call("PUT", "/me"), 405, "method_not_allowed")
    reply = await user.get("/conversations/not-a-real-id")
    assert_error(reply, 404, "not_found")
    assert reply.headers["X-Request-Id"] == reply.body["correlationId"]
