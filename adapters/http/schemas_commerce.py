"""Request and response shapes of roles, products and orders (see schemas.py for the conventions)."""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from adapters.http.schemas import Body, ListQuery, Out, Timestamp
from core.domain import Order, Product, Role

# --- roles and products ------------------------------------------------------------------------

class RoleIn(Body):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^/]+$")
    description: str = Field("", max_length=2000)
    system_prompt: str = Field(min_length=1, max_length=16000)
    model: str | None = Field(None, max_length=100, description="The model its conversations use unless one is "
                              "chosen (GET /models); null: the default model.")


class RolePatch(Body):
    description: str | None = Field(None, max_length=2000)
    system_prompt: str | None = Field(None, min_length=1, max_length=16000)
    model: str | None = Field(None, max_length=100, description="\"\" clears it (the default model).")


class RoleOut(Out):
    name: str
    description: str
    system_prompt: str
    model: str | None = None

    @classmethod
    def of(cls, r: Role) -> "RoleOut":
        return cls(name=r.name, description=r.description, system_prompt=r.system_prompt, model=r.model)


Price = Field(ge=0, max_digits=12, decimal_places=2)


class ProductIn(Body):
    id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    price: Decimal = Price
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$")
    tokens: int = Field(0, ge=0, le=10**12)
    storage_mb: int = Field(0, ge=0, le=10**6)
    stars: int = Field(0, ge=0, le=10**6)


class ProductPatch(Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    price: Decimal | None = Price
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    tokens: int | None = Field(None, ge=0, le=10**12)
    storage_mb: int | None = Field(None, ge=0, le=10**6)
    stars: int | None = Field(None, ge=0, le=10**6)


class ProductOut(Out):
    id: str
    name: str
    description: str
    price: float
    currency: str
    tokens: int
    storage_mb: int
    stars: int

    @classmethod
    def of(cls, p: Product) -> "ProductOut":
        return cls(id=p.id, name=p.name, description=p.description, price=float(p.price), currency=p.currency,
                   tokens=p.tokens, storage_mb=p.storage_mb, stars=p.stars)


# --- orders ------------------------------------------------------------------------------------

OrderStatusName = Literal["unpaid", "paying", "paid", "cancelled", "expired", "refunded"]


class OrderIn(Body):
    product_id: str = Field(min_length=1, max_length=64)
    note: str = Field("", max_length=1000)


class OrderPatch(Body):
    note: str = Field(max_length=1000)


class OrderListQuery(ListQuery):
    status: OrderStatusName | None = None


class OrderGetQuery(BaseModel):
    check_payment: bool = Field(False, description="Ask the payment provider now and settle a paid order.")


class PayIn(Body):
    payment_method: str = Field(min_length=1, max_length=32,
                                description="wechat_native, wechat_jsapi or wechat_h5 (payments.wechatpay.methods)")
    openid: str | None = Field(None, max_length=128, description="Ignored: a JSAPI payer is always the signed-in "
                                                                 "user's own WeChat identity, never the request's.")


class PayOut(Out):
    status: OrderStatusName
    qrcode: str | None = Field(description="What to show as a QR code (WeChat Pay's code_url).")
    order_id: str
    jsapi: dict[str, str] | None = Field(None, description="wechat_jsapi: the parameters of WeixinJSBridge.invoke("
                                                            "'getBrandWCPayRequest', ...), paySign included.")
    h5_url: str | None = Field(None, description="wechat_h5: where to send the phone's browser to pay.")


class RefundIn(Body):
    pass


class OrderProductOut(Out):
    id: str
    name: str
    tokens: int
    storage_mb: int
    stars: int


class OrderOut(Out):
    id: str
    product_id: str
    product: OrderProductOut
    price: float
    currency: str
    status: OrderStatusName
    payment_method: str | None
    note: str
    created_at: Timestamp
    paid_at: Timestamp | None
    expires_at: Timestamp | None

    @classmethod
    def of(cls, o: Order) -> "OrderOut":
        product = OrderProductOut(id=o.product_id, name=o.product_name, tokens=o.tokens, storage_mb=o.storage_mb,
                                  stars=o.stars)
        return cls(id=o.id, product_id=o.product_id, product=product, price=float(o.price), currency=o.currency,
                   status=o.status, payment_method=o.payment_method, note=o.note, created_at=o.created_at,
                   paid_at=o.paid_at, expires_at=o.expires_at)
