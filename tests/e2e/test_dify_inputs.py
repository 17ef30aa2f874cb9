"""/dify/v1 app features: inputs filling dify.instruction (user_input_form), conversation variables, prices in
metadata.usage, suggested questions, /site, and Dify's errors for an unavailable app or missing provider."""
from __future__ import annotations

import math
from decimal import Decimal

from tests.e2e.dify_client import open_dify, sse_events, user_id_of  # noqa: F401
from tests.fakes.openai_server import prompt_tokens_of

FORM = [{"text-input": {"label": "Your name", "variable": "name", "required": True, "max_length": 20}},
        {"select": {"label": "Tone", "variable": "tone", "required": False, "default": "friendly",
                    "options": ["friendly", "formal"]}},
        {"paragraph": {"label": "About you", "variable": "about", "required": False}},
        {"number": {"label": "Age", "variable": "age", "required": False}}]
INSTRUCTION = "You help {{name}} in a {{tone}} tone. They say: {{about}}. Age {{age}}. Keep {{other}} as is."


async def test_inputs_fill_the_instruction_of_a_new_conversation(open_dify, fake_llm) -> None:
    _, dify = await open_dify(user_input_form=FORM, instruction=INSTRUCTION)
    status, params = await dify.call("GET", "/parameters", params={"user": "alice"})
    assert params["user_input_form"][0] == {"text-input": {"label": "Your name", "variable": "name", "required": True,
                                                           "default": "", "max_length": 20}}
    assert params["user_input_form"][1]["select"]["options"] == ["friendly", "formal"]
    assert list(params["user_input_form"][3]) == ["number"]

    first = await dify.chat("alice", "hello", inputs={"name": "Alice", "about": "I like tea", "age": 30})
    system = fake_llm.chat_requests[0]["messages"][0]
    assert system == {"role": "system", "content": "You help Alice in a friendly tone. They say: I like tea. "
                                                   "Age 30. Keep {{other}} as is."}
    # The conversation keeps the inputs it started with; later inputs are ignored, as in Dify.
    await dify.chat("alice", "again", first["conversation_id"], inputs={"name": "Mallory"})
    assert fake_llm.chat_requests[1]["messages"][0] == system
    status, listing = await dify.call("GET", "/conversations", params={"user": "alice"})
    assert listing["data"][0]["inputs"] == {"name": "Alice", "tone": "friendly", "about": "I like tea", "age": 30}
    status, page = await dify.call("GET", "/messages", params={"user": "alice",
                                                               "conversation_id": first["conversation_id"]})
    assert all(item["inputs"]["name"] == "Alice" for item in page["data"])

    status, variables = await dify.call("GET", f"/conversations/{first['conversation_id']}/variables",
                                        params={"user": "alice"})
    assert status == 200 and variables["has_more"] is False
    assert [(v["name"], v["value_type"], v["value"], v["description"]) for v in variables["data"]] == [
        ("name", "string", "Alice", "Your name"), ("tone", "string", "friendly", "Tone"),
        ("about", "string", "I like tea", "About you"), ("age", "number", "30", "Age")]
    status, paged = await dify.call("GET", f"/conversations/{first['conversation_id']}/variables",
                                    params={"user": "alice", "limit": 2, "last_id": variables["data"][0]["id"]})
    assert [v["name"] for v in paged["data"]] == ["tone", "about"] and paged["has_more"] is True
    status, one = await dify.call("GET", f"/conversations/{first['conversation_id']}/variables",
                                  params={"user": "alice", "variable_name": "age"})
    assert [v["value"] for v in one["data"]] == ["30"]
    status, error = await dify.call("GET", f"/conversations/{first['conversation_id']}/variables",
                                    params={"user": "bob"})
    assert (status, error["message"]) == (404, "Conversation Not Exists.")


async def test_inputs_are_checked_as_dify_checks_them(open_dify, fake_llm) -> None:
    _, dify = await open_dify(user_input_form=FORM, instruction=INSTRUCTION)
    chat = {"query": "hi", "response_mode": "blocking", "user": "bob"}
    cases = [({}, "name is required in input form"),
             ({"name": ""}, "name is required in input form"),
             ({"name": 5}, "name in input form must be a string"),
             ({"name": "B" * 21}, "name in input form must be less than 20 characters"),
             ({"name": "Bob", "tone": "rude"}, "tone in input form must be one of the following: ['friendly', 'formal']"),
             ({"name": "Bob", "age": "old"}, "age in input form must be a valid number")]
    for inputs, message in cases:
        status, body = await dify.call("POST", "/chat-messages", json_body={**chat, "inputs": inputs})
        assert (status, body) == (400, {"code": "invalid_param", "message": message, "status": 400}), inputs
    assert fake_llm.chat_requests == []


