"""`kubectl perf audit`: the suite's policy and cluster-level checks over what already
runs, reported as a table, JSON, or wgpolicyk8s.io PolicyReports.

Reads top to bottom: flags -> fetch (api) -> compute (pure) -> print, then --apply.
"""

from __future__ import annotations

import argparse
import sys
import time

from .flags import build_parser, parse

__all__ = ["build_parser", "main"]

EXIT_FAIL = 1


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # every flag is checked before anything is read
    from ..cli import run

    return run(lambda: audit(args))


def size_from_policy(value: object) -> int:
    """A size among the policy file's audit keys: bytes, or text with a unit ("800MB"; the schema checked its form)."""
    from ..cli import byte_size

    return value if isinstance(value, int) else byte_size(str(value))


def audit(args: argparse.Namespace) -> int:
    from .. import render
    from ..api import Cluster
    from ..cli import connection
    from ..policy import Policy
    from ..policy_file import load_policy
    from ..reports import as_list, build, timestamp_of
    from . import cluster_checks, fetch, output
    from .compute import Audit, Settings, finish
    from .image_checks import DEFAULT_IMAGE_SIZE_THRESHOLD

    policy = load_policy(args.policy) if args.policy else Policy()
    own = policy.audit  # the policy file's audit keys; flags add to them or override them
    settings = Settings(
        disabled=frozenset(args.disable) | frozenset(own.get("disable") or ()),
        show_pass=args.show_pass,
        image_size_threshold=args.image_size_threshold
        if args.image_size_threshold is not None
        else size_from_policy(own.get("imageSizeThreshold", DEFAULT_IMAGE_SIZE_THRESHOLD)),
    )
    threshold = (
        args.proxy_threshold if args.proxy_threshold is not None else own.get("proxyThreshold", cluster_checks.DEFAULT_PROXY_THRESHOLD)
    )
    replicas = own.get("metricsServerReplicas", cluster_checks.DEFAULT_METRICS_REPLICAS)
    started = time.time()
    cluster = Cluster(connection(args))

    owned = fetch.controllers(cluster)
    state = Audit(policy, settings, fetch.list_all(cluster, "/api/v1/nodes"), owned.owners, owned.daemonsets)  # nodes not kept
    fetch.fold_pods(cluster, state, args.chunk_size)
    usage, note = fetch.node_usage(cluster) if "node-padding" not in settings.disabled else ({}, "")
    results = [*state.workload_results(), *state.node_results(usage, note), *state.image_sizes_unknown()]
    if "proxy-mode" not in settings.disabled:
        results.append(cluster_checks.proxy_mode(fetch.proxy_inputs(cluster, owned.daemonsets), threshold))
    if "metrics-pipeline" not in settings.disabled:
        results.append(cluster_checks.metrics_pipeline(*fetch.metrics_objects(cluster), replicas))
    summary, listed = finish(results, settings)

    if args.output == "policyreport":
        render.write(render.structured(as_list(build(listed, timestamp_of(started))), "yaml"))
    else:
        from .html import page

        table = render.Table(listed, output.COLUMNS, output.highlight)
        render.emit(args.output, lambda: output.document(summary, listed), lambda: [table], lambda: page(summary, listed, cluster.host))
        if args.output in ("table", "wide"):
            render.write(output.summary_line(summary))
    if args.apply:
        from .apply import apply

        namespaces = [i["metadata"]["name"] for i in fetch.list_all(cluster, "/api/v1/namespaces", keep_metadata_only=True)]
        applied, deleted = apply(cluster, build(listed, timestamp_of(started)), namespaces)
        print(f"applied {applied} report(s), deleted {deleted} stale report(s)", file=sys.stderr)
    failing = summary["fail"] + summary["error"] + (summary["warn"] if args.fail_on == "warn" else 0)
    return EXIT_FAIL if failing else 0
