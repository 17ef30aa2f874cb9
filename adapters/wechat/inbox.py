"""customer_service mode: WeChatInbox keeps each accepted message in the database until it is answered."""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from typing import AsyncContextManager, Awaitable, Callable, Iterator

from adapters.storage.wechat_inbox import InboxMessage, TortoiseWeChatInbox
from adapters.wechat.codec import Callback

log = logging.getLogger(__name__)


def worker_name() -> str:
    """Who holds a lease, for an operator reading `wechat_inbox.claimed_by`: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class WeChatInbox:
    """WeChat got "success" before anything was answered, so it will not send the message again: the row written
    first thing in the background task is what makes the answer certain.

    - `serve_if_new` inserts the row (the unique (account, MsgId) makes a retry or a duplicate a no-op), holding
      a lease that `sweep` renews while the answer is made; the row is marked done once the answer is pushed
      or parked in the outbox.
    - A worker that dies stops renewing. `sweep` (every worker, periodically) finds messages whose lease ran out
      and answers them under the user's turn lock, oldest first; a new message of that user answers them first too.
      Claiming is one conditional UPDATE per row, so two workers never answer the same row.
    """

    def __init__(self, repo: TortoiseWeChatInbox, *, answer: Callable[[Callback], Awaitable[None]],
                 user_turn: Callable[[str], AsyncContextManager[None]], spawn: Callable[[Awaitable[None]], None]):
        self.repo = repo
        self._answer = answer
        self._user_turn = user_turn
        self._spawn = spawn
        self._held: set[int] = set()        # rows this worker is answering (or about to): their leases are renewed
        self._recovering: set[str] = set()  # users whose orphans a task here is already waiting to answer

    async def serve_if_new(self, cb: Callback) -> None:
        row_id = await self.repo.accept(_message_of(cb))
        if row_id is None:
            return  # seen before: WeChat's retry, or the same callback on another worker
        with self._holding([row_id]):
            async with self._user_turn(cb.openid):
                await self._answer_orphans(cb.openid)   # an earlier message whose worker died goes first
                await self._answer(cb)
                await self._finish(row_id, cb)

    async def sweep(self) -> None:
        """Renew this worker's leases, answer messages whose worker stopped, give up on hopeless ones."""
        await self.repo.renew(self._held)
        for openid in await self.repo.orphaned_users():
            if openid not in self._recovering:
                self._recovering.add(openid)
                self._spawn(self._recover(openid))
        await self.repo.give_up_and_purge()

    async def _recover(self, openid: str) -> None:
        try:
            async with self._user_turn(openid):
                await self._answer_orphans(openid)
        finally:
            self._recovering.discard(openid)

    async def _answer_orphans(self, openid: str) -> None:
        orphans = await self.repo.claim_orphans(openid)
        with self._holding(m.id for m in orphans):
            for message in orphans:
                log.warning("answering WeChat message %s of user %s late (try %d): the worker answering it stopped",
                            message.msg_key, openid, message.attempts + 1)
                cb = _callback_of(message)
                await self._answer(cb)
                await self._finish(message.id, cb)

    async def _finish(self, row_id: int, cb: Callback) -> None:
        if not await self.repo.done(row_id):
            log.warning("WeChat message %s was taken over by another worker while being answered here "
                        "(lease renewal too late?); the user may get it twice", cb.msg_key)

    @contextlib.contextmanager
    def _holding(self, ids) -> Iterator[None]:
        # A row leaves the set however its task ends: a failed or cancelled answer's lease runs out by itself,
        # and another worker (or this one) tries it again.
        ids = list(ids)
        self._held.update(ids)
        try:
            yield
        finally:
            self._held.difference_update(ids)


def _message_of(cb: Callback) -> InboxMessage:
    return InboxMessage(0, cb.account, cb.openid, cb.msg_key, cb.kind, cb.text, cb.event, cb.event_key[:256])


def _callback_of(m: InboxMessage) -> Callback:
    return Callback(openid=m.openid, account=m.account, kind=m.kind, msg_key=m.msg_key, text=m.text,
                    event=m.event, event_key=m.event_key)
