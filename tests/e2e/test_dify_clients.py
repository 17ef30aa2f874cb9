"""Real Dify clients from PyPI against /dify/v1 on the real app: dify-client, dify-client-python (its pydantic
response models validate every answer) and pydify, each through every chat-app method it offers, blocking and
streaming. (Their completion and workflow methods are for other Dify app types, which this platform is not.)

The sync clients run in a thread: the app answers on this test's event loop."""
from __future__ import annotations

import asyncio
import io
import json

import pytest

from tests.e2e.dify_client import APP_KEY, open_dify, user_id_of  # noqa: F401
from tests.e2e.dify_media import png, vision_llm, vision_sections  # noqa: F401
from tests.e2e.test_dify_history import with_knowledge


def image_file(upload_id: str) -> dict:
    return {"type": "image", "transfer_method": "local_file", "upload_file_id": upload_id}


async def start(open_dify, vision_llm):
    running, _ = await open_dify(extra_installers=[with_knowledge], sections=vision_sections(vision_llm.base_url),
                                 suggested_questions_after_answer=True, price_per_1k_tokens="0.01",
                                 user_input_form=[{"text-input": {"label": "Name", "variable": "name"}}],
                                 instruction="Help {{name}}.")
    return running, running.base_url + "/dify/v1"


async def test_dify_client(open_dify, vision_llm) -> None:
    from dify_client.client import ChatClient  # dify-client's module (its package name is shared, see pyproject)

    running, base = await start(open_dify, vision_llm)
    client = ChatClient(APP_KEY)
    client.base_url = base

    def run() -> dict:
        seen: dict = {"parameters": client.get_application_parameters("ann").json()}
        uploaded = client.file_upload("ann", {"file": ("cat.png", png(), "image/png")})
        seen["upload"] = (uploaded.status_code, uploaded.json())
        blocking = client.create_chat_message({"name": "Ann"}, "What is this?", "ann",
                                              files=[image_file(uploaded.json()["id"])])
        seen["blocking"] = (blocking.status_code, blocking.json())
        cid = blocking.json()["conversation_id"]
        stream = client.create_chat_message({}, "Tell me more", "ann", response_mode="streaming", conversation_id=cid)
        seen["stream"] = [json.loads(line[6:]) for line in stream.iter_lines(decode_unicode=True)
                          if line.startswith("data: ")]
        seen["messages"] = client.get_conversation_messages("ann", cid, limit=10).json()
        seen["conversations"] = client.get_conversations("ann", limit=5).json()
        seen["rename"] = client.rename_conversation(cid, "Pictures", "ann").json()
        seen["feedback"] = client.message_feedback(blocking.json()["message_id"], "like", "ann").json()
        seen["no_files"] = client.create_chat_message({}, "plain", "ann").json()  # it sends "files": null
        return seen

    seen = await asyncio.to_thread(run)
    assert seen["parameters"]["file_upload"]["image"]["enabled"] is True
    assert seen["upload"][0] == 201 and seen["upload"][1]["mime_type"] == "image/png"
    status, blocking = seen["blocking"]
    assert status == 200 and blocking["metadata"]["usage"]["currency"] == "USD"
    assert vision_llm.chat_requests[0]["messages"][0]["content"].startswith("Help Ann.\n")  # then the passages
    events = [e["event"] for e in seen["stream"]]
    assert set(events[:-1]) == {"message"} and events[-1] == "message_end"
    assert seen["stream"][-1]["metadata"]["retriever_resources"][0]["dataset_name"] == "Knowledge base"
    assert [m["query"] for m in seen["messages"]["data"]] == ["What is this?", "Tell me more"]
    assert seen["messages"]["data"][0]["message_files"][0]["id"] == seen["upload"][1]["id"]
    assert seen["conversations"]["data"][0]["inputs"] == {"name": "Ann"}
    assert seen["rename"]["name"] == "Pictures" and seen["feedback"] == {"result": "success"}
    assert seen["no_files"]["answer"]


