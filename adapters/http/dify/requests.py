"""Reading a Dify request: the app key (Bearer), the end user (`user`), JSON bodies and query parameters."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adapters.http.keys import services_of
from core.domain import Identity
from core.errors import InvalidRequest, NotFound, Unauthorized

MAX_USER_CHARS = 200
FINGERPRINT_CHARS = 12

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class EndUser:
    """The person a Dify app acts for: our user behind the identity ("api", "<app key fingerprint>:<user>")."""

    user_id: str
    name: str


def key_fingerprint(key: str) -> str:
    """A short, stable name for an app key, so the same `user` string under two apps is two people."""
    return hashlib.sha256(key.encode()).hexdigest()[:FINGERPRINT_CHARS]


def app_key(request: web.Request) -> str:
    """The fingerprint of the request's app key; 401 when it is missing or not one of `dify.app_keys`."""
    from adapters.http.dify.context import dify as dify_settings

    header = request.headers.get("Authorization", "")
    if " " not in header.strip():
        raise Unauthorized("Authorization header must be provided and start with 'Bearer'")
    scheme, token = header.strip().split(None, 1)
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization scheme must be 'Bearer'")
    token = token.strip()
    dify = dify_settings(request)
    # Compare against every key so the time taken says nothing about which one nearly matched.
    matches = [hmac.compare_digest(token.encode(), k.encode()) for k in dify.app_keys]
    if not any(matches):
        raise Unauthorized("Access token is invalid")
    if not dify.enabled:
        from adapters.http.dify.errors import DifyError

        raise DifyError(400, "app_unavailable", "App unavailable, please check your app configurations.")
    return key_fingerprint(token)


async def end_user(request: web.Request, fingerprint: str, user: Any) -> EndUser:
    """The end user named `user` of the app `fingerprint` (see app_key): found, or created with the signup grant."""
    if isinstance(user, int) and not isinstance(user, bool):
        user = str(user)
    if not isinstance(user, str) or not user.strip():
        raise InvalidRequest("Arg user must be provided.")
    if len(user) > MAX_USER_CHARS:
        raise InvalidRequest(f"user must be at most {MAX_USER_CHARS} characters.")
    services = services_of(request)
    account = await services.accounts.ensure_user(Identity("api", f"{fingerprint}:{user}"), name=user)
    return EndUser(account.id, user)


async def json_object(request: web.Request) -> dict:
    """The body as a JSON object; 400 (nothing done) when it is not one."""
    try:
        data = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        raise InvalidRequest("Invalid JSON payload received or JSON payload is empty.", reason="bad_request") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The JSON body must be an object.", reason="bad_request")
    return data


def parse(model: type[M], data: dict) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidRequest(f"{where}: {first['msg']}") from None


def query_limit(request: web.Request, default: int = 20) -> int:
    raw = request.query.get("limit", "")
    if not raw:
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidRequest("limit must be an integer from 1 to 100.") from None
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be an integer from 1 to 100.")
    return limit


def uuid_or_none(value: str | None, name: str) -> str | None:
    """An optional UUID parameter: blank means absent, anything else must be a UUID (400)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidRequest(f"{name} must be a valid UUID.") from None


def path_id(request: web.Request, name: str, missing: str) -> str:
    """A UUID from the path; anything else cannot exist, so it is a 404 like an unknown id."""
    try:
        return str(uuid.UUID(request.match_info[name]))
    except ValueError:
        raise NotFound(missing) from None


class ChatFile(BaseModel):
    """One item of chat-messages `files`: an uploaded file (local_file) or an image address (remote_url)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["image", "document", "audio", "video", "custom"] = "image"
    transfer_method: Literal["remote_url", "local_file"]
    url: str | None = Field(None, max_length=4096)
    upload_file_id: str | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    response_mode: Literal["blocking", "streaming"] | None = None
    conversation_id: str | None = None
    user: Any = None
    files: list[ChatFile] = Field(default_factory=list, max_length=20)
    auto_generate_name: bool = True

    @field_validator("inputs", "files", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any, info) -> Any:
        if value is None:
            return {} if info.field_name == "inputs" else []
        return value


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rating: Literal["like", "dislike"] | None = None
    user: Any = None
    content: str | None = None


class RenameRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    auto_generate: bool = False
    user: Any = None


class UserOnly(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user: Any = None
