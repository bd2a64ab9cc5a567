"""How the summary writes one value for people (tables and the html page alike):
cores, bytes, percentages and seconds, "-" when not known."""

from __future__ import annotations

from ..quantity import NANO, format_bytes, format_cpu


def cores_text(value: float | None) -> str:
    return "-" if value is None else format_cpu(round(value * NANO))


def bytes_text(value: float | None) -> str:
    return "-" if value is None else format_bytes(round(value) * NANO)


def pct_text(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def seconds_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"
