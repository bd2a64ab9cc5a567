"""Capacity arithmetic: fold nodes, pods and metrics into per-node, per-pod and
per-group summaries. Pure: plain API dicts in (see build), integer nanos out."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model import (
    Resources,
    add,
    all_containers,
    container_amounts,
    holds_resources,
    node_allocatable,
    node_ready,
    node_schedulable,
    padding_breaches,
    parse_resource_list,
    percent,
    pod_resources,
)
from ..policy import Policy, missing_requests
from ..quantity import NANO

USAGE_RESOURCES = ("cpu", "memory")  # what metrics.k8s.io reports
STORAGE = "ephemeral-storage"  # its usage comes from the kubelets' /stats/summary (storage.py)
COUNT = "pods"  # the pseudo-resource: pods scheduled against allocatable pods
ONE_POD = {COUNT: NANO}  # each scheduled pod takes one of the node's pod slots


@dataclass
class ContainerRow:
    name: str
    kind: str  # container, sidecar or init
    requests: Resources
    limits: Resources
    usage: Resources | None


@dataclass
class PodRow:
    namespace: str
    name: str
    node: str
    labels: Mapping[str, str]
    requests: Resources
    limits: Resources
    usage: Resources | None
    missing: list[tuple[str, str]]
    containers: list[ContainerRow] = field(default_factory=list)
    allocatable: Resources = field(default_factory=dict)  # its node's: pod percentages are of it, as kube-capacity's
    created: str = ""  # metadata.creationTimestamp, for the AGE column


@dataclass
class NodeRow:
    name: str
    labels: Mapping[str, str]
    taints: list[Mapping[str, Any]]
    allocatable: Resources
    target: float
    requests: Resources = field(default_factory=dict)
    limits: Resources = field(default_factory=dict)
    usage: Resources | None = None
    pods: int = 0
    pod_rows: list[PodRow] = field(default_factory=list)
    is_total: bool = False  # the cluster row: sums over the shown nodes
    ready: bool = True  # the Ready condition is True
    schedulable: bool = True  # not cordoned
    # The whole node, whatever pods a filter shows: the padding verdict is judged on these.
    node_usage: Resources | None = None  # NodeMetrics; None: not known
    node_limits: Resources | None = None  # every pod's limits; None: the same as limits (no pod filter)
    created: str = ""  # metadata.creationTimestamp, for the AGE column
    known: bool = True  # False: the row standing for nodes that could not be listed (no allocatable)

    def percent(self, resource: str, part: str) -> float | None:
        return percent(getattr(self, part) or {}, self.allocatable, resource)

    @property
    def state(self) -> str:
        """ "" for a Ready, schedulable node; else as kubectl get nodes: NotReady, SchedulingDisabled."""
        return ",".join(s for s, on in (("NotReady", not self.ready), ("SchedulingDisabled", not self.schedulable)) if on)

    def padding_figures(self) -> dict[str, int | None]:
        """Memory the padding verdict weighs: the whole node's usage (None: unknown) and limits."""
        limits = self.limits if self.node_limits is None else self.node_limits
        return {"usage": None if self.node_usage is None else self.node_usage.get("memory", 0), "limits": limits.get("memory", 0)}

    def breaches(self) -> list[str]:
        """Which of the whole node's usage and committed limits exceed the memory padding budget."""
        if not self.known:
            return []  # no allocatable, no budget: no verdict
        figures = self.padding_figures()
        return padding_breaches(self.allocatable.get("memory", 0), self.target, figures["usage"], figures["limits"] or 0)


@dataclass
class GroupRow:
    name: str
    pods: int = 0
    requests: Resources = field(default_factory=dict)
    limits: Resources = field(default_factory=dict)
    usage: Resources | None = None


@dataclass
class NodeGroupRow(GroupRow):
    """--by node-label:KEY: the nodes sharing a label value, summed. Padding is judged per
    node (a group's sum would let one full node hide behind an empty one: the kubelet
    evicts and the OOM killer kills per node), so the row counts its breaching nodes."""

    allocatable: Resources = field(default_factory=dict)
    nodes: int = 0
    breaching: list[str] = field(default_factory=list)  # names of its nodes that breach


