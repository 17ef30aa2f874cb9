"""A scripted ChatModel, a TokenCounter and a PaymentProvider that record what they were asked, and `build()`,
which wires core's services over the in-memory repositories the way bot/wiring.py wires them over storage."""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import AsyncIterator, Sequence

from core.accounts import AccountService
from core.catalog import ModelCatalog
from core.chat import ChatEngine, EngineSettings
from core.commands import CommandService
from core.conversations import ConversationService
from core.domain import ChatTurn, ModelSpec, Order, Product, Role, Usage
from core.errors import UpstreamError
from core.i18n import Texts
from core.orders import OrderService, PaymentStart, PaymentState
from core.ports import ModelRequest, Retriever, TextDelta, UsageReport
from core.quota import QuotaLedger
from tests.unit.memory import Clock, MemoryDatabase, MemoryLedger, MemoryTransactions, MemoryUsers
from tests.unit.memory_chats import (
    MemoryConversations, MemoryEphemeral, MemoryMessages, MemoryOrders, MemoryProducts, MemoryRoles,
)

SPEC = ModelSpec("test-model", input_weight=1.0, output_weight=2.0, context_window=4096, max_output_tokens=100)
OTHER = ModelSpec("other-model", input_weight=2.0, output_weight=4.0, context_window=4096, max_output_tokens=100)


class CharCounter:
    """Four characters a token, four tokens of overhead a message (what tiktoken's estimate looks like)."""

    def count(self, text: str) -> int:
        return math.ceil(len(text) / 4)

    def count_turns(self, turns: Sequence[ChatTurn]) -> int:
        return sum(self.count(t.content) + 4 for t in turns) + 3


@dataclass
class Script:
    reply: str | None = None             # None: "Echo: <the question>"
    chunk_chars: int = 4
    usage: Usage | None = None           # None: counted from the prompt and the reply; see omit_usage
    omit_usage: bool = False             # the provider sends no usage (the engine estimates)
    fail_after: int | None = None        # raise UpstreamError after this many chunks
    pause_after: int | None = None       # wait for `resume` after this many chunks
    resume: asyncio.Event = field(default_factory=asyncio.Event)


class ScriptedChatModel:
    """The ChatModel port. `requests` holds every request, in order; scripts are used in order, then the default."""

    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []
        self.scripts: list[Script] = []
        self.paused = asyncio.Event()        # set when a script reaches pause_after
        self._counter = CharCounter()

    def script(self, **kwargs) -> Script:
        s = Script(**kwargs)
        self.scripts.append(s)
        return s

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | UsageReport]:
        self.requests.append(request)
        s = self.scripts.pop(0) if self.scripts else Script()
        text = s.reply if s.reply is not None else "Echo: " + request.messages[-1].content
        chunks = [text[i:i + s.chunk_chars] for i in range(0, len(text), s.chunk_chars)]
        for n, chunk in enumerate(chunks):
            if s.fail_after is not None and n == s.fail_after:
                raise UpstreamError("The model provider failed (scripted).")
            if s.pause_after is not None and n == s.pause_after:
                self.paused.set()
                await s.resume.wait()
            await asyncio.sleep(0)
            yield TextDelta(chunk)
        if not s.omit_usage:
            yield UsageReport(s.usage or Usage(self._counter.count_turns(request.messages), len(chunks)))


class RecordingPaymentProvider:
    """A PaymentProvider: `start` gives a code_url; `state` is what `query` reports. `calls` records each call."""

    def __init__(self, name: str = "wechat_native"):
        self.name = name
        self.calls: list[tuple[str, str]] = []
        self.state = PaymentState("open")

    async def start(self, order: Order) -> PaymentStart:
        self.calls.append(("start", order.id))
        return PaymentStart(f"weixin://wxpay/bizpayurl?pr={order.id[:8]}")

    async def query(self, order: Order) -> PaymentState:
        self.calls.append(("query", order.id))
        return self.state

    async def close(self, order: Order) -> None:
        self.calls.append(("close", order.id))

    async def refund(self, order: Order) -> None:
        self.calls.append(("refund", order.id))


STARTER = Product("starter", "Starter pack", "", Decimal("9.90"), "CNY", 5000, 50, 100)
STARS_ONLY = Product("stars", "Stars pack", "", Decimal("0"), "CNY", 2000, 0, 50)
PIRATE = Role("pirate", "Talks like a pirate", "Talk like a pirate.")


@dataclass
class Core:
    db: MemoryDatabase
    clock: Clock
    model: ScriptedChatModel
    ledger: MemoryLedger
    quota: QuotaLedger
    accounts: AccountService
    conversations: ConversationService
    orders: OrderService
    engine: ChatEngine
    commands: CommandService
    texts: Texts
    users: MemoryUsers
    catalog: ModelCatalog

    def commands_with(self, **ports) -> CommandService:
        """The command layer with ports a channel or a later feature lends it (sign_in, models, logins)."""
        return CommandService(accounts=self.accounts, conversations=self.conversations, orders=self.orders,
                              catalog=self.catalog, **ports)


_TEXTS: Texts | None = None


def texts() -> Texts:
    """The real catalogues, read once per test session."""
    global _TEXTS
    if _TEXTS is None:
        _TEXTS = Texts.load("en")
    return _TEXTS


def build(grant: int = 1000, storage_bytes: int = 5 * 1024 * 1024, history_tokens: int = 3000,
          retriever: Retriever | None = None) -> Core:
    db = MemoryDatabase()
    clock = db.clock
    users, ledger, tx = MemoryUsers(db), MemoryLedger(db), MemoryTransactions(db)
    conversations, messages, roles = MemoryConversations(db), MemoryMessages(db), MemoryRoles(db)
    model = ScriptedChatModel()
    catalog = ModelCatalog([SPEC, OTHER], SPEC.name)
    quota = QuotaLedger(ledger, hold_ttl_seconds=600, clock=clock)
    accounts = AccountService(users, quota, MemoryEphemeral(db), tx, grant, storage_bytes)
    chats = ConversationService(conversations, messages, roles)
    orders = OrderService(products=MemoryProducts(db), orders=MemoryOrders(db), users=users, quota=quota, tx=tx,
                          clock=clock)
    engine = ChatEngine(model=model, catalog=catalog, counter=CharCounter(), quota=quota, conversations=conversations,
                        messages=messages, roles=roles,
                        settings=EngineSettings("You are a helpful assistant.", history_tokens), retriever=retriever)
    commands = CommandService(accounts=accounts, conversations=chats, orders=orders, catalog=catalog)
    return Core(db, clock, model, ledger, quota, accounts, chats, orders, engine, commands, texts(), users, catalog)
