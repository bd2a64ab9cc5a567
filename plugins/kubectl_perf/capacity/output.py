"""How capacity prints: tables, csv/tsv, and the -o json/yaml contract, all read from the
row tree (compute.Report) and each row's Amounts."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import render
from ..model import Resources
from ..padding import BREACH, OVERCOMMIT, UNKNOWN, Tally, Verdict
from ..quantity import NANO, to_number
from ..render import Column, Table, age_seconds, human_age
from .compute import Container, Group, Node, Pod, Report, Row, Total
from .options import COUNT, STORAGE, USAGE_RESOURCES, Containers, Display, Nodes, groups_of
from .units import amount_text, amount_value, percent_of, target_text

if TYPE_CHECKING:
    from datetime import datetime

# What the KIND column says of each of compute's container kinds (JSON keeps compute's words).
KINDS = {"container": "app", "init": "init", "sidecar": "sidecar"}


def header(resource: str) -> str:
    return "PODS" if resource == COUNT else resource.upper()


def label_header(key: str) -> str:
    """kubectl -L style: the last part of the label key, upper-cased."""
    return key.rsplit("/", 1)[-1].upper()


# The percentages of a row are of its own allocatable (the cluster, a node, a group) or, for a
# pod or a container, of its node's; Owner says which rows of a table have their own.
Owner = Callable[[Row], Resources | None]


def own_allocatable(row: Row) -> Resources | None:
    """The allocatable a node, the cluster or a node group owns; None for pods and containers."""
    if isinstance(row, (Total, Node)) or (isinstance(row, Group) and row.nodes is not None):
        return row.amounts.allocatable
    return None


def node_allocatable(row: Row) -> Resources | None:
    """A pod's or a container's node's allocatable (kube-capacity's percentages); None for the rest."""
    return row.amounts.allocatable if isinstance(row, (Pod, Container)) else None


def section(row: Row) -> str:
    """csv/tsv's SECTION: cluster, node, group, pod or container."""
    if isinstance(row, Total):
        return "cluster"
    return "node" if isinstance(row, Node) else "group" if isinstance(row, Group) else "pod" if isinstance(row, Pod) else "container"


@dataclass(frozen=True)
class Show:
    """Which amount columns a table carries (kube-capacity's --hide-*, --available)."""

    util: bool = False
    requests: bool = True
    limits: bool = True
    available: bool = False  # node cells read "what is left/allocatable"
    metered: frozenset[str] = frozenset(USAGE_RESOURCES)  # resources with usage: UTIL columns


def amount_columns(resource: str, show: Show, wide_allocatable: bool, owner: Owner = own_allocatable) -> list[Column]:
    """REQUESTS, LIMITS, [UTIL, SLACK], [ALLOCATABLE] for one resource."""
    h = header(resource)
    util = show.util

    def parts(row: Row, part: str) -> Resources | None:
        a = row.amounts
        return a.requests if part == "requests" else a.limits if part == "limits" else a.usage

    def text(part: str) -> Callable[[Row], str]:
        def show_cell(row: Row) -> str:
            values = parts(row, part)
            if values is None or (part == "usage" and not row.amounts.measured(resource)):
                return "-"  # not measured (a node whose kubelet summary could not be read)
            amount = values.get(resource, 0)
            allocatable = owner(row)
            if show.available and allocatable is not None:
                alloc = allocatable.get(resource, 0)
                return f"{amount_text(resource, alloc - amount)}/{amount_text(resource, alloc)}"
            figures = []  # percentages, each truncated from the exact figures
            if allocatable is not None:  # a node, the cluster or a group: of its allocatable
                figures.append(percent_of(resource, amount, allocatable.get(resource, 0)))
            else:
                of_node = node_allocatable(row)
                if of_node is not None:  # a pod or a container: of its node, as kube-capacity
                    figures.append(percent_of(resource, amount, of_node.get(resource, 0)))
                if part == "usage":
                    of_request = percent_of(resource, amount, row.amounts.requests.get(resource, 0))
                    figures.append(f"{of_request} of req" if of_request is not None else None)
            shown = [f for f in figures if f is not None]
            return f"{amount_text(resource, amount)} ({', '.join(shown)})" if shown else amount_text(resource, amount)

        return show_cell

    def value(part: str) -> Callable[[Row], Any]:
        def cell(row: Row) -> Any:
            values = parts(row, part)
            return None if values is None else amount_value(resource, values.get(resource, 0))

        return cell

    def slack(row: Row) -> int | None:
        """What the request leaves unused, from the exact figures (rounded once, when printed)."""
        if row.amounts.usage is None or not row.amounts.requests.get(resource):
            return None
        return row.amounts.requests[resource] - row.amounts.usage.get(resource, 0)

    def slack_text(row: Row) -> str:
        left = slack(row)
        return "-" if left is None else amount_text(resource, left)

    def slack_value(row: Row) -> int | str | None:
        left = slack(row)
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
                lambda row: amount_text(resource, (owner(row) or {}).get(resource, 0)),
                lambda row: amount_value(resource, (owner(row) or {}).get(resource, 0)),
                wide=True,
            )
        )
    return cols


