"""/dify/v1 files: uploads, previews and signed links, images in chat-messages (local_file and remote_url) going to
a vision model as image parts, and every file error in Dify's codes."""
from __future__ import annotations

import base64
import socket
from pathlib import Path

import aiohttp

from tests.e2e.dify_client import open_dify, user_id_of  # noqa: F401
from tests.e2e.dify_media import GIF, ImageServer, png, upload, vision_llm, vision_sections  # noqa: F401
from tests.fakes.openai_server import images_of, prompt_tokens_of


def stored_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "media"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


async def test_an_uploaded_image_reaches_the_vision_model_and_comes_back_in_history(open_dify, vision_llm,
                                                                                    tmp_path) -> None:
    running, dify = await open_dify(sections=vision_sections(vision_llm.base_url), price_per_1k_tokens="0.5")
    picture = png(4, 4)
    status, body = await upload(dify.http, running.base_url, "alice", ("cat.png", picture, "image/png"))
    assert status == 201, body
    alice = await user_id_of(running, "alice")
    assert (body["name"], body["size"], body["extension"], body["mime_type"], body["created_by"]) == (
        "cat.png", len(picture), "png", "image/png", alice)
    assert isinstance(body["created_at"], int) and body["id"] in body["preview_url"]

    vision_llm.script(reply="A red square.", chunk_chars=5)
    answer = await dify.chat("alice", "What is in this picture?", files=[
        {"type": "image", "transfer_method": "local_file", "upload_file_id": body["id"]}])
    sent = vision_llm.chat_requests[0]
    (image,) = images_of(sent["messages"])
    assert sent["model"] == "vision-model" and image["url"].startswith("data:image/png;base64,")
    assert base64.b64decode(image["url"].split(",", 1)[1]) == picture
    assert sent["messages"][-1]["content"][0] == {"type": "text", "text": "What is in this picture?"}
    usage = answer["metadata"]["usage"]
    assert usage["prompt_tokens"] == prompt_tokens_of(sent["messages"])  # the image's tokens included
    # vision-model weighs 2.0 / 4.0: unit prices 1.0 and 2.0 per 1k at dify.price_per_1k_tokens 0.5
    assert (usage["prompt_unit_price"], usage["completion_unit_price"]) == ("1", "2")

    status, page = await dify.call("GET", "/messages", params={"user": "alice",
                                                               "conversation_id": answer["conversation_id"]})
    (shown,) = page["data"][0]["message_files"]
    assert (shown["id"], shown["type"], shown["belongs_to"], shown["transfer_method"]) == (
        body["id"], "image", "user", "local_file")
    # The signed link opens without the app key (an <img> cannot send one); a tampered one does not.
    link = shown["url"].replace("http://127.0.0.1:8080", running.base_url)
    async with dify.http.get(link) as resp:
        assert resp.status == 200 and resp.content_type == "image/png" and await resp.read() == picture
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    async with dify.http.get(link.replace("sign=", "sign=0")) as resp:
        assert resp.status == 401
    async with dify.http.get(link.split("?")[0]) as resp:
        assert resp.status == 401

    path = f"/files/{body['id']}/preview"
    async with dify.http.get(running.base_url + "/dify/v1" + path, params={"user": "alice", "as_attachment": "true"},
                             headers={"Authorization": "Bearer app-key-one"}) as resp:
        assert resp.status == 200 and await resp.read() == picture
        assert resp.headers["Content-Disposition"] == "attachment; filename*=UTF-8''cat.png"
    status, error = await dify.call("GET", path, params={"user": "mallory"})
    assert (status, error["code"]) == (404, "not_found")  # another end user's file does not exist for them
    status, error = await dify.call("POST", "/chat-messages", json_body={
        "inputs": {}, "query": "and mine?", "response_mode": "blocking", "user": "mallory",
        "files": [{"type": "image", "transfer_method": "local_file", "upload_file_id": body["id"]}]})
    assert (status, error["code"]) == (400, "invalid_param") and len(vision_llm.chat_requests) == 1
    assert len(stored_files(tmp_path)) == 1


