"""Capacity arithmetic: fold nodes, pods and metrics into one row tree, kube-capacity's
clusterMetric idea kept exact: the cluster row (Total) -> nodes -> pods -> containers, or
groups; every row carries one Amounts record. Pure: plain API dicts in (see build), integer
nanos out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model import (
    PodResources,
    Resources,
    add,
    all_containers,
    container_amounts,
    holds_resources,
    node_allocatable,
    node_ready,
    node_schedulable,
    parse_resource_list,
    pod_resources,
)
from ..padding import Tally, Verdict, judge, tally, unjudged
from ..policy import Policy
from ..policy import missing_requests as missing_of
from ..quantity import NANO
from .options import COUNT, STORAGE, USAGE_RESOURCES, Containers, Depth, Nodes, Part, View, depth_of, groups_of, needs_pod_rows

ONE_POD = {COUNT: NANO}  # each scheduled pod takes one of the node's pod slots


@dataclass
class Amounts:
    """One row's figures per resource, in nanos (kube-capacity's resourceMetric)."""

    allocatable: Resources | None = None  # what the row's percentages are of (a pod's: its node's); None: none
    requests: Resources = field(default_factory=dict)
    limits: Resources = field(default_factory=dict)
    usage: Resources | None = None  # None: usage not known for this row
    # cpu or memory a node's usage source left out: the kubelets read once (--usage-window 0)
    # give no node CPU rate; sums over such a node (groups, the cluster) do not know it either
    unmeasured: frozenset[str] = frozenset()

    def measured(self, resource: str) -> bool:
        """Whether this row's usage of `resource` is known: metrics.k8s.io gives cpu and memory
        whenever it answers; other figures (ephemeral-storage) only where a kubelet gave one."""
        if self.usage is None or resource in self.unmeasured:
            return False
        return resource in USAGE_RESOURCES or resource in self.usage

    def amount(self, part: Part, resource: str) -> int | None:
        """One figure; None when it rests on usage that is not known."""
        if part is Part.REQUESTS:
            return self.requests.get(resource, 0)
        if part is Part.LIMITS:
            return self.limits.get(resource, 0)
        if part is Part.ALLOCATABLE:
            return (self.allocatable or {}).get(resource, 0)
        if self.usage is None or resource in self.unmeasured:
            return None
        used = self.usage.get(resource, 0)
        return used if part is Part.UTIL else self.requests.get(resource, 0) - used

    def percent(self, resource: str, part: Part, of: Part) -> float | None:
        """`part` as a percentage of `of`; None when either is unknown or `of` is 0."""
        value, whole = self.amount(part, resource), self.amount(of, resource)
        return None if value is None or not whole else value * 100 / whole


@dataclass
class Container:
    name: str
    kind: str  # container, sidecar or init
    amounts: Amounts
    pod: Pod = field(repr=False, compare=False)  # the pod it runs in


@dataclass
class Pod:
    namespace: str
    name: str
    node: str
    labels: Mapping[str, str]
    amounts: Amounts  # allocatable: its node's, as kube-capacity's percentages
    missing: list[tuple[str, str]]  # (container, resource) without the required requests
    containers: list[Container] = field(default_factory=list)
    created: str = ""  # metadata.creationTimestamp, for the AGE column


@dataclass
class Node:
    name: str
    labels: Mapping[str, str]
    taints: list[Mapping[str, Any]]
    amounts: Amounts
    target: float  # memory padding target
    pods: int = 0
    rows: list[Pod] = field(default_factory=list)  # the pods under it (pod and container views)
    ready: bool = True  # the Ready condition is True
    schedulable: bool = True  # not cordoned
    created: str = ""  # metadata.creationTimestamp, for the AGE column
    known: bool = True  # False: the row standing for nodes that could not be listed (no allocatable)
    # The whole node, whatever pods a filter shows: the padding verdict is judged on these.
    node_usage: Resources | None = None  # NodeMetrics; None: not known
    node_committed: Committed | None = None  # every pod's requests and limits; None: the row's own (no pod filter)
    padding: Verdict = field(default_factory=lambda: unjudged(0.0, None, 0))  # padding.judge, set once folded (Report.finish)

    @property
    def state(self) -> str:
        """ "" for a Ready, schedulable node; else as kubectl get nodes: NotReady, SchedulingDisabled."""
        return ",".join(s for s, on in (("NotReady", not self.ready), ("SchedulingDisabled", not self.schedulable)) if on)


@dataclass
class Total:
    """The cluster row, the root of the tree: sums over the shown nodes, whose rows it holds.
    Its padding is the nodes' verdicts counted (padding.tally), never a verdict on the sums."""

    amounts: Amounts
    padding: Tally
    pods: int = 0
    nodes: list[Node] = field(default_factory=list)  # by name, or in --sort order once sorted


@dataclass
class Group:
    """--by: pods rolled up by namespace or a pod label, or nodes by a node label. Padding is
    judged per node (a group's sum would let one full node hide behind an empty one: the kubelet
    evicts and the OOM killer kills per node), so a node group counts its nodes' verdicts."""

    name: str
    amounts: Amounts
    pods: int = 0
    nodes: int | None = None  # a node group's node count; None: a group of pods
    padding: Tally | None = None  # a node group's verdicts counted (padding.tally); None: a group of pods


