"""`kubectl perf rightsize`: requests and limits from observed usage (Prometheus history, or
metrics.k8s.io or the kubelets sampled), each workload's recommendation judged by the padding policy's rules
against the live nodes, as the admission webhook would judge the patched template.

Reads top to bottom: flags -> options -> run: pods, workloads, HPAs, nodes (fetch) -> usage
(fetch.read_usage: one interface, three sources) -> recommendations and totals (compute, pure)
-> print (output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .flags import RightsizeOptions, options, parse

if TYPE_CHECKING:
    from ..api import Cluster


def main(argv: list[str] | None = None) -> int:
    opts = options(parse(argv))  # every flag is checked before anything is read
    from ..api import Cluster
    from ..cli import EXIT_USAGE, fail
    from ..cli import run as run_body
    from .fetch import InputError

    def body() -> int:
        try:
            return run(opts, Cluster(opts.connection))
        except InputError as err:
            return fail(str(err), EXIT_USAGE)

    return run_body(body)


def run(options: RightsizeOptions, cluster: Cluster) -> int:
    """fetch -> compute -> emit."""
    from .. import render
    from .compute import build_report
    from .fetch import read_cluster, read_usage
    from .output import emit

    reads = read_cluster(cluster, options)
    usage = read_usage(cluster, options, reads.workloads, reads.notes)
    if usage.unavailable:  # first: it explains every "insufficient data" below it
        reads.notes.insert(0, usage.unavailable)
    report = build_report(reads.workloads, usage.samples, options.strategy, options.policy, reads.views, reads.nodes, reads.other_pods)
    emit(report, usage.source, options.strategy, options.output)
    for line in reads.notes:
        render.note(f"note: {line}")
    return EXIT_NO_USAGE if usage.unavailable else 0


EXIT_NO_USAGE = 3  # sampling read no usage at all: as capacity's 3, usage asked for that the cluster cannot give
