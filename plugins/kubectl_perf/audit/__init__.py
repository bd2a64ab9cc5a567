"""`kubectl perf audit`: the suite's policy and cluster-level checks over what already
runs, reported as a table, JSON, or wgpolicyk8s.io PolicyReports.

Reads top to bottom: flags -> options -> run: fetch (api) -> compute (pure) -> emit, then --apply.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from .flags import AuditOptions, build_parser, options, parse

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..api import Cluster
    from ..reports import Result

__all__ = ["build_parser", "main", "run"]

EXIT_FAIL = 1


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # every flag is checked before anything is read
    from ..api import Cluster
    from ..cli import run as guarded

    def start() -> int:
        chosen = options(args)  # reads the policy file: its errors are guarded too
        return run(chosen, Cluster(chosen.connection))

    return guarded(start)


def run(options: AuditOptions, cluster: Cluster) -> int:
    """fetch -> compute -> emit (and --apply); the exit status."""
    from ..reports import build, timestamp_of
    from . import fetch
    from .check import NODE_USAGE
    from .compute import Audit, finish

    started = time.time()
    reads = options.settings.reads  # the plan: what beyond nodes and pods the checks this run makes read
    owned = fetch.controllers(cluster)
    state = Audit(
        options.policy, options.settings, fetch.list_all(cluster, "/api/v1/nodes"), owned.owners, owned.daemonsets
    )  # nodes not kept
    fetch.fold_pods(cluster, state, options.chunk_size)
    usage, note = fetch.node_usage(cluster) if NODE_USAGE in reads else ({}, "")
    facts = fetch.cluster_facts(cluster, reads, owned.daemonsets)
    results = [*state.workload_results(), *state.node_results(usage, note), *state.spec_skips(), *state.cluster_results(facts)]
    summary, listed = finish(results, options.settings)

    emit(options.output, summary, listed, started, cluster.host)
    if options.apply:
        from .apply import apply

        namespaces = [i["metadata"]["name"] for i in fetch.list_all(cluster, "/api/v1/namespaces", keep_metadata_only=True)]
        applied, deleted = apply(cluster, build(listed, timestamp_of(started)), namespaces)
        print(f"applied {applied} report(s), deleted {deleted} stale report(s)", file=sys.stderr)
    failing = summary["fail"] + summary["error"] + (summary["warn"] if options.fail_on == "warn" else 0)
    return EXIT_FAIL if failing else 0


def emit(output: str, summary: Mapping[str, int], listed: Sequence[Result], started: float, server: str) -> None:
    """The results in the chosen format; the table and wide formats end with the summary line."""
    from .. import render
    from ..reports import as_list, build, timestamp_of
    from . import output as out

    if output == "policyreport":
        render.write(render.structured(as_list(build(listed, timestamp_of(started))), "yaml"))
        return
    from .html import page

    table = render.Table(listed, out.COLUMNS, out.highlight)
    render.emit(output, lambda: out.document(summary, listed), lambda: [table], lambda: page(summary, listed, server))
    if output in ("table", "wide"):
        render.write(out.summary_line(summary))
