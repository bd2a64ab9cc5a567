"""What capacity reads from the cluster, as plain API dicts: nodes (filtered),
metrics, namespaces, and the pod list page by page. No arithmetic here."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..api import ApiError, Cluster, MetricsUnavailable, node_metrics_path, path_for, pod_metrics_path

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
    note: str = ""  # why usage is missing, for the user


def snapshot(cluster: Cluster, args: argparse.Namespace, pod_usage: bool) -> Snapshot:
    """Nodes (they are few: 5,000 at most), and with --util the metrics; pod_usage:
    the per-pod metrics are needed too (pod, container and group views)."""
    nodes: list[Obj] = cluster.fold("/api/v1/nodes", list, lambda acc, items: acc.extend(items), {"labelSelector": args.node_selector})
    snap = Snapshot([n for n in nodes if taints_wanted(n, args)])
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
        try:
            snap.node_usage = cluster.get(node_metrics_path()).get("items") or []
            if pod_usage:
                snap.pod_usage = cluster.get(pod_metrics_path(args.namespace), {"labelSelector": args.selector}).get("items") or []
        except MetricsUnavailable as err:
            snap.node_usage = snap.pod_usage = None
            snap.note = f"{err}; usage columns are left out"
    return snap


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