async def test_upload_errors_use_difys_codes_and_store_nothing(open_dify, fake_llm, tmp_path) -> None:
    running, dify = await open_dify(image_file_size_limit_mb=1)
    base = running.base_url
    status, body = await dify.call("POST", "/files/upload", json_body={"user": "bob"})
    assert (status, body["code"], body["status"]) == (400, "no_file_uploaded", 400)
    status, body = await upload(dify.http, base, "bob")
    assert (status, body["code"]) == (400, "no_file_uploaded")
    status, body = await upload(dify.http, base, "bob", ("a.png", png(), "image/png"), ("b.gif", GIF, "image/gif"))
    assert (status, body["code"], body["status"]) == (400, "too_many_files", 400)
    # The name and the declared type say PNG; the bytes are a script.
    status, body = await upload(dify.http, base, "bob", ("evil.png", b"<script>alert(1)</script>", "image/png"))
    assert (status, body["code"], body["status"]) == (415, "unsupported_file_type", 415)
    status, body = await upload(dify.http, base, "bob", ("huge.png", png(extra=1_200_000), "image/png"))
    assert (status, body["code"], body["status"]) == (413, "file_too_large", 413)
    status, body = await upload(dify.http, base, None, ("a.png", png(), "image/png"))
    assert (status, body["code"]) == (400, "invalid_param")  # no user
    assert stored_files(tmp_path) == []
    # A user's uploads count against their storage (rag.user_storage_mb, 5 MB here is not reached by a GIF).
    status, body = await upload(dify.http, base, "bob", ("dot.gif", GIF, "image/gif"))
    assert status == 201 and body["mime_type"] == "image/gif" and body["extension"] == "gif"
    account = await running.services.accounts.get(await user_id_of(running, "bob"))
    assert account.storage_used_bytes == len(GIF)


async def test_storage_limit_refuses_an_upload_that_does_not_fit(open_dify, fake_llm, tmp_path) -> None:
    running, dify = await open_dify(sections={"rag": {"user_storage_mb": 1}})
    status, body = await upload(dify.http, running.base_url, "carol", ("a.png", png(extra=700_000), "image/png"))
    assert status == 201
    status, body = await upload(dify.http, running.base_url, "carol", ("b.png", png(extra=700_000), "image/png"))
    assert (status, body["code"]) == (413, "file_too_large") and "storage" in body["message"]
    assert len(stored_files(tmp_path)) == 1


async def test_a_text_only_model_refuses_images_unless_a_vision_model_is_configured(open_dify, vision_llm) -> None:
    running, dify = await open_dify(sections=vision_sections(vision_llm.base_url, default="test-model"))
    status, params = await dify.call("GET", "/parameters", params={"user": "dan"})
    assert params["file_upload"]["image"]["enabled"] is False
    status, body = await upload(dify.http, running.base_url, "dan", ("cat.png", png(), "image/png"))
    chat = {"inputs": {}, "query": "what is it?", "response_mode": "blocking", "user": "dan",
            "files": [{"type": "image", "transfer_method": "local_file", "upload_file_id": body["id"]}]}
    status, error = await dify.call("POST", "/chat-messages", json_body=chat)
    assert (status, error["code"], error["status"]) == (400, "model_currently_not_support", 400)
    assert vision_llm.chat_requests == []

    running, dify = await open_dify(sections=vision_sections(vision_llm.base_url, default="test-model",
                                                                     vision_model="vision-model"))
    status, params = await dify.call("GET", "/parameters", params={"user": "dan"})
    assert params["file_upload"]["image"]["enabled"] is True
    status, body = await upload(dify.http, running.base_url, "dan", ("cat.png", png(), "image/png"))
    chat["files"][0]["upload_file_id"] = body["id"]
    status, answer = await dify.call("POST", "/chat-messages", json_body=chat)
    assert status == 200 and vision_llm.chat_requests[-1]["model"] == "vision-model"
    text_only = await dify.chat("dan", "and without a picture?")
    assert vision_llm.chat_requests[-1]["model"] == "test-model" and text_only["answer"]
    # Too many images, or a file that is no image, are refused before any model call.
    many = [{"type": "image", "transfer_method": "local_file", "upload_file_id": body["id"]}] * 4
    status, error = await dify.call("POST", "/chat-messages", json_body={**chat, "files": many})
    assert (status, error["code"]) == (400, "invalid_param")
    status, error = await dify.call("POST", "/chat-messages", json_body={**chat, "files": [
        {"type": "document", "transfer_method": "local_file", "upload_file_id": body["id"]}]})
    assert (status, error["code"]) == (400, "invalid_param") and len(vision_llm.chat_requests) == 2


