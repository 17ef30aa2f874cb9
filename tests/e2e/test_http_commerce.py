"""Roles, products and orders over real HTTP: admin-only writes, the order lifecycle, isolation."""
from __future__ import annotations

import pytest

from bot.app import SERVICE_HOOKS
from core.orders import PaymentStart, PaymentState
from tests.e2e.http_native import ADMIN, assert_error, serve


class RecordingProvider:
    """A payment provider for the order endpoints' tests; the WeChat Pay adapter has its own e2e tests."""

    name = "test_pay"

    def __init__(self) -> None:
        self.paid = False
        self.refunded: list[str] = []

    async def start(self, order) -> PaymentStart:
        return PaymentStart(f"weixin://wxpay/bizpayurl?pr={order.id[:8]}")

    async def query(self, order) -> PaymentState:
        if self.paid:
            return PaymentState("paid", f"txn-{order.id}", order.price_minor, order.currency)
        return PaymentState("open")

    async def close(self, order) -> None:
        return None

    async def refund(self, order) -> None:
        self.refunded.append(order.id)


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
async def api(start_app, config, provider):
    async def add_provider(services) -> None:
        services.orders.add_provider(provider)

    def install(app, cfg) -> None:
        app[SERVICE_HOOKS].append(add_provider)

    async with serve(start_app, config, [install]) as client:
        yield client


async def test_roles_read_by_users_written_by_admins(api) -> None:
    user, _ = await api.new_user()
    admin = api.as_(ADMIN)
    assert [r["name"] for r in (await user.get("/roles")).body["data"]] == ["pirate"]
    role = {"name": "poet", "description": "Rhymes", "system_prompt": "Answer in verse."}
    assert_error(await user.post("/roles", role), 403, "forbidden")
    assert_error(await api.post("/roles", role), 401, "unauthorized")
    assert (await admin.post("/roles", role)).body == {**role, "model": None}   # no model of its own: the default
    assert_error(await admin.post("/roles", role), 409, "already_exists")
    assert (await admin.patch("/roles/poet", {"description": "Verse"})).body["description"] == "Verse"
    assert (await user.get("/roles/poet")).body["system_prompt"] == "Answer in verse."
    assert_error(await user.delete("/roles/poet"), 403)
    page = await user.get("/roles", params={"limit": 1})
    assert page.body["has_more"] and [r["name"] for r in page.body["data"]] == ["pirate"]
    page2 = await user.get("/roles", params={"limit": 1, "cursor": page.body["cursor"]})
    assert [r["name"] for r in page2.body["data"]] == ["poet"] and not page2.body["has_more"]
    assert (await admin.delete("/roles/poet")).status == 204
    assert_error(await user.get("/roles/poet"), 404)
    assert_error(await admin.post("/roles", {"name": "x"}), 400)


async def test_products_read_by_users_written_by_admins(api) -> None:
    user, _ = await api.new_user()
    admin = api.as_(ADMIN)
    starter = (await user.get("/products/starter")).body
    assert starter == {"id": "starter", "name": "Starter pack", "description": "", "price": 9.9, "currency": "CNY",
                       "tokens": 5000, "storage_mb": 10, "stars": 100}
    pack = {"id": "pro", "name": "Pro", "price": "39.00", "tokens": 100000, "stars": 400}
    assert_error(await user.post("/products", pack), 403)
    created = await admin.post("/products", pack)
    assert created.status == 201 and created.body["price"] == 39.0 and created.body["currency"] == "CNY"
    assert_error(await admin.post("/products", pack), 409)
    generated = await admin.post("/products", {"name": "Auto id", "price": 1})
    assert generated.status == 201 and generated.body["id"]
    assert_error(await admin.post("/products", {"name": "Bad", "price": -1}), 400)
    assert_error(await admin.post("/products", {"name": "Bad", "price": "1.234"}), 400)
    assert (await admin.patch("/products/pro", {"price": 35})).body["price"] == 35.0
    listed = await user.get("/products")
    assert [p["id"] for p in listed.body["data"]] == [generated.body["id"], "starter", "pro"]  # by price
    assert (await admin.delete("/products/pro")).status == 204
    assert_error(await user.get("/products/pro"), 404)
    assert_error(await user.post("/orders", {"product_id": "pro"}), 404)


