"""--sort: order nodes (and the pods under them) and the --by groups by any shown column."""

from __future__ import annotations

from typing import TypeVar

from .compute import Group, Node, Pod, Report
from .options import ByAmount, ByName, ByPods, Part, SortKey

T = TypeVar("T", Node, Pod, Group)


def sort_value(row: Node | Pod | Group, key: ByPods | ByAmount) -> float | None:
    """The number a row sorts by, or None when it has none (sorted last)."""
    if isinstance(key, ByPods):
        return None if isinstance(row, Pod) else row.pods
    amounts = row.amounts
    if not key.percent:
        return amounts.amount(key.part, key.resource)
    # of allocatable where the row has one (a pod: its node's), else of the request
    of = Part.ALLOCATABLE if amounts.allocatable is not None and key.part is not Part.SLACK else Part.REQUESTS
    return amounts.percent(key.resource, key.part, of)


def sort_rows(rows: list[T], key: SortKey) -> list[T]:
    """Names ascending; numbers descending (largest first, as kube-capacity)."""
    if isinstance(key, ByName):
        return sorted(rows, key=lambda r: r.name)
    valued = [(sort_value(r, key), r.name) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: (valued[i][0] is None, -(valued[i][0] or 0), valued[i][1]))
    return [rows[i] for i in order]


def sort_report(report: Report, key: SortKey | None) -> None:
    """The report's nodes in --sort order (by name without one), and each node's pods
    and the --by groups too."""
    groups = sorted(report.groups.values(), key=lambda g: g.name)
    report.groups = {g.name: g for g in (sort_rows(groups, key) if key else groups)}
    nodes = sorted(report.nodes.values(), key=lambda n: n.name)
    if key:
        nodes = sort_rows(nodes, key)
        for n in nodes:
            n.rows = sort_rows(n.rows, key)
    else:
        for n in nodes:
            n.rows.sort(key=lambda p: (p.namespace, p.name))
    report.total.nodes = nodes
