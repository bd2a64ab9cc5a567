"""How the summary writes one value for people (tables and the html page alike):
cores, bytes, percentages and seconds, "-" when not known."""

from __future__ import annotations

from ..quantity import NANO, format_bytes, format_cpu
from .compute import CONTAINERS_SUM, NodeMemory


def cores_text(value: float | None) -> str:
    return "-" if value is None else format_cpu(round(value * NANO))


def bytes_text(value: float | None) -> str:
    return "-" if value is None else format_bytes(round(value) * NANO)


def pct_text(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def seconds_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def padding_text(n: NodeMemory) -> str:
    """The node's padding verdict in the words every plugin uses (padding.Verdict.text); "-" unjudged."""
    return "-" if n.verdict is None else n.verdict.text()


def working_set_text(n: NodeMemory) -> str:
    """The node's working set; "(sum)" when it is its containers' sum, not the node's own figure."""
    return bytes_text(n.working_set_bytes) + (" (sum)" if n.working_set_source == CONTAINERS_SUM else "")
