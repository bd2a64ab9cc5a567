"""Capacity's units, one per column (README, "Units"), shared by the tables and the html page.

Tables: cpu in millicores, byte amounts in Mi, counts whole, each truncated toward zero
(kubectl top's habit) from the exact figure, once. csv/tsv: exact millicores, bytes, counts."""

from __future__ import annotations

from ..padding import target_text as target_text  # the padding words and figures live in padding.py
from ..quantity import NANO
from ..render import MEBI, MILLI, exact, truncated


def is_bytes(resource: str) -> bool:
    return resource in ("memory", "ephemeral-storage", "storage") or resource.startswith("hugepages-")


def amount_text(resource: str, nanos: int) -> str:
    """An amount as the tables print it: 44000m, 1023Mi, 2."""
    if resource == "cpu":
        return truncated(nanos, MILLI) + "m"
    if is_bytes(resource):
        return truncated(nanos, MEBI) + "Mi"
    return truncated(nanos, NANO)


def amount_value(resource: str, nanos: int) -> int | str:
    """An amount as csv and tsv carry it, exactly: millicores for cpu, else base units (bytes, counts)."""
    return exact(nanos, MILLI if resource == "cpu" else NANO)
