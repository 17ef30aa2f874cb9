"""/api/v1/resources over real HTTP through create_app: scope, storage limits, websites, and cited chat answers."""
from __future__ import annotations

import aiohttp

from adapters.storage.models_rag import ChunkRow, ResourceRow
from bot.knowledge import knowledge_of
from tests.conftest import make_config
from tests.fakes import rag_corpus as corpus

ADMIN = {"X-API-Key": "admin-key"}


async def new_user(http: aiohttp.ClientSession, base: str, name: str) -> tuple[str, dict]:
    async with http.post(base + "/api/v1/users", json={"name": name}, headers=ADMIN) as resp:
        assert resp.status in (200, 201), await resp.text()
        body = await resp.json()
    return body["user"]["id"], {"X-API-Key": body["api_key"]}


async def add(http, running, headers, expect=202, **json) -> dict:
    async with http.post(running.base_url + "/api/v1/resources", json=json, headers=headers) as resp:
        body = await resp.json()
        assert resp.status == expect, body
    if expect in (200, 202):
        await knowledge_of(running.services).service.wait(body["id"])
    return body


async def get(http, running, path, headers) -> tuple[int, dict]:
    async with http.get(running.base_url + "/api/v1" + path, headers=headers) as resp:
        return resp.status, (await resp.json() if resp.status != 204 else {})


async def test_global_and_private_resources(start_app, config) -> None:
    running = await start_app(config)
    base = running.base_url
    async with aiohttp.ClientSession() as http:
        alice_id, alice = await new_user(http, base, "alice")
        _, bob = await new_user(http, base, "bob")
        shared = await add(http, running, ADMIN, name="Pandas", source="text", content=corpus.PANDA_ZH)
        assert (shared["status"], shared["scope"]) == ("pending", "global")
        mine = await add(http, running, alice, name="Tower notes", source="text", content=corpus.EIFFEL_MD,
                         format="markdown")
        assert mine["scope"] == "private" and mine["content_type"] == "text/markdown"

        status, page = await get(http, running, "/resources", alice)
        assert status == 200 and [r["name"] for r in page["data"]] == ["Tower notes", "Pandas"]
        assert page["has_more"] is False and page["cursor"] is None
        _, first = await get(http, running, "/resources?limit=1", alice)
        assert [r["name"] for r in first["data"]] == ["Tower notes"] and first["has_more"] is True
        _, second = await get(http, running, f"/resources?limit=1&cursor={first['cursor']}", alice)
        assert [r["name"] for r in second["data"]] == ["Pandas"] and second["has_more"] is False
        status, bad = await get(http, running, "/resources?cursor=nonsense", alice)
        assert (status, bad["error"]["reason"]) == (400, "invalid_request")
        status, one = await get(http, running, f"/resources/{mine['id']}", alice)
        assert (one["status"], one["chunks"], one["bytes"]) == ("ready", 2, len(corpus.EIFFEL_MD.encode()))
        assert one["indexed_at"] and one["error"] is None
        _, me = await get(http, running, "/me", alice)
        assert me["storage"]["used_bytes"] == one["bytes"]

        _, bobs = await get(http, running, "/resources", bob)
        assert [r["name"] for r in bobs["data"]] == ["Pandas"]
        status, hidden = await get(http, running, f"/resources/{mine['id']}", bob)
        assert (status, hidden["error"]["reason"]) == (404, "not_found")
        async with http.delete(f"{base}/api/v1/resources/{mine['id']}", headers=bob) as resp:
            assert resp.status == 404
        async with http.delete(f"{base}/api/v1/resources/{shared['id']}", headers=alice) as resp:
            assert resp.status == 403

        again = await add(http, running, alice, expect=200, name="copy", source="text", content=corpus.EIFFEL_MD)
        assert again["id"] == mine["id"]  # the same content is recognised, not stored twice

        async with http.delete(f"{base}/api/v1/resources/{mine['id']}", headers=alice) as resp:
            assert resp.status == 204
        assert await ChunkRow.filter(resource_id=mine["id"]).count() == 0
        _, me = await get(http, running, "/me", alice)
        assert me["storage"]["used_bytes"] == 0
        status, _ = await get(http, running, "/resources", {})
        assert status == 401
    assert alice_id


