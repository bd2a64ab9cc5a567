"""--sort: order nodes (and the pods under them) and the --by groups by any shown column, or
by the padding verdict (--sort breach); --only-breaching and --top then trim the lists (triage:
what a person acts on first). The cluster row is never trimmed: it sums the whole scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from ..padding import STATES
from .compute import Group, Node, Pod, Report
from .options import ByAmount, ByBreach, ByName, ByPods, Display, Part, SortKey

if TYPE_CHECKING:
    from fractions import Fraction

T = TypeVar("T", Node, Pod, Group)

# --sort breach's order of verdicts (breach, overcommit, unknown, ok); a node without one (not listed) goes last.
STATE_RANK = {state: i for i, state in enumerate(STATES)}
UNJUDGED = len(STATES)


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


def _share(value: int | None, whole: int) -> Fraction | None:
    """value/whole exactly (two nodes at 86.4% and 86.6% must not tie); None when unknown."""
    from fractions import Fraction  # here, not at import: only --sort breach needs it (start-up time)

    return None if value is None or not whole else Fraction(value, whole)


def breach_order(row: Node | Pod | Group) -> tuple[int, int, bool, Fraction | int, Fraction | int, str]:
    """--sort breach: the verdict's rank (breach, overcommit, unknown, ok, none), then (node groups) the
    most breaching nodes, then memory usage as a share of allocatable, largest first (unknown usage after
    known), then limits' share, then the name. A node is ranked by its own verdict (padding.judge, on the
    whole node even under a pod filter); a node group by its nodes' tally, as the report's pool table
    ranks them; pods and pod groups, which have no verdict, by their memory."""
    usage: Fraction | None
    breaching = 0
    if isinstance(row, Node):
        v = row.padding
        rank = STATE_RANK[v.state] if v.judged else UNJUDGED
        usage, limits = _share(v.usage, v.allocatable), _share(v.limits, v.allocatable)
    else:
        a = row.amounts
        rank = STATE_RANK[row.padding.state] if isinstance(row, Group) and row.padding is not None else 0
        breaching = len(row.padding.breaching) if isinstance(row, Group) and row.padding is not None else 0
        whole = (a.allocatable or {}).get("memory", 0) if isinstance(row, Group) and row.nodes is not None else 1
        used = None if not a.measured("memory") else (a.usage or {}).get("memory", 0)
        usage, limits = _share(used, whole), _share(a.limits.get("memory", 0), whole)
    name = f"{row.namespace}/{row.name}" if isinstance(row, Pod) else row.name
    return (rank, -breaching, usage is None, -(usage or 0), -(limits or 0), name)


def sort_rows(rows: list[T], key: SortKey) -> list[T]:
    """Names ascending; numbers descending (largest first, as kube-capacity)."""
    if isinstance(key, ByName):
        return sorted(rows, key=lambda r: r.name)
    if isinstance(key, ByBreach):
        return sorted(rows, key=breach_order)
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


def trim_report(report: Report, display: Display) -> None:
    """--only-breaching, then --top, on the sorted lists: nodes (with their pods), node groups;
    pending pods breach nothing and go with --only-breaching. The cluster row (report.total's
    amounts and padding tally) keeps summing every node in scope: "3/1000 nodes" stays true."""
    nodes = report.total.nodes
    if display.sort is None and display.output == "html":
        nodes = sorted(nodes, key=breach_order)  # as the page ranks them (html.page): --top keeps the first of that order
    groups = list(report.groups.values())
    if display.only_breaching:
        nodes = [n for n in nodes if n.padding.judged and n.padding.breaches]
        groups = [g for g in groups if g.padding is not None and g.padding.breaching]
        report.pending = []
    if display.top is not None:
        nodes, groups = nodes[: display.top], groups[: display.top]
    report.total.nodes = nodes
    report.groups = {g.name: g for g in groups}
