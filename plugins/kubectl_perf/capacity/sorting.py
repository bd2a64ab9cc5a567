"""--sort: order nodes (and the pods under them) by any shown column."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .compute import NodeRow, PodRow, Report


T = TypeVar("T", "NodeRow", "PodRow")


def sort_value(row: NodeRow | PodRow, key: str) -> float | None:
    """The number a row sorts by, or None when it has none (sorted last)."""
    if key == "pods":
        return getattr(row, "pods", None)
    pct = key.endswith(".percent")
    resource, _, part = key.removesuffix(".percent").rpartition(".")
    usage = getattr(row, "usage", None)
    if part == "util":
        value = None if usage is None else usage.get(resource, 0)
    elif part == "slack":
        value = None if usage is None else row.requests.get(resource, 0) - usage.get(resource, 0)
    elif part == "allocatable":
        value = getattr(row, "allocatable", {}).get(resource, 0)
    else:
        value = getattr(row, part).get(resource, 0)
    if value is None or not pct:
        return value
    allocatable = getattr(row, "allocatable", None)
    whole = allocatable.get(resource, 0) if allocatable is not None and part != "slack" else row.requests.get(resource, 0)
    return value / whole if whole else None


def sort_rows(rows: list[T], key: str) -> list[T]:
    """Names ascending; numbers descending (largest first, as kube-capacity)."""
    if key == "name":
        return sorted(rows, key=lambda r: r.name)
    valued = [(sort_value(r, key), r.name) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: (valued[i][0] is None, -(valued[i][0] or 0), valued[i][1]))
    return [rows[i] for i in order]


def sort_report(report: Report, key: str | None) -> list[NodeRow]:
    """The report's nodes in --sort order (by name without one), and each node's pods too."""
    nodes = sorted(report.nodes.values(), key=lambda n: n.name)
    if key:
        nodes = sort_rows(nodes, key)
        for n in nodes:
            n.pod_rows = sort_rows(n.pod_rows, key)
    else:
        for n in nodes:
            n.pod_rows.sort(key=lambda p: (p.namespace, p.name))
    return nodes
