#!/usr/bin/env python3
"""Benchmark: `kubectl perf capacity --fit` against `kubectl perf capacity` alone on the same
simulated cluster (issue 24 section 1: within 1.2x at 5,000 nodes / 150,000 pods).

    .venv/bin/python bench/fit.py [--nodes 5000] [--pods-per-node 30] [--runs 3]

--fit reads what capacity reads (nodes, every running pod, and node metrics: fitWithinPadding
weighs usage where it exists), folds the pods into the same node rows (compute.build), then works
each node's fit once: its extra cost is one pass over the nodes. It is measured beside plain
`capacity` (the target's baseline) and beside `capacity --util` (the same reads). Runs alternate,
after one warm-up, each command in a fresh process through kubectl; medians of wall time and peak
RSS (wait4). Output is the -o json contract in every command, so printing weighs alike.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capacity import KUBECTL, measure, print_table, start_sim  # noqa: E402  (bench/capacity.py: the shared harness)

SHAPE = "cpu=500m,memory=1Gi"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    commands = {
        "fit": [KUBECTL, "perf", "capacity", "--fit", SHAPE, "-o", "json"],
        "capacity": [KUBECTL, "perf", "capacity", "-o", "json"],
        "util": [KUBECTL, "perf", "capacity", "--util", "-o", "json"],
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as tmp:
        proc, kc, took = start_sim(Path(tmp), "--nodes", str(args.nodes), "--pods-per-node", str(args.pods_per_node), "--seed", "1")
        try:
            measure(commands["fit"], kc)  # warm-up: the simulator plans its nodes on first use
            for _ in range(args.runs):
                for name, cmd in commands.items():
                    results[name].append(measure(cmd, kc))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()

    def wall(name: str) -> float:
        return statistics.median(r[0] for r in results[name])

    def rss(name: str) -> float:
        return statistics.median(r[1] for r in results[name])

    label = f"{args.nodes} nodes / {args.nodes * args.pods_per_node} pods"
    rows = [
        (f"perf-sim start-up, {label}", f"{took:.2f} s", ""),
        (f"kubectl perf capacity --fit {SHAPE} -o json, {label}", f"{wall('fit'):.2f} s, {rss('fit'):.0f} MB peak RSS", "<= 1.2x capacity"),
        (f"kubectl perf capacity -o json, {label}", f"{wall('capacity'):.2f} s, {rss('capacity'):.0f} MB peak RSS", ""),
        (f"kubectl perf capacity --util -o json, {label}", f"{wall('util'):.2f} s, {rss('util'):.0f} MB peak RSS", ""),
        ("ratio --fit / capacity", f"wall {wall('fit') / wall('capacity'):.2f}x, RSS {rss('fit') / rss('capacity'):.2f}x", ""),
        ("ratio --fit / capacity --util (the same reads)", f"wall {wall('fit') / wall('util'):.2f}x", ""),
    ]
    print_table(f"median of {args.runs} alternating runs", rows)


if __name__ == "__main__":
    main()
