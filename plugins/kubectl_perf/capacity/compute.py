"""Capacity arithmetic: fold nodes, pods and metrics into per-node, per-pod and
per-group summaries. Pure: plain API dicts in, integer nanos out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model import Resources, all_containers, amounts, container_amounts, holds_resources, node_allocatable, pod_resources
from ..policy import Policy, missing_requests
from ..quantity import NANO

USAGE_RESOURCES = ("cpu", "memory")  # what metrics.k8s.io reports
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

    def percent(self, resource: str, part: str) -> float | None:
        return percent(getattr(self, part) or {}, self.allocatable, resource)

    def breaches(self) -> list[str]:
        """Which of usage and committed limits exceed target x allocatable memory."""
        budget = self.allocatable.get("memory", 0) * self.target
        found = []
        if self.usage is not None and self.usage.get("memory", 0) > budget:
            found.append("usage")
        if self.limits.get("memory", 0) > budget:
            found.append("limits")
        return found


@dataclass
class GroupRow:
    name: str
    pods: int = 0
    requests: Resources = field(default_factory=dict)
    limits: Resources = field(default_factory=dict)
    usage: Resources | None = None


def percent(values: Resources, allocatable: Resources, resource: str) -> float | None:
    alloc = allocatable.get(resource, 0)
    if not alloc:
        return None
    return values.get(resource, 0) * 100 / alloc


def add(total: Resources, more: Mapping[str, int]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


@dataclass
class Options:
    policy: Policy
    detail: str = "nodes"  # nodes, pods or containers
    by: str | None = None  # "namespace" or "label:KEY"
    util: bool = False
    namespaces: frozenset[str] | None = None  # keep pods of these namespaces only (--namespace-labels)


class Report:
    """Everything capacity shows, folded page by page."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.nodes: dict[str, NodeRow] = {}
        self.pending: list[PodRow] = []
        self.groups: dict[str, GroupRow] = {}
        self.missing_pods = 0
        self.missing_containers = 0
        self.pod_usage: dict[tuple[str, str], dict[str, Resources]] = {}
        self.usage_known = False

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
            )

    def add_node_usage(self, items: Iterable[Mapping[str, Any]]) -> None:
        self.usage_known = True
        for item in items:
            row = self.nodes.get((item.get("metadata") or {}).get("name", ""))
            if row is not None:
                row.usage = amounts(item.get("usage"))

    def add_pod_usage(self, items: Iterable[Mapping[str, Any]]) -> None:
        self.usage_known = True
        for item in items:
            meta = item.get("metadata") or {}
            self.pod_usage[(meta.get("namespace", ""), meta.get("name", ""))] = {
                c.get("name", ""): amounts(c.get("usage")) for c in item.get("containers") or ()
            }

    def add_pods(self, items: Iterable[Mapping[str, Any]]) -> None:
        opts = self.options
        detail = opts.detail != "nodes" or opts.by is not None
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
                continue  # on a node the filters left out
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
            if detail:
                self._detail(row, meta, spec, requests, limits, missing)

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
        usage: Resources | None = None
        if used is not None:
            usage = {}
            for per_container in used.values():
                add(usage, per_container)
        pod = PodRow(key[0], key[1], row.name, meta.get("labels") or {}, requests, limits, usage, missing)
        if opts.detail == "containers":
            for kind, c in all_containers(spec):
                name = c.get("name", "")
                c_usage = used.get(name) if used is not None and kind != "init" else None
                if used is not None and kind != "init" and c_usage is None:
                    c_usage = {}
                pod.containers.append(ContainerRow(name, kind, container_amounts(c, "requests"), container_amounts(c, "limits"), c_usage))
        if opts.detail != "nodes":
            row.pod_rows.append(pod)
        if opts.by:
            group_name = key[0] if opts.by == "namespace" else (meta.get("labels") or {}).get(opts.by[6:], "<none>")
            group = self.groups.setdefault(group_name, GroupRow(group_name, usage=({} if self.usage_known else None)))
            group.pods += 1
            add(group.requests, requests)
            add(group.requests, ONE_POD)
            add(group.limits, limits)
            if group.usage is not None and usage is not None:
                add(group.usage, usage)

    def reset_pods(self) -> Report:
        """Forget every pod folded so far (a list is restarted after 410 Gone)."""
        for row in self.nodes.values():
            row.requests, row.limits, row.pods, row.pod_rows = {}, {}, 0, []
        self.pending, self.groups = [], {}
        self.missing_pods = self.missing_containers = 0
        return self

    # -- results ----------------------------------------------------------
    def total(self) -> NodeRow:
        """The cluster row: sums over the shown nodes; target is allocatable-weighted."""
        total = NodeRow("*", {}, [], {}, 0.0, usage={} if self.usage_known else None)
        budget = 0.0
        for row in self.nodes.values():
            add(total.allocatable, row.allocatable)
            add(total.requests, row.requests)
            add(total.limits, row.limits)
            if total.usage is not None and row.usage is not None:
                add(total.usage, row.usage)
            total.pods += row.pods
            budget += row.target * row.allocatable.get("memory", 0)
        mem = total.allocatable.get("memory", 0)
        total.target = budget / mem if mem else self.options.policy.padding_memory
        return total
