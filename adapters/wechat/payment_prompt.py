"""How a WeChat chat shows an order to pay (the answer to /buy ID): one small function, so the way to pay can change
(a code_url today; a link to the pay page later) without touching the command layer."""
from __future__ import annotations

from core.commands_results import PaymentToShow
from core.i18n import Texts


def payment_prompt(payment: PaymentToShow, texts: Texts, locale: str, public_url: str | None = None) -> str:
    """The order, its price and where to pay it, in the user's language. With `public_url` (server.public_url)
    the answer is the absolute link to the pay page (/web/pay/{order}), which a phone can open inside WeChat
    (JSAPI) or show as a QR on a desktop; without it, the code_url."""
    order = payment.order
    if public_url:
        from adapters.http.web.pay import pay_link

        return texts.get("buy.pay_link", locale, order=order.id, product=order.product_name, price=str(order.price),
                         currency=order.currency, url=pay_link(public_url, order.id))
    return texts.get("buy.pay_wechat", locale, order=order.id, product=order.product_name, price=str(order.price),
                     currency=order.currency, url=payment.url or "")
