"""OpenAIChatModel through the real openai SDK against FakeOpenAI over HTTP; TiktokenCounter offline."""
from __future__ import annotations

import json
import logging
import socket

import openai
import pytest
from aiohttp import web

from adapters.llm.openai_chat import OpenAIChatModel, Provider
from adapters.llm.token_counter import TiktokenCounter
from core.domain import ChatTurn, Usage
from core.errors import InvalidRequest, UpstreamError
from core.ports import ModelRequest, TextDelta, UsageReport
from tests.fakes.local import serve_local
from tests.fakes.openai_server import FakeOpenAI, Script, fake_embedding, prompt_tokens_of

KEY = "sk-test"
TURNS = (ChatTurn("system", "Be brief."), ChatTurn("user", "What is the capital of France?"))


@pytest.fixture
async def fake():
    async with FakeOpenAI(api_key=KEY, models=["gpt-test"]) as server:
        yield server


def chat_model(*servers: tuple[FakeOpenAI, list[str]], key: str = KEY, timeout: float = 2.0) -> OpenAIChatModel:
    return OpenAIChatModel([Provider(f"p{i}", s.base_url, key, timeout, tuple(models))
                            for i, (s, models) in enumerate(servers)])


@pytest.fixture
async def model(fake):
    m = chat_model((fake, ["gpt-test"]))
    yield m
    await m.close()


def request(max_tokens: int = 100, model: str = "gpt-test") -> ModelRequest:
    return ModelRequest(model, TURNS, max_tokens)


async def run(m: OpenAIChatModel, req: ModelRequest) -> tuple[list[str], list[Usage], UpstreamError | None]:
    deltas, usages = [], []
    try:
        async for item in m.stream(req):
            if isinstance(item, TextDelta):
                deltas.append(item.text)
            else:
                assert isinstance(item, UsageReport)
                usages.append(item.usage)
    except UpstreamError as exc:
        return deltas, usages, exc
    return deltas, usages, None


async def test_streamed_deltas_join_to_the_scripted_answer_and_usage_is_reported(fake, model):
    fake.script(reply="Paris is the capital.", chunk_chars=5)
    deltas, usages, error = await run(model, request())
    assert error is None
    assert "".join(deltas) == "Paris is the capital."
    assert deltas[0] == "Paris" and len(deltas) == 5
    messages = [{"role": t.role, "content": t.content} for t in TURNS]
    assert usages == [Usage(prompt_tokens_of(messages), 5)]


async def test_default_reply_echoes_and_scripted_usage_is_passed_through(fake, model):
    fake.script(prompt_tokens=123, completion_tokens=45)
    deltas, usages, _ = await run(model, request())
    assert "".join(deltas) == "Echo: What is the capital of France?"
    assert usages == [Usage(123, 45)]


async def test_request_forwards_messages_max_tokens_and_asks_for_usage(fake, model):
    await run(model, request(max_tokens=77))
    [body] = fake.chat_requests
    assert body["model"] == "gpt-test"
    assert body["max_tokens"] == 77
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "What is the capital of France?"}]


async def test_reply_longer_than_max_tokens_is_truncated_without_error(fake, model):
    fake.script(reply="abcdefghij", chunk_chars=2)
    deltas, usages, error = await run(model, request(max_tokens=3))
    assert error is None and "".join(deltas) == "abcdef"
    assert usages[0].completion_tokens == 3


async def test_stream_without_usage_yields_no_usage_report(fake, model):
    fake.script(reply="no usage here", omit_usage=True)
    deltas, usages, error = await run(model, request())
    assert error is None and "".join(deltas) == "no usage here"
    assert usages == []


