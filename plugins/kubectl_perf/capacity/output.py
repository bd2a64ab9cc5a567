"""How capacity prints: tables, csv/tsv, and the -o json/yaml contract."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import render
from ..model import Resources, percent
from ..quantity import format_amount, to_number
from ..render import Column, Table
from .compute import COUNT, USAGE_RESOURCES, Detail, GroupRow, NodeRow, PodRow, Report


def header(resource: str) -> str:
    return "PODS" if resource == COUNT else resource.upper()


def label_header(key: str) -> str:
    """kubectl -L style: the last part of the label key, upper-cased."""
    return key.rsplit("/", 1)[-1].upper()


@dataclass
class Line:
    """One printed line of any view (the rows of compute are the data it prints):
    the cluster, a node, a group, a pod or a container. `node` is the node the line
    is on ("*" for the cluster), `group` the --by group's name."""

    node: str
    requests: Resources
    limits: Resources
    usage: Resources | None
    allocatable: Resources | None = None  # percentages are of this; None: of the request
    namespace: str = ""
    pod: str = ""
    container: str = ""
    kind: str = ""
    flags: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    pods: int = 0
    source: NodeRow | None = None  # the node's row, for colouring and padding columns
    group: str = ""


@dataclass(frozen=True)
class Show:
    """Which amount columns a table carries (kube-capacity's --hide-*, --available)."""

    util: bool = False
    requests: bool = True
    limits: bool = True
    available: bool = False  # node cells read "what is left/allocatable"


def amount_columns(resource: str, show: Show, wide_allocatable: bool) -> list[Column]:
    """REQUESTS, LIMITS, [UTIL, SLACK], [ALLOCATABLE] for one resource."""
    h = header(resource)
    util = show.util

    def text(part: str) -> Callable[[Line], str]:
        def show_cell(line: Line) -> str:
            values = getattr(line, part)
            if values is None:
                return "-"
            amount = format_amount(resource, values.get(resource, 0))
            if show.available and line.allocatable is not None:
                alloc = line.allocatable.get(resource, 0)
                return f"{format_amount(resource, alloc - values.get(resource, 0))}/{format_amount(resource, alloc)}"
            if line.allocatable is not None:
                pct = percent(values, line.allocatable, resource)
                return f"{amount} ({pct:.0f}%)" if pct is not None else amount
            if part == "usage":
                pct = percent(values, line.requests, resource)
                return f"{amount} ({pct:.0f}% of req)" if pct is not None else amount
            return amount

        return show_cell

    def value(part: str) -> Callable[[Line], Any]:
        return lambda line: None if getattr(line, part) is None else to_number(getattr(line, part).get(resource, 0))

    def slack(line: Line) -> int | None:
        if line.usage is None or not line.requests.get(resource):
            return None
        return line.requests[resource] - line.usage.get(resource, 0)

    cols = []
    if show.requests:
        cols.append(Column(f"{h} REQUESTS", text("requests"), value("requests")))
    if show.limits:
        cols.append(Column(f"{h} LIMITS", text("limits"), value("limits")))
    if util and resource in USAGE_RESOURCES:
        cols.append(Column(f"{h} UTIL", text("usage"), value("usage")))
        if not wide_allocatable:  # pods, containers and groups: what the request leaves unused
            cols.append(
                Column(
                    f"{h} SLACK",
                    lambda line: "-" if slack(line) is None else format_amount(resource, slack(line) or 0),
                    lambda line: None if slack(line) is None else to_number(slack(line) or 0),
                )
            )
    if wide_allocatable:
        cols.append(
            Column(
                f"{h} ALLOCATABLE",
                lambda line: format_amount(resource, (line.allocatable or {}).get(resource, 0)),
                lambda line: to_number((line.allocatable or {}).get(resource, 0)),
                wide=True,
            )
        )
    return cols


def pod_count(line: Line) -> str:
    return f"{line.pods}/{format_amount(COUNT, (line.allocatable or {}).get(COUNT, 0))}"


def padding_text(row: NodeRow) -> str:
    breaches = row.breaches()
    if not breaches:
        return "ok"
    return "BREACH " + ", ".join(f"{b} {row.percent('memory', b) or 0:.0f}%" for b in breaches)


