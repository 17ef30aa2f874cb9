"""Field types and the strict base shared by the config sections that adapters own (bot/config.py composes them)."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

# An on/off switch that may be written `${SOME_TOKEN:+true}`: empty (the variable unset) means off.
Switch = Annotated[bool, BeforeValidator(lambda v: False if v == "" else v)]


# The base of every section: an unknown key is an error. (No docstring: `bot config-doc` would show it on each.)
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
