"""The report's sections: each plugin's own fetch and compute layers run on one shared cluster
(shared.SharedCluster), nothing re-implemented here. A section whose data cannot be read is a
Missing with the reason; the others go on.

The sequence of each section is its plugin's run() without the printing: when a plugin's run
changes what it reads, the matching lines here change with it (tests/test_report.py compares the
sections' documents with each plugin's own -o json)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..api import ApiError
from ..quantity import QuantityError
from .flags import SECTIONS as SECTIONS

if TYPE_CHECKING:
    from ..audit.compute import Overview
    from ..audit.flags import AuditOptions
    from ..cadvisor.compute import SummaryReport
    from ..cadvisor.flags import CadvisorOptions
    from ..capacity.compute import Report
    from ..capacity.options import CapacityOptions
    from ..images.compute import ImageReport
    from ..images.flags import ImagesOptions
    from ..model import PodResources
    from ..owners import WorkloadOf
    from ..reports import Result
    from .early import EarlyScrapes
    from .shared import SharedCluster

TITLES = {"capacity": "Capacity by pool", "audit": "Audit", "images": "Images", "cadvisor": "cAdvisor"}


@dataclass(frozen=True)
class Missing:
    """A section that could not be made, and why (one line, shown where the section would be)."""

    name: str
    reason: str


@dataclass
class Capacity:
    report: Report
    resources: tuple[str, ...]
    pool_label: str
    notes: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        from ..capacity.output import document

        # capacity's own notes (metrics-server absent, pods without requests), as its stderr would carry them
        notes = [n.removeprefix("note: ") for n in self.notes]
        return {"poolLabel": self.pool_label, "notes": notes, **document(self.report, self.resources)}


@dataclass
class Audit:
    summary: dict[str, int]
    listed: list[Result]
    overview: Overview
    notes: tuple[str, ...] = ()  # the usage source's own notes, for stderr (report.run prefixes each cluster's)

    def document(self) -> dict[str, Any]:
        from ..audit.output import document

        return document(self.summary, self.listed, self.overview)


@dataclass
class Images:
    report: ImageReport
    sort: str
    top: int

    def document(self) -> dict[str, Any]:
        from ..images.output import document

        return document(self.report, self.sort, self.top)


@dataclass
class Cadvisor:
    summary: SummaryReport  # its node table is cut to --top: summary.pools holds every node read
    asked: int = 0  # kubelets asked for a scrape (one that failed or did not answer is a note)
    nodes: int = 0  # the cluster's nodes, of which `asked` were chosen (report/choice.py)
    chosen_by: str = ""  # the rule that chose them; "" when every node was asked

    @property
    def scraped(self) -> int:
        return len(self.summary.pools)

    def document(self) -> dict[str, Any]:
        from ..cadvisor.output import document

        scope = {"nodesScraped": self.scraped, "nodesAsked": self.asked, "nodes": self.nodes, "chosenBy": self.chosen_by or None}
        return {"scope": scope, "notes": list(self.summary.notes.lines), **document(self.summary)}

    def scope(self) -> str:
        """One line: how many nodes were scraped out of how many, and why those."""
        read = f"{self.scraped} of {self.nodes} nodes scraped"
        if self.asked > self.scraped:
            read += f" ({self.asked - self.scraped} of the {self.asked} asked could not be read)"
        return f"{read}: {self.chosen_by}" if self.chosen_by else read


Section = Capacity | Audit | Images | Cadvisor | Missing


def guarded(name: str, make: Any) -> Section:
    """make(), or Missing with the reason when the cluster would not give what it needs."""
    try:
        made: Section = make()
        return made
    except ApiError as err:
        return Missing(name, str(err))
    except QuantityError as err:
        return Missing(name, f"unexpected data from the cluster: {err}")


# -- capacity ---------------------------------------------------------------------------------
def pool_label_of(nodes: list[dict[str, Any]], chosen: str | None) -> str:
    """--pool-label, else the first well-known pool key any node carries (as images picks it), else the
    instance type: nodes of one type are the nearest thing to a pool."""
    from ..images.compute import FALLBACK_POOL_LABEL
    from ..model import POOL_LABELS

    if chosen:
        return chosen
    carried = {k for n in nodes for k in ((n.get("metadata") or {}).get("labels") or {})}
    return next((k for k in POOL_LABELS if k in carried), FALLBACK_POOL_LABEL)


def capacity(cluster: SharedCluster, options: CapacityOptions, resources: PodResources) -> Capacity:
    """capacity's run() without the printing: --util, rolled up by node pool. `resources`: each pod's
    effective requests and limits, worked out once for this section and audit (model.RememberedResources)."""
    from ..capacity.compute import build
    from ..capacity.fetch import read_cluster, read_storage
    from ..capacity.options import GroupBy, Groups
    from ..capacity.outcome import build_options, outcome
    from ..capacity.sorting import sort_report
    from ..running_pods import with_running_pods

    reads = read_cluster(cluster, options)
    label = pool_label_of(reads.nodes, groups_label(options))
    options = dataclasses.replace(options, view=Groups(GroupBy(label, on_nodes=True)))
    storage = read_storage(cluster, options, reads)
    shape = dataclasses.replace(build_options(options, reads), resources=resources)
    report = with_running_pods(
        cluster,
        options.pods.namespace,
        options.pods.selector,
        options.chunk_size,
        lambda pages: build(shape, reads.nodes, pages, reads.node_usage, reads.pod_usage, None, None, None),
    )
    sort_report(report, options.display.sort)  # groups by name, as capacity --by prints them
    result = outcome(options, reads, report, storage, whole_nodes=False)
    return Capacity(report, options.display.resources, label, result.notes)


def groups_label(options: CapacityOptions) -> str | None:
    from ..capacity.options import groups_of

    by = groups_of(options.view)
    return by.label if by is not None and by.on_nodes else None


# -- audit ------------------------------------------------------------------------------------
def audit(cluster: SharedCluster, options: AuditOptions, resources: PodResources, workloads: WorkloadOf) -> Audit:
    """audit's run() without the printing and --apply: the whole cluster judged (`resources`: as capacity's;
    `workloads`: as images', owners.RememberedWorkloads: both index every ReplicaSet and Job of the cluster)."""
    from ..audit import fetch
    from ..audit.check import NODE_USAGE
    from ..audit.cluster_checks import node_kernels
    from ..audit.compute import Audit as State
    from ..audit.compute import finish, made, overview

    reads = options.settings.reads
    owned = fetch.controllers(cluster, None, "")
    nodes, no_nodes = fetch.nodes(cluster, None)
    kernels = node_kernels(nodes)
    state = State(options.policy, options.settings, nodes, owned.owners, owned.daemonsets, owned.templates, no_nodes, resources, workloads)
    # The cluster checks' reads do not depend on the pods: made before the pod list is followed, they
    # wait on the server while capacity reads the pods, instead of after it, when the report waits on them.
    facts = fetch.cluster_facts(cluster, reads, owned.daemonsets, kernels)
    fetch.fold_pods(cluster, state, options.chunk_size, None, "")
    node_names = [(n.get("metadata") or {}).get("name", "") for n in nodes]  # whose kubelets a usage fallback reads
    usage, note, usage_notes = fetch.node_usage(cluster, node_names, options.usage) if NODE_USAGE in reads else ({}, "", [])
    results = [*state.workload_results(), *state.spec_skips(), *state.node_results(usage, note), *state.cluster_results(facts)]
    summary, listed = finish(results, options.settings)
    # the usage source's own notes (kubelets read in metrics-server's stead, ...): stderr, as audit prints them
    return Audit(summary, listed, overview(made(results, options.settings)), tuple(usage_notes))