class Detail(enum.Enum):
    """How deep the rows go under each node."""

    NODES = "nodes"
    PODS = "pods"
    CONTAINERS = "containers"


@dataclass(frozen=True)
class GroupBy:
    """--by: pods rolled up by namespace (label None) or by the value of a pod label;
    with on_nodes, nodes rolled up by the value of a node label."""

    label: str | None = None
    on_nodes: bool = False

    @property
    def title(self) -> str:
        return self.label if self.label is not None else "namespace"

    def group_of(self, namespace: str, labels: Mapping[str, str]) -> str:
        return namespace if self.label is None else labels.get(self.label, "<none>")


@dataclass
class Options:
    policy: Policy
    detail: Detail = Detail.NODES
    by: GroupBy | None = None
    util: bool = False
    namespaces: frozenset[str] | None = None  # keep pods of these namespaces only (--namespace-labels)
    pods_filtered: bool = False  # -n, -l or --namespace-labels: rows sum the shown pods only
    nodes_known: bool = True  # False: listing nodes is forbidden; pods gather in one row (see unlisted)


def build(
    options: Options,
    nodes: Iterable[Mapping[str, Any]],
    pod_pages: Iterable[Iterable[Mapping[str, Any]]],
    node_usage: Iterable[Mapping[str, Any]] | None = None,
    pod_usage: Iterable[Mapping[str, Any]] | None = None,
    node_limits: Mapping[str, Resources] | None = None,
    node_storage: Mapping[str, int] | None = None,
    pod_storage: Mapping[tuple[str, str], int] | None = None,
) -> Report:
    """The report from plain API objects: Node items, pages of Pod items, and the
    items of metrics.k8s.io NodeMetrics and PodMetrics (None: usage not known).
    Pages are folded one at a time, so a cluster's pods are never held whole.

    Under a pod filter (options.pods_filtered) node rows sum the shown pods, usage
    included (from PodMetrics), while the padding verdict stays on the whole node:
    its NodeMetrics and node_limits, every pod's limits per node (see whole_node_limits).

    node_storage and pod_storage: ephemeral-storage bytes used per node and per (namespace,
    pod), from the kubelets' /stats/summary (None: not read); a node missing from
    node_storage shows no ephemeral-storage usage rather than 0."""
    report = Report(options)
    report.add_nodes(nodes)
    if node_usage is not None:
        report.add_node_usage(node_usage)
    if pod_usage is not None:
        report.add_pod_usage(pod_usage)
    if node_storage is not None and pod_storage is not None:
        report.add_storage(node_storage, pod_storage)
    if options.pods_filtered:
        for name, row in report.nodes.items():
            row.node_limits = dict((node_limits or {}).get(name, {})) if node_limits is not None else None
            # the shown pods' sum; ephemeral-storage 0 is a measured 0 (a missing key reads "not measured")
            row.usage = {r: 0 for r in report.metered if r == STORAGE} if report.usage_known else None
    for items in pod_pages:
        report.add_pods(items)
    if options.by is not None and options.by.on_nodes and options.by.label is not None:
        report.group_nodes(options.by.label)
    return report


def whole_node_limits(pod_pages: Iterable[Iterable[Mapping[str, Any]]]) -> dict[str, Resources]:
    """Every scheduled pod's effective limits, summed per node name."""
    out: dict[str, Resources] = {}
    for items in pod_pages:
        for pod in items:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and holds_resources(pod):
                add(out.setdefault(node, {}), pod_resources(pod.get("spec") or {})[1])
    return out


