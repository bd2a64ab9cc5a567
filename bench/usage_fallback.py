#!/usr/bin/env python3
"""Benchmark: `kubectl perf capacity --util` with usage from the kubelets (issue 24 section 2)
against the same command with metrics-server, on the same simulated cluster (200 nodes by
default), in one run on one machine.

    .venv/bin/python bench/usage_fallback.py [--nodes 200] [--pods-per-node 30] [--runs 3] [--window 15]

The kubelet path reads every shown node's /metrics/resource twice, `--window` seconds apart
(16 nodes at a time), so its target is stated with the window added: kubelet wall time
<= 2 x metrics-server wall time + window. Two perf-sim servers serve the same seed, one with
metrics-server and one without (--no-metrics-server: the fallback under --usage-source auto);
the commands alternate so load from other work hits both alike, after one warm-up run each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from capacity import BIN, measure, start_sim  # noqa: E402  (bench/capacity.py: the same process measures)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--window", type=float, default=15.0, help="--usage-window of the kubelet path (default 15)")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-usage-"))
    shape = ("--nodes", str(args.nodes), "--pods-per-node", str(args.pods_per_node), "--seed", "1")
    with_ms, kc_ms, _ = start_sim(work, *shape)
    without, kc_kubelet, _ = start_sim(work, *shape, "--no-metrics-server")
    plugin = [str(BIN / "kubectl-perf-capacity"), "--util", "-o", "json"]
    served = [*plugin, "--usage-source", "metrics-server"]
    kubelets = [*plugin, "--usage-window", f"{args.window:g}"]  # auto: metrics.k8s.io answers 404
    try:
        measure(served, kc_ms)
        measure(kubelets, kc_kubelet)
        ms_runs, kubelet_runs = [], []
        for _ in range(args.runs):
            ms_runs.append(measure(served, kc_ms))
            kubelet_runs.append(measure(kubelets, kc_kubelet))
    finally:
        for proc in (with_ms, without):
            proc.terminate()
            proc.wait(10)
    ms_wall = statistics.median(r[0] for r in ms_runs)
    kubelet_wall = statistics.median(r[0] for r in kubelet_runs)
    ms_rss = statistics.median(r[1] for r in ms_runs)
    kubelet_rss = statistics.median(r[1] for r in kubelet_runs)
    bound = 2 * ms_wall + args.window
    print(f"capacity --util, {args.nodes} nodes x {args.pods_per_node} pods, medians of {args.runs} runs")
    print(f"  metrics-server:             {ms_wall:7.2f} s  {ms_rss:6.0f} MB peak RSS")
    print(f"  kubelets (window {args.window:g}s):     {kubelet_wall:7.2f} s  {kubelet_rss:6.0f} MB peak RSS")
    print(f"  kubelets minus the window:  {kubelet_wall - args.window:7.2f} s")
    print(f"  target: kubelets <= 2 x metrics-server + window = {bound:.2f} s: {'met' if kubelet_wall <= bound else 'NOT met'}")
    sys.exit(0 if kubelet_wall <= bound else 1)


if __name__ == "__main__":
    main()
