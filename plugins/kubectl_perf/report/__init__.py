"""`kubectl perf report`: one report for the cluster (or several): capacity by pool, audit,
images and cAdvisor summaries behind a first screen of numbers.

Reads top to bottom: flags -> ReportOptions -> run: per cluster (4 at once) one SharedCluster,
each section made by its plugin's fetch and compute (sections.py) -> the first screen's figures
(compute.py) -> one page, a folder of pages (page.py) or one JSON document."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from .flags import ReportOptions, options, parse

if TYPE_CHECKING:
    from ..api import Connection
    from .page import ClusterPage
    from .shared import SharedCluster

EXIT_ERROR = 1  # an error, or no cluster could be read
# 4: some context could not be read (contexts.EXIT_SOME_UNREACHABLE), the others are in the report


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # every flag is checked before anything is read

    def body() -> int:
        return run(options(args))  # options() reads the policy file: its errors are guarded (2)

    from ..cli import run as guarded

    return guarded(body)


# What the last run of one cluster read and made, held past run(): freeing a cluster's decoded lists and
# the sections' state (at 1,000 nodes x 30 pods, 300 MB of small objects) took 0.2 s after the report was
# written, a tenth of the run; the process's end reclaims them for nothing (frozen: read_cluster). One run's
# at a time: a second run in one process (the tests) frees the first's. Several clusters are not held: each
# one's read is freed as it ends, while the others are read.
_HELD: list[object] = []


def read_cluster(options: ReportOptions, name: str, held: list[object] | None = None) -> ClusterPage:
    """Every section of one cluster, its lists read once (SharedCluster). A section that cannot be
    read is Missing; an unreachable cluster raises ApiError (contexts.read_each makes it a note).
    `held`: where the shared reads are put to outlive the call (_HELD), else they are freed on return.

    The cyclic collector is off for the read, and what it made is frozen at its end (gc.freeze): the
    decoded lists and the sections' state (every workload, image and node, each pod's requests) live
    until the page is written and hold no cycles to find, yet the collections that allocation set off
    walked them again and again (at 1,000 nodes x 30 pods, 0.35 s of the report's 2.2 s of CPU, measured
    per thread). A cycle made meanwhile (an exception's traceback) is freed with the process."""
    import gc

    from ..api import collector_paused

    with collector_paused():
        page, reads = _read_cluster(options, name)
        if held is not None:
            held.append(reads)
        del reads
        gc.freeze()
    return page


def _read_cluster(options: ReportOptions, name: str) -> tuple[ClusterPage, SharedCluster]:
    from ..api import Cluster
    from ..cadvisor.flags import LiveNodes
    from ..model import RememberedResources
    from ..owners import RememberedWorkloads
    from . import sections
    from .compute import figures
    from .early import EarlyScrapes, scrape_likely
    from .page import ClusterPage
    from .shared import SharedCluster

    cluster = SharedCluster(Cluster(options.connection))
    cluster.get("/version")  # unreachable or refused: the whole cluster is a note, not four missing sections
    from concurrent.futures import ThreadPoolExecutor

    made: dict[str, sections.Section] = {}
    resources = RememberedResources()  # each pod's effective requests and limits, for capacity and audit alike
    workloads = RememberedWorkloads()  # each pod's workload, for audit and images alike
    wanted = [s for s in sections.SECTIONS if s in options.sections]
    source, count = options.cadvisor.source, options.cadvisor_nodes
    choosing = "cadvisor" in wanted and count is not None and isinstance(source, LiveNodes)
    early = EarlyScrapes(cluster, options.cadvisor.endpoint) if choosing else None
    makers = {
        "capacity": lambda: sections.capacity(cluster, options.capacity, resources),
        # after capacity: its padding verdicts and CPU figures choose the nodes to scrape
        "cadvisor": lambda: sections.cadvisor(cluster, options.cadvisor, count, made.get("capacity"), early),
        "images": lambda: sections.images(cluster, options.images, workloads),
        "audit": lambda: sections.audit(cluster, options.audit, resources, workloads),
    }

    def run(names: list[str]) -> dict[str, sections.Section]:
        return {s: sections.guarded(s, makers[s]) for s in names}

    def capacity_then_cadvisor() -> None:
        for s in ("capacity", "cadvisor"):  # one by one: cadvisor's maker reads made["capacity"]
            if s in wanted:
                made[s] = sections.guarded(s, makers[s])

    # audit and images beside capacity then cadvisor, each in its thread: they follow the shared lists page by page as
    # capacity reads them, so their folds fill the time capacity waits on the server for a page
    # (SharedCluster's Listing). Their results do not depend on each other's. So does the count of CPU-limited
    # containers per node that cadvisor's choice of nodes weighs (remembered for it), and the scrapes of the
    # nodes it will most likely choose (report/early.py), when it chooses.
    try:
        with ThreadPoolExecutor(max_workers=4) as beside:
            others = [beside.submit(run, [s]) for s in wanted if s in ("audit", "images")]
            if early is not None:
                assert isinstance(source, LiveNodes) and count is not None
                beside.submit(sections.cpu_limited_of, cluster, source.chunk_size)
                beside.submit(scrape_likely, cluster, options.cadvisor, count, source.chunk_size, early)
            capacity_then_cadvisor()
            for other in others:
                made.update(other.result())
    finally:
        if early is not None:
            early.close()
    made = {s: made[s] for s in wanted}  # the page's order
    return ClusterPage(name, cluster.host, made, figures(made, options.top)), cluster


def run(options: ReportOptions) -> int:
    from ..contexts import EXIT_SOME_UNREACHABLE, Read, Unreachable, name_of, read_each, resolve_contexts
    from ..kubeconfig import KubeconfigError
    from .sections import Audit, Missing

    if options.contexts is None:
        names: tuple[str, ...] = (name_of(options.connection),)
        single = True
    else:
        try:
            names = resolve_contexts(options.connection, options.contexts)
        except KubeconfigError as err:
            from ..cli import EXIT_USAGE, fail

            return fail(str(err), EXIT_USAGE)
        single = False

    def one(conn: Connection, held: list[object] | None = None) -> ClusterPage:
        return read_cluster(options.for_context(conn), conn.context or names[0], held)

    _HELD.clear()
    if single:  # the one connection as given (flags, in-cluster): its errors are the run's, as any plugin's
        results: list[Read[ClusterPage] | Unreachable] = [Read(names[0], one(options.connection, _HELD))]
        _HELD.append(results)
    else:
        results = read_each(options.connection, names, one)
    clusters = [r.value for r in results if isinstance(r, Read)]
    lost = [(r.context, r.reason) for r in results if isinstance(r, Unreachable)]
    for name, reason in lost:
        print(f"note: context {name}: not read: {reason}", file=sys.stderr)
    for c in clusters:
        where = f"context {c.name}: " if not single else ""
        for s in c.sections.values():
            if isinstance(s, Missing):
                print(f"note: {where}{s.name} section not available: {s.reason}", file=sys.stderr)
            for line in s.notes if isinstance(s, Audit) else ():
                print(f"note: {where}{line}", file=sys.stderr)
    if not clusters:
        print("error: no cluster could be read", file=sys.stderr)
        return EXIT_ERROR
    try:
        emit(options, clusters, lost)
    except OSError as err:  # --out DIR not writable, a file in the way: one line, as any bad input
        print(f"error: cannot write the report to {options.out_dir}: {err.strerror or err}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_SOME_UNREACHABLE if lost else 0


def document(clusters: list[ClusterPage], lost: list[tuple[str, str]]) -> dict[str, Any]:
    """-o json: per cluster the first screen's figures and one object per section ({"missing": why} when
    its data could not be read), and the contexts that could not be read."""
    from .sections import Missing

    def section(s: Any) -> dict[str, Any]:
        return {"missing": s.reason} if isinstance(s, Missing) else s.document()

    return {
        "clusters": [
            {
                "cluster": c.name,
                "server": c.server,
                "summary": c.figures.document(),
                **{name: section(s) for name, s in c.sections.items()},
            }
            for c in clusters
        ],
        "unreachable": [{"cluster": n, "reason": why} for n, why in lost],
    }


def emit(options: ReportOptions, clusters: list[ClusterPage], lost: list[tuple[str, str]]) -> None:
    from .. import render
    from .page import index, page, section_page, slug

    if options.output == "json":
        render.write(render.structured(document(clusters, lost), "json"))
        return
    if options.out_dir is None:
        render.write(page(clusters, lost, options.top))
        return
    os.makedirs(options.out_dir, exist_ok=True)
    several = len(clusters) + len(lost) > 1
    files: dict[tuple[str, str], str] = {}
    for c in clusters:
        for name in c.sections:
            text = section_page(c, name)
            if text is None:
                continue
            file = f"{slug(c.name)}-{name}.html" if several else f"{name}.html"
            with open(os.path.join(options.out_dir, file), "w", encoding="utf-8") as f:
                f.write(text)
            files[(c.name, name)] = file
    with open(os.path.join(options.out_dir, "index.html"), "w", encoding="utf-8") as f:
        f.write(index(clusters, lost, files))
    print(f"wrote {os.path.join(options.out_dir, 'index.html')} and {len(files)} section page(s)", file=sys.stderr)