# -- images -----------------------------------------------------------------------------------
def images(cluster: SharedCluster, options: ImagesOptions, workloads: WorkloadOf) -> Images:
    """images' run() without the printing (no registry reads: --inspect is images' own); `workloads`: as audit's."""
    from ..images import fetch
    from ..images.compute import ImageInventory, InventorySettings

    plan = options.plan
    notes: list[str] = []
    settings = InventorySettings(
        max_images=options.max_images,
        min_size=options.min_size,
        pool_label=options.pool_label,
        hpa_targets=fetch.hpa_targets(cluster, plan, notes),
        node_filter=bool(plan.node_selector),
        owners=fetch.owners(cluster, plan, notes),
        workload_of=workloads,
    )
    inventory = ImageInventory(settings)
    fetch.nodes(cluster, plan, inventory, notes)
    fetch.pods(cluster, plan, inventory)
    return Images(inventory.report(None, notes), options.view.sort, options.view.top)


# -- cadvisor ---------------------------------------------------------------------------------
def cadvisor(
    cluster: SharedCluster, options: CadvisorOptions, count: int | None, capacity: Section | None, early: EarlyScrapes | None = None
) -> Cadvisor | Missing:
    """cadvisor --summary --all-nodes without the printing, on `count` nodes (None: all) chosen by
    report/choice.py from the capacity section and the shared pod list: one scrape (--cadvisor-interval 0) or two.
    `early`: the first scrapes of the nodes the choice was likely to make, made while the pods were read."""
    from ..cadvisor import fetch
    from ..cadvisor.flags import LiveNodes, Summary
    from ..cadvisor.summary import live_summary
    from .choice import RULE, RULE_WITHOUT_USAGE

    source, report = options.source, options.report
    assert isinstance(source, LiveNodes) and isinstance(report, Summary)  # flags.py builds it so
    rule = ""
    chosen = fetch.chosen_pods(cluster, source)
    nodes = fetch.nodes_to_read(cluster, source, chosen, objects=True)
    every = len(nodes)
    if count is not None and count < every:
        figures = capacity if isinstance(capacity, Capacity) and capacity.report.usage_known else None
        picked = pick(cluster, list(nodes), count, figures, source.chunk_size)
        nodes = {name: nodes[name] for name in picked}
        rule = RULE if figures is not None else RULE_WITHOUT_USAGE
    taken = early.taken if early is not None else None
    summary = live_summary(cluster, source, nodes, chosen, report, options.endpoint, options.rounds, options.filters, taken)
    if nodes and not summary.nodes and summary.notes.failed:  # every kubelet refused or failed: nothing to summarise
        return Missing("cadvisor", f"no node could be scraped: {summary.notes.lines[0]}")
    return Cadvisor(summary, len(nodes), every, rule if len(nodes) < every else "")


