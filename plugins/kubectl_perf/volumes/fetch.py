"""Plain data out of the cluster for `kubectl perf volumes`: the ReplicaSets' and Jobs' owners (a
pod's workload), the pods (folded page by page into what their specs say about storage), claims,
volumes, the nodes' labels, and each node's /stats/summary and /configz through the API server's
node proxy, 16 nodes at a time. Pods bound to a node that does not exist are one note per node.

A node whose summary cannot be read is one note; a 403 on nodes/proxy (a separate RBAC grant
from nodes) stops the reads with one note. A /configz that cannot be read leaves that node on
the kubelet's default eviction thresholds, said so."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api import ApiError, Cluster, path_for
from ..kubelet import CONCURRENCY, NODE_TIMEOUT, each_node, node_error, proxy_path
from ..owner_lists import read_owners
from ..owners import Owners
from ..running_pods import with_running_pods
from .compute import NodeStats, PodVolumes, node_stats, pod_volumes
from .flags import VolumesPlan

STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"


@dataclass
class Reads:
    pods: list[PodVolumes] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    pvs: list[dict[str, Any]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    node_labels: dict[str, Mapping[str, str]] = field(default_factory=dict)
    stats: dict[str, NodeStats] = field(default_factory=dict)
    eviction: dict[str, Mapping[str, str] | None] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)  # nodes the API server says do not exist (404 NotFound on the proxy)
    notes: list[str] = field(default_factory=list)


def _slim(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What the report reads of a claim or volume (the rest of a page is let go)."""
    meta = obj.get("metadata") or {}
    return {
        "metadata": {k: meta[k] for k in ("name", "namespace", "creationTimestamp") if k in meta},
        "spec": obj.get("spec") or {},
        "status": obj.get("status") or {},
    }


def pods(cluster: Cluster, plan: VolumesPlan, owners: Owners) -> list[PodVolumes]:
    def use(pages: Iterable[list[dict[str, Any]]]) -> list[PodVolumes]:
        return [pod_volumes(p, owners) for items in pages for p in items]

    return with_running_pods(cluster, plan.namespace, plan.selector, plan.chunk_size, use)


