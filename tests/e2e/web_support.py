"""Helpers for the /web page tests over real HTTP: a user made through the admin API, a /web sign-in link, the CSRF
token a page carries, and a client that signs in with the link the way a browser does."""
from __future__ import annotations

import re

import aiohttp

ADMIN = {"X-API-Key": "admin-key"}


async def new_user(http: aiohttp.ClientSession, name: str = "alice") -> dict:
    async with http.post("/api/v1/users", json={"name": name}, headers=ADMIN) as r:
        assert r.status == 201, await r.text()
        return await r.json()


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]*)"', html).group(1)


def csrf_of_form(html: str) -> str:
    return field_of(html, "csrf_token")


def field_of(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


async def sign_in_by_link(http: aiohttp.ClientSession, running, user_id: str, next_path: str = "") -> aiohttp.ClientResponse:
    """What a browser does with the /web link: GET the page, press its button. Returns the POST's (303) answer."""
    link = await running.services.sign_in.issue(user_id)
    path = link.url.split("127.0.0.1:8080", 1)[1] + (f"&next={next_path}" if next_path else "")
    async with http.get(path) as r:
        assert r.status == 200
        html = await r.text()
    html = html[html.index('id="link-form"'):]
    form = {"csrf_token": csrf_of_form(html), "token": field_of(html, "token"), "next": field_of(html, "next")}
    async with http.post("/web/login/link", data=form, allow_redirects=False) as r:
        await r.read()
        return r
