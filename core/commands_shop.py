"""Shop commands: /buy (the packs, then a payment to show) and /paid (ask the provider about the last payment)."""
from __future__ import annotations

from core.accounts import AccountService
from core.commands_results import Choice, CommandContext, CommandResult, PaymentOption, PaymentToShow
from core.domain import Product
from core.errors import NotFound
from core.i18n import Text
from core.orders import OrderService


def sold_for(product: Product, option: PaymentOption) -> bool:
    return product.stars > 0 if option.unit == "stars" else product.price > 0


def product_label(product: Product, option: PaymentOption) -> Text:
    if option.unit == "stars":
        return Text.of("buy.product_stars", name=product.name, tokens=product.tokens, stars=product.stars)
    return Text.of("buy.product_price", id=product.id, name=product.name, price=str(product.price),
                   currency=product.currency, tokens=product.tokens)


class ShopCommands:
    def __init__(self, orders: OrderService, accounts: AccountService):
        self._orders = orders
        self._accounts = accounts

    def _options(self, ctx: CommandContext) -> list[PaymentOption]:
        """The channel's ways to pay whose provider is on (OrderService.providers), preferred first."""
        return [o for o in ctx.payments if o.is_on(self._orders.providers)]

    async def buy(self, ctx: CommandContext, arg: str) -> CommandResult:
        options = self._options(ctx)
        if not options:  # said before any order is made
            return CommandResult("buy", (Text.of("buy.no_payment_method"),), error="no_payment_method")
        if not arg:
            option = options[0]
            products = [p for p in await self._orders.products() if sold_for(p, option)]
            if not products:
                return CommandResult.say("buy", "buy.nothing_for_sale")
            header = Text.of("buy.choose_stars" if option.unit == "stars" else "buy.choose")
            choices = tuple(Choice(f"buy:{p.id}", product_label(p, option)) for p in products)
            return CommandResult("buy", (header,), choices, hint=Text.of("buy.hint"))
        try:
            product = await self._orders.product(arg)
        except NotFound:
            return CommandResult("buy", (Text.of("buy.unknown_product", id=arg),), error="not_found")
        usable = [o for o in options if sold_for(product, o)]
        if not usable:
            key = "buy.not_for_stars" if options[0].unit == "stars" else "buy.not_for_method"
            return CommandResult("buy", (Text.of(key),), error="unsupported_payment_method")
        option = usable[0]
        order = await self._orders.create(ctx.user.id, product.id, note=ctx.channel)
        if option.invoice_in_chat or option.on_page:
            # The channel sends its invoice for this order (payload = order id, never a price), or a link to the
            # pay page, which starts the payment the way the visitor's screen allows.
            return CommandResult("buy", payment=PaymentToShow(order, option.method))
        order = await self._orders.pay(ctx.user.id, order.id, option.method)
        offer = Text.of("buy.pay_wechat", order=order.id, product=order.product_name, price=str(order.price),
                        currency=order.currency, url=order.payment_ref or "")
        return CommandResult("buy", (offer,), payment=PaymentToShow(order, option.method, order.payment_ref))

    async def paid(self, ctx: CommandContext, arg: str) -> CommandResult:
        page = await self._orders.list(ctx.user.id, "paying", 1, None)
        if not page.items:
            return CommandResult.say("paid", "paid.none")
        order = await self._orders.check_payment(page.items[0])
        if order.status == "paid":
            user = await self._accounts.get(ctx.user.id)
            return CommandResult.say("paid", "paid.done", tokens=order.tokens, balance=user.balance)
        return CommandResult.say("paid", "paid.not_yet", order=order.id, status=Text.of(f"order.status.{order.status}"))