# -- the node view ----------------------------------------------------------------
def label_column(key: str) -> Column:
    return Column(label_header(key), lambda line: "" if line.source and line.source.is_total else line.labels.get(key, "<none>"))


def node_source(line: Line) -> NodeRow:
    assert line.source is not None  # node lines always carry their row
    return line.source


def node_line(row: NodeRow) -> Line:
    return Line(row.name, row.requests, row.limits, row.usage, row.allocatable, labels=dict(row.labels), pods=row.pods, source=row)


def node_columns(report: Report, resources: tuple[str, ...], label_keys: list[str], show: Show) -> list[Column]:
    cols = [Column("NODE", lambda line: line.node)]
    cols += [label_column(key) for key in label_keys]
    for r in resources:
        if r == COUNT:
            cols.append(Column("PODS", pod_count, lambda line: line.pods))
        else:
            cols += amount_columns(r, show, wide_allocatable=True)
    if COUNT not in resources:
        cols.append(Column("PODS", pod_count, lambda line: line.pods, wide=True))
    if "memory" in resources:
        cols.append(
            Column("MEM TARGET", lambda line: f"{node_source(line).target * 100:.0f}%", lambda line: round(node_source(line).target, 4))
        )
        cols.append(
            Column("PADDING", lambda line: padding_text(node_source(line)), lambda line: ",".join(node_source(line).breaches()) or "ok")
        )
    return cols


# -- the pod and container views --------------------------------------------------
def missing_flag(missing: list[tuple[str, str]], container: str | None = None) -> str:
    names = sorted({f"{c}/{r}" if container is None else r for c, r in missing if container in (None, c)})
    return "no-requests:" + ",".join(names) if names else ""


def pod_lines(nodes: list[NodeRow], total: NodeRow, containers: bool) -> list[Line]:
    """The cluster row, then each node followed by its pods (or their containers)."""
    lines = [Line("*", total.requests, total.limits, total.usage, total.allocatable, "*", "*", "*")]
    for n in nodes:
        lines.append(Line(n.name, n.requests, n.limits, n.usage, n.allocatable, "*", "*", "*"))
        for p in n.pod_rows:
            if not containers:
                lines.append(Line(n.name, p.requests, p.limits, p.usage, None, p.namespace, p.name, flags=missing_flag(p.missing)))
                continue
            for c in p.containers:
                lines.append(
                    Line(n.name, c.requests, c.limits, c.usage, None, p.namespace, p.name, c.name, c.kind, missing_flag(p.missing, c.name))
                )
    return lines


def pod_columns(resources: tuple[str, ...], containers: bool, show: Show) -> list[Column]:
    cols = [Column("NODE", lambda line: line.node), Column("NAMESPACE", lambda line: line.namespace), Column("POD", lambda line: line.pod)]
    if containers:
        cols += [Column("CONTAINER", lambda line: line.container), Column("KIND", lambda line: line.kind, wide=True)]
    for r in resources:
        if r != COUNT:
            cols += amount_columns(r, show, wide_allocatable=False)
    cols.append(Column("FLAGS", lambda line: line.flags))
    return cols


# -- the group view ----------------------------------------------------------------
def group_lines(report: Report, total: NodeRow) -> list[Line]:
    groups = sorted(report.groups.values(), key=lambda g: g.name)
    return [Line("", g.requests, g.limits, g.usage, total.allocatable, pods=g.pods, group=g.name) for g in groups]


def group_columns(report: Report, resources: tuple[str, ...], show: Show) -> list[Column]:
    by = report.options.by
    title = "NAMESPACE" if by is None or by.label is None else label_header(by.label)
    cols = [Column(title, lambda line: line.group), Column("PODS", lambda line: str(line.pods), lambda line: line.pods)]
    for r in resources:
        if r != COUNT:
            cols += amount_columns(r, show, wide_allocatable=False)
    return cols


def request_column(resource: str) -> Column:
    return Column(
        f"{header(resource)} REQUESTS",
        lambda p: format_amount(resource, p.requests.get(resource, 0)),
        lambda p: to_number(p.requests.get(resource, 0)),
    )


def pending_columns(resources: tuple[str, ...]) -> list[Column]:
    cols = [Column("NAMESPACE", lambda p: p.namespace), Column("PENDING POD", lambda p: p.name)]
    return cols + [request_column(r) for r in resources if r != COUNT]


