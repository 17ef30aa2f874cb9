"""customer_service mode loses no message to a killed worker: a real `bot run` is SIGKILLed while the model is
answering, and the next worker on the same SQLite database answers that message once, late rather than never."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from tests.e2e.wechat_support import CALLBACK_TOKEN, WeChatCallbackClient, wechat_config
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)
from tests.e2e.workers import Worker, until, write_config

LEASE = 2.0   # channels.wechat.answer_lease_seconds: how long a dead worker's message waits for another worker


def inbox_row(db_path: str, msg_key: str) -> tuple[str, datetime, int] | None:
    """(status, lease_until, attempts) of a message in the workers' database."""
    with sqlite3.connect(db_path) as conn:
        row = conn.execute("SELECT status, lease_until, attempts FROM wechat_inbox WHERE msg_key = ?",
                           (msg_key,)).fetchone()
    if row is None:
        return None
    lease_until = datetime.fromisoformat(row[1])
    return row[0], lease_until if lease_until.tzinfo else lease_until.replace(tzinfo=timezone.utc), row[2]


async def test_an_answer_cut_off_by_sigkill_arrives_once_after_a_restart(wx, fake_llm, tmp_path) -> None:
    config = wechat_config(tmp_path, fake_llm.base_url, wx, answer_lease_seconds=LEASE)
    db_path = config.database.url.removeprefix("sqlite://").split("?", 1)[0]
    path = write_config(tmp_path / "config.yaml", config)
    fake_llm.script(first_delay=30)                 # the first answer is slow: the worker dies while it waits
    workers: list[Worker] = []

    async def start(name: str) -> WeChatCallbackClient:
        worker = await Worker(name, path, tmp_path).start()
        workers.append(worker)
        await worker.ready()
        return WeChatCallbackClient(worker.url + "/webhooks/wechat", token=CALLBACK_TOKEN, app_id=wx.app_id)

    try:
        client = await start("first")
        ack = await client.post(client.text("o-x", "are you still there?", msg_id=7_770_001))
        assert (ack.status, ack.body) == (200, "success")

        async def model_called() -> bool:
            return len(fake_llm.chat_requests) == 1

        await until(model_called, timeout=10)
        assert inbox_row(db_path, "msg:7770001")[0] == "answering"
        await workers[0].kill()                     # mid-answer: no drain, nothing parked, WeChat got "success"
        assert wx.sent["o-x"] == []

        client = await start("second")              # same database; its sweep finds the orphan once the lease ends
        assert await wx.wait_sent("o-x", 1, timeout=LEASE + 20) == ["Echo: are you still there?"]

        async def done_and_lease_over() -> bool:
            row = inbox_row(db_path, "msg:7770001")
            return row is not None and row[0] == "done" and row[1] < datetime.now(timezone.utc)

        await until(done_and_lease_over, timeout=LEASE + 10)
        assert inbox_row(db_path, "msg:7770001")[2] == 2                    # accepted once, claimed once more
        # The user's next message first claims any of their messages whose lease ran out: a row not marked
        # done would be answered a second time here, before this one.
        await client.post(client.text("o-x", "good, thanks", msg_id=7_770_002))
        assert await wx.wait_sent("o-x", 2) == ["Echo: are you still there?", "Echo: good, thanks"]
        assert [r["messages"][-1]["content"] for r in fake_llm.chat_requests] == [
            "are you still there?", "are you still there?", "good, thanks"]
    finally:
        for worker in workers:
            await worker.stop()
    assert "Traceback" not in workers[1].log(), workers[1].log()
