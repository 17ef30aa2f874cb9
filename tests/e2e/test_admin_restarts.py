"""Restarts never undo an operator: config.yaml seeds only what the database never had (docs/operator.md)."""
from __future__ import annotations

import aiohttp

from tests.conftest import make_config

ADMIN = {"X-API-Key": "admin-key"}


async def _call(running, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession(running.base_url) as http:
        async with http.request(method, "/api/v1" + path, json=body, headers=ADMIN) as r:
            return r.status, (await r.json() if r.content_type == "application/json" else {})


async def test_a_price_and_a_prompt_set_through_the_api_and_a_deleted_role_survive_restarts(start_app, tmp_path,
                                                                                          fake_llm) -> None:
    roles = [{"name": "pirate", "description": "Talks like a pirate", "system_prompt": "Talk like a pirate."},
             {"name": "poet", "description": "Verse", "system_prompt": "Answer in verse."}]
    config = make_config(tmp_path, fake_llm.base_url, roles=roles)
    first = await start_app(config)
    status, product = await _call(first, "PATCH", "/products/starter", {"price": 1.00})
    assert status == 200 and product["price"] in (1, 1.0, "1.00")
    assert (await _call(first, "PATCH", "/roles/pirate", {"system_prompt": "Speak plainly."}))[0] == 200
    assert (await _call(first, "DELETE", "/roles/poet"))[0] == 204
    await first.runner.cleanup()

    # The same config.yaml, started again (twice: the second start must not bring anything back either).
    for _ in range(2):
        again = await start_app(config)
        status, product = await _call(again, "GET", "/products/starter")
        assert status == 200 and float(product["price"]) == 1.00
        status, pirate = await _call(again, "GET", "/roles/pirate")
        assert pirate["system_prompt"] == "Speak plainly."
        assert (await _call(again, "GET", "/roles/poet"))[0] == 404
        await again.runner.cleanup()


async def test_a_new_item_in_config_yaml_is_added_at_the_next_start(start_app, tmp_path, fake_llm) -> None:
    config = make_config(tmp_path, fake_llm.base_url)
    first = await start_app(config)
    assert (await _call(first, "GET", "/roles/critic"))[0] == 404
    await first.runner.cleanup()
    roles = [*[r.model_dump() for r in config.roles],
             {"name": "critic", "description": "Finds faults", "system_prompt": "Criticise."}]
    second = await start_app(make_config(tmp_path, fake_llm.base_url, roles=roles))
    status, critic = await _call(second, "GET", "/roles/critic")
    assert status == 200 and critic["system_prompt"] == "Criticise."
    entries = await second.services.admin.audit.list(10)
    assert entries.items == ()   # seeding is the config's doing, not an operator's: nothing to audit