Row = Total | Node | Pod | Container | Group


@dataclass(frozen=True)
class BuildOptions:
    policy: Policy
    view: View = Nodes()
    util: bool = False
    namespaces: frozenset[str] | None = None  # keep pods of these namespaces only (--namespace-labels)
    pods_filtered: bool = False  # -n, -l or --namespace-labels: rows sum the shown pods only
    nodes_known: bool = True  # False: listing nodes is forbidden; pods gather in one row (see unlisted)
    resources: PodResources = pod_resources  # a pod's effective requests and limits (the report shares them)
    usage_asked: bool = False  # node usage is read for the verdicts: a node without a figure is unknown, not ok

    @property
    def depth(self) -> Depth:
        return depth_of(self.view)


def build(
    options: BuildOptions,
    nodes: Iterable[Mapping[str, Any]],
    pod_pages: Iterable[Iterable[Mapping[str, Any]]],
    node_usage: Iterable[Mapping[str, Any]] | None = None,
    pod_usage: Iterable[Mapping[str, Any]] | None = None,
    node_committed: Mapping[str, Committed] | None = None,
    node_storage: Mapping[str, int] | None = None,
    pod_storage: Mapping[tuple[str, str], int] | None = None,
) -> Report:
    """The report from plain API objects: Node items, pages of Pod items, and the
    items of metrics.k8s.io NodeMetrics and PodMetrics (None: usage not known).
    Pages are folded one at a time, so a cluster's pods are never held whole.

    Under a pod filter (options.pods_filtered) node rows sum the shown pods, usage
    included (from PodMetrics), while the padding verdict stays on the whole node:
    its NodeMetrics and node_committed, every pod's requests and limits per node (whole_node_committed).

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
            row.node_committed = node_committed.get(name, Committed()) if node_committed is not None else None
            # the shown pods' sum; ephemeral-storage 0 is a measured 0 (a missing key reads "not measured")
            row.amounts.usage = {r: 0 for r in report.metered if r == STORAGE} if report.usage_known else None
    for items in pod_pages:
        report.add_pods(items)
    report.finish()
    return report


@dataclass
class Committed:
    """What a whole node's pods commit: their effective requests and limits, summed."""

    requests: Resources = field(default_factory=dict)
    limits: Resources = field(default_factory=dict)


def whole_node_committed(pod_pages: Iterable[Iterable[Mapping[str, Any]]]) -> dict[str, Committed]:
    """Every scheduled pod's effective requests and limits, summed per node name."""
    out: dict[str, Committed] = {}
    for items in pod_pages:
        for pod in items:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and holds_resources(pod):
                requests, limits = pod_resources(pod.get("spec") or {})
                committed = out.setdefault(node, Committed())
                add(committed.requests, requests)
                add(committed.limits, limits)
    return out


