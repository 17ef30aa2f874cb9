"""A generic OAuth2 authorization-code client: the authorize URL, the code exchange and the user info call."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp

from adapters.http.oauth_settings import OAuthProviderConfig
from core.errors import Unauthorized, UpstreamError

TIMEOUT = aiohttp.ClientTimeout(total=15)


@dataclass(frozen=True)
class OAuthProfile:
    external_id: str
    name: str


class OAuthClient:
    def __init__(self, provider: OAuthProviderConfig, redirect_uri: str):
        self.provider = provider
        self.redirect_uri = redirect_uri

    def authorize_url(self, state: str) -> str:
        p = self.provider
        params = {"response_type": "code", "client_id": p.client_id, "redirect_uri": self.redirect_uri,
                  "state": state}
        if p.scope:
            params["scope"] = p.scope
        return p.authorize_url + ("&" if "?" in p.authorize_url else "?") + urlencode(params)

    async def profile(self, code: str) -> OAuthProfile:
        """Exchange the code for an access token, then read who signed in."""
        p = self.provider
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                "client_id": p.client_id, "client_secret": p.client_secret}
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT, headers={"Accept": "application/json"}) as http:
                token = await self._json(await http.post(p.token_url, data=form), "token")
                access = token.get("access_token")
                if not isinstance(access, str) or not access:
                    raise UpstreamError(f"The {p.name} login answered without an access_token.",
                                        reason="oauth_failed")
                info = await self._json(await http.get(p.userinfo_url, headers={"Authorization": f"Bearer {access}"}),
                                        "user info")
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise UpstreamError(f"The {p.name} login could not be reached ({e.__class__.__name__}).",
                                reason="oauth_failed") from None
        external_id = info.get(p.id_field)
        if external_id is None or external_id == "":
            raise UpstreamError(f"The {p.name} user info has no {p.id_field!r} field.", reason="oauth_failed")
        return OAuthProfile(str(external_id), str(info.get(p.name_field) or ""))

    async def _json(self, response: aiohttp.ClientResponse, what: str) -> dict:
        async with response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            if 400 <= response.status < 500:
                detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
                raise Unauthorized(f"The {self.provider.name} login refused the {what} request"
                                   + (f": {detail}" if detail else "."), reason="oauth_failed")
            if response.status >= 300 or not isinstance(body, dict):
                raise UpstreamError(f"The {self.provider.name} {what} endpoint answered {response.status} "
                                    "without a JSON object.", reason="oauth_failed")
            return body