async def test_dify_client_python_typed_models(open_dify, vision_llm) -> None:
    from dify_client import errors, models
    from dify_client._clientx import Client

    running, base = await start(open_dify, vision_llm)
    client = Client(api_key=APP_KEY, api_base=base)
    vision_llm.script(reply="one two three four five six seven eight nine ten", chunk_chars=4, chunk_delay=0.05)

    def run() -> dict:
        seen: dict = {}
        up = client.upload_files(("cat.png", png(), "image/png"), models.UploadFileRequest(user="bea"))
        seen["upload"] = up
        streaming = models.ChatRequest(query="Describe it", inputs={"name": "Bea"}, user="bea",
                                       response_mode=models.ResponseMode.STREAMING,
                                       files=[models.File(type=models.FileType.IMAGE,
                                                          transfer_method=models.TransferMethod.LOCAL_FILE,
                                                          upload_file_id=up.id)])
        events = client.chat_messages(streaming)
        first = next(events)
        seen["stop"] = client.stop_chat_messages(first.task_id, models.StopRequest(user="bea"))
        seen["stream"] = [first, *events]
        blocking = models.ChatRequest(query="Again", user="bea", response_mode=models.ResponseMode.BLOCKING,
                                      conversation_id=first.conversation_id)
        seen["blocking"] = client.chat_messages(blocking)
        seen["feedback"] = client.feedback_messages(seen["blocking"].message_id,
                                                    models.FeedbackRequest(rating=models.Rating.LIKE, user="bea"))
        seen["suggest"] = client.suggest_messages(seen["blocking"].message_id, models.ChatSuggestRequest(user="bea"))
        for name, call in [("audio", lambda: client.audio_to_text(("a.mp3", b"ID3", "audio/mpeg"),
                                                                  models.AudioToTextRequest(user="bea"))),
                           ("tts", lambda: client.text_to_audio(models.TextToAudioRequest(text="hi", user="bea"))),
                           ("missing", lambda: client.chat_messages(models.ChatRequest(
                               query="x", user="bea", response_mode=models.ResponseMode.BLOCKING,
                               conversation_id="3f1c0a52-9d1e-4c55-8a59-2f6f4f1d2a10")))]:
            with pytest.raises(errors.DifyAPIError) as caught:
                call()
            seen[name] = caught.value
        return seen

    seen = await asyncio.to_thread(run)
    assert isinstance(seen["upload"], models.UploadFileResponse) and seen["upload"].extension == "png"
    stream = seen["stream"]
    assert seen["stop"].result == "success"
    assert isinstance(stream[0], models.MessageStreamResponse)
    end = stream[-1]
    assert isinstance(end, models.MessageEndStreamResponse)  # its Metadata model demands every Dify field
    assert end.metadata.usage.total_price and end.metadata.usage.currency == "USD"
    assert end.metadata.retriever_resources[0].dataset_name == "Knowledge base"
    answer = "".join(e.answer for e in stream if isinstance(e, models.MessageStreamResponse))
    assert 0 < len(answer) < len("one two three four five six seven eight nine ten")  # stopped part-way
    blocking = seen["blocking"]
    assert isinstance(blocking, models.ChatResponse) and blocking.mode == models.Mode.CHAT
    assert blocking.metadata.usage.completion_unit_price == "0.04"  # vision-model's output weight 4.0 x 0.01
    assert blocking.metadata.retriever_resources[1].segment_id == "chunk-3"
    assert seen["feedback"].result == "success"
    assert seen["suggest"].result == "success" and len(seen["suggest"].data) >= 1
    assert isinstance(seen["audio"], errors.DifyInvalidParam) and "not enabled" in seen["audio"].message
    assert isinstance(seen["tts"], errors.DifyInvalidParam)
    assert isinstance(seen["missing"], errors.DifyResourceNotFound)


async def test_dify_client_python_errors_and_async_client(open_dify, fake_llm) -> None:
    from dify_client import errors, models
    from dify_client._clientx import AsyncClient

    running, _ = await open_dify()
    client = AsyncClient(api_key=APP_KEY, api_base=running.base_url + "/dify/v1")
    streamed = [e async for e in await client.achat_messages(models.ChatRequest(
        query="hi", user="cy", response_mode=models.ResponseMode.STREAMING))]
    assert isinstance(streamed[-1], models.MessageEndStreamResponse)
    # Its ChatResponse model keeps no conversation_id: a conversation continues from a stream's events.
    blocking = models.ChatRequest(query="more", user="cy", response_mode=models.ResponseMode.BLOCKING,
                                  conversation_id=streamed[0].conversation_id)
    answer = await client.achat_messages(blocking)
    assert isinstance(answer, models.ChatResponse) and answer.metadata.usage.prompt_price == "0.0000000"
    history = await running.services.conversations.messages(await user_id_of(running, "cy"),
                                                            streamed[0].conversation_id)
    assert [m.content for m in history.items if m.role == "user"] == ["hi", "more"]
    assert (await client.afeedback_messages(answer.message_id, models.FeedbackRequest(
        rating=models.Rating.DISLIKE, user="cy"))).result == "success"
    up = await client.aupload_files(("dot.png", png(), "image/png"), models.UploadFileRequest(user="cy"))
    assert up.size == len(png())

    fake_llm.script(reply="this answer breaks off", chunk_chars=4, cut_after=0)  # the provider fails before text
    with pytest.raises(errors.DifyCompletionRequestError) as caught:
        await client.achat_messages(blocking)
    assert (caught.value.status, caught.value.code) == (400, "completion_request_error")
    with pytest.raises(errors.DifyModelCurrentlyNotSupport):  # test-model has no vision
        await client.achat_messages(models.ChatRequest(
            query="see", user="cy", response_mode=models.ResponseMode.BLOCKING,
            files=[models.File(type=models.FileType.IMAGE, transfer_method=models.TransferMethod.LOCAL_FILE,
                               upload_file_id=up.id)]))
    with pytest.raises(errors.DifyAPIError) as caught:  # suggestions are off in this app
        await client.asuggest_messages(answer.message_id, models.ChatSuggestRequest(user="cy"))
    assert (caught.value.status, caught.value.code) == (400, "bad_request")
    with pytest.raises(errors.DifyInvalidParam):
        await client.aaudio_to_text(("a.wav", b"RIFF", "audio/wav"), models.AudioToTextRequest(user="cy"))
    poor = await user_id_of(running, "cy")
    await running.services.quota.debit(poor, 10_000, "adjustment", key="drain-cy")
    with pytest.raises(errors.DifyProviderQuotaExceeded) as caught:
        await client.achat_messages(blocking)
    assert (caught.value.status, caught.value.code) == (400, "provider_quota_exceeded")
    with pytest.raises(errors.DifyProviderQuotaExceeded):
        async for _ in await client.achat_messages(models.ChatRequest(
                query="again", user="cy", response_mode=models.ResponseMode.STREAMING)):
            pass


