"""How capacity prints: tables, csv/tsv, and the -o json/yaml contract."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import render
from ..model import Resources
from ..quantity import NANO, to_number
from ..render import MEBI, MILLI, Column, Table, age_seconds, exact, human_age, percent_text, truncated
from .compute import COUNT, STORAGE, USAGE_RESOURCES, Detail, GroupRow, NodeGroupRow, NodeRow, PodRow, Report

# -- units: one per column (README, "Units") ----------------------------------------
# Tables: cpu in millicores, byte amounts in Mi, counts whole, each truncated toward zero
# (kubectl top's habit) from the exact figure, once. csv/tsv: exact millicores, bytes, counts.


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


def target_text(target: float) -> str:
    """A padding target as a percentage: 75%, 57%, 75.5% (a policy's figure, not a measure: not truncated)."""
    return f"{target * 100:.1f}".rstrip("0").rstrip(".") + "%"


# What the KIND column says of each of compute's container kinds (JSON keeps compute's words).
KINDS = {"container": "app", "init": "init", "sidecar": "sidecar"}


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
    node_allocatable: Resources | None = None  # pods and containers: their node's, for percentages
    group: str = ""
    section: str = ""  # csv/tsv's SECTION: cluster, node, group, pod or container
    created: str = ""  # the node's or pod's creationTimestamp, for AGE


@dataclass(frozen=True)
class Show:
    """Which amount columns a table carries (kube-capacity's --hide-*, --available)."""

    util: bool = False
    requests: bool = True
    limits: bool = True
    available: bool = False  # node cells read "what is left/allocatable"
    metered: frozenset[str] = frozenset(USAGE_RESOURCES)  # resources with usage: UTIL columns


def amount_columns(resource: str, show: Show, wide_allocatable: bool) -> list[Column]:
    """REQUESTS, LIMITS, [UTIL, SLACK], [ALLOCATABLE] for one resource."""
    h = header(resource)
    util = show.util

    def text(part: str) -> Callable[[Line], str]:
        def show_cell(line: Line) -> str:
            values = getattr(line, part)
            if values is None or (part == "usage" and resource not in USAGE_RESOURCES and resource not in values):
                return "-"  # not measured (a node whose kubelet summary could not be read)
            amount = values.get(resource, 0)
            if show.available and line.allocatable is not None:
                alloc = line.allocatable.get(resource, 0)
                return f"{amount_text(resource, alloc - amount)}/{amount_text(resource, alloc)}"
            figures = []  # percentages, each truncated from the exact figures
            if line.allocatable is not None:  # a node, the cluster or a group: of its allocatable
                figures.append(percent_text(amount, line.allocatable.get(resource, 0)))
            else:
                if line.node_allocatable is not None:  # a pod or a container: of its node, as kube-capacity
                    figures.append(percent_text(amount, line.node_allocatable.get(resource, 0)))
                if part == "usage":
                    of_request = percent_text(amount, line.requests.get(resource, 0))
                    figures.append(f"{of_request} of req" if of_request is not None else None)
            shown = [f for f in figures if f is not None]
            return f"{amount_text(resource, amount)} ({', '.join(shown)})" if shown else amount_text(resource, amount)

        return show_cell

    def value(part: str) -> Callable[[Line], Any]:
        return lambda line: None if getattr(line, part) is None else amount_value(resource, getattr(line, part).get(resource, 0))

    def slack(line: Line) -> int | None:
        """What the request leaves unused, from the exact figures (rounded once, when printed)."""
        if line.usage is None or not line.requests.get(resource):
            return None
        return line.requests[resource] - line.usage.get(resource, 0)

    def slack_text(line: Line) -> str:
        left = slack(line)
        return "-" if left is None else amount_text(resource, left)

    def slack_value(line: Line) -> int | str | None:
        left = slack(line)
        return None if left is None else amount_value(resource, left)

    cols = []
    if show.requests:
        cols.append(Column(f"{h} REQUESTS", text("requests"), value("requests")))
    if show.limits:
        cols.append(Column(f"{h} LIMITS", text("limits"), value("limits")))
    if util and resource in show.metered:
        cols.append(Column(f"{h} UTIL", text("usage"), value("usage")))
        if not wide_allocatable:  # pods, containers and groups: what the request leaves unused
            cols.append(Column(f"{h} SLACK", slack_text, slack_value))
    if wide_allocatable:
        cols.append(
            Column(
                f"{h} ALLOCATABLE",
                lambda line: amount_text(resource, (line.allocatable or {}).get(resource, 0)),
                lambda line: amount_value(resource, (line.allocatable or {}).get(resource, 0)),
                wide=True,
            )
        )
    return cols


def pod_count(show: Show) -> Callable[[Line], str]:
    """pods/allocatable pods; with --available, the free slots/allocatable."""

    def text(line: Line) -> str:
        alloc = (line.allocatable or {}).get(COUNT, 0)
        shown = alloc // NANO - line.pods if show.available else line.pods
        return f"{shown}/{amount_text(COUNT, alloc)}"

    return text


def padding_text(row: NodeRow) -> str:
    breaches = row.breaches()
    if not breaches:
        return "ok"
    figures, alloc = row.padding_figures(), row.allocatable.get("memory", 0)
    return "BREACH " + ", ".join(f"{b} {percent_text(figures[b] or 0, alloc) or '0%'}" for b in breaches)


def age_column(now: datetime) -> Column:
    """-o wide's AGE, as kubectl get prints it (5d3h, 12m); csv/tsv carry whole seconds."""

    def seconds(line: Line) -> float | None:
        return age_seconds(line.created, now) if line.created else None

    def text(line: Line) -> str:
        age = seconds(line)
        return human_age(age) if age is not None else "<unknown>" if line.section in ("node", "pod") else ""

    def value(line: Line) -> int | None:
        age = seconds(line)
        return None if age is None else int(age)

    return Column("AGE", text, value, wide=True)


# -- the node view ----------------------------------------------------------------
def label_column(key: str) -> Column:
    return Column(label_header(key), lambda line: "" if line.source and line.source.is_total else line.labels.get(key, "<none>"))


def node_source(line: Line) -> NodeRow:
    assert line.source is not None  # node lines always carry their row
    return line.source


def node_name(line: Line) -> str:
    """The node, marked when it is NotReady or cordoned (as kubectl get nodes' STATUS says)."""
    state = line.source.state if line.source else ""
    return f"{line.node} ({state})" if state else line.node


def labels_text(line: Line) -> str:
    if line.source and line.source.is_total:
        return ""
    return ",".join(f"{k}={v}" for k, v in sorted(line.labels.items())) or "<none>"


def node_line(row: NodeRow) -> Line:
    return Line(
        row.name,
        row.requests,
        row.limits,
        row.usage,
        row.allocatable,
        labels=dict(row.labels),
        pods=row.pods,
        source=row,
        section="cluster" if row.is_total else "node",
        created=row.created,
    )


def node_columns(
    report: Report, resources: tuple[str, ...], label_keys: list[str], show: Show, now: datetime, all_labels: bool = False
) -> list[Column]:
    cols = [Column("NODE", node_name)]
    cols += [label_column(key) for key in label_keys]
    if all_labels:  # --show-labels, as kubectl get
        cols.append(Column("LABELS", labels_text))
    for r in resources:
        if r == COUNT:
            cols.append(Column("PODS", pod_count(show), lambda line: line.pods))
        else:
            cols += amount_columns(r, show, wide_allocatable=True)
    if COUNT not in resources:
        cols.append(Column("PODS", pod_count(show), lambda line: line.pods, wide=True))
    if "memory" in resources:
        cols.append(Column("MEM TARGET", lambda line: target_text(node_source(line).target), lambda line: round(node_source(line).target, 4)))
        cols.append(
            Column("PADDING", lambda line: padding_text(node_source(line)), lambda line: ",".join(node_source(line).breaches()) or "ok")
        )
    cols.append(age_column(now))
    return cols


# -- the pod and container views --------------------------------------------------
def missing_flag(missing: list[tuple[str, str]], container: str | None = None) -> str:
    names = sorted({f"{c}/{r}" if container is None else r for c, r in missing if container in (None, c)})
    return "no-requests:" + ",".join(names) if names else ""


def pod_lines(nodes: list[NodeRow], total: NodeRow, containers: bool) -> list[Line]:
    """The cluster row, then each node followed by its pods; in the container view each
    pod's own line (its effective figures, which its containers need not add up to:
    init peaks, pod-level resources, overhead) comes before its containers."""
    star = "*" if containers else ""
    lines = []
    if len(nodes) != 1:
        lines.append(Line("*", total.requests, total.limits, total.usage, total.allocatable, "*", "*", star, star, section="cluster"))
    for n in nodes:
        lines.append(Line(n.name, n.requests, n.limits, n.usage, n.allocatable, "*", "*", star, star, section="node", created=n.created))
        for p in n.pod_rows:
            lines.append(
                Line(
                    n.name,
                    p.requests,
                    p.limits,
                    p.usage,
                    None,
                    p.namespace,
                    p.name,
                    star,
                    "pod" if containers else "",
                    flags=missing_flag(p.missing),
                    node_allocatable=n.allocatable,
                    section="pod",
                    created=p.created,
                )
            )
            if not containers:
                continue
            for c in p.containers:
                lines.append(
                    Line(
                        n.name,
                        c.requests,
                        c.limits,
                        c.usage,
                        None,
                        p.namespace,
                        p.name,
                        c.name,
                        KINDS.get(c.kind, c.kind),
                        missing_flag(p.missing, c.name),
                        node_allocatable=n.allocatable,
                        section="container",
                    )
                )
    return lines


def unlisted_lines(nodes: list[NodeRow], total: NodeRow, containers: bool) -> list[Line]:
    """Nodes could not be listed: the total, then every pod (or container), no node lines."""
    pods = [line for line in pod_lines(nodes, total, containers) if line.pod != "*"]
    return [Line("*", total.requests, total.limits, total.usage, None, "*", "*", "*", section="cluster"), *pods]


def pod_columns(resources: tuple[str, ...], containers: bool, show: Show, now: datetime, node: bool = True) -> list[Column]:
    cols = [Column("NODE", lambda line: line.node)] if node else []
    cols += [Column("NAMESPACE", lambda line: line.namespace), Column("POD", lambda line: line.pod)]
    if containers:  # KIND in every view: an init container's figures do not add to the pod's
        cols += [Column("CONTAINER", lambda line: line.container), Column("KIND", lambda line: line.kind)]
    for r in resources:
        if r != COUNT:
            cols += amount_columns(r, show, wide_allocatable=False)
    cols.append(Column("FLAGS", lambda line: line.flags))
    cols.append(age_column(now))
    return cols


# -- the group view ----------------------------------------------------------------
def group_lines(report: Report, total: NodeRow) -> list[Line]:
    """One line per group, in --sort order (sort_report); node groups carry their own allocatable."""
    return [
        Line(
            "",
            g.requests,
            g.limits,
            g.usage,
            g.allocatable if isinstance(g, NodeGroupRow) else total.allocatable,
            pods=g.pods,
            group=g.name,
            section="group",
        )
        for g in report.groups.values()
    ]


def group_padding_text(group: NodeGroupRow) -> str:
    """Padding is judged per node: how many of the group's nodes breach."""
    return f"BREACH {len(group.breaching)}/{group.nodes} nodes" if group.breaching else "ok"


def group_columns(report: Report, resources: tuple[str, ...], show: Show) -> list[Column]:
    by = report.options.by
    title = "NAMESPACE" if by is None or by.label is None else label_header(by.label)
    on_nodes = by is not None and by.on_nodes
    rows = {g.name: g for g in report.groups.values() if isinstance(g, NodeGroupRow)}
    cols = [Column(title, lambda line: line.group)]
    if on_nodes:
        cols.append(Column("NODES", lambda line: str(rows[line.group].nodes), lambda line: rows[line.group].nodes))
    cols.append(Column("PODS", lambda line: str(line.pods), lambda line: line.pods))
    for r in resources:
        if r != COUNT:
            cols += amount_columns(r, show, wide_allocatable=on_nodes)
    if on_nodes and "memory" in resources:
        cols.append(
            Column("PADDING", lambda line: group_padding_text(rows[line.group]), lambda line: len(rows[line.group].breaching))
        )
    return cols


def request_column(resource: str) -> Column:
    return Column(
        f"{header(resource)} REQUESTS",
        lambda p: amount_text(resource, p.requests.get(resource, 0)),
        lambda p: amount_value(resource, p.requests.get(resource, 0)),
    )


def pending_columns(resources: tuple[str, ...], pod_header: str = "PENDING POD") -> list[Column]:
    """Pending pods: their effective requests (they hold nothing yet). In csv/tsv they share
    the main block's columns (NAMESPACE, POD, ... REQUESTS) under SECTION pending."""
    cols = [Column("NAMESPACE", lambda p: p.namespace), Column(pod_header, lambda p: p.name)]
    return cols + [request_column(r) for r in resources if r != COUNT]


# -- the machine contract ----------------------------------------------------------
def resources_json(row: NodeRow | GroupRow | PodRow, resources: tuple[str, ...], usage: Collection[str]) -> dict[str, Any]:
    """{resource: {allocatable?, requests, limits, usage?}} as JSON numbers in base units."""
    out: dict[str, Any] = {}
    for r in resources:
        if r == COUNT and isinstance(row, PodRow):
            continue
        entry: dict[str, Any] = {}
        if isinstance(row, (NodeRow, NodeGroupRow)):
            entry["allocatable"] = to_number(row.allocatable.get(r, 0))
        entry["requests"] = to_number(row.requests.get(r, 0))
        if r != COUNT:
            entry["limits"] = to_number(row.limits.get(r, 0))
        if r in usage and row.usage is not None and (r in USAGE_RESOURCES or r in row.usage):
            entry["usage"] = to_number(row.usage.get(r, 0))
        out[r] = entry
    return out


def pod_json(pod: PodRow, resources: tuple[str, ...], usage: Collection[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"namespace": pod.namespace, "name": pod.name, "resources": resources_json(pod, resources, usage)}
    if pod.created:
        out["creationTimestamp"] = pod.created
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
                        **({"usage": to_number(c.usage.get(r, 0))} if r in usage and c.usage is not None and r in USAGE_RESOURCES else {}),
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
    usage = report.metered if report.options.util else set()  # the resources whose usage is shown
    total = report.total()
    detail = report.options.detail is not Detail.NODES
    doc: dict[str, Any] = {
        "nodes": [
            {
                "name": n.name,
                "ready": n.ready,
                "schedulable": n.schedulable,
                "paddingTarget": n.target,
                "paddingBreach": bool(n.breaches()),
                "paddingBreaches": n.breaches(),
                "labels": dict(n.labels),
                **({"creationTimestamp": n.created} if n.created else {}),
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
    if not report.options.nodes_known:  # listing nodes is forbidden: the pods, each naming its node
        doc["nodes"] = []
        doc["pods"] = [{**pod_json(p, resources, usage), "node": p.node} for n in nodes for p in n.pod_rows]
    if report.options.by:
        doc["groups"] = [
            {
                "name": g.name,
                "pods": g.pods,
                "resources": resources_json(g, resources, usage),
                **({"nodes": g.nodes, "paddingBreachingNodes": g.breaching} if isinstance(g, NodeGroupRow) else {}),
            }
            for g in report.groups.values()
        ]
    return doc


# -- the one entry point ----------------------------------------------------------
def section(line: Line) -> str:
    return line.section


def emit_report(args: argparse.Namespace, report: Report, nodes: list[NodeRow], cluster: str, filters: str = "") -> None:
    """Print the report in the -o format, through render.emit."""
    resources = args.resources

    def tables() -> list[Table]:
        total = report.total()
        delimited = args.output in ("csv", "tsv")
        # csv/tsv: one header whatever the server answered (--util's columns stay, empty when metrics are missing)
        metered = frozenset(report.metered) | (frozenset((*USAGE_RESOURCES, STORAGE)) if delimited else frozenset())
        show = Show(
            report.options.util and (report.usage_known or delimited),
            not args.hide_requests,
            not args.hide_limits,
            args.available,
            metered,
        )
        now = datetime.now(timezone.utc)
        if report.options.by:
            breaching = {g.name for g in report.groups.values() if isinstance(g, NodeGroupRow) and g.breaching}
            main = Table(
                group_lines(report, total),
                group_columns(report, resources, show),
                highlight=lambda line: render.RED if line.group in breaching else "",
                section=section,
            )
        elif not report.options.nodes_known:  # pods only, without node columns
            containers = report.options.detail is Detail.CONTAINERS
            main = Table(unlisted_lines(nodes, total, containers), pod_columns(resources, containers, show, now, node=False), section=section)
        elif report.options.detail is not Detail.NODES:
            containers = report.options.detail is Detail.CONTAINERS
            main = Table(pod_lines(nodes, total, containers), pod_columns(resources, containers, show, now), section=section)
        else:
            main = Table(
                [node_line(n) for n in ([total, *nodes] if len(nodes) != 1 else nodes)],  # one node is its own total
                node_columns(report, resources, args.label_columns, show, now, args.show_labels),
                highlight=lambda line: render.RED if node_source(line).breaches() else "",
                section=section,
            )
        pending = pending_columns(resources, "POD" if delimited else "PENDING POD")
        return [main, Table(report.pending, pending, section=lambda _pod: "pending")]

    def html() -> str:
        from .html import page

        return page(report, nodes, resources, cluster, filters)

    render.emit(args.output, lambda: document(report, nodes, resources), tables, html)
