"""`kubectl perf capacity`: requests, limits and live usage against node allocatable and
memory padding targets.

Reads top to bottom: flags (argv -> CapacityOptions) -> fetch (api) -> compute (one row
tree) -> emit; the notes and the exit status are an Outcome, printed in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import cli
from ..render import note
from .flags import options, parse

if TYPE_CHECKING:
    from ..api import Cluster
    from .compute import Report
    from .options import CapacityOptions
    from .outcome import Outcome


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # every flag is checked before anything is read

    def body() -> int:
        from ..api import Cluster

        opts = options(args)  # reads the policy file
        if opts.contexts is not None:  # --context a,b / --all-contexts: each cluster, 4 at once
            from .several import run_several

            return run_several(opts)
        return run(opts, Cluster(opts.connection))

    return cli.run(body)


def run(options: CapacityOptions, cluster: Cluster) -> int:
    """fetch -> compute -> emit, then the notes; the exit status."""
    from .output import emit_report

    if options.fit is not None:  # --fit: how many more of a shape fit, within padding
        from .fit_run import run_fit

        return run_fit(options, cluster)
    report, result = build_report(options, cluster)
    emit_report(report, options.display, cluster.host, options.pods.describe())
    for line in result.notes:
        note(line)
    return result.status


def build_report(options: CapacityOptions, cluster: Cluster) -> tuple[Report, Outcome]:
    """fetch -> compute: the sorted row tree, and its notes and exit status (nothing printed)."""
    # imported here, as the client is: --help and flag errors load the flags only
    from ..running_pods import with_running_pods
    from .compute import build, whole_node_committed
    from .fetch import every_pod, read_cluster, read_storage
    from .flags import check_resources
    from .outcome import build_options, outcome
    from .sorting import sort_report, trim_report

    reads = read_cluster(cluster, options)
    if not reads.nodes_forbidden:  # without nodes, what they advertise is unknown
        check_resources(options.display.resources, reads.nodes)
    storage = read_storage(cluster, options, reads)
    shape = build_options(options, reads)
    # A pod filter chooses what is shown; a node's padding verdict still weighs all its pods.
    whole = every_pod(cluster, options.chunk_size, whole_node_committed) if options.plan.whole_nodes and shape.nodes_known else None
    report = with_running_pods(
        cluster,
        options.pods.namespace,
        options.pods.selector,
        options.chunk_size,
        lambda pages: build(
            shape,
            reads.nodes,
            pages,
            reads.node_usage,
            reads.pod_usage,
            whole,
            storage.nodes if storage else None,
            storage.pods if storage else None,
        ),
    )
    sort_report(report, options.display.sort)
    result = outcome(options, reads, report, storage, whole_nodes=whole is not None)  # on the whole scope
    trim_report(report, options.display)
    return report, result
