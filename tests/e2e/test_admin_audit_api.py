"""Admin writes through the HTTP API and `bot grant` land in the audit log the console shows (who, what, before,
after), naming the admin key by its fingerprint and never by the key, nor a provider's key."""
from __future__ import annotations

import hashlib
import json

import aiohttp

from bot.config import load_config
from tests.conftest import make_config
from tests.e2e.http_native import ADMIN, serve
from tests.e2e.test_admin_console import page, sign_in
from tests.e2e.test_cli import run_cli, write_config
from tests.fakes.openai_server import FakeOpenAI

ACTOR = "admin:" + hashlib.sha256(ADMIN["X-API-Key"].encode()).hexdigest()[:6]
PROVIDER_KEY = "sk-audited-provider-7c1e"


async def test_admin_api_writes_are_audited_with_the_keys_fingerprint(start_app, tmp_path, fake_llm) -> None:
    async with FakeOpenAI(api_key=PROVIDER_KEY, models=["extra-model"]) as extra, \
            serve(start_app, make_config(tmp_path, fake_llm.base_url)) as api:
        admin = api.as_(ADMIN)
        assert (await admin.post("/roles", {"name": "poet", "description": "Rhymes",
                                            "system_prompt": "Answer in verse."})).status == 201
        assert (await admin.patch("/roles/poet", {"system_prompt": "Answer in haiku."})).status == 200
        assert (await admin.delete("/roles/poet")).status == 204
        assert (await admin.patch("/products/starter", {"price": 1.5})).status == 200
        assert (await admin.delete("/products/starter")).status == 204
        _, user = await api.new_user("carol")
        body = {"name": "extra", "base_url": extra.base_url, "api_key": PROVIDER_KEY, "timeout_seconds": 5,
                "models": [{"name": "extra-model", "input_weight": 2.0, "output_weight": 3.0,
                            "context_window": 4096, "max_output_tokens": 50}]}
        assert (await admin.post("/llm-providers", body)).status == 201
        assert (await admin.patch("/llm-providers/extra", {"timeout_seconds": 9})).status == 200
        assert (await admin.delete("/llm-providers/extra")).status == 204

        entries = (await api.services.admin.audit.list(50)).items
        got = [(e.action, e.target) for e in reversed(entries)]
        assert got == [("role.put", "role:poet"), ("role.put", "role:poet"), ("role.delete", "role:poet"),
                       ("product.put", "product:starter"), ("product.remove", "product:starter"),
                       ("user.create", f"user:{user['id']}"), ("llm_provider.create", "llm_provider:extra"),
                       ("llm_provider.update", "llm_provider:extra"), ("llm_provider.delete", "llm_provider:extra")]
        assert {e.actor for e in entries} == {ACTOR}
        by = {(e.action, e.target): e for e in entries}
        price = by[("product.put", "product:starter")]
        assert (float(price.before["price"]), float(price.after["price"])) == (9.9, 1.5)
        haiku = [e for e in entries if e.action == "role.put"][0]   # newest first: the PATCH
        assert (haiku.before["system_prompt"], haiku.after["system_prompt"]) == ("Answer in verse.",
                                                                                  "Answer in haiku.")
        timeout = by[("llm_provider.update", "llm_provider:extra")]
        assert (timeout.before["timeout_seconds"], timeout.after["timeout_seconds"]) == (5, 9)
        written = json.dumps([[e.actor, e.before, e.after] for e in entries], ensure_ascii=False)
        assert ADMIN["X-API-Key"] not in written and PROVIDER_KEY not in written and "…7c1e" in written

        # A user's read or a rejected write writes nothing.
        before = len(entries)
        assert (await admin.patch("/roles/nobody", {"description": "x"})).status == 404
        assert len((await api.services.admin.audit.list(50)).items) == before

        async with aiohttp.ClientSession(api.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await sign_in(http)
            _, html = await page(http, "/admin/audit?action=llm_provider.")
            assert "llm_provider.update" in html and ACTOR in html


async def test_bot_grant_is_audited_as_the_command_line(start_app, tmp_path, fake_llm) -> None:
    path = write_config(tmp_path, fake_llm.base_url)
    first = await start_app(load_config(path))
    user = await first.services.accounts.create_user("dave")
    await first.runner.cleanup()

    code, out, err = await run_cli("grant", "--config", str(path), user.id, "250")
    assert code == 0, err
    code, _, err = await run_cli("grant", "--config", str(path), user.id, "0")
    assert code == 1 and err.strip()           # nothing to grant: refused, nothing written

    again = await start_app(load_config(path))
    entries = (await again.services.admin.audit.list(10, action="ledger.adjust")).items
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.target) == ("cli", f"user:{user.id}")
    assert entry.after["amount"] == 250 and entry.after["balance"] == entry.before["balance"] + 250
    assert f"balance {entry.after['balance']}" in out


async def test_an_admins_global_resources_are_audited_and_a_users_own_are_not(start_app, config) -> None:
    from tests.e2e.test_rag_api import add, new_user
    from tests.fakes import rag_corpus as corpus

    running = await start_app(config)
    async with aiohttp.ClientSession() as http:
        _, alice = await new_user(http, running.base_url, "alice")
        shared = await add(http, running, ADMIN, name="Pandas", source="text", content=corpus.PANDA_ZH)
        mine = await add(http, running, alice, name="Tower notes", source="text", content=corpus.EIFFEL_MD)
        for resource, headers in ((mine, alice), (shared, ADMIN)):
            async with http.delete(f"{running.base_url}/api/v1/resources/{resource['id']}", headers=headers) as r:
                assert r.status == 204
    entries = (await running.services.admin.audit.list(10, action="resource.")).items
    assert [(e.action, e.target, e.actor) for e in entries] == [
        ("resource.delete", f"resource:{shared['id']}", ACTOR), ("resource.add", f"resource:{shared['id']}", ACTOR)]
    assert entries[0].before == {"name": "Pandas", "source": "text"}
