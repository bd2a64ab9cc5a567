"""`kubectl perf capacity`: requests, limits and live usage against node
allocatable and memory padding targets.

Reads top to bottom: flags -> fetch (api) -> compute (model, policy) -> emit.
"""

from __future__ import annotations

import argparse
import dataclasses

from ..cli import run
from ..render import note
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
    from . import fetch
    from .compute import Detail, Options, build, whole_node_limits
    from .output import emit_report
    from .sorting import sort_report

    policy = load_policy(args.policy) if args.policy else Policy()
    if args.padding_target is not None:
        policy = dataclasses.replace(policy, padding_memory=args.padding_target)
    cluster = Cluster(connection(args))
    snap = fetch.snapshot(cluster, args, pod_usage=args.detail is not Detail.NODES or args.by is not None)
    filtered = fetch.pods_filtered(args)
    options = Options(policy, args.detail, args.by, args.util, snap.namespaces, filtered)
    # A pod filter chooses what is shown; a node's padding verdict still weighs all its pods.
    node_limits = fetch.whole_node_limits(cluster, args, whole_node_limits) if filtered else None
    report = fetch.with_pods(cluster, args, lambda pages: build(options, snap.nodes, pages, snap.node_usage, snap.pod_usage, node_limits))
    nodes = sort_report(report, args.sort)
    emit_report(args, report, nodes, cluster.host, describe_filters(args))

    if snap.note:
        note(f"note: {snap.note}")
    if filtered:
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
