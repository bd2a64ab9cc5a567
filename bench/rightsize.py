#!/usr/bin/env python3
"""Benchmark: `kubectl perf rightsize` sampling metrics.k8s.io over a short window on a perf-sim
cluster of many workloads, beside the same number of `kubectl top pods -A` calls (the same
pauses between them), in one run on one machine.

    .venv/bin/python bench/rightsize.py [--workloads 5000] [--nodes 100] [--duration 30] [--interval 10] [--runs 3]

The cluster: --workloads Deployments of one running pod each (perf-sim --objects, written here),
spread over --nodes nodes of two pools; perf-sim --usage-period moves their usage every interval.
rightsize reads pods, Deployments, HPAs and nodes, then duration/interval + 1 rounds of PodMetrics,
and judges every workload's recommendation with the padding rules. The baseline makes the same
number of `kubectl top pods -A` calls with the same sleeps between them. Prints medians (wall
seconds, peak RSS from wait4, which covers kubectl and the plugin it execs) and their ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "kubectl"


def objects(workloads: int, nodes: int) -> list[dict]:
    """Nodes of pools general and io, and `workloads` Deployments of one running pod each."""
    out: list[dict] = []
    for n in range(nodes):
        pool = "io" if n % 4 == 0 else "general"
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"node-{n}", "labels": {"node-pool": pool}},
                "status": {
                    "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "250"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
    for i in range(workloads):
        ns, name = f"team-{i % 20}", f"app-{i}"
        res = {"requests": {"cpu": f"{100 + i % 900}m", "memory": f"{128 + i % 1024}Mi"}, "limits": {"memory": f"{256 + i % 2048}Mi"}}
        template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "x", "resources": res}]}}
        created = "2026-01-01T00:00:00Z"
        out.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns, "creationTimestamp": created},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template},
            }
        )
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{name}-abc12-x",
                    "namespace": ns,
                    "labels": {"app": name, "pod-template-hash": "abc12"},
                    "creationTimestamp": created,
                    "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-abc12", "uid": "u", "controller": True}
                    ],
                },
                "spec": {"nodeName": f"node-{i % nodes}", **template["spec"]},
                "status": {"phase": "Running"},
            }
        )
    return out


def start_sim(workdir: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    kubeconfig = workdir / "kubeconfig"
    proc = subprocess.Popen([str(BIN / "perf-sim"), "--kubeconfig", str(kubeconfig), *args], stderr=subprocess.DEVNULL)
    while not kubeconfig.exists():
        if proc.poll() is not None:
            sys.exit("perf-sim failed to start")
        time.sleep(0.01)
    return proc, kubeconfig


def run(cmd: list[str], kubeconfig: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command, output discarded."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed with status {os.waitstatus_to_exitcode(status)}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def top_calls(kubeconfig: Path, rounds: int, interval: float) -> tuple[float, float]:
    """`rounds` calls of kubectl top pods -A, `interval` apart: (wall seconds, the largest peak RSS)."""
    start, peak = time.perf_counter(), 0.0
    for n in range(rounds):
        if n:
            time.sleep(interval)
        peak = max(peak, run([KUBECTL, "top", "pods", "-A"], kubeconfig)[1])
    return time.perf_counter() - start, peak


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", type=int, default=5000)
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--duration", type=float, default=30.0, help="rightsize --duration, seconds (default 30)")
    p.add_argument("--interval", type=float, default=10.0, help="rightsize --interval, seconds (default 10)")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    rounds = int(args.duration / args.interval + 1e-9) + 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "objects.yaml").write_text(yaml.safe_dump_all(objects(args.workloads, args.nodes), sort_keys=False))
        proc, kc = start_sim(work, "--objects", str(work / "objects.yaml"), "--usage-period", str(args.interval))
        ours_cmd = [
            KUBECTL,
            "perf",
            "rightsize",
            "-A",
            "--duration",
            str(args.duration),
            "--interval",
            str(args.interval),
            "--min-samples",
            "1",
            "-o",
            "json",
        ]
        ours, base = [], []
        try:
            run([KUBECTL, "get", "pods", "-A", "-o", "name"], kc)  # warm-up
            for _ in range(args.runs):
                ours.append(run(ours_cmd, kc))
                base.append(top_calls(kc, rounds, args.interval))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    o_wall, o_rss = statistics.median(r[0] for r in ours), statistics.median(r[1] for r in ours)
    b_wall, b_rss = statistics.median(r[0] for r in base), statistics.median(r[1] for r in base)
    print(
        f"rightsize, {args.workloads} workloads on {args.nodes} nodes, {rounds} samples {args.interval:g}s apart; {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n"
    )
    print("| measurement | median |\n|---|---|")
    print(
        f"| kubectl perf rightsize -A --duration {args.duration:g} --interval {args.interval:g} -o json | {o_wall:.1f} s, {o_rss:.0f} MB peak RSS |"
    )
    print(
        f"| baseline: {rounds} x kubectl top pods -A, {args.interval:g}s apart | {b_wall:.1f} s, {b_rss:.0f} MB peak RSS (largest call) |"
    )
    print(f"| ratio rightsize / baseline | wall {o_wall / b_wall:.2f}x, RSS {o_rss / b_rss:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
