"""How the summary writes one value for people (tables and the html page alike), in the suite's
one vocabulary of units (README, "Units"; render.cpu_text, render.mebi_text): cpu in millicores
rounded up, bytes in Mi truncated, as kubectl top and capacity print them; percentages truncated;
"-" when not known."""

from __future__ import annotations

import math

from ..padding import target_text
from ..quantity import NANO
from ..render import cpu_text, cpu_value, mebi_text, percent_text
from .compute import CONTAINERS_SUM, NodeMemory


def cores_text(value: float | None) -> str:
    """cores (a float from the counters) as millicores: `551m`, `1000m`."""
    return "-" if value is None else cpu_text(round(value * NANO))


def millicores(value: float | None) -> int | str | None:
    """csv/tsv: cores as exact millicores, as capacity carries cpu (to the nanocore)."""
    return None if value is None else cpu_value(round(value * NANO))


def bytes_text(value: float | None) -> str:
    """bytes as whole Mi, truncated: `1740Mi`."""
    return "-" if value is None else mebi_text(round(value) * NANO)


def pct_text(value: float | None) -> str:
    """a share as a whole percentage, truncated toward zero as kubectl top's int64(fraction)."""
    return "-" if value is None else f"{math.floor(value * 100 + 1e-9)}%"


def target_pct(value: float | None) -> str:
    """a padding target as capacity's MEM TARGET prints it (75%, 75.5%): a policy's figure, not truncated."""
    return "-" if value is None else target_text(value)


def ws_alloc_text(n: NodeMemory) -> str:
    """the node's working set as a share of allocatable, from whole bytes (as the verdict's usage %)."""
    if not n.allocatable_memory_bytes:
        return "-"
    return percent_text(round(n.working_set_bytes), round(n.allocatable_memory_bytes)) or "-"


def seconds_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def padding_text(n: NodeMemory) -> str:
    """The node's padding verdict in the words every plugin uses (padding.Verdict.text); "-" unjudged."""
    return "-" if n.verdict is None else n.verdict.text()


def working_set_text(n: NodeMemory) -> str:
    """The node's working set; "(sum)" when it is its containers' sum, not the node's own figure."""
    return bytes_text(n.working_set_bytes) + (" (sum)" if n.working_set_source == CONTAINERS_SUM else "")
