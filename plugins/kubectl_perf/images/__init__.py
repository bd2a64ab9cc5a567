"""`kubectl perf images`: the images a cluster runs, joined with what its nodes
hold; tag hygiene, distroless suggestions and a kube-fledged pre-pull plan.

Reads top to bottom: flags -> fetch (api, registries) -> compute -> emit.
"""

from __future__ import annotations

import argparse
import sys

from ..cli import run
from .flags import parse


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)  # every flag is checked before anything is read
    return run(lambda: images(args))


def images(args: argparse.Namespace) -> int:
    from ..api import Cluster
    from ..cli import connection
    from . import fetch
    from .compute import Audit, Options
    from .output import emit_report

    cluster = Cluster(connection(args))
    notes: list[str] = []
    options = Options(
        max_images=args.max_images,
        min_size=args.min_size,
        pool_label=args.pool_label,
        hpa_targets=fetch.hpa_targets(cluster, args, notes),
        node_filter=bool(args.node_selector),
    )
    audit = Audit(options)
    fetch.nodes(cluster, args, audit, notes)
    fetch.pods(cluster, args, audit)
    result = audit.result(fetch.inspect(audit, args) if args.inspect else None)
    notes += emit_report(args, result, cluster.host)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