def pods_of(row: Row) -> int:
    return row.pods if isinstance(row, (Total, Node, Group)) else 0


def pod_count(show: Show) -> Callable[[Row], str]:
    """pods/allocatable pods; with --available, the free slots/allocatable."""

    def text(row: Row) -> str:
        alloc = (own_allocatable(row) or {}).get(COUNT, 0)
        shown = alloc // NANO - pods_of(row) if show.available else pods_of(row)
        return f"{shown}/{amount_text(COUNT, alloc)}"

    return text


def padding_of(row: Row) -> Verdict | Tally:
    """A node's verdict (padding.judge), or the cluster's and a node group's count of them."""
    padding = row.padding if isinstance(row, (Total, Node, Group)) else None
    assert padding is not None  # node and node-group tables hold these rows only
    return padding


def padding_text(row: Row) -> str:
    """`BREACH usage 86%`, `overcommit limits 94%`, `ok`; the cluster row and node groups:
    `BREACH 2/10 nodes; overcommit 7/10`. A node without a verdict (not listed) reads "-"."""
    padding = padding_of(row)
    return padding.text() if not isinstance(padding, Verdict) or padding.judged else "-"


def target_of(row: Row) -> str:
    """MEM TARGET: a node's target; the cluster's (or a group's) one target or range (50-90%)."""
    padding = padding_of(row)
    return padding.targets_text() if isinstance(padding, Tally) else target_text(padding.target)


def target_value(row: Row) -> float | str:
    """csv/tsv's MEM TARGET: the fraction; the cluster row's range as "0.5-0.9"."""
    padding = padding_of(row)
    if isinstance(padding, Verdict):
        return round(padding.target, 4)
    if padding.low is None or padding.high is None:
        return ""
    return round(padding.low, 4) if padding.low == padding.high else f"{round(padding.low, 4):g}-{round(padding.high, 4):g}"


def padding_colour(row: Row) -> str:
    """Red for a breach, yellow for overcommit or unknown usage (the table's colour follows the verdict)."""
    state = padding_of(row).state
    return render.RED if state == BREACH else render.YELLOW if state in (OVERCOMMIT, UNKNOWN) else ""


def created_of(row: Row) -> str:
    return row.created if isinstance(row, (Node, Pod)) else ""


def age_column(now: datetime) -> Column:
    """-o wide's AGE, as kubectl get prints it (5d3h, 12m); csv/tsv carry whole seconds."""

    def seconds(row: Row) -> float | None:
        created = created_of(row)
        return age_seconds(created, now) if created else None

    def text(row: Row) -> str:
        age = seconds(row)
        return human_age(age) if age is not None else "<unknown>" if isinstance(row, (Node, Pod)) else ""

    def value(row: Row) -> int | None:
        age = seconds(row)
        return None if age is None else int(age)

    return Column("AGE", text, value, wide=True)


# -- the node view ----------------------------------------------------------------
def label_column(key: str) -> Column:
    return Column(label_header(key), lambda row: row.labels.get(key, "<none>") if isinstance(row, Node) else "")


def node_name(row: Row) -> str:
    """The node, marked when it is NotReady or cordoned (as kubectl get nodes' STATUS says)."""
    if not isinstance(row, Node):
        return "*"
    return f"{row.name} ({row.state})" if row.state else row.name


def labels_text(row: Row) -> str:
    if not isinstance(row, Node):
        return ""
    return ",".join(f"{k}={v}" for k, v in sorted(row.labels.items())) or "<none>"


