"""Channel webhook traffic for the load generator: Telegram updates and signed WeChat callbacks.

Each virtual user is one chat: it posts an update (the webhook's answer is the acknowledgement), then
waits on the channel servers' /wait until its answer has been delivered, then sends the next.
"""
from __future__ import annotations

import itertools
import time

from tests.fakes.wechat_client import WeChatCallbackClient

_ids = itertools.count(1)
# update_ids unique across runs against one platform too: it skips an update_id it has seen (a redelivery).
_UPDATE_BASE = int(time.time() * 1000)
# WeChat answers a MsgId once, ever: ids unique across users and across runs against one platform.
_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


def telegram_update(n: int, text: str) -> dict:
    """A private-chat text message update, as the Bot API sends it to a webhook."""
    uid = 7_000_000 + n
    seq = next(_ids)
    return {"update_id": _UPDATE_BASE + seq, "message": {
        "message_id": seq, "date": int(time.time()), "text": text,
        "from": {"id": uid, "is_bot": False, "first_name": f"Bench{n}", "language_code": "en"},
        "chat": {"id": uid, "type": "private", "first_name": f"Bench{n}"}}}


async def user(run, n: int, timed_post) -> None:
    spec = run.spec
    # A run against the same channel servers as an earlier one uses other chats: the fakes keep old answers.
    n += int(spec.get("user_offset", 0))
    wechat = WeChatCallbackClient(spec["base_url"] + "/webhooks/wechat", token=spec.get("token", ""),
                                  app_id=spec.get("app_id", ""))
    k = 0
    while run.more():
        k += 1
        text = f"Question {k} from follower {n}: how are you?"
        started = time.perf_counter()
        if spec["target"] == "telegram":
            chat = str(7_000_000 + n)
            sample, _ = await timed_post(run, spec["base_url"] + "/webhooks/telegram", json=telegram_update(n, text),
                                         headers={"X-Telegram-Bot-Api-Secret-Token": spec["secret"]})
        else:
            chat = f"o_bench_{n:06d}"
            params, body = wechat.sign(wechat.text(chat, text, msg_id=next(_msg_ids)))
            sample, _ = await timed_post(run, wechat.url, params=params, data=body.encode(),
                                         headers={"Content-Type": "text/xml"})
        sample.ack, sample.sent_at = sample.latency, started
        if sample.ok:
            async with run.session.get(spec["waiter_url"] + "/wait", params={
                    "channel": spec["target"], "chat": chat, "count": str(k), "timeout": "30"}) as r:
                await r.read()
                if r.status != 200:
                    sample.ok, sample.error = False, "no reply delivered within 30 s"
        else:
            k -= 1   # nothing was accepted, so no answer is owed
        sample.done_at = time.perf_counter()
        sample.latency = sample.done_at - started
        run.samples.append(sample)