class Report:
    """Everything capacity shows, folded page by page (build() drives it)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.nodes: dict[str, NodeRow] = {}
        self.pending: list[PodRow] = []
        self.groups: dict[str, GroupRow] = {}
        self.missing_pods = 0
        self.missing_containers = 0
        self.pod_usage: dict[tuple[str, str], dict[str, Resources]] = {}
        self.pod_storage: Mapping[tuple[str, str], int] = {}  # ephemeral-storage bytes used per pod
        self.metered: set[str] = set()  # the resources whose usage is known

    @property
    def usage_known(self) -> bool:
        return bool(self.metered)

    # -- folding ----------------------------------------------------------
    def add_nodes(self, items: Iterable[Mapping[str, Any]]) -> None:
        for node in items:
            meta = node.get("metadata") or {}
            labels = meta.get("labels") or {}
            alloc = node_allocatable(node)
            self.nodes[meta.get("name", "")] = NodeRow(
                meta.get("name", ""),
                labels,
                list((node.get("spec") or {}).get("taints") or []),
                alloc,
                self.options.policy.padding_target(labels),
                ready=node_ready(node),
                schedulable=node_schedulable(node),
                created=meta.get("creationTimestamp") or "",
            )

    def add_node_usage(self, items: Iterable[Mapping[str, Any]]) -> None:
        self.metered.update(USAGE_RESOURCES)
        for item in items:
            row = self.nodes.get((item.get("metadata") or {}).get("name", ""))
            if row is not None:
                row.usage = row.node_usage = parse_resource_list(item.get("usage"))

    def add_pod_usage(self, items: Iterable[Mapping[str, Any]]) -> None:
        self.metered.update(USAGE_RESOURCES)
        for item in items:
            meta = item.get("metadata") or {}
            self.pod_usage[(meta.get("namespace", ""), meta.get("name", ""))] = {
                c.get("name", ""): parse_resource_list(c.get("usage")) for c in item.get("containers") or ()
            }

    def add_storage(self, nodes: Mapping[str, int], pods: Mapping[tuple[str, str], int]) -> None:
        """ephemeral-storage use in bytes: each node's filesystem, and each pod's."""
        if not nodes and not pods:
            return  # nothing could be read: no column of zeros
        self.metered.add(STORAGE)
        self.pod_storage = pods
        for name, used in nodes.items():
            row = self.nodes.get(name)
            if row is not None:
                if row.usage is None:
                    row.usage = {}
                row.usage[STORAGE] = used * NANO

    def add_pods(self, items: Iterable[Mapping[str, Any]]) -> None:
        opts = self.options
        detail = opts.detail is not Detail.NODES or (opts.by is not None and not opts.by.on_nodes)
        summed_usage = opts.pods_filtered and self.usage_known
        require = opts.policy.require_requests
        for pod in items:
            if not holds_resources(pod):
                continue
            meta = pod.get("metadata") or {}
            namespace = meta.get("namespace", "")
            if opts.namespaces is not None and namespace not in opts.namespaces:
                continue
            spec = pod.get("spec") or {}
            node_name = spec.get("nodeName") or ""
            row = self.nodes.get(node_name)
            if node_name and row is None:
                if opts.nodes_known:
                    continue  # on a node the filters left out
                row = self.unlisted()
            requests, limits = pod_resources(spec)
            missing = missing_requests(spec, require)
            if missing:
                self.missing_pods += 1
                self.missing_containers += len({c for c, _r in missing})
            if not node_name:
                self.pending.append(PodRow(namespace, meta.get("name", ""), "", meta.get("labels") or {}, requests, {}, None, missing))
                continue
            assert row is not None
            add(row.requests, requests)
            add(row.limits, limits)
            add(row.requests, ONE_POD)
            row.pods += 1
            if summed_usage and row.usage is not None:
                add(row.usage, self._pod_usage(meta) or {})
            if detail:
                self._detail(row, meta, spec, requests, limits, missing)

    def _pod_usage(self, meta: Mapping[str, Any]) -> Resources | None:
        """A pod's usage summed over its containers, and its ephemeral-storage; None when
        neither metrics nor summaries list it."""
        key = (meta.get("namespace", ""), meta.get("name", ""))
        return self._with_storage(key, self.pod_usage.get(key))

    def _with_storage(self, key: tuple[str, str], used: Mapping[str, Resources] | None) -> Resources | None:
        usage: Resources | None = None
        if used is not None:
            usage = {}
            for per_container in used.values():
                add(usage, per_container)
        stored = self.pod_storage.get(key)
        if stored is not None:
            usage = usage if usage is not None else {}
            usage[STORAGE] = stored * NANO
        return usage

    def _detail(
        self,
        row: NodeRow,
        meta: Mapping[str, Any],
        spec: Mapping[str, Any],
        requests: Resources,
        limits: Resources,
        missing: list[tuple[str, str]],
    ) -> None:
        opts = self.options
        key = (meta.get("namespace", ""), meta.get("name", ""))
        used = self.pod_usage.get(key) if self.usage_known else None
        usage = self._with_storage(key, used)
        pod = PodRow(key[0], key[1], spec.get("nodeName") or row.name, meta.get("labels") or {}, requests, limits, usage, missing, allocatable=row.allocatable)
        pod.created = meta.get("creationTimestamp") or ""
        if opts.detail is Detail.CONTAINERS:
            for kind, c in all_containers(spec):
                name = c.get("name", "")
                c_usage = used.get(name) if used is not None and kind != "init" else None
                if used is not None and kind != "init" and c_usage is None:
                    c_usage = {}
                pod.containers.append(ContainerRow(name, kind, container_amounts(c, "requests"), container_amounts(c, "limits"), c_usage))
        if opts.detail is not Detail.NODES:
            row.pod_rows.append(pod)
        if opts.by and not opts.by.on_nodes:
            group_name = opts.by.group_of(key[0], meta.get("labels") or {})
            group = self.groups.setdefault(group_name, GroupRow(group_name, usage=({} if self.usage_known else None)))
            group.pods += 1
            add(group.requests, requests)
            add(group.requests, ONE_POD)
            add(group.limits, limits)
            if group.usage is not None and usage is not None:
                add(group.usage, usage)

    def unlisted(self) -> NodeRow:
        """The one row every scheduled pod goes in when nodes cannot be listed: it sums them,
        with no allocatable and no padding verdict (each pod row keeps its node's name)."""
        row = self.nodes.get("")
        if row is None:
            usage: Resources | None = {r: 0 for r in self.metered if r == STORAGE} if self.usage_known else None
            row = self.nodes[""] = NodeRow("", {}, [], {}, self.options.policy.padding_memory, usage=usage, known=False)
        return row

    # -- results ----------------------------------------------------------
    def group_nodes(self, label: str) -> None:
        """--by node-label:KEY: fill groups from the node rows (nodes without the label: <none>)."""
        self.groups = {}
        for row in self.nodes.values():
            name = row.labels.get(label, "<none>")
            group = self.groups.get(name)
            if group is None:
                group = self.groups[name] = NodeGroupRow(name)
            assert isinstance(group, NodeGroupRow)
            group.nodes += 1
            group.pods += row.pods
            add(group.allocatable, row.allocatable)
            add(group.requests, row.requests)
            add(group.limits, row.limits)
            if row.usage is not None:
                if group.usage is None:
                    group.usage = {}
                add(group.usage, row.usage)
            if row.breaches():
                group.breaching.append(row.name)

    def total(self) -> NodeRow:
        """The cluster row: sums over the shown nodes; target is allocatable-weighted."""
        total = NodeRow("*", {}, [], {}, 0.0, usage={} if self.usage_known else None, is_total=True)
        rows = list(self.nodes.values())
        if any(r.node_usage is not None for r in rows):
            total.node_usage = {}
        if any(r.node_limits is not None for r in rows):
            total.node_limits = {}
        budget = 0.0
        for row in rows:
            add(total.allocatable, row.allocatable)
            add(total.requests, row.requests)
            add(total.limits, row.limits)
            if total.usage is not None and row.usage is not None:
                add(total.usage, row.usage)
            if total.node_usage is not None and row.node_usage is not None:
                add(total.node_usage, row.node_usage)
            if total.node_limits is not None:
                add(total.node_limits, row.limits if row.node_limits is None else row.node_limits)
            total.pods += row.pods
            budget += row.target * row.allocatable.get("memory", 0)
        mem = total.allocatable.get("memory", 0)
        total.target = budget / mem if mem else self.options.policy.padding_memory
        return total