def node_columns(
    resources: tuple[str, ...], label_keys: tuple[str, ...], show: Show, now: datetime, all_labels: bool = False
) -> list[Column]:
    cols = [Column("NODE", node_name)]
    cols += [label_column(key) for key in label_keys]
    if all_labels:  # --show-labels, as kubectl get
        cols.append(Column("LABELS", labels_text))
    for r in resources:
        if r == COUNT:
            cols.append(Column("PODS", pod_count(show), pods_of))
        else:
            cols += amount_columns(r, show, wide_allocatable=True)
    if COUNT not in resources:
        cols.append(Column("PODS", pod_count(show), pods_of, wide=True))
    if "memory" in resources:
        cols.append(Column("MEM TARGET", target_of, target_value))
        cols.append(Column("PADDING", padding_text, padding_text))
    cols.append(age_column(now))
    return cols


# -- the pod and container views --------------------------------------------------
def missing_flag(missing: list[tuple[str, str]], container: str | None = None) -> str:
    names = sorted({f"{c}/{r}" if container is None else r for c, r in missing if container in (None, c)})
    return "no-requests:" + ",".join(names) if names else ""


def pod_rows(nodes: list[Node], total: Total, trimmed: bool = False) -> list[Row]:
    """The cluster row, then each node followed by its pods; in the container view each
    pod's own row (its effective figures, which its containers need not add up to:
    init peaks, pod-level resources, overhead) comes before its containers. One node is its
    own total, unless --only-breaching or --top left the others out (the total sums them all)."""
    rows: list[Row] = [total] if len(nodes) != 1 or trimmed else []
    for n in nodes:
        rows.append(n)
        for p in n.rows:
            rows.append(p)
            rows.extend(p.containers)
    return rows


def flags_text(row: Row) -> str:
    if isinstance(row, Pod):
        return missing_flag(row.missing)
    return missing_flag(row.pod.missing, row.name) if isinstance(row, Container) else ""


def pod_columns(resources: tuple[str, ...], containers: bool, show: Show, now: datetime, unlisted: bool = False) -> list[Column]:
    """NODE (not when nodes could not be listed), NAMESPACE, POD, [CONTAINER, KIND], amounts, FLAGS, AGE:
    the cluster and node rows read "*" in the pod columns."""
    star = "*" if containers else ""

    def pod_of(row: Row) -> Pod | None:
        return row if isinstance(row, Pod) else row.pod if isinstance(row, Container) else None

    def node(row: Row) -> str:
        pod = pod_of(row)
        return pod.node if pod is not None else row.name if isinstance(row, Node) else "*"

    def container(row: Row) -> str:
        # the cluster row without node rows reads "*" here (it stands for every container)
        return row.name if isinstance(row, Container) else "*" if unlisted and isinstance(row, Total) else star

    def kind(row: Row) -> str:
        if isinstance(row, Container):
            return KINDS.get(row.kind, row.kind)
        if isinstance(row, Pod):
            return "pod" if containers else ""
        return "" if unlisted else star

    cols = [] if unlisted else [Column("NODE", node)]
    cols += [
        Column("NAMESPACE", lambda row: pod.namespace if (pod := pod_of(row)) else "*"),
        Column("POD", lambda row: pod.name if (pod := pod_of(row)) else "*"),
    ]
    if containers:  # KIND in every view: an init container's figures do not add to the pod's
        cols += [Column("CONTAINER", container), Column("KIND", kind)]
    owner = (lambda _row: None) if unlisted else own_allocatable  # without nodes, the cluster row has no allocatable
    for r in resources:
        if r != COUNT:
            cols += amount_columns(r, show, wide_allocatable=False, owner=owner)
    if "memory" in resources and not unlisted:  # why a node is there under --only-breaching or --sort breach
        cols.append(Column("PADDING", node_padding_text, node_padding_text))
    cols.append(Column("FLAGS", flags_text))
    cols.append(age_column(now))
    return cols


def node_padding_text(row: Row) -> str:
    """PADDING in the pod views: the cluster's and each node's verdict, nothing on pod and container rows."""
    return padding_text(row) if isinstance(row, (Total, Node)) else ""


# -- the group view ----------------------------------------------------------------
def group_of(row: Row) -> Group:
    assert isinstance(row, Group)  # group tables hold groups (and, of node groups, the cluster row) only
    return row


def group_rows(report: Report) -> list[Row]:
    """The groups; node groups under the cluster row (`*`), which sums the whole scope and counts every
    node's verdict: --only-breaching or --top leave groups out, and `BREACH 13/40 nodes` stays said."""
    groups: list[Row] = list(report.groups.values())
    by = groups_of(report.options.view)
    return [report.total, *groups] if by is not None and by.on_nodes else groups


