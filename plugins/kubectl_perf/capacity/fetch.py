"""What capacity reads from the cluster, as plain API dicts: nodes (filtered),
metrics, namespaces, and the pod list page by page. No arithmetic here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..api import ApiError, Cluster, MetricsUnavailable, node_metrics_path, path_for, pod_metrics_path
from ..model import node_ready, node_schedulable
from ..running_pods import RUNNING_PODS
from ..usage import AUTO, KUBELET, cross_check, from_kubelets, kubelet_clock, not_served
from .options import CapacityOptions, NodeFilter, PodFilter
from .storage import StorageUsage
from .storage import read as read_summaries

A = TypeVar("A")
Obj = dict[str, Any]

# Finished pods hold nothing; the API server leaves them out for us.


@dataclass
class ClusterReads:
    """Everything capacity reads but the pods, which are too many to hold (see running_pods.with_running_pods)."""

    nodes: list[Obj]
    node_usage: list[Obj] | None = None  # NodeMetrics items; None: usage not known
    pod_usage: list[Obj] | None = None  # PodMetrics items; None: not asked for, or not known
    namespaces: frozenset[str] | None = None  # --namespace-labels: the namespaces it selects
    notes: list[str] = field(default_factory=list)  # what is missing and why, for the user
    usage_missing: bool = False  # --util asked for usage the cluster would not give
    nodes_forbidden: str = ""  # listing nodes is forbidden (the API server's words): pods only

    @property
    def note(self) -> str:
        return "; ".join(self.notes)


def read_cluster(cluster: Cluster, options: CapacityOptions) -> ClusterReads:
    """Nodes (they are few: 5,000 at most), the namespaces --namespace-labels selects, and
    with --util the metrics the plan asks for (per-pod metrics: pod, container and group
    views, and pod filters)."""
    plan, pods = options.plan, options.pods
    try:
        nodes: list[Obj] = cluster.fold(
            "/api/v1/nodes", list, lambda acc, items: acc.extend(items), {"labelSelector": options.nodes.selector}
        )
        reads = ClusterReads([n for n in nodes if node_wanted(n, options.nodes)])
    except ApiError as err:
        if err.status != 403:
            raise
        reads = namespace_only(options.need_nodes, str(err))
    if plan.namespaces:
        names: set[str] = set()
        cluster.fold(
            "/api/v1/namespaces",
            lambda: names,
            lambda acc, items: acc.update(i["metadata"]["name"] for i in items),
            {"labelSelector": pods.namespace_labels},
        )
        reads.namespaces = frozenset(names)
    if options.usage.source == KUBELET and (plan.pod_usage or plan.node_usage) and not reads.nodes_forbidden:
        use_kubelets(cluster, options, reads, "--usage-source kubelet")
        return reads
    # without nodes, usage comes from the pods: a namespace's pod metrics are readable with that namespace's rights
    if plan.pod_usage or (options.util and reads.nodes_forbidden):
        try:
            reads.pod_usage = cluster.get(pod_metrics_path(pods.namespace), {"labelSelector": pods.selector}).get("items") or []
        except MetricsUnavailable as err:
            if falls_back(cluster, err, options, reads):
                use_kubelets(cluster, options, reads, str(err))
                return reads
            reads.notes.append(f"{err}; usage columns are left out")
            reads.usage_missing = True
    if plan.node_usage and not reads.usage_missing and not reads.nodes_forbidden:
        try:
            reads.node_usage = cluster.get(node_metrics_path()).get("items") or []
        except MetricsUnavailable as err:
            if falls_back(cluster, err, options, reads):
                use_kubelets(cluster, options, reads, str(err))
                return reads
            if not options.util:  # read for --fail-on-breach alone: the verdict cannot see usage, exit 3
                reads.notes.append(f"node {err}; the padding verdict weighs committed figures only")
                reads.usage_missing = True
            elif not pods.filtered:
                reads.notes.append(f"{err}; usage columns are left out")
                reads.usage_missing = True
                reads.pod_usage = None
            else:  # shown usage comes from the pods; only the padding verdict misses the nodes' own
                reads.notes.append(f"node {err}; the padding verdict weighs committed figures only")
        else:  # metrics-server serves: are its figures fresh, and for every shown node?
            shown = node_names(reads.nodes)
            reads.notes.extend(cross_check(reads.node_usage, shown, kubelet_clock(cluster, shown, reads.node_usage)))
    return reads


def node_names(nodes: Iterable[Obj]) -> list[str]:
    return [(n.get("metadata") or {}).get("name", "") for n in nodes]


def falls_back(cluster: Cluster, err: MetricsUnavailable, options: CapacityOptions, reads: ClusterReads) -> bool:
    """--usage-source auto reads the shown nodes' kubelets when metrics.k8s.io is not served
    (usage.not_served: 404, 503, or a 403 where discovery finds no metrics group); a 403 from a
    metrics-server that serves is this user's RBAC, and stays a note."""
    if options.usage.source != AUTO or not reads.nodes or reads.nodes_forbidden:
        return False
    return not_served(cluster, err)


