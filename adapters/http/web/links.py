"""The web pages' own paths, and `next=` checked so a redirect only ever goes to one of our paths."""
from __future__ import annotations

from typing import Callable
from urllib.parse import quote, urlsplit

HOME = "/web/chat"
LOGIN = "/web/login"
SIGN_IN_LINK = "/web/login/link"
# Where a `next=` may lead: our pages only (the API and webhooks are no place to land a browser).
_OWN_PREFIXES = ("/web/", "/admin/")
_OWN_EXACT = ("/web", "/admin")


def sign_in_url(public_url: str) -> Callable[[str, str | None], str]:
    """The absolute /web link for a sign-in token, built on server.public_url, with the user page it lands on
    (`next`, kept only when `user_page_next` accepts it)."""
    base = public_url.rstrip("/")

    def url(token: str, next_path: str | None = None) -> str:
        link = f"{base}{SIGN_IN_LINK}?token={quote(token, safe='')}"
        landing = user_page_next(next_path, default="")
        return f"{link}&next={quote(landing, safe='/')}" if landing else link

    return url


def safe_next(value: str | None, default: str = HOME) -> str:
    """`value` when it is a path of our pages, else `default`. Refuses what a browser would read as another host
    (`//evil`, `/\\evil`, `https://evil`), control characters and anything outside /web and /admin."""
    if not value or len(value) > 1000 or any(ord(c) < 0x20 or c in "\\\x7f" for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or value.startswith("//"):
        return default
    if parts.path not in _OWN_EXACT and not parts.path.startswith(_OWN_PREFIXES):
        return default
    if "/../" in parts.path or parts.path.endswith("/.."):
        return default
    return value


def user_page_next(value: str | None, default: str = HOME) -> str:
    """`safe_next` narrowed to the user pages (/web...): where a one-time sign-in link may land."""
    path = safe_next(value, default="")
    return path if path == "/web" or path.startswith("/web/") else default


def login_url(next_path: str) -> str:
    return f"{LOGIN}?next={quote(next_path, safe='/')}"
