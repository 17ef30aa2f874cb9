"""A local OAuth2 authorization server (RFC 6749 authorization-code grant) with a user info endpoint.

    async with FakeOAuth(client_id="cid", client_secret="cs") as fake:
        fake.login_as = {"id": 7, "name": "Octo"}   # who "signs in" at /authorize
        # GET /authorize?response_type=code&client_id=...&redirect_uri=...&state=... answers 302 to
        # redirect_uri?code=...&state=... (or ?error=access_denied when fake.deny is set)
"""
from __future__ import annotations

import secrets
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.local import serve_local


class FakeOAuth:
    def __init__(self, client_id: str = "client-1", client_secret: str = "secret-1"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.login_as: dict = {"id": 1001, "name": "Octo Cat"}
        self.deny = False
        self.token_status: int | None = None          # answer the token endpoint with this failure
        self.codes: dict[str, tuple[str, dict]] = {}  # code -> (redirect_uri, profile); single use
        self.tokens: dict[str, dict] = {}             # access token -> profile
        self.token_requests: list[dict] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> "FakeOAuth":
        app = web.Application()
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_get("/userinfo", self._userinfo)
        self._runner, self.base_url = await serve_local(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def provider_config(self, name: str = "octo", **changes: object) -> dict:
        """The security.oauth_providers entry for this server."""
        return {"name": name, "client_id": self.client_id, "client_secret": self.client_secret,
                "authorize_url": self.base_url + "/authorize", "token_url": self.base_url + "/token",
                "userinfo_url": self.base_url + "/userinfo", "scope": "read:user", **changes}

    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("response_type") != "code" or q.get("client_id") != self.client_id or not q.get("redirect_uri"):
            return web.json_response({"error": "invalid_request"}, status=400)
        back = {"state": q.get("state", "")}
        if self.deny:
            back["error"] = "access_denied"
            back["error_description"] = "The user denied access"
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = (q["redirect_uri"], dict(self.login_as))
            back["code"] = code
        raise web.HTTPFound(q["redirect_uri"] + "?" + urlencode(back))

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append(form)
        if self.token_status:
            return web.json_response({"error": "server_error"}, status=self.token_status)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "authorization_code":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        issued = self.codes.pop(str(form.get("code")), None)
        if issued is None or issued[0] != form.get("redirect_uri"):
            return web.json_response({"error": "invalid_grant",
                                      "error_description": "The code is invalid, used or for another redirect_uri"},
                                     status=400)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = issued[1]
        return web.json_response({"access_token": token, "token_type": "bearer", "scope": "read:user"})

    async def _userinfo(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        profile = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if profile is None:
            return web.json_response({"message": "Bad credentials"}, status=401)
        return web.json_response(profile)
