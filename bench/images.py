#!/usr/bin/env python3
"""Benchmark: `kubectl perf images` against `kubectl get nodes -o json` plus
`kubectl get pods -A -o json` on the same simulated cluster, in one run.

    .venv/bin/python bench/images.py [--nodes 5000] [--pods-per-node 30] [--runs 3]

perf-sim's nodes list up to 50 images each (the kubelet's cap; GPU nodes fewer).
Prints medians (wall seconds, peak RSS) side by side and the ratios the target is
stated in: images <= 0.5 x the baseline's wall time, peak RSS < 400 MB. Each command
runs in a fresh process; peak RSS comes from wait4(), which covers kubectl and the
plugin it execs (same pid). The baseline's wall is the sum of its two commands, its
RSS the larger of the two.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capacity import KUBECTL, measure, print_table, start_sim, versus  # noqa: E402  (the same harness as bench/capacity.py)


def images_per_node(kubeconfig: Path) -> float:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    out = subprocess.run([KUBECTL, "get", "nodes", "-o", "json", "--chunk-size=500"], capture_output=True, text=True, env=env, check=True)
    nodes = json.loads(out.stdout)["items"]
    return sum(len(n["status"].get("images") or []) for n in nodes) / max(1, len(nodes))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    ours_cmd = [KUBECTL, "perf", "images"]
    nodes_cmd = [KUBECTL, "get", "nodes", "-o", "json"]
    pods_cmd = [KUBECTL, "get", "pods", "-A", "-o", "json"]
    with tempfile.TemporaryDirectory() as tmp:
        proc, kc, took = start_sim(Path(tmp), "--nodes", str(args.nodes), "--pods-per-node", str(args.pods_per_node), "--seed", "1")
        try:
            per_node = images_per_node(kc)
            measure(ours_cmd, kc)  # warm-up: the simulator plans its nodes on first use
            ours, base = [], []
            for _ in range(args.runs):  # alternating, so load from other work hits both alike
                ours.append(measure(ours_cmd, kc))
                n_wall, n_rss = measure(nodes_cmd, kc)
                p_wall, p_rss = measure(pods_cmd, kc)
                base.append((n_wall + p_wall, max(n_rss, p_rss)))
                print(
                    f"run {len(ours)}: images {ours[-1][0]:.1f} s {ours[-1][1]:.0f} MB; baseline {base[-1][0]:.1f} s {base[-1][1]:.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    pods = args.nodes * args.pods_per_node
    rows = [(f"perf-sim start-up, {args.nodes} nodes ({per_node:.1f} images per node)", f"{took:.2f} s", "")]
    rows += versus(
        f"kubectl perf images, {args.nodes} nodes / {pods} pods",
        "images",
        ours,
        base,
        "wall <= 0.5x baseline, RSS < 400 MB",
        "kubectl get nodes -o json + kubectl get pods -A -o json",
    )
    print_table(f"median of {args.runs} alternating runs", rows)


if __name__ == "__main__":
    main()