@pytest.mark.parametrize("status, reason, http_status", [
    (401, "upstream_unauthorized", 502),
    (403, "upstream_unauthorized", 502),
    (429, "rate_limited", 429),
    (500, "upstream_error", 502),
    (503, "upstream_error", 502),
])
async def test_provider_status_errors_map_to_reasons_and_are_never_retried(fake, model, status, reason, http_status):
    fake.script(status=status, retry_after=1)
    deltas, _, error = await run(model, request())
    assert deltas == []
    assert error is not None and (error.reason, error.status) == (reason, http_status)
    assert len(fake.chat_requests) == 1  # max_retries=0: nothing can be generated (and billed) twice


async def test_wrong_api_key_says_the_provider_rejected_it(fake):
    m = chat_model((fake, ["gpt-test"]), key="sk-wrong")
    _, _, error = await run(m, request())
    await m.close()
    assert error.reason == "upstream_unauthorized"
    assert "rejected the API key" in error.message


async def test_rate_limit_message_tells_the_user_to_retry(fake, model):
    fake.script(status=429, retry_after=3)
    _, _, error = await run(model, request())
    assert error.message == "The model provider is rate limiting; try again shortly."


async def test_stream_cut_midway_raises_after_the_first_deltas(fake, model):
    fake.script(reply="one two three four", chunk_chars=4, cut_after=2)
    deltas, usages, error = await run(model, request())
    assert deltas == ["one ", "two "]
    assert usages == []
    assert error.reason == "upstream_error" and "cut off" in error.message


async def test_malformed_chunk_raises_upstream_error(fake, model):
    fake.script(reply="one two three", chunk_chars=4, garbage_after=1)
    deltas, _, error = await run(model, request())
    assert deltas == ["one "]
    assert error.reason == "upstream_error" and "cut off" in error.message


async def test_error_event_inside_the_stream_raises_upstream_error(fake, model, caplog):
    fake.script(reply="one two three", chunk_chars=4, error_after=2)
    deltas, usages, error = await run(model, request())
    assert deltas == ["one ", "two "] and usages == []
    assert error.reason == "upstream_error" and "cut off" in error.message
    assert "The server had an error" in caplog.text   # the provider's own words reach the operator's log


async def test_sse_comments_and_multiline_data_are_read_as_the_protocol_says():
    """Comments (`: keep-alive`), `event:`/`id:` fields and CRLF line ends are skipped; a data field split
    over several `data:` lines is one event."""
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}
    text = json.dumps(chunk, indent=1).splitlines()
    body = (": keep-alive\r\n\r\nevent: message\r\nid: 1\r\n" + "".join(f"data: {line}\r\n" for line in text)
            + "\r\ndata: [DONE]\r\n\r\n")

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body.encode(), content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner, base = await serve_local(app)
    m = OpenAIChatModel([Provider("raw", base + "/v1", KEY, 2.0, ("gpt-test",))])
    try:
        deltas, usages, error = await run(m, request())
    finally:
        await m.close()
        await runner.cleanup()
    assert (deltas, usages, error) == (["Hi"], [], None)


async def test_requests_are_routed_by_model_name_across_providers():
    async with FakeOpenAI(api_key=KEY, models=["alpha"]) as a, FakeOpenAI(api_key=KEY, models=["beta"]) as b:
        a.default = Script(reply="from A")
        b.default = Script(reply="from B")
        m = chat_model((a, ["alpha"]), (b, ["beta"]))
        got_a, _, _ = await run(m, request(model="alpha"))
        got_b, _, _ = await run(m, request(model="beta"))
        await m.close()
    assert ("".join(got_a), "".join(got_b)) == ("from A", "from B")
    assert [r["model"] for r in a.chat_requests] == ["alpha"]
    assert [r["model"] for r in b.chat_requests] == ["beta"]


async def test_unknown_model_is_rejected_without_a_call(fake, model):
    with pytest.raises(InvalidRequest) as caught:
        await run(model, request(model="gpt-nope"))
    assert caught.value.reason == "unknown_model"
    assert fake.requests == []


