"""Shop commands: /buy (the packs, then a payment to show) and /paid (ask the provider about the last payment)."""
from __future__ import annotations

from core.accounts import AccountService
from core.commands_results import (
    Choice, CommandContext, CommandResult, LinkButton, PayPageLinks, PaymentOption, PaymentToShow, SignInLinks,
)
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
    def __init__(self, orders: OrderService, accounts: AccountService, sign_in: SignInLinks | None = None,
                 pay_pages: PayPageLinks | None = None):
        """`sign_in` and `pay_pages`: the one-time links to the web pay page (PaymentOption.signs_in); without
        them such an option is never on."""
        self._orders = orders
        self._accounts = accounts
        self._sign_in = sign_in
        self._pay_pages = pay_pages

    def _options(self, ctx: CommandContext) -> list[PaymentOption]:
        """The channel's ways to pay whose provider is on (OrderService.providers), preferred first."""
        can_link = self._sign_in is not None and self._pay_pages is not None
        return [o for o in ctx.payments if o.is_on(self._orders.providers) and (can_link or not o.signs_in)]

    async def _web_link(self, ctx: CommandContext, label: Text, path: str) -> LinkButton:
        assert self._sign_in is not None
        link = await self._sign_in.issue(ctx.user.id, path)
        return LinkButton(label, link.url)

    async def _product_links(self, ctx: CommandContext, web: PaymentOption | None,
                             products: list[Product]) -> tuple[LinkButton, ...]:
        """Beside the channel's own way to pay, a sign-in link to each pack's pay page (one for a single pack)."""
        if web is None or self._pay_pages is None:
            return ()
        sold = [p for p in products if sold_for(p, web)]
        return tuple([await self._web_link(ctx, Text.of("buy.pay_on_web") if len(sold) == 1 else
                                           Text.of("buy.pay_on_web_for", name=p.name),
                                           self._pay_pages.product_path(p.id)) for p in sold])

    async def buy(self, ctx: CommandContext, arg: str) -> CommandResult:
        options = self._options(ctx)
        if not options:  # said before any order is made
            return CommandResult("buy", (Text.of("buy.no_payment_method"),), error="no_payment_method")
        # A page reached by a sign-in link, offered beside the channel's first way to pay (Telegram's Stars).
        web = next((o for o in options[1:] if o.signs_in), None)
        if not arg:
            option = options[0]
            on_sale = await self._orders.products()
            products = [p for p in on_sale if sold_for(p, option)]
            links = await self._product_links(ctx, web, on_sale)
            if not products and not links:
                return CommandResult.say("buy", "buy.nothing_for_sale")
            header = Text.of("buy.choose_stars" if option.unit == "stars" else "buy.choose")
            choices = tuple(Choice(f"buy:{p.id}", product_label(p, option)) for p in products)
            return CommandResult("buy", (header,), choices, hint=Text.of("buy.hint"), links=links)
        try:
            product = await self._orders.product(arg)
        except NotFound:
            return CommandResult("buy", (Text.of("buy.unknown_product", id=arg),), error="not_found")
        usable = [o for o in options if sold_for(product, o)]
        links = await self._product_links(ctx, web, [product]) if web in usable and usable[0] is not web else ()
        if not usable:
            key = "buy.not_for_stars" if options[0].unit == "stars" else "buy.not_for_method"
            return CommandResult("buy", (Text.of(key),), error="unsupported_payment_method")
        option = usable[0]
        order = await self._orders.create(ctx.user.id, product.id, note=ctx.channel)
        if option.signs_in and self._pay_pages is not None:   # the web page is the only way to pay here
            link = await self._web_link(ctx, Text.of("buy.pay_on_web"), self._pay_pages.order_path(order.id))
            offer = Text.of("buy.web_order", order=order.id, product=order.product_name, price=str(order.price),
                            currency=order.currency)
            return CommandResult("buy", (offer,), payment=PaymentToShow(order, option.method), links=(link,))
        if option.invoice_in_chat and links:
            # The invoice for this order, and beside it the pack's pay page (a new order there: one order is
            # never paid two ways).
            return CommandResult("buy", (Text.of("buy.or_pay_on_web"),),
                                 payment=PaymentToShow(order, option.method), links=links)
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
