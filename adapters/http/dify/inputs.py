"""A new conversation's `inputs`: checked against dify.user_input_form as Dify checks them, then filled into the
{{variable}} slots of dify.instruction."""
from __future__ import annotations

import math
from typing import Any

from adapters.http.dify.errors import DifyError
from adapters.http.dify.settings import SLOT, InputField

DEFAULT_MAX_LENGTH = {"text-input": 256, "paragraph": 4000}


def max_length(field: InputField) -> int | None:
    return field.max_length or DEFAULT_MAX_LENGTH.get(field.kind)


def _invalid(message: str) -> DifyError:
    return DifyError(400, "invalid_param", message)


def fill_inputs(form: list[InputField], given: dict[str, Any]) -> dict[str, Any]:
    """Every declared variable with its value (or its default, or ""); Dify's invalid_param for a required one
    that is missing, a value of the wrong type, an option not offered, or a text over its max_length."""
    filled: dict[str, Any] = {}
    for field in form:
        value = given.get(field.variable)
        if value is None or value == "":
            if field.required:
                raise _invalid(f"{field.variable} is required in input form")
            filled[field.variable] = "" if field.default is None else field.default
            continue
        if field.kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise _invalid(f"{field.variable} in input form must be a valid number")
            try:
                number = float(value)
            except ValueError:
                raise _invalid(f"{field.variable} in input form must be a valid number") from None
            if not math.isfinite(number):
                raise _invalid(f"{field.variable} in input form must be a valid number")
            filled[field.variable] = value
            continue
        if not isinstance(value, str):
            raise _invalid(f"{field.variable} in input form must be a string")
        if field.kind == "select" and value not in field.options:
            raise _invalid(f"{field.variable} in input form must be one of the following: {field.options}")
        limit = max_length(field)
        if limit is not None and len(value) > limit:
            raise _invalid(f"{field.variable} in input form must be less than {limit} characters")
        filled[field.variable] = value
    return filled


def render_instruction(template: str, inputs: dict[str, Any]) -> str:
    """The app's prompt with each {{variable}} of the form replaced by its input; other slots stay as written."""
    return SLOT.sub(lambda m: str(inputs[m.group(1)]) if m.group(1) in inputs else m.group(0), template)
