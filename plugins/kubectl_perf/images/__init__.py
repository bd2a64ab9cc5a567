"""`kubectl perf images`: the images a cluster runs, joined with what its nodes
hold; tag hygiene, distroless suggestions and a kube-fledged pre-pull plan.

Reads top to bottom: flags -> options -> run: fetch (api, registries) -> compute -> emit.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..cli import run as run_body
from .flags import ImagesOptions, options, parse

if TYPE_CHECKING:
    from ..api import Cluster


def main(argv: list[str] | None = None) -> int:
    opts = options(parse(argv))  # every flag is checked before anything is read

    def body() -> int:
        from ..api import Cluster

        return run(opts, Cluster(opts.connection))

    return run_body(body)


def run(options: ImagesOptions, cluster: Cluster) -> int:
    """fetch -> compute -> emit; the notes (the reads' and the output's) print here, once."""
    from datetime import timedelta

    from . import fetch, pulls
    from .compute import ImageInventory, InventorySettings
    from .output import emit_report

    plan = options.plan
    notes: list[str] = []
    settings = InventorySettings(
        max_images=options.max_images,
        min_size=options.min_size,
        pool_label=options.pool_label,
        hpa_targets=fetch.hpa_targets(cluster, plan, notes),
        node_filter=bool(plan.node_selector),
        owners=fetch.owners(cluster, plan, notes),
        startup=plan.startup,
    )
    inventory = ImageInventory(settings)
    fetch.nodes(cluster, plan, inventory, notes)
    fetch.pods(cluster, plan, inventory)
    events, events_unread = fetch.pulled_events(cluster, plan, notes)  # measured pulls rank the pre-pull plan by seconds saved
    since = pulls.now() - timedelta(seconds=plan.since) if plan.since else None
    observed = pulls.aggregate(events, inventory.images.normalise, inventory.pool_of(), since, only_listed=bool(plan.node_selector))
    inspected = fetch.inspect(cluster, inventory, plan, notes) if plan.inspect else None
    caches = fetch.image_caches(cluster, plan) if plan.imagecache is not None else None
    histograms = fetch.pull_histograms(cluster, inventory, notes) if options.view.pulls else {}
    if caches is not None and (plan.namespace or plan.selector):
        notes.append("with -n or -l, images 'no pod runs' and 'in use, not cached' count the selected pods only")
    report = inventory.report(inspected, notes, observed)  # takes the notes of every read above
    report.events_unread, report.since = events_unread, plan.since
    covered = None
    if caches is not None:
        from .coverage import coverage

        covered = coverage(inventory, caches)
    if options.view.pulls:
        report.pulls = pulls.ordered(observed)
        report.histogram_rows = pulls.histogram_rows(histograms, inventory.pool_of())
        report.startup = pulls.waterfalls(inventory.pod_times, events, since)
    for note in report.notes + emit_report(report, options.view, cluster.host, covered):
        print(f"note: {note}", file=sys.stderr)
    return 0
