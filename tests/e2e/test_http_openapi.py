"""The OpenAPI 3.1 document: it validates, it is generated from the request models, and a property-based run
(schemathesis, over real HTTP against the running app) finds no 5xx and no response breaking the schema."""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from adapters.http.endpoint import ENDPOINTS
from adapters.http.schemas import MessageIn
from tests.e2e.http_native import serve

# The run is deterministic (--generation-deterministic, a fixed number of examples, no time budget), so it
# tests the same cases on a fast or a slow machine. The coverage phase probes every documented boundary:
# a path id one character over its documented maxLength is among them, every run.
SCHEMATHESIS_EXAMPLES = 10
SCHEMATHESIS_SECONDS = 240  # a hang guard, not a budget


@pytest.fixture
async def api(start_app, config):
    async with serve(start_app, config) as client:
        yield client


async def test_document_is_valid_openapi_3_1_and_lists_every_endpoint(api) -> None:
    reply = await api.get("/openapi.json")
    assert reply.status == 200
    doc = reply.body
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    declared = {(e.method.lower(), e.path) for e in api.running.app[ENDPOINTS]}
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert declared == documented
    for must in [("post", "/api/v1/auth/token"), ("post", "/api/v1/conversations/{id}/messages"),
                 ("get", "/api/v1/me/ledger"), ("post", "/api/v1/orders/{id}/refund")]:
        assert must in documented


async def test_request_schemas_are_the_validating_models(api) -> None:
    doc = (await api.get("/openapi.json")).body
    op = doc["paths"]["/api/v1/conversations/{id}/messages"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    own = MessageIn.model_json_schema()
    assert schema["properties"] == own["properties"] and schema["required"] == ["content"]
    assert schema["additionalProperties"] is False
    assert "text/event-stream" in op["responses"]["200"]["content"]
    listed = doc["paths"]["/api/v1/conversations"]["get"]["parameters"]
    limit = next(p for p in listed if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 100
    assert doc["paths"]["/api/v1/users"]["post"]["security"] == [{"apiKey": []}]


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[dev]'")
    return found


async def test_schemathesis_finds_no_server_errors_and_no_schema_violations(api, tmp_path) -> None:
    user, me = await api.new_user("fuzz")
    await api.services.quota.credit(me["id"], 10_000_000, "adjustment", key="fuzz-credit")
    token = (await user.post("/auth/token", {"magic_code": await api.services.accounts.new_link_code(me["id"])})).body
    command = [
        _schemathesis(), "run", api.base_url + "/api/v1/openapi.json", "--url", api.base_url,
        "-H", f"Authorization: Bearer {token['token']}",
        "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        "--max-examples", str(SCHEMATHESIS_EXAMPLES), "--workers", "1", "--seed", "1", "--generation-deterministic",
        "--phases", "examples,coverage,fuzzing", "--no-shrink",
        "--request-timeout", "10", "--no-color", "--warnings", "off",
    ]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
                                                   env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    output, _ = await asyncio.wait_for(process.communicate(), SCHEMATHESIS_SECONDS)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    assert "passed" in text.lower()
