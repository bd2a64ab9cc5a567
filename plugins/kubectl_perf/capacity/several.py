"""`kubectl perf capacity --context a,b,c` / `--all-contexts`: each cluster read as one run reads
it (capacity.compute), 4 at once (contexts.read_each), then shown together: table and wide a
section per cluster under a `cluster NAME (SERVER)` line; json and yaml one document whose every
row carries `cluster` (nodes, groups, pending, pods; the totals as a list, one per cluster) and
an `unreachable` list. A cluster that cannot be read is a note, not an abort (exit status 4)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .. import render
from ..contexts import EXIT_SOME_UNREACHABLE, Read, Unreachable, read_each, resolve_contexts

if TYPE_CHECKING:
    from ..api import Connection
    from .compute import Report
    from .options import CapacityOptions
    from .outcome import Outcome

EXIT_ERROR = 1


@dataclasses.dataclass(frozen=True)
class One:
    report: Report
    outcome: Outcome
    host: str


def run_several(options: CapacityOptions) -> int:
    from ..api import Cluster
    from ..cli import EXIT_USAGE, fail
    from ..kubeconfig import KubeconfigError
    from . import build_report

    assert options.contexts is not None
    try:
        names = resolve_contexts(options.connection, options.contexts)
    except KubeconfigError as err:
        return fail(str(err), EXIT_USAGE)

    def one(conn: Connection) -> One:
        cluster = Cluster(conn)
        report, result = build_report(dataclasses.replace(options, connection=conn), cluster)
        return One(report, result, cluster.host)

    results = read_each(options.connection, names, one)
    read = [r for r in results if isinstance(r, Read)]
    lost = [r for r in results if isinstance(r, Unreachable)]
    emit(options, read, lost)
    for r in read:
        for line in r.value.outcome.notes:
            kind, _, text = line.partition(": ")
            render.note(f"{kind}: context {r.context}: {text}")
    for u in lost:
        render.note(f"note: context {u.context}: not read: {u.reason}")
    if not read:
        render.note("error: no cluster could be read")
        return EXIT_ERROR
    statuses = [r.value.outcome.status for r in read]
    if EXIT_ERROR in statuses:  # a breach under --fail-on-breach outranks a cluster not read
        return EXIT_ERROR
    return EXIT_SOME_UNREACHABLE if lost else max(statuses)


def document(options: CapacityOptions, read: list[Read[One]], lost: list[Unreachable]) -> dict[str, Any]:
    """Each cluster's own document (output.document), its rows tagged with `cluster`."""
    from .output import document as one_document

    merged: dict[str, Any] = {"nodes": [], "totals": [], "pending": []}
    for r in read:
        doc = one_document(r.value.report, options.display.resources)
        for key, value in doc.items():
            if key == "total":
                merged["totals"].append({"cluster": r.context, **value})
            elif isinstance(value, list):
                merged.setdefault(key, []).extend({"cluster": r.context, **row} for row in value)
    merged["unreachable"] = [{"cluster": u.context, "reason": u.reason} for u in lost]
    return merged


def emit(options: CapacityOptions, read: list[Read[One]], lost: list[Unreachable]) -> None:
    from .output import emit_report

    fmt = options.display.output
    if fmt in ("json", "yaml"):
        render.write(render.structured(document(options, read, lost), fmt))
        return
    for k, r in enumerate(read):  # table, wide: a section per cluster (csv, tsv and html are refused by flags.py)
        render.write(("\n" if k else "") + f"cluster {r.context} ({r.value.host})\n")
        emit_report(r.value.report, options.display, r.value.host, options.pods.describe())
