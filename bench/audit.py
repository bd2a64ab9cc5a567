#!/usr/bin/env python3
"""Benchmark: `kubectl perf audit` against `kubectl get pods -A -o json` on the same
simulated cluster (nodes, pods and their controllers), in one run on one machine.

    .venv/bin/python bench/audit.py [--nodes 5000] [--pods-per-node 30] [--runs 3]

Prints medians (wall seconds, peak RSS) side by side and the ratios the targets are
stated in (audit wall <= baseline, audit RSS < 400 MB). Runs alternate; each command
runs in a fresh process, its peak RSS from wait4() (kubectl and the plugin it execs).
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capacity import KUBECTL, alternate, measure, medians, print_table, start_sim, versus  # noqa: E402  (same harness as the capacity benchmark)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--small-runs", type=int, default=10)
    args = p.parse_args()
    rows: list[tuple[str, str, str]] = []
    audit_cmd = [KUBECTL, "perf", "audit", "-o", "json"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, kc, _ = start_sim(work, "--nodes", "3", "--pods-per-node", "30")
        try:
            measure(audit_cmd, kc)
            wall, _rss = medians(audit_cmd, kc, args.small_runs)
            rows.append(("kubectl perf audit, 3 nodes", f"{wall:.3f} s", ""))
            wall, _rss = medians([KUBECTL, "perf", "audit", "--help"], kc, args.small_runs)
            rows.append(("kubectl perf audit --help", f"{wall:.3f} s", ""))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()

        proc, kc, took = start_sim(work, "--nodes", str(args.nodes), "--pods-per-node", str(args.pods_per_node), "--seed", "1")
        rows.append((f"perf-sim start-up, {args.nodes} nodes", f"{took:.2f} s", ""))
        base_cmd = [KUBECTL, "get", "pods", "-A", "-o", "json"]
        try:
            ours, base = alternate(audit_cmd, base_cmd, kc, args.runs)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    pods = args.nodes * args.pods_per_node
    rows += versus(
        f"kubectl perf audit, {args.nodes} nodes / {pods} pods",
        "audit",
        ours,
        base,
        "target: wall <= baseline, RSS < 400 MB",
        "kubectl get pods -A -o json, same cluster",
    )
    print_table(f"median of {args.runs} runs at scale, {args.small_runs} small", rows)


if __name__ == "__main__":
    main()
