"""`kubectl perf cadvisor`: the kubelet's cAdvisor metrics of one node or many, as the
dump itself or as a summary of CPU throttling and memory against limits.

Reads top to bottom: flags -> options -> run: nodes and pods (fetch) -> the dump
(dump.py, streamed) or the summary (summary.py: scrapes folded into rows) -> print;
notes and the exit status come back as data and are printed here, once.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .flags import CadvisorOptions, DumpFiles, Summary, options, parse

if TYPE_CHECKING:
    from ..api import Cluster
    from .compute import Notes

EXIT_ERROR = 1


def main(argv: list[str] | None = None) -> int:
    opts = options(parse(argv))  # every flag is checked before anything is read
    from ..cli import EXIT_USAGE, fail
    from ..cli import run as run_body
    from .fetch import InputError

    def body() -> int:
        try:
            if isinstance(opts.source, DumpFiles):
                return run(opts, None)
            from ..api import Cluster

            return run(opts, Cluster(opts.connection))
        except InputError as err:  # a dump or pods file that cannot be read
            return fail(str(err), EXIT_USAGE)

    return run_body(body)


def run(options: CadvisorOptions, cluster: Cluster | None) -> int:
    """fetch -> compute -> emit; `cluster` is None when reading dump files (-f)."""
    from . import fetch
    from .dump import dump_file, dump_nodes
    from .output import emit_summary
    from .summary import file_summary, live_summary

    source, report, endpoint, filters = options.source, options.report, options.endpoint, options.filters
    notes: Notes
    if isinstance(source, DumpFiles):
        if isinstance(report, Summary):
            summary = file_summary(source, report, endpoint, filters)
            emit_summary(summary, report.output)
            notes = summary.notes
        else:
            notes = dump_file(source.paths[0], source.node, endpoint, report.output, filters)
    else:
        chosen = fetch.chosen_pods(cluster, source)
        nodes = fetch.nodes_to_read(cluster, source, chosen, objects=isinstance(report, Summary))
        if isinstance(report, Summary):
            summary = live_summary(cluster, source, nodes, chosen, report, endpoint, options.rounds, filters)
            emit_summary(summary, report.output)
            notes = summary.notes
        else:
            notes = dump_nodes(cluster, list(nodes), endpoint, report.output, filters, source.concurrency)
    for line in notes.lines:
        print(f"note: {line}", file=sys.stderr)
    return EXIT_ERROR if notes.failed else 0
