"""The `dify:` section of config.yaml: the chat app behind /dify/v1 (keys, prompt, input form, prices, site)."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FIELD_KINDS = ("text-input", "paragraph", "select", "number")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,29}")
# Dify's prompt template slots: {{name}} (the #histories#-style system slots are not ours).
SLOT = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]{0,29})\}\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputField(_Strict):
    """One control of Dify's `user_input_form`, e.g. {"text-input": {"label": ..., "variable": ...}}."""

    kind: Literal["text-input", "paragraph", "select", "number"]
    label: str
    variable: str
    required: bool = False
    default: str | int | float | None = ""
    max_length: int | None = Field(None, ge=1)
    options: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _well_formed(self) -> "InputField":
        if not _VARIABLE.fullmatch(self.variable):
            raise ValueError(f"variable {self.variable!r} must be a letter or _ then letters, digits or _ "
                             "(at most 30 characters)")
        if self.kind == "select" and not self.options:
            raise ValueError(f"the select {self.variable!r} needs options")
        if self.kind != "select" and self.options:
            raise ValueError(f"only a select has options ({self.variable!r} is a {self.kind})")
        return self

    def as_dify(self) -> dict:
        """Dify's own shape, as GET /parameters answers it."""
        body: dict[str, Any] = {"label": self.label, "variable": self.variable, "required": self.required,
                                "default": "" if self.default is None else self.default}
        if self.kind in ("text-input", "paragraph"):
            body["max_length"] = self.max_length or (48 if self.kind == "text-input" else 1000)
        if self.kind == "select":
            body["options"] = list(self.options)
        return {self.kind: body}


class DifySiteConfig(_Strict):
    """GET /dify/v1/site: the web app's look (Dify's WebApp settings). title unset: dify.name."""

    title: str | None = None
    chat_color_theme: str | None = None
    chat_color_theme_inverted: bool = False
    icon_type: Literal["emoji", "image"] = "emoji"
    icon: str = "🤖"
    icon_background: str = "#FFEAD5"
    icon_url: str | None = None
    description: str | None = None
    copyright: str | None = None
    privacy_policy: str | None = None
    custom_disclaimer: str = ""
    default_language: str = "en-US"
    show_workflow_steps: bool = False
    use_icon_as_answer_icon: bool = False


class DifyConfig(_Strict):
    app_keys: list[str] = Field(default_factory=list)
    enabled: bool = True                        # false: every call answers Dify's 400 app_unavailable
    opening_statement: str = ""
    name: str = "Chatbot"                      # GET /dify/v1/info
    description: str = ""
    suggested_questions: list[str] = Field(default_factory=list)
    ping_interval_seconds: float = Field(10.0, gt=0)  # SSE `ping` events while a reply streams
    # The app's prompt; {{variable}} slots are filled from a new conversation's `inputs`. Empty: the
    # conversation.default_instruction.
    instruction: str = ""
    # Dify's own shape: [{"text-input": {"label": "Name", "variable": "name", "required": true}}, ...]
    user_input_form: list[InputField] = Field(default_factory=list)
    # GET /messages/{id}/suggested asks the model for follow-up questions (charged like a small reply).
    suggested_questions_after_answer: bool = False
    # metadata.usage prices: unit price = the model's weight x price_per_1k_tokens, per 1,000 tokens.
    price_per_1k_tokens: Decimal = Field(Decimal("0"), ge=0)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    dataset_name: str = "Knowledge base"        # retriever_resources[].dataset_name
    image_upload: bool = True                   # /files/upload and images in chat-messages `files`
    image_number_limits: int = Field(3, ge=1, le=10)
    image_file_size_limit_mb: int = Field(10, ge=1, le=100)
    site: DifySiteConfig = Field(default_factory=DifySiteConfig)

    @field_validator("app_keys")
    @classmethod
    def _drop_empty(cls, keys: list[str]) -> list[str]:
        return [k for k in keys if k]

    @field_validator("user_input_form", mode="before")
    @classmethod
    def _from_dify_shape(cls, items: Any) -> Any:
        if not isinstance(items, list):
            return items
        fields = []
        for item in items:
            if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in FIELD_KINDS:
                kind, body = next(iter(item.items()))
                fields.append({"kind": kind, **(body or {})} if isinstance(body, dict) else item)
            elif isinstance(item, dict) and "kind" in item:
                fields.append(item)
            else:
                raise ValueError(f"each item must be one of {', '.join(FIELD_KINDS)}, like "
                                 '{"text-input": {"label": "Name", "variable": "name"}}')
        return fields

    @model_validator(mode="after")
    def _variables_unique(self) -> "DifyConfig":
        names = [f.variable for f in self.user_input_form]
        if len(names) != len(set(names)):
            raise ValueError("user_input_form: two fields have the same variable")
        return self