async def test_an_upload_over_the_storage_limit_is_refused(start_app, tmp_path, fake_llm) -> None:
    running = await start_app(make_config(tmp_path, fake_llm.base_url, rag={"user_storage_mb": 1, "max_upload_mb": 1}))
    async with aiohttp.ClientSession() as http:
        user_id, alice = await new_user(http, running.base_url, "alice")
        form = aiohttp.FormData()
        form.add_field("file", b"word " * 300_000, filename="big.txt", content_type="text/plain")
        async with http.post(running.base_url + "/api/v1/resources", data=form, headers=alice) as resp:
            body = await resp.json()
            assert (resp.status, body["error"]["reason"]) == (402, "quota_exceeded"), body
            assert "storage limit" in body["error"]["message"]
        refused = await add(http, running, alice, expect=402, source="text", content="x" * 1_100_000)
        assert refused["error"]["reason"] == "quota_exceeded"
        assert await ResourceRow.filter(owner_id=user_id).count() == 0
        assert (await running.services.accounts.get(user_id)).storage_used_bytes == 0
        form = aiohttp.FormData()
        form.add_field("file", b"word " * 300_000, filename="big.txt", content_type="text/plain")
        async with http.post(running.base_url + "/api/v1/resources", data=form, headers=ADMIN) as resp:
            body = await resp.json()
            assert (resp.status, body["error"]["reason"]) == (413, "payload_too_large"), body
        assert await ResourceRow.all().count() == 0

        form = aiohttp.FormData()
        form.add_field("file", corpus.make_pdf(corpus.PDF_PAGES), filename="volcanoes.pdf",
                       content_type="application/pdf")
        async with http.post(running.base_url + "/api/v1/resources", data=form, headers=alice) as resp:
            pdf = await resp.json()
            assert resp.status == 202, pdf
        await knowledge_of(running.services).service.wait(pdf["id"])
        _, pdf = await get(http, running, f"/resources/{pdf['id']}", alice)
        assert (pdf["status"], pdf["source"], pdf["content_type"], pdf["chunks"]) == (
            "ready", "file", "application/pdf", 2)


async def test_websites_admin_any_address_users_public_only(start_app, config) -> None:
    running = await start_app(config)
    async with corpus.PageServer() as pages, aiohttp.ClientSession() as http:
        _, alice = await new_user(http, running.base_url, "alice")
        page = await add(http, running, ADMIN, source="website", url=pages.base_url + "/sourdough")
        _, page = await get(http, running, f"/resources/{page['id']}", ADMIN)
        assert (page["status"], page["name"], page["source"]) == ("ready", "Baking sourdough bread", "website")
        refused = await add(http, running, alice, expect=400, source="website", url=pages.base_url + "/sourdough")
        assert refused["error"]["reason"] == "private_address"
        missing = await add(http, running, ADMIN, source="website", url=pages.base_url + "/missing")
        _, missing = await get(http, running, f"/resources/{missing['id']}", ADMIN)
        assert (missing["status"], missing["error"]) == ("failed", "The page returned 404 (Not Found).")


async def test_a_chat_answer_cites_the_passages_the_model_saw(start_app, config, fake_llm) -> None:
    running = await start_app(config)
    base = running.base_url + "/api/v1"
    async with aiohttp.ClientSession() as http:
        _, alice = await new_user(http, running.base_url, "alice")
        tea = await add(http, running, ADMIN, name="Green tea", source="text", content=corpus.GREEN_TEA_ZH)
        wall = await add(http, running, ADMIN, name="Great Wall", source="text", content=corpus.GREAT_WALL_ZH)

        async with http.post(base + "/conversations", json={}, headers=alice) as resp:
            conv = await resp.json()
        async with http.post(f"{base}/conversations/{conv['id']}/messages", headers=alice,
                             json={"content": "绿茶应该用多少度的水冲泡？"}) as resp:
            answer = await resp.json()
            assert resp.status == 200, answer
        cited = answer["citations"]
        assert cited[0]["resource_id"] == tea["id"] and cited[0]["title"] == "Green tea" and cited[0]["chunk_id"]
        assert cited[0]["snippet"] and cited[0]["score"] > 0
        system = fake_llm.chat_requests[-1]["messages"][0]["content"]
        assert "[1] Green tea" in system and "八十度左右的热水" in system
        async with http.get(f"{base}/conversations/{conv['id']}/messages/{answer['id']}", headers=alice) as resp:
            stored = await resp.json()
        assert stored["citations"] == cited

        # resource_ids narrows retrieval: only the Great Wall document may be cited.
        async with http.post(base + "/conversations", json={"resource_ids": [wall["id"]]}, headers=alice) as resp:
            narrow = await resp.json()
        async with http.post(f"{base}/conversations/{narrow['id']}/messages", headers=alice,
                             json={"content": "绿茶和长城，哪个更古老？"}) as resp:
            answer = await resp.json()
        assert answer["citations"] and {c["resource_id"] for c in answer["citations"]} == {wall["id"]}
        assert "八十度" not in fake_llm.chat_requests[-1]["messages"][0]["content"]


async def test_a_malformed_multipart_upload_is_a_clear_400(start_app, config) -> None:
    running = await start_app(config)
    async with aiohttp.ClientSession() as http:
        _, alice = await new_user(http, running.base_url, "alice")
        for content_type, body in (("multipart/form-data", b"--x\r\n"),                      # no boundary
                                   ("multipart/form-data; boundary=abc", b"not multipart at all")):
            async with http.post(running.base_url + "/api/v1/resources", data=body,
                                 headers={**alice, "Content-Type": content_type}) as resp:
                answer = await resp.json()
            assert resp.status == 400, answer
            assert answer["error"]["reason"] == "invalid_request" and answer["correlationId"]
        _, page = await get(http, running, "/resources", alice)
        assert page["data"] == []