def listed(cluster: Cluster, path: str, what: str, chunk_size: int, notes: list[str]) -> list[dict[str, Any]]:
    """Every object of a list, slimmed; a refused list (403) is a note and nothing."""

    def use(pages: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        return [_slim(o) for items in pages for o in items]

    try:
        return cluster.consume(path, use, limit=chunk_size)
    except ApiError as err:
        if err.status != 403:
            raise
        notes.append(f"cannot list {what}: {err}")
        return []


def nodes(cluster: Cluster, plan: VolumesPlan, chosen: Sequence[PodVolumes], notes: list[str]) -> dict[str, Mapping[str, str]]:
    """The nodes to read, with their labels: those hosting the selected pods under -n/-l, else
    every node. A nodes list RBAC refuses leaves the pods' nodes, without labels."""
    hosting = {p.node for p in chosen if p.node}
    labels: dict[str, Mapping[str, str]] = {}

    def add(acc: dict[str, Mapping[str, str]], items: list[dict[str, Any]]) -> None:
        for node in items:
            meta = node.get("metadata") or {}
            if not plan.narrowed or meta.get("name") in hosting:
                acc[meta.get("name", "")] = meta.get("labels") or {}

    try:
        labels = cluster.fold(path_for("nodes"), dict, add, limit=plan.chunk_size)
    except ApiError as err:
        if err.status != 403:
            raise
        notes.append(f"cannot list nodes ({err}): reading the nodes that host the pods, without their pools")
        labels = {n: {} for n in sorted(hosting)}
    return labels


def kubelets(cluster: Cluster, names: Sequence[str], into: Reads, concurrency: int = CONCURRENCY, timeout: float = NODE_TIMEOUT) -> None:
    """Each node's summary and /configz, at most `concurrency` nodes at a time (kubelet.each_node)."""
    no_config: dict[str, str] = {}

    def one(node: str) -> tuple[NodeStats, Mapping[str, str] | None, str]:
        summary = cluster.get(proxy_path(node, "summary"), timeout=timeout)
        stats = node_stats(summary if isinstance(summary, dict) else {})  # folded here: no whole summary is kept
        eviction: Mapping[str, str] | None = None
        why = ""
        try:
            config = cluster.get(proxy_path(node, "configz"), timeout=timeout)
            hard = ((config or {}).get("kubeletconfig") or {}).get("evictionHard") if isinstance(config, dict) else None
            if isinstance(hard, dict):
                eviction = {str(k): str(v) for k, v in hard.items()}
            else:
                why = "no kubeletconfig.evictionHard in it"
        except ApiError as err:
            why = {404: "the kubelet does not serve it (404)", 403: "forbidden (403)"}.get(err.status, str(node_error(node, err)))
        return stats, eviction, why

    reads = each_node(names, one, concurrency)
    for node, (stats, eviction, why) in reads.got.items():
        into.stats[node] = stats
        into.eviction[node] = eviction
        if eviction is None:
            no_config[node] = why
    into.gone |= reads.gone  # a pod bound to a node that is gone: one note per node (read())
    failed = {node: line for node, line in reads.failed.items() if node not in reads.gone}
    if reads.forbidden:
        into.notes.append(f"no volume figures: reading the kubelet's /stats/summary needs get on nodes/proxy: {reads.forbidden}")
    for node in sorted(failed):
        into.notes.append(f"{failed[node]}: its volumes show no figures")
    if no_config:
        first = sorted(no_config)[0]
        more = f" (and {len(no_config) - 1} more)" if len(no_config) > 1 else ""
        into.notes.append(
            f"eviction thresholds are the kubelet's defaults on {len(no_config)} of {len(into.stats)} nodes: "
            f"/configz of {first} not readable: {no_config[first]}{more}"
        )


def read(cluster: Cluster, plan: VolumesPlan) -> Reads:
    """The ReplicaSets and Jobs (the pods' workloads), pods (they say which nodes to read), then
    claims, volumes, classes, nodes, kubelets."""
    reads = Reads()
    reads.pods = pods(cluster, plan, read_owners(cluster, plan.namespace, reads.notes, plan.chunk_size))
    reads.claims = listed(
        cluster, path_for("persistentvolumeclaims", plan.namespace), "persistentvolumeclaims", plan.chunk_size, reads.notes
    )
    reads.pvs = listed(
        cluster, path_for("persistentvolumes"), "persistentvolumes (no PV capacities, no Released volumes)", plan.chunk_size, reads.notes
    )
    classes = listed(cluster, STORAGE_CLASSES, "storageclasses", plan.chunk_size, reads.notes)
    reads.classes = sorted((c.get("metadata") or {}).get("name", "") for c in classes)
    reads.node_labels = nodes(cluster, plan, reads.pods, reads.notes)
    kubelets(cluster, sorted(reads.node_labels), reads)
    bound: dict[str, list[str]] = {}
    for pod in reads.pods:
        if pod.node:
            bound.setdefault(pod.node, []).append(f"{pod.namespace}/{pod.name}")
    for node in sorted(bound):
        # not in the node list, or (nodes not listable) its proxy answered that it does not exist
        if node not in reads.node_labels or node in reads.gone:
            reads.notes.append(gone_node(node, bound[node]))
    return reads


def gone_node(node: str, pods: Sequence[str]) -> str:
    """The note for pods whose spec.nodeName names a node that does not exist (deleted under them)."""
    if len(pods) == 1:
        return f"pod {pods[0]} is bound to node {node}, which does not exist (deleted?): its volumes show no figures"
    more = " ..." if len(pods) > 3 else ""
    return (
        f"{len(pods)} pods ({', '.join(pods[:3])}{more}) are bound to node {node}, which does not exist (deleted?): "
        "their volumes show no figures"
    )
