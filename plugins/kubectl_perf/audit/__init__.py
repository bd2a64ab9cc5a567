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

__all__ = ["EXIT_FINDINGS", "EXIT_NOT_RUN", "build_parser", "main", "run"]

# Exit statuses (documented in --help and the README). A schedule runs with --fail-on none and
# still learns from 3 that the run itself went wrong, never from what the audit found.
EXIT_FINDINGS = 1  # results at or above --fail-on
EXIT_NOT_RUN = 3  # the cluster could not be read, or --apply could not write the reports
# The results that make the exit status 1, per --fail-on.
FAILING = {"fail": ("fail", "error"), "warn": ("fail", "error", "warn"), "none": ()}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # every flag is checked before anything is read (2: bad flags)
    from ..api import ApiError, Cluster
    from ..cli import fail
    from ..cli import run as guarded
    from ..quantity import QuantityError

    def start() -> int:
        chosen = options(args)  # reads the policy file: its errors are guarded too (2)
        try:
            return run(chosen, Cluster(chosen.connection))
        except ApiError as err:  # unreachable, refused, or --apply rejected: not a finding
            return fail(str(err), EXIT_NOT_RUN)
        except QuantityError as err:
            return fail(f"unexpected data from the cluster: {err}", EXIT_NOT_RUN)

    return guarded(start)


def exit_status(summary: Mapping[str, int], fail_on: str) -> int:
    """0, or EXIT_FINDINGS when any result at or above `fail_on` was found."""
    return EXIT_FINDINGS if any(summary[r] for r in FAILING[fail_on]) else 0


def run(options: AuditOptions, cluster: Cluster) -> int:
    """fetch -> compute -> emit (and --apply); the exit status."""
    from ..reports import build, timestamp_of
    from . import fetch
    from .check import NODE_USAGE
    from .cluster_checks import node_kernels
    from .compute import Audit, finish

    started = time.time()
    reads = options.settings.reads  # the plan: what beyond nodes and pods the checks this run makes read
    owned = fetch.controllers(cluster)
    nodes = fetch.list_all(cluster, "/api/v1/nodes")
    kernels = node_kernels(nodes)  # for the proxy check's nftables advice
    state = Audit(options.policy, options.settings, nodes, owned.owners, owned.daemonsets, owned.templates)
    del nodes  # not kept: status.images can be large
    fetch.fold_pods(cluster, state, options.chunk_size)
    usage, note = fetch.node_usage(cluster) if NODE_USAGE in reads else ({}, "")
    facts = fetch.cluster_facts(cluster, reads, owned.daemonsets, kernels)
    results = [*state.workload_results(), *state.node_results(usage, note), *state.spec_skips(), *state.cluster_results(facts)]
    summary, listed = finish(results, options.settings)

    emit(options.output, summary, listed, started, cluster.host)
    if options.apply:
        from .apply import apply

        namespaces = [i["metadata"]["name"] for i in fetch.list_all(cluster, "/api/v1/namespaces", keep_metadata_only=True)]
        applied, deleted = apply(cluster, build(listed, timestamp_of(started)), namespaces)
        print(f"applied {applied} report(s), deleted {deleted} stale report(s)", file=sys.stderr)
    return exit_status(summary, options.fail_on)


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
