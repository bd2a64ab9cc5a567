"""The summary: live nodes scraped once or twice (or dump files read in order), each
node folded into rows as its last scrape lands, so a cluster's scrapes are never held."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .compute import (
    Committed,
    ContainerUsage,
    Filters,
    Key,
    NodeMemory,
    Notes,
    PodStats,
    Spec,
    SummaryReport,
    Thresholds,
    classify,
    container_rows,
    dump_node,
    in_scrape_order,
    node_pressure,
    node_row,
    pod_hosts,
    pod_specs,
    summary_report,
)
from .fetch import NO_SPEC_REQUESTS, Chosen, InputError, NodeScrapes, read_files, read_pods_file, scrape_nodes, specs_on

if TYPE_CHECKING:
    from .flags import DumpFiles, LiveNodes, Summary


def live_summary(
    cluster: Any,
    plan: LiveNodes,
    nodes: dict[str, dict[str, Any] | None],
    chosen: Chosen | None,
    summary: Summary,
    endpoint: str,
    rounds: int,
    filters: Filters,
    taken: Callable[[str], NodeScrapes | None] | None = None,
) -> SummaryReport:
    """`taken`: first scrapes made already (scrape_nodes)."""
    notes = Notes()
    names = sorted(nodes)
    # every pod on the nodes (not only -n/-l's): the padding verdict weighs the whole node, as capacity does
    on_nodes = specs_on(cluster, names, plan.chunk_size, notes)
    specs: dict[Key, Spec] = chosen.specs if chosen is not None else on_nodes.specs if on_nodes is not None else {}
    policy = summary.policy
    thresholds = summary.thresholds
    chosen_pods = chosen.pods if chosen is not None else None
    rows: list[ContainerUsage] = []
    node_rows: list[NodeMemory] = []
    pod_stats: list[tuple[str, PodStats]] = []
    no_psi: list[str] = []  # nodes whose scrape has no PSI series

    def finish(result: NodeScrapes) -> None:
        """Called as each node's last scrape lands: fold it into rows and let the scrapes go."""
        node = nodes.get(result.name)
        labels = ((node or {}).get("metadata") or {}).get("labels") or {}
        if result.scrapes:
            every = container_rows(result.name, result.scrapes, specs, thresholds)
            rows.extend(r for r in every if filters.keeps_row(r, chosen_pods))
            committed = on_nodes.committed.get(result.name, Committed()) if on_nodes is not None else None
            nrow = node_row(result.name, result.scrapes[-1], node, policy.padding_target(labels), every, committed, policy.levels)
            nrow.stats = result.stats
            nrow.pressure = node_pressure(result.scrapes)
            classify(every, nrow, thresholds)
            if not has_psi(nrow, every):
                no_psi.append(result.name)
            node_rows.append(nrow)
            pod_stats.extend((result.name, p) for p in result.pods)
        result.scrapes.clear()

    results = scrape_nodes(cluster, names, endpoint, rounds, summary.interval, plan.concurrency, finish, taken)
    for r in results:
        if r.error:
            notes.add(r.error, failed=True)
        if r.malformed:
            notes.add(f"node {r.name}: {r.malformed} malformed lines skipped (first: {r.first_error})")
    if endpoint == "cadvisor" and no_psi:
        notes.add(no_psi_note(sorted(no_psi), len(node_rows)))
    pods = pod_stats if endpoint == "summary" else None
    since_start = rounds == 1 and endpoint != "summary"
    return shaped(summary, rows, node_rows, pods, cluster.host, thresholds, notes, since_start)


def file_summary(files: DumpFiles, summary: Summary, endpoint: str, filters: Filters) -> SummaryReport:
    """Dumps of one node saved earlier: the first and last make rates, one makes averages."""
    notes = Notes()
    pods = read_pods_file(files.pods_file) if files.pods_file else []
    specs = pod_specs(pods)
    result = read_files(files.paths, endpoint, files.name)
    if result.malformed:
        notes.add(f"{result.malformed} malformed lines skipped (first: {result.first_error})")
    if not files.pods_file and endpoint != "summary":
        notes.add(f"no --pods-file: limits come from the cgroups, CPU requests are not shown ({NO_SPEC_REQUESTS})")
    ordered = in_scrape_order(result.scrapes)
    # --once: the newest scrape alone; else the oldest and the newest make the rates
    scrapes = ordered[-1:] if summary.once else ordered if len(ordered) < 3 else [ordered[0], ordered[-1]]
    if len(scrapes) == 2 and scrapes[0].same_as(scrapes[1]):
        first, last = scrapes
        raise InputError(
            f"{first.source} and {last.source} are the same scrape (same sample timestamps): "
            "rates need two scrapes taken apart (or use --once)"
        )
    # the node: the one named, else where the pods file says the dump's pods run, else the file's stem
    name = files.node or dump_node(scrapes[-1], pod_hosts(pods)) or files.name
    every = container_rows(name, scrapes, specs, summary.thresholds)
    rows = [r for r in every if filters.keeps_row(r, None)]
    nrow = node_row(name, scrapes[-1], None, None, every)
    nrow.stats = result.stats
    nrow.pressure = node_pressure(scrapes)
    classify(every, nrow, summary.thresholds)
    if endpoint == "cadvisor" and not has_psi(nrow, every):
        notes.add(no_psi_note([name], 1))
    pod_stats = [(name, p) for p in result.pods] if endpoint == "summary" else None
    since_start = len(scrapes) == 1 and endpoint != "summary"
    return shaped(summary, rows, [nrow], pod_stats, "", summary.thresholds, notes, since_start)


def shaped(
    summary: Summary,
    rows: list[ContainerUsage],
    nodes: list[NodeMemory],
    pods: list[tuple[str, PodStats]] | None,
    host: str,
    thresholds: Thresholds,
    notes: Notes,
    since_start: bool,
) -> SummaryReport:
    """summary_report shaped by the --summary flags: --sort, --top, --only-breaching, and -o html's own order."""
    top, only = summary.top, summary.only_breaching
    return summary_report(rows, nodes, pods, host, thresholds, summary.sort, top, notes, since_start, only, page=summary.output == "html")


def has_psi(node: NodeMemory, rows: list[ContainerUsage]) -> bool:
    return node.pressure is not None or any(r.pressure is not None for r in rows)


def no_psi_note(names: list[str], of: int) -> str:
    """Said once: which nodes' dumps carry no pressure stall information, and why that may be."""
    where = names[0] if len(names) == 1 else f"{len(names)} of {of} nodes ({names[0]} and {len(names) - 1} more)"
    return (
        f"no PSI series (container_pressure_*) from {where}: pressure and contention show '-' "
        "(PSI needs cgroup v2, a kernel with PSI on, and the kubelet's KubeletPSI feature: beta in 1.34, GA in 1.36)"
    )
