"""QR login: a scene per login QR; the WeChat user who scans it confirms it, then the web side redeems it once."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

from core.errors import Unauthorized
from core.ports import EphemeralStore

SCENE_TTL = 300


@dataclass(frozen=True)
class LoginScene:
    scene: str          # the scene string in the QR code (what WeChat sends back as EventKey)
    ticket: str         # what the client polls /auth/token with ({"qrcode": ticket})
    requester: str = ""  # what asked to sign in, in its own words, when it is not a browser described below
    agent: str = ""      # the asking browser's User-Agent (shown as login.browser_agent_at)
    address: str = ""    # the asking client's address (login.browser_at)


@dataclass(frozen=True)
class LoginRequest:
    """What the scanner is asked to confirm."""

    requester: str
    opened_at: float     # epoch seconds
    expires_at: float
    agent: str = ""      # the browser that asked (its User-Agent) and its address, rendered in the scanner's language
    address: str = ""

    def seconds_left(self, now: float) -> int:
        return max(0, int(self.expires_at - now))


class QrLoginService:
    """Shared by the WeChat channel (scans, confirmations) and the HTTP API (redeems), across workers.

    A scene goes pending -> scanned (by one WeChat user) -> confirmed (by that same user) -> redeemed. Scanning
    alone logs nobody in: whoever shows a QR cannot sign in as the person who scans it unless that person says
    yes, in WeChat, to a message naming what asked. A new scan before the confirmation replaces the scanner."""

    def __init__(self, store: EphemeralStore, clock: Callable[[], float] = time.time):
        self._store = store
        self._clock = clock

    async def _state(self, scene: str) -> dict | None:
        raw = await self._store.get("qr-scene", scene)
        state = json.loads(raw) if raw else None
        return state if state and state["exp"] > self._clock() else None

    async def _save(self, scene: str, state: dict) -> None:
        await self._store.put("qr-scene", scene, json.dumps(state), max(1.0, state["exp"] - self._clock()))

    async def open(self, scene: LoginScene, ttl: int = SCENE_TTL) -> None:
        now = self._clock()
        await self._store.put("qr-ticket", scene.ticket, scene.scene, ttl)
        await self._save(scene.scene, {"step": "pending", "user": None, "exp": now + ttl, "opened": now,
                                       "requester": scene.requester, "agent": scene.agent,
                                       "address": scene.address})

    async def mark_scanned(self, scene: str, user_id: str) -> LoginRequest | None:
        """The scene's QR was scanned by `user_id`: what to ask them to confirm; None when the scene is
        unknown, expired or already confirmed."""
        state = await self._state(scene)
        if state is None or state["step"] not in ("pending", "scanned"):
            return None
        state.update(step="scanned", user=user_id)
        await self._save(scene, state)
        await self._store.put("qr-confirm", user_id, scene, max(1.0, state["exp"] - self._clock()))
        return LoginRequest(state["requester"], state["opened"], state["exp"], state.get("agent", ""),
                            state.get("address", ""))

    async def awaiting(self, user_id: str) -> bool:
        """Whether a login this user scanned waits for their confirmation."""
        return await self._store.get("qr-confirm", user_id) is not None

    async def confirm(self, user_id: str) -> bool:
        """The scanner says yes: the login they scanned (still within the QR's lifetime) may be redeemed."""
        scene = await self._store.take("qr-confirm", user_id)
        state = await self._state(scene) if scene else None
        if state is None or state["step"] != "scanned" or state["user"] != user_id:
            return False
        state["step"] = "confirmed"
        await self._save(scene, state)  # type: ignore[arg-type]
        return True

    async def redeem(self, ticket: str) -> str:
        """The user id of a confirmed login, once. Raises Unauthorized reason 'pending' until confirmed."""
        scene = await self._store.get("qr-ticket", ticket)
        if scene is None:
            raise Unauthorized("This login QR code is unknown, used or expired.", reason="invalid_qrcode")
        state = await self._state(scene)
        if state is None:
            raise Unauthorized("This login QR code has expired.", reason="invalid_qrcode")
        if state["step"] == "pending":
            raise Unauthorized("The QR code has not been scanned yet.", reason="pending")
        if state["step"] == "scanned":
            raise Unauthorized("Scanned: waiting for the confirmation in WeChat.", reason="pending")
        if await self._store.take("qr-ticket", ticket) is None:  # someone else redeemed it first
            raise Unauthorized("This login QR code was already used.", reason="invalid_qrcode")
        await self._store.delete("qr-scene", scene)
        return state["user"]
