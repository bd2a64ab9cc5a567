"""What a check found on one subject: the check's record (rules.py) adds its ID, category and severity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ..reports import Ref


class Outcome(NamedTuple):
    result: str  # pass | fail | warn | error | skip
    message: str
    properties: Mapping[str, object] = {}
    resource: Ref | None = None  # cluster checks name the object that told them; compute.py places the others