async def test_pydify_chatbot_client(open_dify, vision_llm) -> None:
    from pydify import ChatbotClient
    from pydify.common import DifyAPIError

    running, base = await start(open_dify, vision_llm)
    client = ChatbotClient(APP_KEY, base)

    def run() -> dict:
        seen: dict = {"info": client.get_app_info(), "parameters": client.get_parameters(),
                      "form": client.get_parameters(raw=False)["user_input_form"], "meta": client.get_meta()}
        up = client.upload_file_obj(io.BytesIO(png()), "cat.png", "cid")
        seen["upload"] = up
        blocking = client.send_message("What is it?", "cid", response_mode="blocking", inputs={"name": "Cid"},
                                       files=[image_file(up["id"])])
        seen["blocking"] = blocking
        cid, mid = blocking["conversation_id"], blocking["message_id"]
        seen["stream"] = list(client.send_message("More please", "cid", conversation_id=cid))
        vision_llm.script(reply="a b c d e f g h i j k l m n o p", chunk_chars=2, chunk_delay=0.05)
        events = client.send_message("Long story", "cid", conversation_id=cid)
        first = next(events)
        seen["stop"] = client.stop_task(first["task_id"], "cid")
        seen["stopped"] = [first, *events]
        seen["feedback"] = client.message_feedback(mid, "cid", rating="like", content="nice")
        seen["suggested"] = client.get_suggested_questions(mid, "cid")
        seen["conversations"] = client.get_conversations("cid", limit=10)
        seen["messages"] = client.get_messages(cid, "cid", limit=10)
        seen["renamed"] = client.rename_conversation(cid, "cid", name="Pictures")
        seen["auto"] = client.rename_conversation(cid, "cid", auto_generate=True)
        for name, call in [("audio", lambda: client.audio_to_text_obj(io.BytesIO(b"ID3"), "a.mp3", "cid")),
                           ("tts", lambda: client.text_to_audio("cid", text="hello"))]:
            with pytest.raises(DifyAPIError) as caught:
                call()
            seen[name] = caught.value
        seen["deleted"] = client.delete_conversation(cid, "cid")
        seen["after"] = client.get_conversations("cid")
        return seen

    seen = await asyncio.to_thread(run)
    assert seen["info"]["mode"] == "chat" and seen["meta"] == {"tool_icons": {}}
    assert seen["form"] == [{"label": "Name", "variable": "name", "required": False, "default": "",
                             "max_length": 256, "type": "text-input"}]
    assert seen["upload"]["extension"] == "png" and seen["blocking"]["answer"]
    assert seen["stream"][-1]["event"] == "message_end" and "total_price" in seen["stream"][-1]["metadata"]["usage"]
    assert seen["stop"] == {"result": "success"} and seen["stopped"][-1]["event"] == "message_end"
    assert seen["feedback"] == {"result": "success"} and seen["suggested"]["result"] == "success"
    assert seen["conversations"]["data"][0]["inputs"] == {"name": "Cid"}
    assert [m["query"] for m in seen["messages"]["data"]][:2] == ["What is it?", "More please"]
    assert seen["renamed"]["name"] == "Pictures" and seen["auto"]["name"]
    assert seen["audio"].status_code == 400 and seen["audio"].error_data["code"] == "invalid_param"
    assert seen["tts"].error_data == {"code": "invalid_param", "message": "TTS is not enabled", "status": 400}
    assert seen["deleted"] == {"result": "success"} and seen["after"]["data"] == []
    cid_user = await user_id_of(running, "cid")
    assert (await running.services.accounts.get(cid_user)).held == 0
