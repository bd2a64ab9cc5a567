"""What images reads: nodes (their status.images), HPA targets, the pod list page
by page, and with --inspect image configs from registries. No arithmetic here;
missing permissions become notes where the report can stand without the data."""

from __future__ import annotations

import argparse

from ..api import ApiError, Cluster
from .compute import Audit, Inspection


def nodes(cluster: Cluster, args: argparse.Namespace, audit: Audit, notes: list[str]) -> None:
    """Fold nodes into the audit page by page; forbidden: a note, the report goes on without sizes."""
    try:
        cluster.fold("/api/v1/nodes", lambda: audit, lambda acc, items: acc.add_nodes(items), {"labelSelector": args.node_selector})
    except ApiError as err:
        if err.status != 403:
            raise
        notes.append(f"{err}; images are listed without sizes, node counts or a pre-pull plan")


def hpa_targets(cluster: Cluster, args: argparse.Namespace, notes: list[str]) -> frozenset[tuple[str, str, str]]:
    """(kind, namespace, name) of every workload an HPA scales: they start pods often.
    An API server without autoscaling/v2 (perf-sim) has none; any other failure is a note."""
    scope = f"/namespaces/{args.namespace}" if args.namespace else ""
    targets: set[tuple[str, str, str]] = set()
    try:
        for item in cluster.get(f"/apis/autoscaling/v2{scope}/horizontalpodautoscalers").get("items") or []:
            ref = (item.get("spec") or {}).get("scaleTargetRef") or {}
            targets.add((str(ref.get("kind") or ""), str((item.get("metadata") or {}).get("namespace") or ""), str(ref.get("name") or "")))
    except ApiError as err:
        if err.status != 404:  # no autoscaling/v2 here: no HPAs
            why = "forbidden" if err.status == 403 else str(err)
            notes.append(f"cannot list HorizontalPodAutoscalers ({why}): HPA targets are not counted as scaling out")
    return frozenset(targets)


def pods(cluster: Cluster, args: argparse.Namespace, audit: Audit) -> Audit:
    """Every pod not finished, page by page (the API layer relists after 410 Gone)."""
    from ..capacity.fetch import with_pods  # the same list, field selector and 403 hint as capacity

    return with_pods(cluster, args.namespace, args.selector, args.chunk_size, audit.with_pods)


def inspect(audit: Audit, args: argparse.Namespace) -> dict[str, Inspection]:
    """Registry configs of images whose name does not tell their base, or whose size no node knows."""
    from .. import imageref
    from .registry import Registry, docker_credentials

    todo = []
    for ref_text, use in audit.uses.items():
        ref = use.ref
        if ref is None or imageref.is_lean(ref):
            continue
        if imageref.suggest_for_name(ref) is None or ref_text not in audit.aliases:
            todo.append((ref_text, ref))
    arch = next((n.arch for n in audit.nodes if n.arch), "amd64")
    return Registry(args.registry_timeout, docker_credentials(), arch).inspect_all(todo)