def cpu_limited_of(cluster: SharedCluster, chunk_size: int) -> dict[str, int]:
    """node -> CPU-limited containers (choice.cpu_limited), once per run: the report counts them beside
    capacity as the pod list arrives, so the choice after capacity does not walk the pods again.
    Pods that cannot be listed count as none: the ranking weighs the capacity figures alone."""
    from ..running_pods import with_running_pods
    from .choice import cpu_limited
    from .early import counted_so_far

    so_far = counted_so_far(cluster, chunk_size)

    def count() -> dict[str, int]:
        def fold(pages: Iterable[list[dict[str, Any]]]) -> dict[str, int]:
            so_far.limited.clear()  # a relist (410) counts afresh
            so_far.pods.clear()
            return cpu_limited((p for page in pages for p in page), so_far.limited, so_far.pods)

        try:
            return with_running_pods(cluster, None, None, chunk_size, fold)
        except ApiError:
            return {}
        finally:
            so_far.done = True

    return cluster.remember(("cpu-limited", chunk_size), count)


def pick(cluster: SharedCluster, names: list[str], count: int, capacity: Capacity | None, chunk_size: int) -> list[str]:
    """The `count` nodes most worth a scrape (report/choice.py): padding breaches and CPU use from
    the capacity section, CPU-limited containers from the pod list the sections share."""
    from ..padding import BREACH
    from .choice import NodeFacts, rank

    limited = cpu_limited_of(cluster, chunk_size)
    rows = capacity.report.nodes if capacity is not None else {}
    facts = {}
    for name in names:
        row = rows.get(name)
        used = (row.node_usage or {}).get("cpu") if row is not None else None
        allocatable = (row.amounts.allocatable or {}).get("cpu") if row is not None else None
        facts[name] = NodeFacts(
            breach=row is not None and row.padding.state == BREACH,
            cpu_used=used / allocatable if used is not None and allocatable else 0.0,
            cpu_limited=limited.get(name, 0),
        )
    return rank(names, facts, count)
