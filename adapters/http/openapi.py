"""GET /api/v1/openapi.json: an OpenAPI 3.1 document generated from the declared endpoints' pydantic models."""
from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from adapters.http.endpoint import ENDPOINTS, Call, Endpoint, add
from adapters.http.schemas import ErrorOut
from adapters.http.status import app_version

REF = "#/components/schemas/{model}"
_SECURITY = {
    "user": [{"bearerAuth": []}, {"apiKey": []}],
    "any": [{"bearerAuth": []}, {"apiKey": []}],
    "admin": [{"apiKey": []}],
    "public": [{}, {"bearerAuth": []}, {"apiKey": []}],
}
_DOCUMENT = web.AppKey("openapi_document", dict)


def _parameters(endpoint: Endpoint) -> list[dict]:
    params: list[dict] = [{"name": name, "in": "path", "required": True,
                           "schema": {"type": "string", "maxLength": endpoint.path_limit(name)}}
                          for name in re.findall(r"\{(\w+)\}", endpoint.path)]
    if endpoint.query is not None:
        schema = endpoint.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    return params


def _events_schema(endpoint: Endpoint, refs: dict) -> dict:
    """Each server-sent event (OpenAPI 3.1: `schema` describes one event): its name and its JSON data."""
    return {"oneOf": [
        {"type": "object", "required": ["event", "data"], "properties": {
            "event": {"const": name},
            "data": {"type": "string", "contentMediaType": "application/json",
                     "contentSchema": refs[(model, "serialization")]}}}
        for name, model in endpoint.streams]}


def _operation(endpoint: Endpoint, refs: dict, operation_id: str) -> dict:
    op: dict[str, Any] = {"operationId": operation_id, "summary": endpoint.summary,
                          "security": _SECURITY[endpoint.access]}
    if endpoint.tag:
        op["tags"] = [endpoint.tag]
    params = _parameters(endpoint)
    if params:
        op["parameters"] = params
    if endpoint.body is not None:
        op["requestBody"] = {"required": endpoint.body_required,
                             "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}}}
    if endpoint.response is None:
        ok: dict[str, Any] = {"description": "Done"}
    else:
        content = {"application/json": {"schema": refs[(endpoint.response, "serialization")]}}
        if endpoint.streams:
            content["text/event-stream"] = {"schema": _events_schema(endpoint, refs)}
        ok = {"description": "OK", "content": content}
    error = {"description": "An error: {correlationId, error: {code, reason, message}}",
             "content": {"application/json": {"schema": refs[(ErrorOut, "serialization")]}}}
    op["responses"] = {str(endpoint.status): ok, **{str(code): ok for code in endpoint.extra_statuses},
                       "default": error}
    return op


def build_document(endpoints: list[Endpoint]) -> dict:
    wanted: list[tuple[type[BaseModel], str]] = [(ErrorOut, "serialization")]
    for e in endpoints:
        if e.body is not None:
            wanted.append((e.body, "validation"))
        if e.response is not None:
            wanted.append((e.response, "serialization"))
        wanted += [(model, "serialization") for _, model in e.streams]
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    paths: dict[str, dict] = {}
    seen: set[str] = set()
    for e in endpoints:
        operation_id = e.handler.__name__
        while operation_id in seen:
            operation_id += "_"
        seen.add(operation_id)
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, refs, operation_id)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Chatbot platform API", "version": app_version(),
                 "description": "The native HTTP API. Errors always answer {correlationId, error}."},
        "paths": paths,
        "components": {"schemas": top.get("$defs", {}), "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A token from POST /auth/token"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                       "description": "A user API key, or an admin key from security.admin_api_keys"}}},
    }


async def openapi(call: Call) -> dict:
    cache = call.request.app[_DOCUMENT]
    if not cache:
        # Built once: the routes are fixed once the app has started.
        cache.update(build_document(call.request.app[ENDPOINTS]))
    return cache


def install(app: web.Application, prefix: str) -> None:
    app[_DOCUMENT] = {}
    add(app, Endpoint("GET", prefix + "/openapi.json", openapi, "This document", access="public", tag="meta"))
