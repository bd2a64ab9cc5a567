"""`kubectl perf capacity`: requests, limits and live usage against node
allocatable and memory padding targets.

Reads top to bottom: flags -> fetch (api) -> compute (model, policy) -> emit.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..cli import FlagError, run
from ..render import note
from . import fetch
from .compute import COUNT, STORAGE, USAGE_RESOURCES, Report
from .flags import parse

EXIT_BREACH = 1
EXIT_NO_METRICS = 3


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # every flag is checked before anything is read
    return run(lambda: capacity(args))


def capacity(args: argparse.Namespace) -> int:
    from ..api import Cluster
    from ..cli import connection
    from ..policy import Policy
    from ..policy_file import load_policy
    from .compute import Detail, Options, build, whole_node_limits
    from .output import emit_report
    from .sorting import sort_report

    policy = load_policy(args.policy) if args.policy else Policy()
    if args.padding_target is not None:
        policy = dataclasses.replace(policy, padding_memory=args.padding_target)
    cluster = Cluster(connection(args))
    snap = fetch.snapshot(cluster, args, pod_usage=args.detail is not Detail.NODES or (args.by is not None and not args.by.on_nodes))
    if not snap.nodes_forbidden:  # without nodes, what they advertise is unknown
        check_resources(args.resources, snap.nodes)
    storage = None
    if args.util and STORAGE in args.resources and snap.nodes:  # metrics.k8s.io has no disk: the kubelets' summaries do
        from .storage import read

        names = [(n.get("metadata") or {}).get("name", "") for n in snap.nodes]
        if fetch.pods_filtered(args):  # rows sum the shown pods: only their nodes' summaries matter
            on = fetch.nodes_of_shown_pods(cluster, args, snap.namespaces)
            names = [n for n in names if n in on]
        storage = read(cluster, names)
    filtered = fetch.pods_filtered(args)
    unlisted = bool(snap.nodes_forbidden)  # pods only: the rows sum them, no node has a row
    detail = Detail.PODS if unlisted and args.detail is Detail.NODES else args.detail
    options = Options(policy, detail, args.by, args.util, snap.namespaces, filtered or unlisted, nodes_known=not unlisted)
    # A pod filter chooses what is shown; a node's padding verdict still weighs all its pods.
    node_limits = fetch.whole_node_limits(cluster, args, whole_node_limits) if filtered and not unlisted else None
    report = fetch.with_pods(
        cluster,
        args,
        lambda pages: build(
            options,
            snap.nodes,
            pages,
            snap.node_usage,
            snap.pod_usage,
            node_limits,
            storage.nodes if storage else None,
            storage.pods if storage else None,
        ),
    )
    nodes = sort_report(report, args.sort)
    emit_report(args, report, nodes, cluster.host, describe_filters(args))

    if unlisted:
        note(f"note: cannot list nodes ({snap.nodes_forbidden}): showing pods without node columns (no allocatable, no padding verdict)")
    if snap.note:
        note(f"note: {snap.note}")
    for text in empty_filter_notes(args, report):
        note(f"note: {text}")
    for text in storage.notes() if storage else ():
        note(f"note: {text}")
    unmetered = [r for r in args.resources if r not in (*USAGE_RESOURCES, STORAGE, COUNT)]
    if args.util and unmetered and not snap.usage_missing:
        note(f"note: no usage for {', '.join(unmetered)}: metrics.k8s.io reports cpu and memory only, kubelets ephemeral-storage")
    if filtered and not unlisted:
        note(f"note: {filter_note(args, node_limits is not None)}")
    if report.missing_pods:
        note(
            f"note: {report.missing_containers} containers in {report.missing_pods} pods lack "
            f"{'/'.join(policy.require_requests)} requests (see --containers)"
        )
    breaching = [n.name for n in nodes if n.breaches()]
    if args.fail_on_breach and breaching:
        note(
            f"error: {len(breaching)} node(s) breach their memory padding target: {', '.join(breaching[:10])}"
            + (" ..." if len(breaching) > 10 else "")
        )
        return EXIT_BREACH
    return EXIT_NO_METRICS if snap.usage_missing else 0


# Resources every node has or a pod may request without a node advertising them.
KNOWN_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")


def check_resources(resources: tuple[str, ...], nodes: list[dict[str, Any]]) -> None:
    """--resources names a resource the cluster knows: a standard one or one a node advertises
    (nvidia.com/gpu, hugepages-2Mi); `mem` is a typo, not an empty column."""
    advertised = sorted({r for n in nodes for r in ((n.get("status") or {}).get("allocatable") or {})} - set(KNOWN_RESOURCES))
    unknown = [r for r in resources if r not in KNOWN_RESOURCES and r not in advertised and not r.startswith("hugepages-")]
    if unknown:
        raise FlagError(f"unknown resource {unknown[0]!r} in --resources: use {', '.join([*KNOWN_RESOURCES, *advertised])}")


def empty_filter_notes(args: argparse.Namespace, report: Report) -> list[str]:
    """Say so when a filter matched nothing, rather than print an empty table without a word."""
    notes = []
    node_filters = " ".join(
        f
        for f in (
            f"--node-selector {args.node_selector}" if args.node_selector else "",
            "--node-taints" if args.node_taints else "",
            "--no-taint" if args.no_taint else "",
        )
        if f
    )
    if not report.nodes and node_filters:
        notes.append(f"no node matches {node_filters}")
    elif report.nodes and fetch.pods_filtered(args) and not report.pending and not any(n.pods for n in report.nodes.values()):
        notes.append(f"no pod matches {describe_filters(args)}")
    return notes


def describe_filters(args: argparse.Namespace) -> str:
    """The active pod filters as flags, e.g. "-n shop -l app=web"."""
    parts = [f"-n {args.namespace}" if args.namespace else "", f"-l {args.selector}" if args.selector else ""]
    parts.append(f"--namespace-labels {args.namespace_labels}" if args.namespace_labels else "")
    return " ".join(p for p in parts if p)


def filter_note(args: argparse.Namespace, whole_nodes: bool) -> str:
    verdict = (
        "the padding verdict weighs whole nodes"
        if whole_nodes
        else "the padding verdict weighs the shown pods' limits (listing every pod is forbidden)"
    )
    return f"rows sum the pods {describe_filters(args)} selects; {verdict}"
