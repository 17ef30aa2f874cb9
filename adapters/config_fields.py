"""Field types shared by the config sections that adapters own (bot/config.py composes them)."""
from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

# An on/off switch that may be written `${SOME_TOKEN:+true}`: empty (the variable unset) means off.
Switch = Annotated[bool, BeforeValidator(lambda v: False if v == "" else v)]
