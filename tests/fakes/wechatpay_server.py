"""A local WeChat Pay API v3 server for tests: checks our signatures, signs its answers, sends real notifies.

    keys = WeChatPayKeys.generate()                      # merchant + platform RSA 2048 pairs, made here
    section = keys.config_section(tmp_path, fake.base_url)   # payments.wechatpay, PEM files in tmp_path
    async with FakeWeChatPay(keys) as fake:
        ...                                              # the app prepays a Native order
        delivery = await fake.pay(out_trade_no)          # the user scans and pays: a signed, encrypted notify
        await fake.deliver(fake.notify_for(no, amount_total=1))   # tampered / replayed notifies
        trade = fake.by_prepay_id(prepay_id)             # a JSAPI order, found by the package the page got

Prepay: /v3/pay/transactions/native (code_url), /jsapi (payer.openid required; prepay_id) and /h5
(scene_info.h5_info required; an h5_url on this server whose GET pays, as WeChat's cashier page would).

It speaks only in public-key mode (Wechatpay-Serial = the platform public key id), like new merchants.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.fakes.local import serve_local

CHINA = timezone(timedelta(hours=8))
_OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_public(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


@dataclass
class WeChatPayKeys:
    merchant: rsa.RSAPrivateKey
    platform: rsa.RSAPrivateKey
    mchid: str = "1900000109"
    appid: str = "wxd678efh567hg6787"
    apiv3_key: str = "0123456789abcdef0123456789abcdef"
    merchant_serial: str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    public_key_id: str = "PUB_KEY_ID_0119000001092025010100000000000001"

    @classmethod
    def generate(cls) -> "WeChatPayKeys":
        return cls(_rsa(), _rsa(), apiv3_key=secrets.token_hex(16))

    def config_section(self, tmp_path: Path, api_base_url: str, **overrides) -> dict:
        """payments.wechatpay for make_config: the merchant private key and platform public key as PEM files."""
        private, public = tmp_path / "apiclient_key.pem", tmp_path / "pub_key.pem"
        private.write_bytes(_pem_private(self.merchant))
        public.write_bytes(_pem_public(self.platform.public_key()))
        return {"enabled": True, "mch_id": self.mchid, "app_id": self.appid, "apiv3_key": self.apiv3_key,
                "cert_serial_no": self.merchant_serial, "private_key_path": str(private),
                "public_key_path": str(public), "public_key_id": self.public_key_id,
                "api_base_url": api_base_url, **overrides}


@dataclass
class Trade:
    out_trade_no: str
    body: dict
    code_url: str
    state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: str | None = None
    refunded: int = 0
    kind: str = "NATIVE"                 # WeChat's trade_type: NATIVE, JSAPI or MWEB (H5)
    prepay_id: str = ""


@dataclass(frozen=True)
class Notify:
    headers: dict
    body: bytes
    url: str


@dataclass(frozen=True)
class Delivery:
    status: int
    body: dict | None


@dataclass
class FakeWeChatPay:
    keys: WeChatPayKeys
    trades: dict[str, Trade] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    requests: list[tuple[str, str, dict | None]] = field(default_factory=list)
    notify_route: tuple[str, str] | None = None   # (public prefix, where it really is): a reverse proxy
    tamper_answers: int = 0                        # the next N 2xx answers carry a wrong signature
    base_url: str = ""

    async def __aenter__(self) -> "FakeWeChatPay":
        app = web.Application(middlewares=[self._signed])
        app.router.add_post("/v3/pay/transactions/native", self._native)
        app.router.add_post("/v3/pay/transactions/jsapi", self._jsapi)
        app.router.add_post("/v3/pay/transactions/h5", self._h5)
        app.router.add_get("/cgi-bin/mmpayweb-bin/checkmweb", self._h5_cashier)
        app.router.add_get("/v3/pay/transactions/out-trade-no/{no}", self._query)
        app.router.add_post("/v3/pay/transactions/out-trade-no/{no}/close", self._close)
        app.router.add_post("/v3/refund/domestic/refunds", self._refund)
        self._runner, self.base_url = await serve_local(app)
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc) -> None:
        await self._http.close()
        await self._runner.cleanup()

    # --- what tests do ---------------------------------------------------------------------------

    def route_notifies(self, public_url: str, actual_base: str) -> None:
        self.notify_route = (public_url.rstrip("/"), actual_base.rstrip("/"))

    def prepays(self, out_trade_no: str) -> int:
        return sum(1 for m, p, b in self.requests
                   if p.endswith(("/native", "/jsapi", "/h5")) and (b or {}).get("out_trade_no") == out_trade_no)

    def by_prepay_id(self, prepay_id: str) -> Trade:
        return next(t for t in self.trades.values() if t.prepay_id and t.prepay_id == prepay_id)

    async def pay(self, out_trade_no: str, *, notify: bool = True) -> Delivery | None:
        """The user pays: the trade turns SUCCESS and (unless the notify is 'lost') a notify is sent."""
        trade = self.trades[out_trade_no]
        assert trade.state == "NOTPAY", trade.state
        trade.state, trade.transaction_id = "SUCCESS", "42000" + secrets.token_hex(12)
        trade.success_time = datetime.now(CHINA).isoformat(timespec="seconds")
        return await self.deliver(self.notify_for(out_trade_no)) if notify else None

    def transaction(self, trade: Trade) -> dict:
        out = {"mchid": self.keys.mchid, "appid": self.keys.appid, "out_trade_no": trade.out_trade_no,
               "trade_state": trade.state, "amount": {"total": trade.body["amount"]["total"], "currency": "CNY"}}
        if trade.transaction_id:
            payer = (trade.body.get("payer") or {}).get("openid") or "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
            out.update(transaction_id=trade.transaction_id, trade_type=trade.kind, bank_type="OTHERS", attach="",
                       success_time=trade.success_time, payer={"openid": payer})
            out["amount"].update(payer_total=trade.body["amount"]["total"], payer_currency="CNY")
        return out

    def notify_for(self, out_trade_no: str, /, *, timestamp: int | None = None, serial: str | None = None,
                   bad_signature: bool = False, sign_with: rsa.RSAPrivateKey | None = None,
                   apiv3_key: str | None = None, **changes) -> Notify:
        """A TRANSACTION.SUCCESS notify for a trade; `changes` alter the transaction (amount_total=1, mchid=...)."""
        trade = self.trades[out_trade_no]
        txn = self.transaction(trade) if trade.transaction_id else {
            **self.transaction(trade), "transaction_id": "42000" + secrets.token_hex(12), "trade_state": "SUCCESS"}
        if "amount_total" in changes:
            txn["amount"] = {**txn["amount"], "total": changes.pop("amount_total")}
        txn.update(changes)
        nonce = secrets.token_hex(6)
        sealed = AESGCM((apiv3_key or self.keys.apiv3_key).encode()).encrypt(
            nonce.encode(), json.dumps(txn).encode(), b"transaction")
        envelope = {"id": "EV-" + secrets.token_hex(10), "create_time": datetime.now(CHINA).isoformat(timespec="seconds"),
                    "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
                    "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                                 "ciphertext": base64.b64encode(sealed).decode(), "associated_data": "transaction",
                                 "nonce": nonce}}
        body = json.dumps(envelope, ensure_ascii=False).encode()
        headers = self._signature_headers(body, timestamp, sign_with)
        if serial is not None:
            headers["Wechatpay-Serial"] = serial
        if bad_signature:
            headers["Wechatpay-Signature"] = _sign(self.keys.platform, "something else")
        url = trade.body["notify_url"]
        if self.notify_route and url.startswith(self.notify_route[0]):
            url = self.notify_route[1] + url[len(self.notify_route[0]):]
        return Notify(headers, body, url)

    async def deliver(self, notify: Notify) -> Delivery:
        async with self._http.post(notify.url, data=notify.body,
                                   headers={**notify.headers, "Content-Type": "application/json"}) as resp:
            text = await resp.text()
            return Delivery(resp.status, json.loads(text) if text else None)

    # --- the API ---------------------------------------------------------------------------------

    def _signature_headers(self, body: bytes, timestamp: int | None = None,
                           key: rsa.RSAPrivateKey | None = None) -> dict:
        ts, nonce = str(timestamp if timestamp is not None else int(time.time())), secrets.token_hex(16).upper()
        return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Serial": self.keys.public_key_id,
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
                "Wechatpay-Signature": _sign(key or self.keys.platform, f"{ts}\n{nonce}\n{body.decode()}\n")}

    @web.middleware
    async def _signed(self, request: web.Request, handler) -> web.StreamResponse:
        if request.path.startswith("/cgi-bin/"):   # the cashier page a browser opens, not the merchant API
            return await handler(request)
        raw = await request.read()
        problem = self._check_authorization(request, raw.decode())
        body = json.loads(raw) if raw else None
        self.requests.append((request.method, request.raw_path, body))
        resp = _error(401, "SIGN_ERROR", problem) if problem else await handler(request)
        payload = resp.body if isinstance(resp.body, bytes) else b""
        resp.headers.update(self._signature_headers(payload))
        resp.headers["Request-ID"] = secrets.token_hex(16)
        if self.tamper_answers and resp.status < 300:
            self.tamper_answers -= 1
            resp.headers["Wechatpay-Signature"] = _sign(self.keys.platform, "not this body")
        return resp

    def _check_authorization(self, request: web.Request, body: str) -> str | None:
        scheme, _, params = request.headers.get("Authorization", "").partition(" ")
        if scheme != "WECHATPAY2-SHA256-RSA2048":
            return "Authorization must use WECHATPAY2-SHA256-RSA2048"
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if fields.get("mchid") != self.keys.mchid or fields.get("serial_no") != self.keys.merchant_serial:
            return "mchid or serial_no does not match the merchant"
        if abs(time.time() - int(fields.get("timestamp") or 0)) > 300:
            return "timestamp expired"
        message = f"{request.method}\n{request.raw_path}\n{fields['timestamp']}\n{fields.get('nonce_str')}\n{body}\n"
        try:
            self.keys.merchant.public_key().verify(base64.b64decode(fields.get("signature", "")), message.encode(),
                                                   padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return "signature verification failed"
        return None

    async def _native(self, request: web.Request) -> web.Response:
        return await self._prepay(request, "NATIVE")

    async def _jsapi(self, request: web.Request) -> web.Response:
        return await self._prepay(request, "JSAPI")

    async def _h5(self, request: web.Request) -> web.Response:
        return await self._prepay(request, "MWEB")

    def _answer(self, trade: Trade) -> web.Response:
        if trade.kind == "JSAPI":
            return _json(200, {"prepay_id": trade.prepay_id})
        if trade.kind == "MWEB":
            return _json(200, {"h5_url": f"{self.base_url}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={trade.prepay_id}"
                                         f"&package={secrets.randbelow(10**10)}"})
        return _json(200, {"code_url": trade.code_url})

    async def _h5_cashier(self, request: web.Request) -> web.Response:
        """WeChat's H5 cashier: opening it (in a phone browser) pays the trade and sends the notify."""
        trade = next((t for t in self.trades.values() if t.kind == "MWEB" and t.prepay_id == request.query.get("prepay_id")),
                     None)
        if trade is None:
            return web.Response(status=404, text="订单不存在")
        if trade.state == "NOTPAY":
            await self.pay(trade.out_trade_no)
        return web.Response(text=f"<!doctype html><title>微信支付</title><p>支付成功 {trade.out_trade_no}</p>",
                            content_type="text/html")

    async def _prepay(self, request: web.Request, kind: str) -> web.Response:
        body = await request.json()
        if body.get("appid") != self.keys.appid or body.get("mchid") != self.keys.mchid:
            return _error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        amount, no = body.get("amount") or {}, str(body.get("out_trade_no") or "")
        if not _OUT_TRADE_NO.match(no):
            return _error(400, "PARAM_ERROR", "out_trade_no must be 6-32 characters of [0-9A-Za-z_-|*]")
        if not isinstance(amount.get("total"), int) or amount["total"] <= 0 or amount.get("currency", "CNY") != "CNY":
            return _error(400, "PARAM_ERROR", "amount.total must be a positive integer of fen in CNY")
        if not str(body.get("notify_url", "")).startswith(("http://", "https://")) or not body.get("description"):
            return _error(400, "PARAM_ERROR", "notify_url and description are required")
        if kind == "JSAPI" and not str((body.get("payer") or {}).get("openid") or ""):
            return _error(400, "PARAM_ERROR", "payer.openid is required")
        scene = body.get("scene_info") or {}
        if kind == "MWEB" and not (scene.get("payer_client_ip") and (scene.get("h5_info") or {}).get("type")):
            return _error(400, "PARAM_ERROR", "scene_info.payer_client_ip and scene_info.h5_info.type are required")
        if "time_expire" in body:
            expire = datetime.fromisoformat(body["time_expire"])
            if expire.tzinfo is None or expire <= datetime.now(timezone.utc):
                return _error(400, "PARAM_ERROR", "time_expire must be a future RFC 3339 time")
        trade = self.trades.get(no)
        if trade is not None:
            if trade.state == "SUCCESS":
                return _error(403, "ORDERPAID", "该订单已支付")
            if trade.state != "NOTPAY":
                return _error(400, "ORDER_CLOSED", "订单已关闭")
            if trade.body["amount"] != body["amount"] or trade.kind != kind or trade.body.get("payer") != body.get("payer"):
                return _error(400, "INVALID_REQUEST", "参数与首次请求时不一致")
            return self._answer(trade)
        trade = self.trades[no] = Trade(no, body, "weixin://wxpay/bizpayurl?pr=" + secrets.token_urlsafe(6),
                                        kind=kind, prepay_id="wx" + secrets.token_hex(16))
        return self._answer(trade)

    async def _query(self, request: web.Request) -> web.Response:
        if request.query.get("mchid") != self.keys.mchid:
            return _error(400, "PARAM_ERROR", "mchid is required")
        trade = self.trades.get(request.match_info["no"])
        if trade is None:
            return _error(404, "ORDER_NOT_EXIST", "订单不存在")
        return _json(200, self.transaction(trade))

    async def _close(self, request: web.Request) -> web.Response:
        trade = self.trades.get(request.match_info["no"])
        if (await request.json()).get("mchid") != self.keys.mchid:
            return _error(400, "PARAM_ERROR", "mchid does not match")
        if trade is None:
            return _error(404, "ORDER_NOT_EXIST", "订单不存在")
        if trade.state in ("SUCCESS", "REFUND"):
            return _error(400, "ORDERPAID", "订单已支付")
        trade.state = "CLOSED"
        return web.Response(status=204)

    async def _refund(self, request: web.Request) -> web.Response:
        body = await request.json()
        trade, out_refund_no = self.trades.get(body.get("out_trade_no", "")), body.get("out_refund_no")
        if out_refund_no in self.refunds:
            return _json(200, self.refunds[out_refund_no])
        if trade is None or trade.state not in ("SUCCESS", "REFUND"):
            return _error(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
        amount = body.get("amount") or {}
        if amount.get("total") != trade.body["amount"]["total"] or trade.refunded + amount.get("refund", 0) > amount["total"]:
            return _error(400, "INVALID_REQUEST", "退款金额或订单金额有误")
        trade.state, trade.refunded = "REFUND", trade.refunded + amount["refund"]
        refund = self.refunds[out_refund_no] = {
            "refund_id": "50000" + secrets.token_hex(12), "out_refund_no": out_refund_no,
            "transaction_id": trade.transaction_id, "out_trade_no": trade.out_trade_no, "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱", "create_time": datetime.now(CHINA).isoformat(timespec="seconds"),
            "status": "PROCESSING", "amount": {"total": amount["total"], "refund": amount["refund"], "currency": "CNY"}}
        return _json(200, refund)


def _json(status: int, data: dict) -> web.Response:
    return web.Response(status=status, body=json.dumps(data, ensure_ascii=False).encode(),
                        content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json(status, {"code": code, "message": message})
