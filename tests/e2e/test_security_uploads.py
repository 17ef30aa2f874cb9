"""Chunked multipart uploads (no Content-Length) are counted while streaming and refused at the smaller of
the user's remaining storage and `rag.max_upload_mb`, before the rest of the body is read; nothing is stored."""
from __future__ import annotations

import asyncio

import aiohttp

from adapters.storage.models_rag import ResourceRow
from bot.knowledge import knowledge_of
from tests.conftest import make_config
from tests.e2e.test_rag_api import ADMIN, new_user

MB = 1024 * 1024
BOUNDARY = "upload-boundary-7f3a"
PIECE = b"word " * 13107 + b"w"  # 64 KB of text


class ChunkedUpload:
    """A multipart body sent with Transfer-Encoding: chunked. It sends `before_pause` bytes of the file,
    then waits until the test has the server's answer (`answered`), so a server that buffers the whole
    body before deciding never answers; then it sends up to `total` bytes and closes the body."""

    def __init__(self, total: int, before_pause: int | None = None, filename: str = "big.txt") -> None:
        self.total = total  # the file's bytes: its name, then words
        self.before_pause = before_pause
        self.filename = filename
        self.answered = asyncio.Event()
        self.sent = 0

    async def body(self):
        yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{self.filename}\"\r\n"
               f"Content-Type: text/plain\r\n\r\n").encode()
        first = self.filename.encode()  # distinct files get distinct content (no duplicate detection)
        self.sent = len(first)
        yield first
        while self.sent < self.total:
            if self.before_pause is not None and self.sent >= self.before_pause:
                await self.answered.wait()
                return  # the server has answered: the rest is never sent
            piece = PIECE[: self.total - self.sent]
            self.sent += len(piece)
            yield piece
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    async def post(self, http: aiohttp.ClientSession, base: str, headers: dict) -> tuple[int, dict]:
        send = http.post(base + "/api/v1/resources", data=self.body(),
                         headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        try:
            async with send as resp:  # aiohttp sends a generator body chunked, without Content-Length
                self.answered.set()
                return resp.status, await resp.json()
        finally:
            self.answered.set()


async def test_a_chunked_upload_over_the_storage_left_is_refused_while_streaming(start_app, tmp_path,
                                                                                 fake_llm) -> None:
    running = await start_app(make_config(tmp_path, fake_llm.base_url,
                                          rag={"user_storage_mb": 1, "max_upload_mb": 20}))
    async with aiohttp.ClientSession() as http:
        user_id, alice = await new_user(http, running.base_url, "alice")
        # 19 MB announced by nothing; the server must answer after ~1 MB, without waiting for the rest.
        uploads = [ChunkedUpload(19 * MB, before_pause=MB + 512 * 1024) for _ in range(5)]
        answers = await asyncio.wait_for(
            asyncio.gather(*(u.post(http, running.base_url, alice) for u in uploads)), 60)
        for status, body in answers:
            assert (status, body["error"]["reason"]) == (402, "quota_exceeded"), body
            assert "storage limit" in body["error"]["message"]
        assert all(u.sent < 2 * MB for u in uploads)  # the client never had to send the 19 MB
        assert await ResourceRow.filter(owner_id=user_id).count() == 0
        assert (await running.services.accounts.get(user_id)).storage_used_bytes == 0

        # A file that fits is stored; then only the storage left (824 KB) may stream in.
        status, body = await ChunkedUpload(200 * 1024, filename="notes.txt").post(http, running.base_url, alice)
        assert status == 202, body
        await knowledge_of(running.services).service.wait(body["id"])
        upload = ChunkedUpload(900 * 1024, before_pause=850 * 1024)
        status, body = await upload.post(http, running.base_url, alice)
        assert (status, body["error"]["reason"]) == (402, "quota_exceeded"), body
        assert await ResourceRow.filter(owner_id=user_id).count() == 1
        assert (await running.services.accounts.get(user_id)).storage_used_bytes == 200 * 1024


async def test_max_upload_mb_wins_when_it_is_the_smaller_limit(start_app, tmp_path, fake_llm) -> None:
    running = await start_app(make_config(tmp_path, fake_llm.base_url,
                                          rag={"user_storage_mb": 3, "max_upload_mb": 1}))
    async with aiohttp.ClientSession() as http:
        user_id, alice = await new_user(http, running.base_url, "alice")
        for headers in (alice, ADMIN):  # 1 MB is below alice's 3 MB; the operator has no storage cap at all
            upload = ChunkedUpload(3 * MB, before_pause=MB + 256 * 1024)
            status, body = await upload.post(http, running.base_url, headers)
            assert (status, body["error"]["reason"]) == (413, "payload_too_large"), body
            assert "1 MB upload limit" in body["error"]["message"]
        assert await ResourceRow.all().count() == 0
        assert (await running.services.accounts.get(user_id)).storage_used_bytes == 0
