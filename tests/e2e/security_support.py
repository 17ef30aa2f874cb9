"""Attack helpers: HTTP clients that connect from a chosen loopback address (127.0.0.0/8 is all this machine)."""
from __future__ import annotations

import contextlib
import re
from typing import AsyncIterator

import aiohttp

from tests.e2e.http_native import Api

CODE = re.compile(r"^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$")
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@contextlib.asynccontextmanager
async def client_from(address: str, base_url: str, running=None) -> AsyncIterator[Api]:
    """An anonymous API client whose connections come from `address` (e.g. 127.0.0.2)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        yield Api(http, base_url, {}, running)


def wrong_guesses(code: str, count: int, same_slot: bool) -> list[str]:
    """Valid-looking codes that are not `code`: with its first 3 symbols (naming it), or with other ones."""
    guesses, n = [], 0
    while len(guesses) < count:
        digits = "".join(ALPHABET[(n // 32 ** i) % 32] for i in range(5))
        n += 7919
        slot = code[:3] if same_slot else ("ZZZ" if code[:3] != "ZZZ" else "YYY")
        guess = slot + digits
        if guess != code and guess not in guesses:
            guesses.append(guess)
    return guesses
