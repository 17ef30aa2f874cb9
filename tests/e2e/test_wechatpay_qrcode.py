"""The payment QR: GET /api/v1/orders/{id}/qrcode.png decodes to the code_url; `bot chat` draws it with /buy."""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import png
import pytest
import yaml
import zxingcpp

from tests.conftest import make_config
from tests.e2e.wechatpay_shop import GRANT, TOKENS, open_shop, trade_no
from tests.fakes.wechatpay_server import FakeWeChatPay, WeChatPayKeys

ROOT = Path(__file__).resolve().parents[2]


def decode_png(data: bytes) -> list[str]:
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    top = (1 << info["bitdepth"]) - 1
    pixels = bytearray()
    for row in rows:
        pixels.extend(v * 255 // top for v in list(row)[::info["planes"]])
    return [r.text for r in zxingcpp.read_barcodes(memoryview(bytes(pixels)).cast("B", (height, width)))]


def decode_terminal(lines: list[str], scale: int = 4) -> list[str]:
    """Read a QR drawn with half blocks (two modules per character) back into pixels, then decode it."""
    halves = {" ": (0, 0), "▀": (1, 0), "▄": (0, 1), "█": (1, 1)}
    width = max(len(line) for line in lines)
    modules = []
    for line in lines:
        pairs = [halves[c] for c in line.ljust(width)]
        modules += [[p[0] for p in pairs], [p[1] for p in pairs]]
    pixels = bytearray()
    for row in modules:
        line = bytearray()
        for m in row:
            line += bytes([255 if m else 0]) * scale
        pixels += bytes(line) * scale
    view = memoryview(bytes(pixels)).cast("B", (len(modules) * scale, width * scale))
    return [r.text for r in zxingcpp.read_barcodes(view)]


@pytest.fixture
async def shop(tmp_path: Path, start_app):
    async with open_shop(tmp_path, start_app) as shop:
        yield shop


async def test_the_qrcode_png_decodes_to_the_code_url_for_its_owner_only(shop) -> None:
    alice, bob = await shop.user("alice"), await shop.user("bob")
    order = await shop.paying_order(alice)
    url = f"{shop.base_url}/api/v1/orders/{order['id']}/qrcode.png"
    async with shop.http.get(url, headers=alice.headers) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        image = await resp.read()
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode_png(image) == [order["qrcode"]]
    async with shop.http.get(url, headers=bob.headers) as resp:
        assert resp.status == 404 and (await resp.json())["error"]["reason"] == "not_found"
    async with shop.http.get(url) as resp:
        assert resp.status == 401
    unpaid = await shop.call("POST", "/orders", alice.headers, {"product_id": "starter"}, expect=201)
    async with shop.http.get(f"{shop.base_url}/api/v1/orders/{unpaid['id']}/qrcode.png", headers=alice.headers) as resp:
        assert resp.status == 409 and (await resp.json())["error"]["reason"] == "invalid_state"


async def _read_until(stream: asyncio.StreamReader, marker: str) -> str:
    seen = ""
    while marker not in seen:
        chunk = await asyncio.wait_for(stream.read(4096), 60)
        if not chunk:
            raise AssertionError(f"the chat ended before {marker!r}:\n{seen}")
        seen += chunk.decode()
    return seen


async def test_bot_chat_buy_draws_the_qr_and_paid_credits(tmp_path: Path) -> None:
    keys = WeChatPayKeys.generate()
    async with FakeWeChatPay(keys) as fake:
        config = make_config(tmp_path, payments={"wechatpay": keys.config_section(tmp_path, fake.base_url)})
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "chat", "--config", str(path), "--user", "carol", cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        try:
            proc.stdin.write(b"/buy\n/buy starter\n")
            out = await _read_until(proc.stdout, "Then send /paid.")
            assert "starter: Starter pack — 9.90 CNY, 5,000 tokens" in out
            (no, trade), = fake.trades.items()
            assert "(order " in out and trade.code_url in out
            drawn = [line.removeprefix("you> ") for line in out.splitlines() if set(line) & set("▀▄█")]
            assert decode_terminal(drawn) == [trade.code_url]

            await fake.pay(no, notify=False)  # no server runs here to take the notify: /paid asks WeChat Pay
            proc.stdin.write(b"/paid\n/quit\n")
            rest, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert f"Paid: {TOKENS:,} tokens credited, balance {GRANT + TOKENS:,}." in rest.decode()
