"""QR login: a scene is created for a login QR, marked scanned by the WeChat side, redeemed once by the web side."""
from __future__ import annotations

from dataclasses import dataclass

from core.errors import Unauthorized
from core.ports import EphemeralStore

SCENE_TTL = 300
_PENDING = "pending"


@dataclass(frozen=True)
class LoginScene:
    scene: str        # the scene string in the QR code (what WeChat sends back as EventKey)
    ticket: str       # what the client polls /auth/token with ({"qrcode": ticket})


class QrLoginService:
    """Shared by the WeChat channel (marks scenes) and the HTTP API (redeems them), across workers."""

    def __init__(self, store: EphemeralStore):
        self._store = store

    async def open(self, scene: LoginScene, ttl: int = SCENE_TTL) -> None:
        await self._store.put("qr-ticket", scene.ticket, scene.scene, ttl)
        await self._store.put("qr-scene", scene.scene, _PENDING, ttl)

    async def mark_scanned(self, scene: str, user_id: str) -> bool:
        """Called when the scene's QR is scanned; False when the scene is unknown or expired."""
        state = await self._store.get("qr-scene", scene)
        if state != _PENDING:
            return False
        await self._store.put("qr-scene", scene, f"user:{user_id}", SCENE_TTL)
        return True

    async def redeem(self, ticket: str) -> str:
        """The user id of a scanned login, once. Raises Unauthorized reason 'pending' until scanned."""
        scene = await self._store.get("qr-ticket", ticket)
        if scene is None:
            raise Unauthorized("This login QR code is unknown, used or expired.", reason="invalid_qrcode")
        state = await self._store.get("qr-scene", scene)
        if state is None:
            raise Unauthorized("This login QR code has expired.", reason="invalid_qrcode")
        if state == _PENDING:
            raise Unauthorized("The QR code has not been scanned yet.", reason="pending")
        if await self._store.take("qr-ticket", ticket) is None:  # someone else redeemed it first
            raise Unauthorized("This login QR code was already used.", reason="invalid_qrcode")
        await self._store.delete("qr-scene", scene)
        return state.removeprefix("user:")