# -- the machine contract ----------------------------------------------------------
def resources_json(row: NodeRow | GroupRow | PodRow, resources: tuple[str, ...], usage: bool) -> dict[str, Any]:
    """{resource: {allocatable?, requests, limits, usage?}} as JSON numbers in base units."""
    out: dict[str, Any] = {}
    for r in resources:
        if r == COUNT and isinstance(row, PodRow):
            continue
        entry: dict[str, Any] = {}
        if isinstance(row, NodeRow):
            entry["allocatable"] = to_number(row.allocatable.get(r, 0))
        entry["requests"] = to_number(row.requests.get(r, 0))
        if r != COUNT:
            entry["limits"] = to_number(row.limits.get(r, 0))
        if usage and r in USAGE_RESOURCES and row.usage is not None:
            entry["usage"] = to_number(row.usage.get(r, 0))
        out[r] = entry
    return out


def pod_json(pod: PodRow, resources: tuple[str, ...], usage: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"namespace": pod.namespace, "name": pod.name, "resources": resources_json(pod, resources, usage)}
    if pod.missing:
        out["missingRequests"] = [{"container": c, "resource": r} for c, r in pod.missing]
    if pod.containers:
        out["containers"] = [
            {
                "name": c.name,
                "kind": c.kind,
                "resources": {
                    r: {
                        "requests": to_number(c.requests.get(r, 0)),
                        "limits": to_number(c.limits.get(r, 0)),
                        **({"usage": to_number(c.usage.get(r, 0))} if usage and c.usage is not None and r in USAGE_RESOURCES else {}),
                    }
                    for r in resources
                    if r != COUNT
                },
            }
            for c in pod.containers
        ]
    return out


def document(report: Report, nodes: list[NodeRow], resources: tuple[str, ...]) -> dict[str, Any]:
    """-o json / yaml: {"nodes": [...], "total": {...}, "pending": [...]} in base units."""
    usage = report.options.util and report.usage_known
    total = report.total()
    detail = report.options.detail is not Detail.NODES
    doc: dict[str, Any] = {
        "nodes": [
            {
                "name": n.name,
                "paddingTarget": n.target,
                "paddingBreach": bool(n.breaches()),
                "paddingBreaches": n.breaches(),
                "labels": dict(n.labels),
                "resources": resources_json(n, resources, usage),
                "pods": n.pods,
                **({"podDetails": [pod_json(p, resources, usage) for p in n.pod_rows]} if detail else {}),
            }
            for n in nodes
        ],
        "total": {"paddingTarget": total.target, "resources": resources_json(total, resources, usage), "pods": total.pods},
        "pending": [
            {"namespace": p.namespace, "name": p.name, "resources": {r: to_number(v) for r, v in p.requests.items()}}
            for p in report.pending
        ],
    }
    if report.options.by:
        doc["groups"] = [
            {"name": g.name, "pods": g.pods, "resources": resources_json(g, resources, usage)}
            for g in sorted(report.groups.values(), key=lambda g: g.name)
        ]
    return doc


# -- the one entry point ----------------------------------------------------------
def emit_report(args: argparse.Namespace, report: Report, nodes: list[NodeRow], cluster: str) -> None:
    """Print the report in the -o format, through render.emit."""
    resources = args.resources

    def tables() -> list[Table]:
        total = report.total()
        show = Show(report.options.util and report.usage_known, not args.hide_requests, not args.hide_limits, args.available)
        if report.options.by:
            main = Table(group_lines(report, total), group_columns(report, resources, show))
        elif report.options.detail is not Detail.NODES:
            containers = report.options.detail is Detail.CONTAINERS
            main = Table(pod_lines(nodes, total, containers), pod_columns(resources, containers, show))
        else:
            main = Table(
                [node_line(n) for n in [total, *nodes]],
                node_columns(report, resources, args.label_columns, show),
                highlight=lambda line: render.RED if node_source(line).breaches() else "",
            )
        return [main, Table(report.pending, pending_columns(resources))]

    def html() -> str:
        from .html import page

        return page(report, nodes, resources, cluster)

    render.emit(args.output, lambda: document(report, nodes, resources), tables, html)