def use_kubelets(cluster: Cluster, options: CapacityOptions, reads: ClusterReads, why: str) -> None:
    """Node and pod usage from the shown nodes' kubelets (usage.py); nodes/proxy forbidden leaves
    usage out with one note (exit 3 under --fail-on-breach, as without metrics-server)."""
    got = from_kubelets(cluster, node_names(reads.nodes), options.usage.window, options.plan.pod_usage, options.pods.namespace, why)
    reads.notes.extend(got.notes)
    if not got.via:
        left_out = "usage columns are left out" if options.util else "the padding verdict weighs committed figures only"
        reads.notes.append(f"{got.unavailable}; {left_out}")
        reads.usage_missing = True
        reads.node_usage = reads.pod_usage = None
        return
    reads.node_usage = got.nodes if options.plan.node_usage else None
    reads.pod_usage = got.pods


def namespace_only(need_nodes: tuple[str, ...], why: str) -> ClusterReads:
    """kube-capacity #161: a user who may not list nodes still sees the pods (of -n) with
    their requests, limits and usage (their namespace's pod metrics), without node columns;
    a flag that needs the nodes is an error rather than silently dropped."""
    if need_nodes:
        raise ApiError(f"{why}; {', '.join(need_nodes)} needs the nodes", 403)
    return ClusterReads([], nodes_forbidden=why)


def every_pod(cluster: Cluster, chunk_size: int, use: Callable[[Iterable[list[Obj]]], A]) -> A | None:
    """Under a pod filter, use(pages of every running pod), for the padding verdict of whole
    nodes; None when the user may not list every pod (the verdict then weighs the shown pods)."""
    try:
        return cluster.consume(path_for("pods"), use, {"fieldSelector": RUNNING_PODS}, limit=chunk_size)
    except ApiError as err:
        if err.status == 403:
            return None
        raise


def nodes_of_shown_pods(cluster: Cluster, pods: PodFilter, namespaces: frozenset[str] | None, chunk_size: int) -> set[str]:
    """Under a pod filter, the nodes its running pods are on: only their kubelet summaries
    matter (rows sum the shown pods), and a namespace's pods are a far smaller read than
    every node's summary."""
    found: set[str] = set()

    def add(acc: set[str], items: list[Obj]) -> None:
        for pod in items:
            if namespaces is None or (pod.get("metadata") or {}).get("namespace") in namespaces:
                acc.add((pod.get("spec") or {}).get("nodeName") or "")

    query = {"labelSelector": pods.selector, "fieldSelector": RUNNING_PODS}
    return cluster.fold(path_for("pods", pods.namespace), lambda: found, add, query, limit=chunk_size) - {""}


def node_wanted(node: Mapping[str, Any], wanted: NodeFilter) -> bool:
    """--no-taint, --node-taints and --schedulable-only, which the API server cannot filter by."""
    taints = (node.get("spec") or {}).get("taints") or []
    if wanted.no_taint and taints:
        return False
    if not all(t.on(taints) != t.exclude for t in wanted.taints):
        return False
    return not wanted.schedulable_only or (node_ready(node) and node_schedulable(node))


def read_storage(cluster: Cluster, options: CapacityOptions, reads: ClusterReads) -> StorageUsage | None:
    """ephemeral-storage usage when the plan asks for it: metrics.k8s.io has no disk, the
    kubelets' summaries do; under a pod filter only the nodes of the shown pods are asked
    (rows sum the shown pods). None: not asked for, or no node to ask."""
    if not options.plan.storage or not reads.nodes:
        return None
    names = [(n.get("metadata") or {}).get("name", "") for n in reads.nodes]
    if options.pods.filtered:
        on = nodes_of_shown_pods(cluster, options.pods, reads.namespaces, options.chunk_size)
        names = [n for n in names if n in on]
    return read_summaries(cluster, names)