def group_columns(report: Report, resources: tuple[str, ...], show: Show) -> list[Column]:
    by = groups_of(report.options.view)
    title = "NAMESPACE" if by is None or by.label is None else label_header(by.label)
    on_nodes = by is not None and by.on_nodes
    cluster = report.total.amounts.allocatable

    def owner(row: Row) -> Resources | None:
        """A node group's own allocatable (the cluster row's, its own); a group of pods: the cluster's."""
        return own_allocatable(row) if isinstance(row, Total) or group_of(row).nodes is not None else cluster

    def nodes(row: Row) -> int | None:
        return row.padding.nodes if isinstance(row, Total) else group_of(row).nodes

    cols = [Column(title, lambda row: "*" if isinstance(row, Total) else group_of(row).name)]
    if on_nodes:
        cols.append(Column("NODES", lambda row: str(nodes(row)), nodes))
    cols.append(Column("PODS", lambda row: str(row.pods if isinstance(row, Total) else group_of(row).pods), lambda row: row.pods))
    for r in resources:
        if r != COUNT:
            cols += amount_columns(r, show, wide_allocatable=on_nodes, owner=owner)
    if on_nodes and "memory" in resources:
        cols.append(Column("MEM TARGET", target_of, target_value))
        cols.append(Column("PADDING", padding_text, padding_text))
    return cols


def request_column(resource: str) -> Column:
    return Column(
        f"{header(resource)} REQUESTS",
        lambda p: amount_text(resource, p.amounts.requests.get(resource, 0)),
        lambda p: amount_value(resource, p.amounts.requests.get(resource, 0)),
    )


def pending_columns(resources: tuple[str, ...], pod_header: str = "PENDING POD") -> list[Column]:
    """Pending pods: their effective requests (they hold nothing yet). In csv/tsv they share
    the main block's columns (NAMESPACE, POD, ... REQUESTS) under SECTION pending."""
    cols = [Column("NAMESPACE", lambda p: p.namespace), Column(pod_header, lambda p: p.name)]
    return cols + [request_column(r) for r in resources if r != COUNT]


# -- the machine contract ----------------------------------------------------------
def resources_json(row: Row, resources: tuple[str, ...], usage: Collection[str]) -> dict[str, Any]:
    """{resource: {allocatable?, requests, limits, usage?}} as JSON numbers in base units."""
    out: dict[str, Any] = {}
    amounts = row.amounts
    allocatable = own_allocatable(row)
    for r in resources:
        if r == COUNT and isinstance(row, (Pod, Container)):
            continue
        entry: dict[str, Any] = {}
        if allocatable is not None:
            entry["allocatable"] = to_number(allocatable.get(r, 0))
        entry["requests"] = to_number(amounts.requests.get(r, 0))
        if r != COUNT:
            entry["limits"] = to_number(amounts.limits.get(r, 0))
        if r in usage and amounts.measured(r):
            entry["usage"] = to_number((amounts.usage or {}).get(r, 0))
        out[r] = entry
    return out