async def test_order_lifecycle_pay_check_and_refund(api, provider) -> None:
    user, me = await api.new_user()
    admin = api.as_(ADMIN)
    order = await user.post("/orders", {"product_id": "starter", "note": "for work"})
    assert order.status == 201
    o = order.body
    assert (o["status"], o["product_id"], o["product"]["name"], o["price"], o["currency"], o["note"]) == (
        "unpaid", "starter", "Starter pack", 9.9, "CNY", "for work")
    assert o["paid_at"] is None and o["payment_method"] is None and o["created_at"].endswith("Z")
    oid = o["id"]
    assert (await user.patch(f"/orders/{oid}", {"note": "gift"})).body["note"] == "gift"
    assert_error(await user.post(f"/orders/{oid}/pay", {"payment_method": "bitcoin"}), 400,
                 "unsupported_payment_method")
    pay = await user.post(f"/orders/{oid}/pay", {"payment_method": "test_pay"})
    assert pay.body == {"status": "paying", "qrcode": f"weixin://wxpay/bizpayurl?pr={oid[:8]}", "order_id": oid,
                        "jsapi": None, "h5_url": None}
    still = await user.get(f"/orders/{oid}", params={"check_payment": "true"})
    assert still.body["status"] == "paying"
    provider.paid = True
    assert (await user.get(f"/orders/{oid}")).body["status"] == "paying"  # no check: nothing asked
    paid = await user.get(f"/orders/{oid}", params={"check_payment": "true"})
    assert paid.body["status"] == "paid" and paid.body["paid_at"] and paid.body["payment_method"] == "test_pay"
    assert (await user.get("/me")).body["balance"] == 1000 + 5000
    assert_error(await user.delete(f"/orders/{oid}"), 409, "invalid_state")
    assert_error(await user.post(f"/orders/{oid}/refund", {}), 403)
    refunded = await admin.post(f"/orders/{oid}/refund")
    assert refunded.body["status"] == "refunded" and provider.refunded == [oid]
    assert (await admin.post(f"/orders/{oid}/refund", {})).body["status"] == "refunded"  # once
    audited = (await api.services.admin.audit.list(10, action="order.refund")).items
    assert [(e.target, e.actor.startswith("admin:")) for e in audited] == [(f"order:{oid}", True)] * 2
    assert (audited[-1].before, audited[-1].after["status"]) == ({"status": "paid"}, "refunded")
    assert (await user.get("/me")).body["balance"] == 1000
    kinds = [e["kind"] for e in (await user.get("/me/ledger")).body["data"]]
    assert kinds == ["refund", "purchase", "grant"]
    assert (await admin.get(f"/orders/{oid}")).body["id"] == oid  # an admin sees any order


async def test_orders_list_filter_cancel_and_isolation(api) -> None:
    user, _ = await api.new_user("alice")
    other, _ = await api.new_user("mallory")
    ids = [(await user.post("/orders", {"product_id": "starter"})).body["id"] for _ in range(3)]
    cancelled = await user.delete(f"/orders/{ids[0]}")
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    unpaid = await user.get("/orders", params={"status": "unpaid"})
    assert [o["id"] for o in unpaid.body["data"]] == [ids[2], ids[1]]
    assert [o["id"] for o in (await user.get("/orders", params={"status": "cancelled"})).body["data"]] == [ids[0]]
    first = await user.get("/orders", params={"limit": 2})
    second = await user.get("/orders", params={"limit": 2, "cursor": first.body["cursor"]})
    assert [o["id"] for o in first.body["data"] + second.body["data"]] == ids[::-1]
    assert_error(await user.get("/orders", params={"status": "lost"}), 400)
    assert_error(await user.post("/orders", {"product_id": "nope"}), 404)
    for method, path, body in [("GET", f"/orders/{ids[1]}", None), ("PATCH", f"/orders/{ids[1]}", {"note": "x"}),
                               ("DELETE", f"/orders/{ids[1]}", None),
                               ("POST", f"/orders/{ids[1]}/pay", {"payment_method": "test_pay"})]:
        assert_error(await other.call(method, path, body), 404, "not_found")
    assert (await other.get("/orders")).body["data"] == []
    untouched = await user.get(f"/orders/{ids[1]}")
    assert untouched.body["status"] == "unpaid" and untouched.body["note"] == ""
