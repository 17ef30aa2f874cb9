"""ChatEngine: the one path from an inbound message to a streamed, charged, stored reply."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from dataclasses import dataclass
from typing import AsyncIterator, Union

from core.admin_access import AccessGuard
from core.catalog import ModelCatalog
from core.domain import Conversation, Hold, ImagePart, InboundMessage, Message, ModelSpec, Usage
from core.errors import InvalidRequest, NotFound, UpstreamError
from core.i18n import Text, Texts
from core.model_choice import chosen_model
from core.ports import (
    AnsweredBy, ChatModel, ConversationRepository, MessageRepository, ModelRequest, Passage, Retriever, RoleRepository,
    TextDelta, TokenCounter, UsageReport,
)
from core.prompt import Prompt, build_prompt
from core.quota import QuotaLedger
from core.summary import Summarizer

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 32_000
# What one image may cost in prompt tokens, held before the call (a high-detail 1024 px image on OpenAI
# models is 765); the provider's reported usage is what is charged.
IMAGE_TOKENS = 765
HISTORY_FETCH = 200
# How an answer ends when its provider fails after text was streamed (it is never retried then: no doubled text):
# the note `reply.cut_off` in the user's language (InboundMessage.locale), after a blank line, stored with the answer.
CUT_OFF_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class ReplyStarted:
    conversation: Conversation
    user_message: Message
    message_id: str
    model: str
    citations: tuple = ()


@dataclass(frozen=True)
class ReplyDelta:
    text: str


@dataclass(frozen=True)
class ReplyFinished:
    message: Message


ReplyEvent = Union[ReplyStarted, ReplyDelta, ReplyFinished]


@dataclass
class EngineSettings:
    default_instruction: str
    history_tokens: int
    top_k: int = 4


class ChatEngine:
    def __init__(self, *, model: ChatModel, catalog: ModelCatalog, counter: TokenCounter, quota: QuotaLedger,
                 conversations: ConversationRepository, messages: MessageRepository, roles: RoleRepository,
                 settings: EngineSettings, summarizer: Summarizer | None = None, retriever: Retriever | None = None,
                 texts: Texts | None = None, own_keys=None, own_key_weight: float = 0.0, rate_limit=None,
                 access: AccessGuard | None = None):
        self._model = model
        self._catalog = catalog
        self._counter = counter
        self._quota = quota
        self._conversations = conversations
        self._messages = messages
        self._roles = roles
        self._settings = settings
        self._summarizer = summarizer
        self.retriever = retriever
        self._texts = texts if texts is not None else Texts.load()  # the notes the engine writes (a cut-off answer)
        # Users' own provider keys (core.own_keys.OwnKeyService): a reply their key answers is priced at
        # `own_key_weight` per token (llm.byok_fee_weight; 0: not charged).
        self.own_keys = own_keys
        self.own_key_weight = own_key_weight
        # How fast one user may send (core.rate_limit.MessageRateLimit): RateLimited past it.
        self.rate_limit = rate_limit
        # Blocked users are refused here, before anything is held or stored.
        self.access = access
        self._background: set[asyncio.Task] = set()

    async def reply(self, inbound: InboundMessage) -> AsyncIterator[ReplyEvent]:
        """Answer one message: ReplyStarted, ReplyDelta..., ReplyFinished.

        Raises QuotaExceeded (nothing stored, no model call), NotFound, InvalidRequest, or UpstreamError
        (the reply is stored with status 'error' and not charged). Cancelling the consumer charges
        what was generated and stores the partial reply with status 'cancelled'."""
        if self.access is not None:
            await self.access.check(inbound.user_id)
        if self.rate_limit is not None:
            await self.rate_limit.check(inbound.user_id)
        text = inbound.text.strip()
        if not text:
            raise InvalidRequest("The message is empty.")
        if len(text) > MAX_INPUT_CHARS:
            raise InvalidRequest(f"The message is too long ({len(text)} characters; the limit is {MAX_INPUT_CHARS}).",
                                 reason="message_too_long")
        if inbound.model:
            self._catalog.get(inbound.model)  # an unknown model is refused before anything is looked up
        conversation = await self._existing_conversation(inbound)
        spec = self._catalog.get(inbound.model or await chosen_model(conversation, self._roles, self._catalog))
        if inbound.images:
            spec = self._catalog.for_images(spec)
        own_key = self.own_keys is not None and await self.own_keys.covers(inbound.user_id, spec.name)
        if own_key:
            spec = dataclasses.replace(spec, input_weight=self.own_key_weight, output_weight=self.own_key_weight)
        passages = await self._passages(inbound.user_id, conversation, text)
        prompt = await self._prompt(conversation, passages, text, inbound.instruction)
        prompt_tokens = prompt.prompt_tokens + IMAGE_TOKENS * len(inbound.images)
        max_tokens = min(spec.max_output_tokens, spec.context_window - prompt_tokens)
        if max_tokens < 16:
            raise InvalidRequest("The message does not fit the model's context window.", reason="message_too_long")
        message_id = str(uuid.uuid4())
        # The hold comes before anything is written: a refused reply leaves no trace.
        hold = await self._quota.hold(inbound.user_id, spec, prompt_tokens, key=f"reply:{message_id}")
        try:
            if conversation is None:
                conversation = await self._conversations.create(inbound.user_id, title=_title_from(text),
                                                                chat_key=inbound.chat_key,
                                                                instruction=inbound.instruction)
            user_message = await self._messages.add(conversation_id=conversation.id, user_id=inbound.user_id,
                                                    role="user", content=text)
        except BaseException:
            await asyncio.shield(self._quota.release(hold))
            raise
        run = _Run(self, spec, hold, conversation, prompt, message_id, tuple(p.citation() for p in passages),
                   inbound.images)
        run.own_key = own_key
        run.locale = inbound.locale
        started = ReplyStarted(conversation, user_message, message_id, spec.name, run.citations)
        async for event in run.stream(inbound.user_id, max_tokens, started):
            if isinstance(event, ReplyFinished) and not conversation.title and event.message.status == "complete":
                # A conversation started without a title (API, web) is named after its first exchange.
                await self._conversations.update(conversation.id, title=_title_from(text))
            if isinstance(event, ReplyFinished) and self._history_full(prompt, text, event.message):
                # Before the last event: a consumer may stop reading once it has the answer.
                self._after_reply(conversation)
            yield event

    async def _existing_conversation(self, inbound: InboundMessage) -> Conversation | None:
        """The conversation this message continues; None when it starts a new one."""
        if inbound.conversation_id:
            conv = await self._conversations.get(inbound.conversation_id)
            if conv is None or conv.user_id != inbound.user_id:
                raise NotFound("Conversation not found.")
            return conv
        if inbound.chat_key:
            return await self._conversations.latest_for_chat(inbound.chat_key)
        return None

    async def _passages(self, user_id: str, conversation: Conversation | None, text: str) -> list[Passage]:
        if self.retriever is None:
            return []
        scope = conversation.resource_ids if conversation else ()
        return await self.retriever.retrieve(user_id, text, scope, self._settings.top_k)

    async def _prompt(self, conversation: Conversation | None, passages: list[Passage], text: str,
                      new_instruction: str | None = None) -> Prompt:
        if conversation is None:
            return build_prompt(self._counter, instruction=new_instruction or self._settings.default_instruction,
                                summary="",
                                passages=passages, history=[], question=text,
                                history_tokens=self._settings.history_tokens)
        instruction = conversation.instruction or ""
        if conversation.role:
            role = await self._roles.get(conversation.role)
            if role is not None:
                instruction = "\n\n".join(x for x in (role.system_prompt, instruction) if x)
        history = await self._messages.recent(conversation.id, conversation.summary_until, HISTORY_FETCH)
        return build_prompt(self._counter, instruction=instruction or self._settings.default_instruction,
                            summary=conversation.summary, passages=passages, history=history, question=text,
                            history_tokens=self._settings.history_tokens)

    def _history_full(self, prompt: Prompt, question: str, answer: Message) -> bool:
        """Whether the history, with this exchange added, no longer fits its budget: only then is a
        summary worth the summarizer's look at the whole history."""
        grown = prompt.history_tokens + self._counter.count(question) + answer.usage.completion_tokens + 8
        return prompt.trimmed or grown > self._settings.history_tokens

    def _after_reply(self, conversation: Conversation) -> None:
        if self._summarizer is None:
            return
        task = asyncio.get_running_loop().create_task(self._summarizer.maybe_summarize(conversation.id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background work (summaries) to finish; called on shutdown."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


class _Run:
    """One model call: stream it, then charge, store and release exactly once, however it ends."""

    def __init__(self, engine: ChatEngine, spec: ModelSpec, hold: Hold, conversation: Conversation, prompt: Prompt,
                 message_id: str, citations: tuple, images: tuple[ImagePart, ...] = ()):
        self.e = engine
        self.images = images
        self.spec = spec
        self.hold = hold
        self.conversation = conversation
        self.prompt = prompt
        self.message_id = message_id
        self.citations = citations
        self.parts: list[str] = []
        self.usage: Usage | None = None
        self.own_key = False  # answered with the user's own key (never another key, never a fallback)
        self.locale: str | None = None  # the user's language, for the cut-off note

    async def stream(self, user_id: str, max_tokens: int, started: ReplyStarted) -> AsyncIterator[ReplyEvent]:
        request = ModelRequest(self.spec.name, self.prompt.turns, max_tokens, self.images, user_id=user_id,
                               own_key=self.own_key)
        # The hold is a lease: renewed while this reply runs, so only a dead worker's hold lapses.
        self.lease = self.e._quota.lease(self.hold)
        try:
            yield started
            async for chunk in self.e._model.stream(request):
                if isinstance(chunk, TextDelta):
                    if chunk.text:
                        self.parts.append(chunk.text)
                        yield ReplyDelta(chunk.text)
                elif isinstance(chunk, UsageReport):
                    self.usage = chunk.usage
                elif isinstance(chunk, AnsweredBy):
                    self._answered_by(chunk)
        except UpstreamError as exc:
            if not self.parts:
                await asyncio.shield(self._fail(user_id))
                raise
            cut: UpstreamError | None = exc
        except (asyncio.CancelledError, GeneratorExit):
            await asyncio.shield(self._finish(user_id, "cancelled"))
            raise
        except Exception as exc:  # a bug or an unexpected SDK error: never charge for it
            log.exception("model stream failed")
            await asyncio.shield(self._fail(user_id))
            raise UpstreamError("The model failed to answer; you were not charged.") from exc
        else:
            cut = None
        if cut is not None:
            # Charged and stored before the note is sent: a consumer that stops reading changes nothing.
            note = CUT_OFF_SEPARATOR + self._cut_off_note(cut)
            message = await asyncio.shield(self._finish(user_id, "error", note))
            yield ReplyDelta(note)
            yield ReplyFinished(message)
            return
        message = await asyncio.shield(self._finish(user_id, "complete"))
        yield ReplyFinished(message)

    def _cut_off_note(self, cut: UpstreamError) -> str:
        """`reply.cut_off` in the user's language; the provider's own words (cut.message) stay in the log."""
        log.info("answer %s cut off: %s", self.message_id, cut.message)
        why = "reply.cut_off_timeout" if cut.reason == "upstream_timeout" else "reply.cut_off_broken"
        texts = self.e._texts
        return texts.render(Text.of("reply.cut_off", reason=Text.of(why)), texts.locale_for(self.locale))

    def _answered_by(self, answered: AnsweredBy) -> None:
        """A fallback model answered: the reply is priced by its weights (the same name keeps the spec)."""
        if answered.model != self.spec.name:
            try:
                self.spec = self.e._catalog.get(answered.model)
            except InvalidRequest:
                log.warning("fallback model %s is not in the catalog; priced as %s", answered.model, self.spec.name)

    def _measured_usage(self) -> Usage:
        if self.usage is not None:
            return self.usage
        # The provider sent no usage (or was cut off): estimate with the tokenizer.
        return Usage(self.prompt.prompt_tokens, self.e._counter.count("".join(self.parts)))

    async def _finish(self, user_id: str, status: str, note: str = "") -> Message:
        self.lease.stop()
        usage = self._measured_usage()
        # The ledger shows a reply made with the user's own key by its ref.
        ref = f"own_key:{self.message_id}" if self.own_key else None
        entry = await self.e._quota.settle(self.hold, self.spec, usage, self.message_id, ref=ref)
        cost = -entry.amount if entry is not None else 0
        message = await self.e._messages.add(
            id=self.message_id, conversation_id=self.conversation.id, user_id=user_id, role="assistant",
            content="".join(self.parts) + note, model=self.spec.name, status=status, usage=usage, cost=cost,
            citations=self.citations)
        await self.e._conversations.add_token_usage(self.conversation.id, usage.total_tokens)
        return message

    async def _fail(self, user_id: str) -> None:
        self.lease.stop()
        await self.e._quota.release(self.hold)
        await self.e._messages.add(
            id=self.message_id, conversation_id=self.conversation.id, user_id=user_id, role="assistant",
            content="".join(self.parts), model=self.spec.name, status="error", usage=Usage(), cost=0,
            citations=self.citations)


def _title_from(text: str, limit: int = 40) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