class _PinnedResolver:
    """A stand-in DNS: every name resolves to 127.0.0.1 (what a hostile public name could do)."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        pass


async def test_remote_url_images_are_fetched_safely(open_dify, vision_llm, tmp_path) -> None:
    from adapters.http.dify.context import SERVICES as DIFY_SERVICES

    sections = vision_sections(vision_llm.base_url)
    async with ImageServer() as images:
        chat = {"inputs": {}, "query": "describe", "response_mode": "blocking", "user": "erin",
                "files": [{"type": "image", "transfer_method": "remote_url", "url": f"{images.base_url}/cat.png"}]}
        # SSRF: a user's address on this machine (or a name resolving to it) is never fetched.
        running, dify = await open_dify(sections=sections)
        status, error = await dify.call("POST", "/chat-messages", json_body=chat)
        assert (status, error["code"]) == (400, "invalid_param") and "private" in error["message"]
        running.app[DIFY_SERVICES].image_fetcher.resolver = _PinnedResolver()
        port = images.base_url.rsplit(":", 1)[1]
        named = {**chat, "files": [{"type": "image", "transfer_method": "remote_url",
                                    "url": f"http://pictures.example:{port}/cat.png"}]}
        status, error = await dify.call("POST", "/chat-messages", json_body=named)
        assert (status, error["code"]) == (400, "invalid_param")
        assert images.hits == [] and vision_llm.chat_requests == [] and stored_files(tmp_path) == []

        # An operator who allows private addresses (rag.allow_private_urls) gets the picture fetched.
        running, dify = await open_dify(sections={**sections, "rag": {"allow_private_urls": True}})
        status, answer = await dify.call("POST", "/chat-messages", json_body=chat)
        assert status == 200 and images.hits == ["/cat.png"]
        (image,) = images_of(vision_llm.chat_requests[0]["messages"])
        assert base64.b64decode(image["url"].split(",", 1)[1]) == png(3, 3)
        status, page = await dify.call("GET", "/messages", params={"user": "erin",
                                                                   "conversation_id": answer["conversation_id"]})
        (shown,) = page["data"][0]["message_files"]
        assert (shown["transfer_method"], shown["filename"]) == ("remote_url", "cat.png")
        page_not_image = {**chat, "files": [{"type": "image", "transfer_method": "remote_url",
                                             "url": f"{images.base_url}/page.html"}]}
        status, error = await dify.call("POST", "/chat-messages", json_body=page_not_image)
        assert (status, error["code"]) == (400, "invalid_param") and len(vision_llm.chat_requests) == 1


async def test_speech_endpoints_answer_difys_not_enabled_error(open_dify, fake_llm) -> None:
    running, dify = await open_dify()
    form = aiohttp.FormData()
    form.add_field("file", b"ID3fake-mp3", filename="hello.mp3", content_type="audio/mpeg")
    form.add_field("user", "frank")
    async with dify.http.post(running.base_url + "/dify/v1/audio-to-text", data=form,
                              headers={"Authorization": "Bearer app-key-one"}) as resp:
        assert (resp.status, await resp.json()) == (400, {"code": "invalid_param", "status": 400,
                                                          "message": "Speech to text is not enabled"})
    status, body = await dify.call("POST", "/text-to-audio", json_body={"text": "hello", "user": "frank"})
    assert (status, body) == (400, {"code": "invalid_param", "message": "TTS is not enabled", "status": 400})
    status, body = await dify.as_app("wrong").call("POST", "/text-to-audio", json_body={"text": "hi", "user": "f"})
    assert status == 401