def test_a_model_listed_under_two_providers_is_a_configuration_error():
    with pytest.raises(ValueError):
        OpenAIChatModel([("a", "http://127.0.0.1:1/v1", "k", 1.0, ("m",)),
                         ("b", "http://127.0.0.1:2/v1", "k", 1.0, ("m",))])


async def test_slow_first_answer_times_out(fake):
    fake.script(first_delay=1.0)
    m = chat_model((fake, ["gpt-test"]), timeout=0.2)
    _, _, error = await run(m, request())
    await m.close()
    assert error.reason == "upstream_timeout"
    assert len(fake.chat_requests) == 1


async def test_stall_midstream_times_out_after_the_first_deltas(fake):
    fake.script(reply="aaaabbbbcccc", chunk_chars=4, chunk_delay=1.0)
    m = chat_model((fake, ["gpt-test"]), timeout=0.3)
    deltas, _, error = await run(m, request())
    await m.close()
    assert deltas == ["aaaa"]
    assert error.reason == "upstream_timeout" and "cut off" in error.message


async def test_unreachable_provider_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = OpenAIChatModel([Provider("gone", f"http://127.0.0.1:{port}/v1", KEY, 1.0, ("gpt-test",))])
    _, _, error = await run(m, request())
    await m.close()
    assert error.reason == "upstream_unavailable"


async def test_a_provider_without_a_key_says_the_key_is_missing(fake):
    """Unreachable or refusing (401): with no api_key configured, the error names the key, not the network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for base_url in (f"http://127.0.0.1:{port}/v1", fake.base_url):
        m = OpenAIChatModel([Provider("openai", base_url, "", 1.0, ("gpt-test",))])
        _, _, error = await run(m, request())
        await m.close()
        assert error is not None and error.reason == "upstream_key_missing" and error.status == 503
        assert error.message.startswith("No API key is configured for the model provider openai")
        assert "OPENAI_API_KEY" in error.message
    assert "(HTTP 401)" in error.message  # the fake refused the keyless call


async def test_consumer_stopping_early_closes_the_stream(fake, model):
    fake.script(reply="x" * 40, chunk_chars=1)
    stream = model.stream(request())
    assert isinstance(await anext(stream), TextDelta)
    await stream.aclose()
    deltas, _, error = await run(model, request())  # the client is still usable
    assert error is None and deltas


# --- the fake itself, as other tests rely on it ---------------------------------------------

async def test_fake_serves_non_streaming_completions_and_embeddings(fake):
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0)
    reply = await client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Echo: hi" and reply.choices[0].finish_reason == "stop"
    emb = await client.embeddings.create(model="gpt-test", input=["a", "b"])
    assert [len(d.embedding) for d in emb.data] == [64, 64]
    assert emb.data[0].embedding == pytest.approx(fake_embedding("a"), abs=1e-6)
    assert emb.data[0].embedding != emb.data[1].embedding
    assert emb.usage.prompt_tokens == 2
    await client.close()


# --- TiktokenCounter ------------------------------------------------------------------------

def test_token_counter_works_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    counter = TiktokenCounter()
    assert counter.count("hello world") == 2
    assert counter.count("") == 0


def test_token_counter_counts_chinese_and_chat_overhead():
    counter = TiktokenCounter()
    assert counter.count("你好，世界！今天天气很好。") > 0
    turns = [ChatTurn("system", "你是一个助手。"), ChatTurn("user", "你好")]
    assert counter.count_turns(turns) > sum(counter.count(t.content) for t in turns)
    assert counter.count_turns([]) == 3


def test_token_counter_falls_back_to_an_estimate_and_warns_once(caplog):
    counter = TiktokenCounter("no_such_encoding")
    with caplog.at_level(logging.WARNING, logger="adapters.llm.token_counter"):
        assert counter.count("hello world, hello world") > 0
        assert counter.count("你好") == 2
    assert len([r for r in caplog.records if "unavailable" in r.message]) == 1