async def test_usage_carries_difys_prices_in_blocking_and_streaming(open_dify, fake_llm) -> None:
    from tests.e2e.test_dify_history import with_knowledge

    _, dify = await open_dify(extra_installers=[with_knowledge], price_per_1k_tokens="0.002", currency="CNY",
                              dataset_name="Travel notes")
    fake_llm.script(reply="Nine o'clock.", chunk_chars=4)
    answer = await dify.chat("carol", "When does the Louvre open?")
    usage = answer["metadata"]["usage"]
    prompt = prompt_tokens_of(fake_llm.chat_requests[0]["messages"])
    # test-model weighs 1.0 / 2.0: unit prices 0.002 and 0.004 per 1,000 tokens.
    prompt_price = (Decimal(prompt) * Decimal("0.002") * Decimal("0.001")).quantize(Decimal("0.0000001"))
    completion_price = (Decimal(4) * Decimal("0.004") * Decimal("0.001")).quantize(Decimal("0.0000001"))
    assert usage == {
        "prompt_tokens": prompt, "prompt_unit_price": "0.002", "prompt_price_unit": "0.001",
        "prompt_price": str(prompt_price), "completion_tokens": 4, "completion_unit_price": "0.004",
        "completion_price_unit": "0.001", "completion_price": str(completion_price), "total_tokens": prompt + 4,
        "total_price": str(prompt_price + completion_price), "currency": "CNY", "latency": usage["latency"],
        "cost": math.ceil(prompt + 4 * 2.0)}
    assert isinstance(usage["latency"], float) and usage["latency"] >= 0
    (first, _) = answer["metadata"]["retriever_resources"]
    assert (first["dataset_name"], first["document_id"], first["position"]) == ("Travel notes", "res-1", 1)
    assert len(first["dataset_id"]) == 36

    fake_llm.script(reply="Closed on Tuesdays.", chunk_chars=5)
    async with dify.stream("carol", "And Tuesday?", answer["conversation_id"]) as resp:
        end = [e.data async for e in sse_events(resp)][-1]
    assert end["event"] == "message_end" and end["metadata"]["usage"]["currency"] == "CNY"
    assert set(end["metadata"]["usage"]) == set(usage)
    assert end["metadata"]["retriever_resources"][1]["dataset_id"] == first["dataset_id"]


async def test_suggested_questions_after_an_answer_are_charged(open_dify, fake_llm) -> None:
    running, dify = await open_dify(suggested_questions_after_answer=True)
    status, params = await dify.call("GET", "/parameters", params={"user": "dan"})
    assert params["suggested_questions_after_answer"] == {"enabled": True}
    answer = await dify.chat("dan", "Tell me about Paris")
    dan = await user_id_of(running, "dan")
    before = (await running.services.accounts.get(dan)).balance
    fake_llm.script(reply='Sure: ["What to eat in Paris?", "Best museums?", "When to visit?"]', chunk_chars=10)
    status, body = await dify.call("GET", f"/messages/{answer['message_id']}/suggested", params={"user": "dan"})
    assert (status, body) == (200, {"result": "success",
                                    "data": ["What to eat in Paris?", "Best museums?", "When to visit?"]})
    asked = fake_llm.chat_requests[-1]["messages"]
    assert "Tell me about Paris" in asked[1]["content"] and "JSON array" in asked[0]["content"]
    assert (await running.services.accounts.get(dan)).balance < before
    status, body = await dify.call("GET", f"/messages/{answer['message_id']}/suggested", params={"user": "eve"})
    assert status == 404


async def test_site_app_unavailable_and_provider_not_initialize(open_dify, fake_llm, tmp_path) -> None:
    _, dify = await open_dify(name="Helper", description="Answers questions",
                              site={"icon": "🦊", "copyright": "Example Ltd", "default_language": "zh-Hans"})
    status, site = await dify.call("GET", "/site")
    assert status == 200 and (site["title"], site["description"], site["icon"], site["copyright"]) == (
        "Helper", "Answers questions", "🦊", "Example Ltd")
    assert {"chat_color_theme", "chat_color_theme_inverted", "icon_type", "icon_background", "icon_url",
            "privacy_policy", "custom_disclaimer", "default_language", "show_workflow_steps",
            "use_icon_as_answer_icon"} <= set(site)

    _, dify = await open_dify(enabled=False)
    status, body = await dify.call("POST", "/chat-messages", json_body={"inputs": {}, "query": "hi", "user": "f"})
    assert (status, body["code"], body["status"]) == (400, "app_unavailable", 400)

    _, dify = await open_dify(sections={"llm": {"providers": [], "default_model": "none"}})
    status, body = await dify.call("POST", "/chat-messages", json_body={"inputs": {}, "query": "hi", "user": "f",
                                                                       "response_mode": "blocking"})
    assert (status, body["code"], body["status"]) == (400, "provider_not_initialize", 400)
    assert fake_llm.chat_requests == []
