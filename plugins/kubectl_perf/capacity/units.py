"""Capacity's units, one per column (README, "Units"), shared by the tables and the html page.

Tables: cpu in millicores rounded up (kubectl top's MilliValue), byte amounts in Mi and counts
whole, truncated toward zero (its Value()/(1024*1024)), from the exact figure, once.
csv/tsv: exact millicores, bytes, counts."""

from __future__ import annotations

from ..padding import target_text as target_text  # the padding words and figures live in padding.py
from ..quantity import NANO
from ..render import cpu_text, cpu_value, exact, mebi_text, milli_ceil, percent_text, truncated


def is_bytes(resource: str) -> bool:
    return resource in ("memory", "ephemeral-storage", "storage") or resource.startswith("hugepages-")


def amount_text(resource: str, nanos: int) -> str:
    """An amount as the tables print it: 44000m, 1023Mi, 2 (kubectl top's printSingleResourceUsage:
    cpu `MilliValue()`, rounded up; memory `Value()/(1024*1024)`, truncated)."""
    if resource == "cpu":
        return cpu_text(nanos)
    if is_bytes(resource):
        return mebi_text(nanos)
    return truncated(nanos, NANO)


def amount_value(resource: str, nanos: int) -> int | str:
    """An amount as csv and tsv carry it, exactly: millicores for cpu, else base units (bytes, counts)."""
    return cpu_value(nanos) if resource == "cpu" else exact(nanos, NANO)


def percent_of(resource: str, value: int, whole: int) -> str | None:
    """value as a truncated percentage of whole, as kubectl top works it out: from the two
    quantities' MilliValue() (cpu: each rounded up to a millicore first; bytes are exact)."""
    if resource == "cpu":
        return percent_text(milli_ceil(value), milli_ceil(whole))
    return percent_text(value, whole)
