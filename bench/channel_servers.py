"""The fake Telegram Bot API and WeChat API servers in their own process, with a wait-for-reply endpoint.

    python -m bench.channel_servers --telegram-token 123:abc --wechat-app-id wx.. --wechat-secret .. --reply TEXT

Prints `READY <control_url> <telegram_api_base_url> <wechat_api_base_url>`. The load generator asks the
control server `GET /wait?channel=telegram&chat=ID&count=N` (or channel=wechat&chat=OPENID): it answers
once N replies with the full text have reached that chat, so every virtual user can wait for its answer.
"""
from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import web

from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.wechat_server import FakeWeChat


class TelegramIndex:
    """The fake's messages by chat, kept up to date as messages are added: 256 waiters each sorting every message
    on every Bot API call would make this process, not the platform, what the machine spends its CPU on."""

    def __init__(self, tg: FakeTelegram):
        self._tg = tg
        self._known = 0
        self._by_chat: dict[int, list] = {}

    def done(self, chat_id: int, reply: str) -> int:
        messages = self._tg.messages
        if len(messages) != self._known:
            for (cid, _), m in list(messages.items())[self._known:]:
                self._by_chat.setdefault(cid, []).append(m)
            self._known = len(messages)
        return sum(1 for m in self._by_chat.get(chat_id, ()) if m.from_bot and (m.text or "").strip() == reply)


def _wechat_done(wx: FakeWeChat, openid: str, reply: str) -> int:
    return sum(1 for text in wx.sent.get(openid, ()) if text.strip() == reply)


def control_app(tg: FakeTelegram, wx: FakeWeChat, reply: str) -> web.Application:
    index = TelegramIndex(tg)

    async def wait(request: web.Request) -> web.Response:
        q = request.query
        count, timeout = int(q["count"]), float(q.get("timeout", 30))
        try:
            if q["channel"] == "telegram":
                chat = int(q["chat"])
                await tg.wait_until(lambda: index.done(chat, reply) >= count, timeout)
            else:
                await wx._until(lambda: _wechat_done(wx, q["chat"], reply) >= count, timeout)
        except asyncio.TimeoutError:
            return web.json_response({"done": False}, status=504)
        return web.json_response({"done": True})

    async def stats(request: web.Request) -> web.Response:
        tg_done = sum(1 for m in tg.messages.values() if m.from_bot and (m.text or "").strip() == reply)
        wx_done = sum(1 for texts in wx.sent.values() for t in texts if t.strip() == reply)
        return web.json_response({"telegram_replies": tg_done, "telegram_calls": len(tg.calls),
                                  "telegram_rejected": len(tg.rejected()), "wechat_replies": wx_done,
                                  "wechat_send_calls": len(wx.send_calls), "wechat_token_calls": wx.token_calls})

    app = web.Application()
    app.router.add_get("/wait", wait)
    app.router.add_get("/stats", stats)
    return app


async def serve(args: argparse.Namespace) -> None:
    async with FakeTelegram(token=args.telegram_token, username="bench_bot") as tg, \
            FakeWeChat(app_id=args.wechat_app_id, app_secret=args.wechat_secret) as wx:
        for n in range(args.chats):   # the load generator's users: chat ids 7_000_000 + n, as in channel_load
            tg.private_chat(tg.user(7_000_000 + n, f"Bench{n}"))
        runner = web.AppRunner(control_app(tg, wx, args.reply.strip()), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"READY http://{host}:{port} {tg.api_base_url} {wx.base_url}", flush=True)
        await stop.wait()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--telegram-token", required=True)
    parser.add_argument("--wechat-app-id", required=True)
    parser.add_argument("--wechat-secret", required=True)
    parser.add_argument("--chats", type=int, default=1024, help="Telegram private chats the fake knows")
    parser.add_argument("--reply", required=True, help="the model's full reply: a chat with it is answered")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
