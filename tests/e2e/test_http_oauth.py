"""OAuth2 login against a local authorization server: providers list, callback, state checks, failures."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import make_config
from tests.e2e.http_native import assert_error, serve
from tests.fakes.oauth_server import FakeOAuth

PUBLIC = "https://bot.example.com"


@pytest.fixture
async def oauth():
    async with FakeOAuth() as fake:
        yield fake


@pytest.fixture
async def api(start_app, tmp_path, fake_llm, oauth):
    config = make_config(tmp_path, fake_llm.base_url, server={"public_url": PUBLIC}, security={
        "admin_api_keys": ["admin-key"], "token_secret": "s" * 32,
        "oauth_providers": [oauth.provider_config("octo"), oauth.provider_config("sub-style", id_field="sub")]})
    async with serve(start_app, config) as client:
        yield client


async def _browser_login(api, provider: str = "octo") -> tuple[str, str]:
    """Do what a browser does: open the provider's URL, follow its redirect back to our callback.

    Returns the callback's path and query as the provider sent it (to our public URL)."""
    providers = (await api.get("/auth/oauth/providers")).body["providers"]
    url = next(p["url"] for p in providers if p["name"] == provider)
    async with api.http.get(url, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        location = resp.headers["Location"]
    assert location.startswith(PUBLIC + "/api/v1/auth/oauth/callback?")
    return location.removeprefix(PUBLIC + "/api/v1"), location


async def _callback(api, path: str):
    return await api.call("GET", path)


async def test_providers_list_links_to_the_authorize_endpoint(api, oauth) -> None:
    reply = await api.get("/auth/oauth/providers")
    assert [p["name"] for p in reply.body["providers"]] == ["octo", "sub-style"]
    parts = urlsplit(reply.body["providers"][0]["url"])
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == oauth.base_url + "/authorize"
    assert query["response_type"] == ["code"] and query["client_id"] == [oauth.client_id]
    assert query["redirect_uri"] == [PUBLIC + "/api/v1/auth/oauth/callback"] and query["scope"] == ["read:user"]
    assert query["state"][0]


async def test_login_creates_an_oauth_identity_once_and_the_state_is_single_use(api, oauth) -> None:
    path, _ = await _browser_login(api)
    reply = await _callback(api, path)
    assert reply.status == 200 and reply.body["type"] == "Bearer", reply.body
    me = await api.get("/me", headers={"Authorization": f"Bearer {reply.body['token']}"})
    assert me.body["identities"] == [{"channel": "oauth:octo", "external_id": "1001"}]
    assert me.body["name"] == "Octo Cat" and me.body["balance"] == 1000
    assert oauth.token_requests[0]["client_secret"] == oauth.client_secret
    assert oauth.token_requests[0]["redirect_uri"] == PUBLIC + "/api/v1/auth/oauth/callback"
    assert_error(await _callback(api, path), 400, "invalid_state")   # replaying the callback
    again = await _callback(api, (await _browser_login(api))[0])
    assert again.body["user_id"] == me.body["id"]                      # same person, same user, one grant
    entries = await api.services.repos.ledger.entries(me.body["id"], 10, None)
    assert [e.kind for e in entries.items] == ["grant"]


async def test_id_field_is_configurable(api, oauth) -> None:
    oauth.login_as = {"sub": "subject-9", "name": "Sub"}
    reply = await _callback(api, (await _browser_login(api, "sub-style"))[0])
    me = await api.get("/me", headers={"Authorization": f"Bearer {reply.body['token']}"})
    assert me.body["identities"] == [{"channel": "oauth:sub-style", "external_id": "subject-9"}]


async def test_forged_missing_and_foreign_states_are_refused(api, oauth) -> None:
    path, _ = await _browser_login(api)
    code = parse_qs(urlsplit(path).query)["code"][0]
    assert_error(await _callback(api, f"/auth/oauth/callback?code={code}&state=forged"), 400, "invalid_state")
    missing = await _callback(api, f"/auth/oauth/callback?code={code}")
    assert_error(missing, 400, "invalid_request")
    assert "state" in missing.body["error"]["message"]
    assert oauth.token_requests == []  # nothing reached the provider


async def test_denied_login_and_failing_provider(api, oauth) -> None:
    oauth.deny = True
    assert_error(await _callback(api, (await _browser_login(api))[0]), 401, "oauth_denied")
    oauth.deny = False
    oauth.token_status = 500
    assert_error(await _callback(api, (await _browser_login(api))[0]), 502, "oauth_failed")
    oauth.token_status = None
    path, _ = await _browser_login(api)
    oauth.codes.clear()  # the code expired at the provider
    reply = await _callback(api, path)
    assert_error(reply, 401, "oauth_failed")
    assert "invalid" in reply.body["error"]["message"]


async def test_no_providers_configured(start_app, config) -> None:
    async with serve(start_app, config) as api:
        assert (await api.get("/auth/oauth/providers")).body == {"providers": []}
