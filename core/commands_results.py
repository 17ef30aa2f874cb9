"""What a command is run with (the chat it came from) and what it answers, as values every channel can render."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Collection, Literal, Protocol, Sequence

from core.domain import Order, User
from core.i18n import Text
from core.model_choice import ModelOption


# --- the ports a channel (or a later feature) lends the command layer ------------------------------

CancelOutcome = Literal["stopped", "nothing", "not_yours"]


class ReplyCanceller(Protocol):
    """The channel's answers in progress (Telegram's chat lanes): /cancel stops the one in this chat."""

    async def cancel(self, chat_key: str, user_id: str) -> CancelOutcome: ...


@dataclass(frozen=True)
class SignInLink:
    url: str
    expires_at: datetime


class SignInLinks(Protocol):
    """/web: a one-time link that signs this user in on the web pages (5 minutes), landing on `next_path` (a
    /web page: the pay page for /buy from Telegram) or the chat page; core.sign_in.SignInLinkService."""

    async def issue(self, user_id: str, next_path: str | None = None) -> SignInLink: ...


class PayPageLinks(Protocol):
    """Where the web pay page is, for a chat whose users are not signed in on the web by the page itself
    (Telegram): the page paths a one-time sign-in link lands on (adapters/http/web/pay.py)."""

    def product_path(self, product_id: str) -> str: ...

    def order_path(self, order_id: str) -> str: ...


class ModelPreferences(Protocol):
    """/model NAME: the model a chat's current conversation answers with (core.model_choice.ModelChoiceService);
    without it, /model lists the models and answers `model.fixed`."""

    async def options(self, user_id: str | None = None) -> Sequence[ModelOption]:
        """Every model on offer with the prices this user pays (their own key's models at the fee)."""
        ...

    async def current(self, user_id: str, chat_key: str) -> str | None: ...

    async def choose(self, user_id: str, chat_key: str, model: str) -> None: ...


class ChatAdmins(Protocol):
    """In a group chat: whether the person asking is one of the chat's admins (Telegram's getChatMember)."""

    async def is_admin(self) -> bool: ...


class LoginConfirmations(Protocol):
    """/confirm (确认): the scanner of a login QR says yes (core.login.QrLoginService.confirm)."""

    async def confirm(self, user_id: str) -> bool: ...


# --- how the command is asked ------------------------------------------------------------------------

@dataclass(frozen=True)
class PaymentOption:
    """A way to pay that a channel can show. `unit` says which price a product needs ("stars" or "money");
    `invoice_in_chat`: the channel sends its own invoice for the new order (Telegram Stars) instead of the
    command layer starting the payment through OrderService.pay (WeChat Pay Native's code_url)."""

    method: str
    unit: Literal["stars", "money"] = "money"
    invoice_in_chat: bool = False
    # Paid on the pay page by one of these methods (whichever is on): the command layer only creates the order
    # and the channel sends a link to the page, which picks JSAPI inside WeChat, a QR on a desktop, H5 on a phone.
    on_page: tuple[str, ...] = ()

    # The page is reached through a one-time sign-in link (SignInLinks) made for the chat's user, shown as a button
    # next to the channel's own way to pay (Telegram: a URL button beside the Stars packs).
    signs_in: bool = False

    def is_on(self, providers: Collection[str]) -> bool:
        """Whether this way to pay works with the payment providers that are on."""
        return self.method in providers or any(m in providers for m in self.on_page)


TELEGRAM_STARS = PaymentOption("telegram_stars", unit="stars", invoice_in_chat=True)
WECHAT_NATIVE = PaymentOption("wechat_native")
WECHAT_PAY_PAGE = PaymentOption("wechat_page", on_page=("wechat_jsapi", "wechat_h5", "wechat_native"))
WECHAT_PAY_ON_WEB = PaymentOption("wechat_web", on_page=WECHAT_PAY_PAGE.on_page, signs_in=True)


@dataclass(frozen=True)
class CommandContext:
    """Who asks, in which chat, and what that channel can do."""

    user: User
    chat_key: str                          # the chat's conversation key ("telegram:123", "wechat:OPENID")
    channel: str                           # "telegram", "wechat", "cli"
    locale: str                            # Texts.locale_for(user.locale, platform hint)
    display_name: str = ""                 # how to greet them ("Alice"); the account name when empty
    payments: tuple[PaymentOption, ...] = ()   # preferred first; only those with a provider on are used
    link_url: str | None = None            # a deep link that redeems a code, with {code}: "https://t.me/bot?start=link_{code}"
    cancels: ReplyCanceller | None = None
    menu: tuple[str, ...] = ()             # the commands /help lists; empty: every command
    group: bool = False                    # a group chat (one conversation for many people)
    admins: ChatAdmins | None = None       # set in a group where only admins may /new, /role, /model, /mode


# --- what it answers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    """One option to pick: Telegram shows a button (callback data = `id`), WeChat and the terminal a line.
    `id` is `command:argument` (core.commands_parse.as_command); Telegram leaves out a choice whose id is over
    its 64-byte callback-data limit (a very long role name), other channels list it."""

    id: str
    label: Text
    detail: Text | None = None
    selected: bool = False


@dataclass(frozen=True)
class LinkButton:
    """A button that opens a page (Telegram: an inline URL button): paying on the web with a sign-in link."""

    label: Text
    url: str


@dataclass(frozen=True)
class PaymentToShow:
    """An order to pay: `url` is the WeChat Pay code_url (show it as a QR code), or None when the channel sends
    its own invoice for `order` (PaymentOption.invoice_in_chat; the invoice payload is the order id)."""

    order: Order
    method: str
    url: str | None = None


@dataclass(frozen=True)
class CommandResult:
    command: str
    texts: tuple[Text, ...] = ()           # lines, in order
    choices: tuple[Choice, ...] = ()
    hint: Text | None = None               # below the choices, for channels without buttons ("Send /role NAME")
    toast: Text | None = None              # a short note for a pressed button (Telegram's answerCallbackQuery)
    payment: PaymentToShow | None = None
    link: SignInLink | None = None
    links: tuple[LinkButton, ...] = ()     # buttons that open a page, after the choices
    locale: str | None = None              # the command changed the user's language: render in this one
    error: str | None = None               # the reason when the command failed (texts say it to the user)

    @classmethod
    def say(cls, command: str, key: str, **values: object) -> "CommandResult":
        return cls(command, (Text.of(key, **values),))
