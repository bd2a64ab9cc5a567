"""`kubectl perf audit`: the suite's policy and cluster-level checks over what already
runs, reported as a table, JSON, or wgpolicyk8s.io PolicyReports.

Reads top to bottom: flags -> options -> run: fetch (api) -> compute (pure) -> emit, then --apply.
"""

from __future__ import annotations

import functools
import sys
import time
from typing import TYPE_CHECKING, Any

from ..cli import EXIT_USAGE
from .flags import AuditOptions, build_parser, options, parse

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

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
    from ..render import OutputError
    from .manifests import ManifestError

    def start() -> int:
        chosen = options(args)  # reads the policy file: its errors are guarded too (2)
        try:
            if chosen.manifests:
                return offline(chosen)
            return run(chosen, Cluster(chosen.connection))
        except ManifestError as err:  # a manifest or nodes file that cannot be read: bad input, as a bad flag
            return fail(str(err), EXIT_USAGE)
        except ApiError as err:  # unreachable, refused, or --apply rejected: not a finding
            return fail(str(err), EXIT_NOT_RUN)
        except QuantityError as err:
            return fail(f"unexpected data from the cluster: {err}", EXIT_NOT_RUN)
        except OutputError as err:  # the results could not be written (> /dev/full): not a finding
            return fail(str(err), EXIT_NOT_RUN)

    return guarded(start)


def offline(options: AuditOptions) -> int:
    """-f: the spec checks on manifests, padding against --nodes-file or the cluster's nodes when one answers
    (skipped with the reason when neither); the node and cluster checks skip. Exit statuses as a live audit."""
    from .. import render
    from ..api import ApiError, Cluster
    from . import fetch, manifests
    from .compute import Audit, finish, made

    started = time.time()
    found, ignored = manifests.read(options.manifests)
    if ignored:
        render.note(manifests.ignored_note(ignored))
    controllers, where = manifests.controllers_of(found, options.scope.namespace or "default")
    server, no_nodes = "", ""
    if options.nodes_file:
        nodes = manifests.read_nodes(options.nodes_file)
        server = f"nodes from {options.nodes_file}"
    else:
        try:
            cluster = Cluster(options.connection)
            nodes, server = fetch.list_all(cluster, "/api/v1/nodes"), cluster.host
        except ApiError as err:  # no cluster is not an error here: the checks that need nodes say why they skip
            nodes, no_nodes = [], f"no nodes to judge against: no --nodes-file, and the cluster cannot be read ({err})"
    state = Audit(options.policy, options.settings, nodes, controllers=controllers, no_nodes=no_nodes)
    del nodes
    results = manifests.with_sources([*state.workload_results(), *state.spec_skips(), *state.out_of_scope()], where)
    summary, listed = finish(results, options.settings)
    everything = made(results, options.settings)
    emit(
        options.output,
        summary,
        listed,
        everything,
        lambda: reports_of(everything, started, None, options.report_per),
        server or "manifests",
    )
    return exit_status(summary, options.fail_on)


def exit_status(summary: Mapping[str, int], fail_on: str) -> int:
    """0, or EXIT_FINDINGS when any result at or above `fail_on` was found."""
    return EXIT_FINDINGS if any(summary[r] for r in FAILING[fail_on]) else 0


def run(options: AuditOptions, cluster: Cluster) -> int:
    """fetch -> compute -> emit (and --apply); the exit status."""
    from . import fetch
    from .check import NODE_USAGE
    from .cluster_checks import node_kernels
    from .compute import Audit, finish, made

    started = time.time()
    reads = options.settings.reads  # the plan: what beyond nodes and pods the checks this run makes read
    scope = options.scope
    owned = fetch.controllers(cluster, scope.namespace, scope.selector)
    nodes, no_nodes = fetch.nodes(cluster, scope.namespace)
    kernels = node_kernels(nodes)  # for the proxy check's nftables advice
    state = Audit(options.policy, options.settings, nodes, owned.owners, owned.daemonsets, owned.templates, no_nodes)
    node_names = [(n.get("metadata") or {}).get("name", "") for n in nodes]  # whose kubelets a usage fallback reads
    del nodes  # not kept: status.images can be large
    fetch.fold_pods(cluster, state, options.chunk_size, scope.namespace, scope.selector)
    results = [*state.workload_results(), *state.spec_skips()]
    if options.settings.out_of_scope:  # -n/-l: the node and cluster checks would judge a part as the whole
        results += state.out_of_scope()
    else:
        usage, note, usage_notes = fetch.node_usage(cluster, node_names, options.usage) if NODE_USAGE in reads else ({}, "", [])
        if usage_notes:
            from .. import render

            for line in usage_notes:
                render.note(f"note: {line}")
        facts = fetch.cluster_facts(cluster, reads, owned.daemonsets, kernels)
        results += [*state.node_results(usage, note), *state.cluster_results(facts)]
    summary, listed = finish(results, options.settings)
    everything = made(results, options.settings)
    reports = functools.cache(lambda: reports_of(everything, started, scope.namespace, options.report_per))  # built only when used

    emit(options.output, summary, listed, everything, reports, cluster.host)
    if options.apply:
        from .apply import apply

        if scope.namespace:  # a namespace's report only: the cluster report and other namespaces are not this run's
            namespaces = [scope.namespace]
        else:
            namespaces = [i["metadata"]["name"] for i in fetch.list_all(cluster, "/api/v1/namespaces", keep_metadata_only=True)]
        applied, deleted = apply(cluster, reports(), namespaces, scope.namespace)
        print(f"applied {applied} report(s), deleted {deleted} stale report(s)", file=sys.stderr)
    return exit_status(summary, options.fail_on)


def reports_of(results: Sequence[Result], started: float, namespace: str | None, per: str) -> list[dict[str, Any]]:
    """The PolicyReports of a run, passes included; under -n only that namespace's (its skips of cluster checks
    are not a cluster report)."""
    from ..reports import build, timestamp_of

    docs = build(results, timestamp_of(started), per)
    return [d for d in docs if d["metadata"].get("namespace") == namespace] if namespace else docs


def emit(
    output: str,
    summary: Mapping[str, int],
    listed: Sequence[Result],
    everything: Sequence[Result],
    reports: Callable[[], list[dict[str, Any]]],
    server: str,
) -> None:
    """The results in the chosen format; table, wide and html start with the overview (score, counts per
    category and per rule, over every check made), and table and wide end with the summary line."""
    from .. import render
    from ..reports import as_list
    from . import output as out
    from .compute import overview

    if output == "policyreport":
        render.write(render.structured(as_list(reports()), "yaml"))
        return
    from .html import page

    seen = overview(everything)
    if output in ("table", "wide"):
        render.write(out.overview_text(seen))
    table = render.Table(listed, out.COLUMNS, out.highlight)
    render.emit(output, lambda: out.document(summary, listed, seen), lambda: [table], lambda: page(summary, listed, server, seen))
    if output in ("table", "wide"):
        render.write(out.summary_line(summary))
