"""`kubectl perf volumes`: df for a cluster's volumes. Every PVC and emptyDir pods mount and
each pod's ephemeral storage, with used and available bytes and inodes from the kubelets'
/stats/summary; each node's nodefs and imagefs against its hard eviction thresholds; claims
no pod mounts and released volumes.

Reads top to bottom: flags -> options -> run: fetch (api, node proxy) -> compute -> emit; the
notes and the exit status are printed and returned here, once."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .. import cli
from ..render import note
from .flags import options, parse

if TYPE_CHECKING:
    from ..api import Cluster
    from .flags import VolumesOptions

EXIT_BREACH = 1  # with --fail-on: a volume or node filesystem at or above the level


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # every flag is checked before anything is read

    def body() -> int:
        from ..api import Cluster

        opts = options(args)  # reads the policy file
        return run(opts, Cluster(opts.connection))

    return cli.run(body)


def run(options: VolumesOptions, cluster: Cluster, now: datetime | None = None) -> int:
    """fetch -> compute -> emit, then the notes; the exit status."""
    from .compute import breaches, build
    from .fetch import read
    from .html import page
    from .output import emit_report

    plan = options.plan
    reads = read(cluster, plan)
    # Under -l a claim that an unselected pod mounts would look unused: that section needs every pod.
    unused_shown = not plan.selector
    report = build(
        reads.pods,
        reads.claims,
        reads.pvs,
        reads.stats,
        reads.eviction,
        reads.node_labels,
        options.policy,
        sort=options.sort,
        storage_class=options.storage_class,
        namespace=plan.namespace,
        unused_shown=unused_shown,
        now=now or datetime.now(timezone.utc),
    )
    notes = list(reads.notes)
    if not unused_shown:
        notes.append("claims no pod mounts are not listed under -l (a pod the selector leaves out may mount them)")
    if options.storage_class and options.storage_class not in reads.classes and reads.classes:
        notes.append(f"no StorageClass named {options.storage_class} (the cluster has {', '.join(reads.classes)})")
    # the page says what stderr says (a forbidden nodes/proxy: why every figure is <unknown>)
    emit_report(report, options.output, lambda: page(report, cluster.host, notes))
    for text in notes:
        note(f"note: {text}")
    if options.fail_on != "none":
        found = breaches(report, options.fail_on)
        if found:
            more = " ..." if len(found) > 10 else ""
            note(f"error: {len(found)} volume(s) or node filesystem(s) at or above {options.fail_on}: {', '.join(found[:10])}{more}")
            return EXIT_BREACH
    return 0
