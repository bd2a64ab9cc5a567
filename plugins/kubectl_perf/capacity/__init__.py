"""`kubectl perf capacity`: requests, limits and live usage against node
allocatable and memory padding targets.

Reads top to bottom: flags -> fetch (api) -> compute (model, policy) -> emit.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..cli import run
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
    from .compute import Detail, Options, build
    from .output import emit_report
    from .sorting import sort_report

    policy = load_policy(args.policy) if args.policy else Policy()
    if args.padding_target is not None:
        policy = dataclasses.replace(policy, padding_memory=args.padding_target)
    cluster = Cluster(connection(args))
    snap = fetch.snapshot(cluster, args, pod_usage=args.detail is not Detail.NODES or args.by is not None)
    options = Options(policy, args.detail, args.by, args.util, snap.namespaces)
    report = fetch.with_pods(cluster, args, lambda pages: build(options, snap.nodes, pages, snap.node_usage, snap.pod_usage))
    nodes = sort_report(report, args.sort)
    emit_report(args, report, nodes, cluster.host)

    if snap.note:
        print(f"note: {snap.note}", file=sys.stderr)
    if report.missing_pods:
        print(
            f"note: {report.missing_containers} containers in {report.missing_pods} pods lack "
            f"{'/'.join(policy.require_requests)} requests (see --containers)",
            file=sys.stderr,
        )
    breaching = [n.name for n in nodes if n.breaches()]
    if args.fail_on_breach and breaching:
        print(
            f"error: {len(breaching)} node(s) breach their memory padding target: {', '.join(breaching[:10])}"
            + (" ..." if len(breaching) > 10 else ""),
            file=sys.stderr,
        )
        return EXIT_BREACH
    return EXIT_NO_METRICS if snap.note and args.util else 0
