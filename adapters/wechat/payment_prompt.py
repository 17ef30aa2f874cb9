"""How a WeChat chat shows an order to pay (the answer to /buy ID): one small function, so the way to pay can change
(a code_url today; a link to the pay page later) without touching the command layer."""
from __future__ import annotations

from core.commands_results import PaymentToShow
from core.i18n import Texts


def payment_prompt(payment: PaymentToShow, texts: Texts, locale: str, page_link: str | None = None) -> str:
    """The order, its price and where to pay it, in the user's language. With `page_link` the answer is the
    absolute link to the order's pay page, which a phone opens inside WeChat (JSAPI) and a desktop shows as a QR;
    without it, the code_url."""
    order = payment.order
    if page_link:
        return texts.get("buy.pay_link", locale, order=order.id, product=order.product_name, price=str(order.price),
                         currency=order.currency, url=page_link)
    return texts.get("buy.pay_wechat", locale, order=order.id, product=order.product_name, price=str(order.price),
                     currency=order.currency, url=payment.url or "")
