"""What a capacity run says besides its output: the notes (what is missing, what a filter
did) and the exit status, as data; __init__.run prints them in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .compute import BuildOptions, Report
from .fetch import ClusterReads
from .options import COUNT, STORAGE, USAGE_RESOURCES, CapacityOptions, Groups, Nodes, Pods, View, depth_of
from .storage import StorageUsage

EXIT_BREACH = 1
EXIT_NO_METRICS = 3


@dataclass(frozen=True)
class Outcome:
    notes: tuple[str, ...]  # whole lines for stderr, "note: ..." or "error: ..."
    status: int


def build_options(options: CapacityOptions, reads: ClusterReads) -> BuildOptions:
    """compute's options: the run's, with what the reads found (the namespaces --namespace-labels
    selects; nodes that may not be listed, whose pods then gather in one row: a pod view)."""
    unlisted = bool(reads.nodes_forbidden)
    view = pod_view(options.view) if unlisted else options.view
    return BuildOptions(
        options.policy,
        view,
        options.util,
        reads.namespaces,
        options.pods.filtered or unlisted,
        nodes_known=not unlisted,
        usage_asked=options.plan.node_usage,
    )


def pod_view(view: View) -> View:
    """The view with pods at least: without nodes, pods are the rows."""
    if not isinstance(depth_of(view), Nodes):
        return view
    return dataclasses.replace(view, depth=Pods()) if isinstance(view, Groups) else Pods()


def outcome(options: CapacityOptions, reads: ClusterReads, report: Report, storage: StorageUsage | None, whole_nodes: bool) -> Outcome:
    """The notes in the order they print, and the exit status. whole_nodes: every pod's limits
    could be read for the padding verdict under a pod filter."""
    notes = []
    unlisted = bool(reads.nodes_forbidden)
    if unlisted:
        notes.append(f"cannot list nodes ({reads.nodes_forbidden}): showing pods without node columns (no allocatable, no padding verdict)")
    if reads.note:
        notes.append(reads.note)
    notes += empty_filter_notes(options, report)
    tally = report.total.padding
    if options.display.only_breaching and report.nodes and not tally.breaching:
        unknown = f" (usage unknown on {len(tally.unknown)} of {tally.nodes} nodes)" if tally.unknown else ""
        known = "is known to breach" if tally.unknown else "breaches"
        notes.append(f"no node {known} its memory padding target{unknown}: --only-breaching leaves no node to show")
    elif options.display.only_breaching and tally.unknown:
        notes.append(
            f"{len(tally.unknown)} node(s) whose usage is unknown may breach too and are not shown: {', '.join(tally.unknown[:10])}"
        )
    notes += storage.notes() if storage else []
    unmetered = [r for r in options.display.resources if r not in (*USAGE_RESOURCES, STORAGE, COUNT)]
    if options.util and unmetered and not reads.usage_missing:
        notes.append(f"no usage for {', '.join(unmetered)}: metrics.k8s.io reports cpu and memory only, kubelets ephemeral-storage")
    if options.pods.filtered and not unlisted:
        notes.append(filter_note(options, whole_nodes))
    if report.missing_pods:
        notes.append(
            f"{report.missing_containers} containers in {report.missing_pods} pods lack "
            f"{'/'.join(options.policy.require_requests)} requests ({where_missing_shows(options)})"
        )
    lines = [f"note: {text}" for text in notes]
    breaching = [n.name for n in report.total.nodes if n.padding.breaches]
    if options.fail_on_breach and breaching:
        lines.append(
            f"error: {len(breaching)} node(s) breach their memory padding target: {', '.join(breaching[:10])}"
            + (" ..." if len(breaching) > 10 else "")
        )
        return Outcome(tuple(lines), EXIT_BREACH)
    return Outcome(tuple(lines), EXIT_NO_METRICS if reads.usage_missing else 0)


def where_missing_shows(options: CapacityOptions) -> str:
    """Where this run's own output names the containers lacking requests; pointing at --containers
    is only useful when the output does not already show them (issue 20: it said so under --containers)."""
    if options.display.output in ("json", "yaml") and not isinstance(depth_of(options.view), Nodes):
        return "listed under missingRequests"
    if isinstance(options.view, Groups):  # group rows only, whatever the depth
        return "see --containers without --by"
    if isinstance(options.view, Nodes):
        return "see --containers"
    return "flagged no-requests in FLAGS"


def empty_filter_notes(options: CapacityOptions, report: Report) -> list[str]:
    """Say so when a filter matched nothing, rather than print an empty table without a word."""
    node_filters = options.nodes.flags
    if not report.nodes and node_filters:
        return [f"no node matches {node_filters}"]
    if report.nodes and options.pods.filtered and not report.pending and not any(n.pods for n in report.nodes.values()):
        return [f"no pod matches {options.pods.describe()}"]
    return []


def filter_note(options: CapacityOptions, whole_nodes: bool) -> str:
    verdict = (
        "the padding verdict weighs whole nodes"
        if whole_nodes
        else "the padding verdict weighs the shown pods' limits (listing every pod is forbidden)"
    )
    return f"rows sum the pods {options.pods.describe()} selects; {verdict}"