def pod_json(pod: Pod, resources: tuple[str, ...], usage: Collection[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"namespace": pod.namespace, "name": pod.name, "resources": resources_json(pod, resources, usage)}
    if pod.created:
        out["creationTimestamp"] = pod.created
    if pod.missing:
        out["missingRequests"] = [{"container": c, "resource": r} for c, r in pod.missing]
    if pod.containers:
        out["containers"] = [{"name": c.name, "kind": c.kind, "resources": resources_json(c, resources, usage)} for c in pod.containers]
    return out


def verdict_json(v: Verdict) -> dict[str, Any]:
    """A node's padding verdict in the JSON contract (README): the state, the figures over target
    by what they count as, and the budget they were weighed against (bytes)."""
    if not v.judged:
        return {"padding": None, "paddingBreach": None, "paddingBreaches": [], "paddingOvercommits": []}
    return {
        "padding": v.state,
        "paddingBreach": bool(v.breaches),
        "paddingBreaches": list(v.breaches),
        "paddingOvercommits": list(v.overcommits),
        "paddingBudget": v.budget // NANO,  # bytes, rounded down
    }


def tally_json(t: Tally) -> dict[str, Any]:
    """The cluster's or a node group's verdicts counted: never a target or verdict of their own."""
    return {
        "padding": t.state,
        "paddingTargets": None if t.low is None else {"min": t.low, "max": t.high},
        "paddingBreachingNodes": list(t.breaching),
        "paddingOvercommittedNodes": list(t.overcommitted),
        "paddingUnknownNodes": list(t.unknown),  # usage not known (and no breach): they may breach
    }


def document(report: Report, resources: tuple[str, ...]) -> dict[str, Any]:
    """-o json / yaml: {"nodes": [...], "total": {...}, "pending": [...]} in base units."""
    usage = report.metered if report.options.util else set()  # the resources whose usage is shown
    total = report.total
    nodes = total.nodes
    detail = not isinstance(report.options.depth, Nodes)
    doc: dict[str, Any] = {
        "nodes": [
            {
                "name": n.name,
                "ready": n.ready,
                "schedulable": n.schedulable,
                "paddingTarget": n.padding.target,
                **verdict_json(n.padding),
                "labels": dict(n.labels),
                **({"creationTimestamp": n.created} if n.created else {}),
                "resources": resources_json(n, resources, usage),
                "pods": n.pods,
                **({"podDetails": [pod_json(p, resources, usage) for p in n.rows]} if detail else {}),
            }
            for n in nodes
        ],
        "total": {**tally_json(total.padding), "resources": resources_json(total, resources, usage), "pods": total.pods},
        "pending": [
            {"namespace": p.namespace, "name": p.name, "resources": {r: to_number(v) for r, v in p.amounts.requests.items()}}
            for p in report.pending
        ],
    }
    if not report.options.nodes_known:  # listing nodes is forbidden: the pods, each naming its node
        doc["nodes"] = []
        doc["pods"] = [{**pod_json(p, resources, usage), "node": p.node} for n in nodes for p in n.rows]
    if groups_of(report.options.view) is not None:
        doc["groups"] = [
            {
                "name": g.name,
                "pods": g.pods,
                "resources": resources_json(g, resources, usage),
                **({"nodes": g.nodes, **tally_json(g.padding)} if g.nodes is not None and g.padding is not None else {}),
            }
            for g in report.groups.values()
        ]
    return doc


# -- the one entry point ----------------------------------------------------------
def emit_report(report: Report, display: Display, cluster: str, filters: str = "") -> None:
    """Print the report in the -o format, through render.emit."""
    resources = display.resources

    def tables() -> list[Table]:
        total = report.total
        nodes = total.nodes
        delimited = display.output in ("csv", "tsv")
        # csv/tsv: one header whatever the server answered (--util's columns stay, empty when metrics are missing)
        metered = frozenset(report.metered) | (frozenset((*USAGE_RESOURCES, STORAGE)) if delimited else frozenset())
        show = Show(
            report.options.util and (report.usage_known or delimited),
            not display.hide_requests,
            not display.hide_limits,
            display.available,
            metered,
        )
        from datetime import datetime, timezone  # here, not at import: start-up time

        now = datetime.now(timezone.utc)
        containers = isinstance(report.options.depth, Containers)
        if groups_of(report.options.view) is not None:
            main = Table(
                group_rows(report),
                group_columns(report, resources, show),
                highlight=lambda row: padding_colour(row) if isinstance(row, Total) or group_of(row).padding is not None else "",
                section=section,
            )
        elif not report.options.nodes_known:  # pods only, without node columns
            rows: list[Row] = [total, *(r for r in pod_rows(nodes, total) if isinstance(r, (Pod, Container)))]
            main = Table(rows, pod_columns(resources, containers, show, now, unlisted=True), section=section)
        elif not isinstance(report.options.depth, Nodes):
            main = Table(pod_rows(nodes, total, display.trimmed), pod_columns(resources, containers, show, now), section=section)
        else:
            main = Table(
                [total, *nodes] if len(nodes) != 1 or display.trimmed else nodes,  # one node is its own total
                node_columns(resources, display.label_columns, show, now, display.show_labels),
                highlight=padding_colour,
                section=section,
            )
        pending = pending_columns(resources, "POD" if delimited else "PENDING POD")
        return [main, Table(report.pending, pending, section=lambda _pod: "pending")]

    def html() -> str:
        from .html import page

        return page(report, resources, cluster, filters, ordered=display.sort is not None)

    render.emit(display.output, lambda: document(report, resources), tables, html)