class Report:
    """Everything capacity shows, folded page by page (build() drives it)."""

    def __init__(self, options: BuildOptions) -> None:
        self.options = options
        self.nodes: dict[str, Node] = {}  # by name, in the order the API listed them
        self.pending: list[Pod] = []
        self.groups: dict[str, Group] = {}
        self.missing_pods = 0
        self.missing_containers = 0
        self.pod_usage: dict[tuple[str, str], dict[str, Resources]] = {}
        self.pod_storage: Mapping[tuple[str, str], int] = {}  # ephemeral-storage bytes used per pod
        self.metered: set[str] = set()  # the resources whose usage is known
        self.total = Total(Amounts({}), tally(()))  # the tree's root, once finished

    @property
    def usage_known(self) -> bool:
        return bool(self.metered)

    # -- folding ----------------------------------------------------------
    def add_nodes(self, items: Iterable[Mapping[str, Any]]) -> None:
        for node in items:
            meta = node.get("metadata") or {}
            labels = meta.get("labels") or {}
            self.nodes[meta.get("name", "")] = Node(
                meta.get("name", ""),
                labels,
                list((node.get("spec") or {}).get("taints") or []),
                Amounts(node_allocatable(node)),
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
                row.amounts.usage = row.node_usage = parse_resource_list(item.get("usage"))
                row.amounts.unmeasured = frozenset(r for r in USAGE_RESOURCES if r not in row.node_usage)

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
                if row.amounts.usage is None:
                    row.amounts.usage = {}
                row.amounts.usage[STORAGE] = used * NANO

    def add_pods(self, items: Iterable[Mapping[str, Any]]) -> None:
        opts = self.options
        detail = needs_pod_rows(opts.view)
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
            requests, limits = opts.resources(spec)
            missing = missing_of(spec, require)
            if missing:
                self.missing_pods += 1
                self.missing_containers += len({c for c, _r in missing})
            if not node_name:
                self.pending.append(Pod(namespace, meta.get("name", ""), "", meta.get("labels") or {}, Amounts({}, requests), missing))
                continue
            assert row is not None
            amounts = row.amounts
            add(amounts.requests, requests)
            add(amounts.limits, limits)
            add(amounts.requests, ONE_POD)
            row.pods += 1
            if summed_usage and amounts.usage is not None:
                add(amounts.usage, self._pod_usage(meta) or {})
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
        row: Node,
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
        labels = meta.get("labels") or {}
        alloc = row.amounts.allocatable
        pod = Pod(key[0], key[1], spec.get("nodeName") or row.name, labels, Amounts(alloc, requests, limits, usage), missing)
        pod.created = meta.get("creationTimestamp") or ""
        if not isinstance(opts.depth, Nodes):
            if isinstance(opts.depth, Containers):
                for kind, c in all_containers(spec):
                    name = c.get("name", "")
                    c_usage = used.get(name) if used is not None and kind != "init" else None
                    if used is not None and kind != "init" and c_usage is None:
                        c_usage = {}
                    amounts = Amounts(alloc, container_amounts(c, "requests"), container_amounts(c, "limits"), c_usage)
                    pod.containers.append(Container(name, kind, amounts, pod))
            row.rows.append(pod)
        by = groups_of(opts.view)
        if by is not None and not by.on_nodes:
            group_name = by.group_of(key[0], labels)
            group = self.groups.setdefault(group_name, Group(group_name, Amounts(None, usage=({} if self.usage_known else None))))
            group.pods += 1
            add(group.amounts.requests, requests)
            add(group.amounts.requests, ONE_POD)
            add(group.amounts.limits, limits)
            if group.amounts.usage is not None and usage is not None:
                add(group.amounts.usage, usage)

    def unlisted(self) -> Node:
        """The one row every scheduled pod goes in when nodes cannot be listed: it sums them,
        with no allocatable and no padding verdict (each pod row keeps its node's name)."""
        row = self.nodes.get("")
        if row is None:
            usage: Resources | None = {r: 0 for r in self.metered if r == STORAGE} if self.usage_known else None
            row = self.nodes[""] = Node("", {}, [], Amounts({}, usage=usage), self.options.policy.padding_memory, known=False)
        return row

    # -- results ----------------------------------------------------------
    def finish(self) -> None:
        """Once every page is folded: each node's padding verdict, the node groups, the cluster row."""
        for row in self.nodes.values():
            row.padding = self._verdict(row)
        by = groups_of(self.options.view)
        if by is not None and by.on_nodes and by.label is not None:
            self._group_nodes(by.label)
        self.total = self._total()

    def _verdict(self, row: Node) -> Verdict:
        """The padding verdict (padding.judge) on the whole node's memory: its usage (None:
        unknown), and the limits and requests of all its pods."""
        whole = row.node_committed
        limits = (row.amounts.limits if whole is None else whole.limits).get("memory", 0)
        requests = (row.amounts.requests if whole is None else whole.requests).get("memory", 0)
        usage = None if row.node_usage is None else row.node_usage.get("memory")
        if not row.known:
            return unjudged(row.target, usage, limits, requests)  # no allocatable, no budget: no verdict
        memory = (row.amounts.allocatable or {}).get("memory", 0)
        return judge(memory, row.target, usage, limits, requests, self.options.policy.levels, self.options.usage_asked)

    def _group_nodes(self, label: str) -> None:
        """--by node-label:KEY: fill groups from the node rows (nodes without the label: <none>)."""
        self.groups = {}
        members: dict[str, list[tuple[str, Verdict]]] = {}
        for row in self.nodes.values():
            name = row.labels.get(label, "<none>")
            group = self.groups.get(name)
            if group is None:
                group = self.groups[name] = Group(name, Amounts({}), nodes=0)
            assert group.nodes is not None and group.amounts.allocatable is not None
            group.nodes += 1
            group.pods += row.pods
            add(group.amounts.allocatable, row.amounts.allocatable or {})
            add(group.amounts.requests, row.amounts.requests)
            add(group.amounts.limits, row.amounts.limits)
            if row.amounts.usage is not None:
                if group.amounts.usage is None:
                    group.amounts.usage = {}
                add(group.amounts.usage, row.amounts.usage)
                group.amounts.unmeasured |= row.amounts.unmeasured
            members.setdefault(name, []).append((row.name, row.padding))
        for name, group in self.groups.items():
            group.padding = tally(members[name])

    def _total(self) -> Total:
        """The cluster row: sums over the shown nodes, and their padding verdicts counted."""
        rows = list(self.nodes.values())
        amounts = Amounts({}, usage={} if self.usage_known else None)
        assert amounts.allocatable is not None
        pods = 0
        for row in rows:
            add(amounts.allocatable, row.amounts.allocatable or {})
            add(amounts.requests, row.amounts.requests)
            add(amounts.limits, row.amounts.limits)
            if amounts.usage is not None and row.amounts.usage is not None:
                add(amounts.usage, row.amounts.usage)
                amounts.unmeasured |= row.amounts.unmeasured
            pods += row.pods
        padding = tally((row.name, row.padding) for row in rows)
        return Total(amounts, padding, pods, sorted(rows, key=lambda n: n.name))
