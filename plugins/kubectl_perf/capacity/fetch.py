"""What capacity reads from the cluster, as plain API dicts: nodes (filtered),
metrics, namespaces, and the pod list page by page. No arithmetic here."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..api import ApiError, Cluster, MetricsUnavailable, node_metrics_path, path_for, pod_metrics_path
from ..model import node_ready, node_schedulable

A = TypeVar("A")
Obj = dict[str, Any]

# Finished pods hold nothing; the API server leaves them out for us.
RUNNING_PODS = "status.phase!=Succeeded,status.phase!=Failed"


@dataclass
class Snapshot:
    """Everything but the pods, which are too many to hold (see with_pods)."""

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


def pods_filtered(args: argparse.Namespace) -> bool:
    """Whether a pod filter leaves pods out: rows then sum the shown pods only."""
    return bool(args.namespace or args.selector or args.namespace_labels)


def snapshot(cluster: Cluster, args: argparse.Namespace, pod_usage: bool) -> Snapshot:
    """Nodes (they are few: 5,000 at most), and with --util the metrics; pod_usage:
    the per-pod metrics are needed too (pod, container and group views)."""
    try:
        nodes: list[Obj] = cluster.fold("/api/v1/nodes", list, lambda acc, items: acc.extend(items), {"labelSelector": args.node_selector})
        snap = Snapshot([n for n in nodes if taints_wanted(n, args) and (not args.schedulable_only or (node_ready(n) and node_schedulable(n)))])
    except ApiError as err:
        if err.status != 403:
            raise
        snap = namespace_only(args, str(err))
    if args.namespace_labels:
        names: set[str] = set()
        cluster.fold(
            "/api/v1/namespaces",
            lambda: names,
            lambda acc, items: acc.update(i["metadata"]["name"] for i in items),
            {"labelSelector": args.namespace_labels},
        )
        snap.namespaces = frozenset(names)
    if args.util:
        filtered = pods_filtered(args)
        if pod_usage or filtered or snap.nodes_forbidden:  # a namespace's pod metrics are readable with that namespace's rights
            try:
                snap.pod_usage = cluster.get(pod_metrics_path(args.namespace), {"labelSelector": args.selector}).get("items") or []
            except MetricsUnavailable as err:
                snap.notes.append(f"{err}; usage columns are left out")
                snap.usage_missing = True
        if not snap.usage_missing and not snap.nodes_forbidden:
            try:
                snap.node_usage = cluster.get(node_metrics_path()).get("items") or []
            except MetricsUnavailable as err:
                if not filtered:
                    snap.notes.append(f"{err}; usage columns are left out")
                    snap.usage_missing = True
                    snap.pod_usage = None
                else:  # shown usage comes from the pods; only the padding verdict misses the nodes' own
                    snap.notes.append(f"node {err}; the padding verdict weighs committed limits only")
    return snap


# Flags that need the nodes themselves: refused, not silently dropped, when nodes cannot be listed.
NODE_FLAGS = (
    ("node_selector", "--node-selector"),
    ("node_taints", "--node-taints"),
    ("no_taint", "--no-taint"),
    ("schedulable_only", "--schedulable-only"),
    ("label_columns", "-L"),
    ("show_labels", "--show-labels"),
    ("available", "--available"),
    ("fail_on_breach", "--fail-on-breach"),
)


def namespace_only(args: argparse.Namespace, why: str) -> Snapshot:
    """kube-capacity #161: a user who may not list nodes still sees the pods (of -n) with
    their requests, limits and usage (their namespace's pod metrics), without node columns;
    a flag that needs the nodes is an error rather than silently dropped."""
    needs = [flag for dest, flag in NODE_FLAGS if getattr(args, dest, None)]
    if args.by is not None and args.by.on_nodes:
        needs.append("--by node-label")
    if needs:
        raise ApiError(f"{why}; {', '.join(needs)} needs the nodes", 403)
    return Snapshot([], nodes_forbidden=why)


def whole_node_limits(cluster: Cluster, args: argparse.Namespace, use: Callable[[Iterable[list[Obj]]], A]) -> A | None:
    """Under a pod filter, use(pages of every pod) for the padding verdict of whole
    nodes; None when the user may not list every pod (the verdict then weighs the shown pods)."""
    try:
        return cluster.consume(path_for("pods"), use, {"fieldSelector": RUNNING_PODS}, limit=args.chunk_size)
    except ApiError as err:
        if err.status == 403:
            return None
        raise


def nodes_of_shown_pods(cluster: Cluster, args: argparse.Namespace, namespaces: frozenset[str] | None) -> set[str]:
    """Under a pod filter, the nodes its running pods are on: only their kubelet summaries
    matter (rows sum the shown pods), and a namespace's pods are a far smaller read than
    every node's summary."""
    found: set[str] = set()

    def add(acc: set[str], items: list[Obj]) -> None:
        for pod in items:
            if namespaces is None or (pod.get("metadata") or {}).get("namespace") in namespaces:
                acc.add((pod.get("spec") or {}).get("nodeName") or "")

    query = {"labelSelector": args.selector, "fieldSelector": RUNNING_PODS}
    return cluster.fold(path_for("pods", args.namespace), lambda: found, add, query, limit=args.chunk_size) - {""}


def taints_wanted(node: Mapping[str, Any], args: argparse.Namespace) -> bool:
    """--no-taint and --node-taints, which the API server cannot filter by."""
    taints = (node.get("spec") or {}).get("taints") or []
    if args.no_taint and taints:
        return False
    return all(t.on(taints) != t.exclude for t in args.node_taints or [])


def with_pods(cluster: Cluster, args: argparse.Namespace, use: Callable[[Iterable[list[Obj]]], A]) -> A:
    """use(pages of pods) once the list is under way; the API layer relists (and
    calls use afresh) when the list expires mid-way."""
    query = {"labelSelector": args.selector, "fieldSelector": RUNNING_PODS}
    try:
        return cluster.consume(path_for("pods", args.namespace), use, query, limit=args.chunk_size)
    except ApiError as err:
        if err.status == 403 and not args.namespace:
            raise ApiError(f"{err}; you may list pods in one namespace only: try -n NAMESPACE", 403) from None
        raise
