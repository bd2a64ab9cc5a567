#!/usr/bin/env python3
"""Benchmark: `kubectl perf volumes` against the reads a user would make by hand, in one run
on one machine (issue 26: within 2x of `kubectl get pvc -A -o json` plus the node reads).

    .venv/bin/python bench/volumes.py [--nodes 1000] [--pods-per-node 30] [--runs 3]

perf-sim with --nodes nodes (generated: a claim per postgres StatefulSet pod, unused and Pending
claims, Released PVs); every node's /stats/summary is read once beforehand, so every side sees
the same warm server. Timed, runs alternating, medians:
- ours: `kubectl perf volumes -o json` (pods, claims, PVs, classes, nodes, then each node's
  /stats/summary and /configz, 16 nodes at a time);
- baseline, as a user writes it: `kubectl get pvc -A -o json` then one
  `kubectl get --raw /api/v1/nodes/N/proxy/stats/summary` per node, one after the other;
- baseline, parallel: the same node reads 16 at a time (`xargs -P 16`), as fast as a shell gets.
The target compares ours with the parallel baseline (the stricter of the two): ratio <= 2.
Peak RSS comes from wait4().
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "kubectl"
NODES = "kubectl get nodes -o name"
CLAIMS = "kubectl get pvc -A -o json > /dev/null"
SEQUENTIAL = f"{CLAIMS}; for n in $({NODES}); do kubectl get --raw /api/v1/nodes/${{n#node/}}/proxy/stats/summary > /dev/null; done"
PARALLEL = (
    f"{CLAIMS}; {NODES} | sed 's|^node/||' | "
    "xargs -P 16 -I{} sh -c 'kubectl get --raw /api/v1/nodes/{}/proxy/stats/summary > /dev/null'"
)

# Runs a command with its output discarded and prints "exit-status peak-RSS-KiB".
WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def start_sim(workdir: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    kubeconfig = workdir / f"kc-{time.monotonic_ns()}"
    proc = subprocess.Popen([str(BIN / "perf-sim"), "--kubeconfig", str(kubeconfig), *args], stderr=subprocess.DEVNULL)
    while not kubeconfig.exists():
        if proc.poll() is not None:
            sys.exit("perf-sim failed to start")
        time.sleep(0.01)
    return proc, kubeconfig


def env_for(kubeconfig: Path) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def measure(cmd: list[str], kubeconfig: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run, output discarded."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-S", "-c", WRAPPER, *cmd], capture_output=True, text=True, env=env_for(kubeconfig)).stdout
    wall = time.perf_counter() - start
    status, rss_kib = (int(x) for x in out.split())
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed with status {status}")
    return wall, rss_kib / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-volumes-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    proc, kubeconfig = start_sim(workdir, "--nodes", str(args.nodes), "--pods-per-node", str(args.pods_per_node), "--seed", "1")
    try:
        # warm: every node's pods built once, for every side alike
        subprocess.run(["sh", "-c", PARALLEL], env=env_for(kubeconfig), check=True, capture_output=True)
        sides = {
            "ours": [str(BIN / "kubectl-perf"), "volumes", "-o", "json"],
            "sequential": ["sh", "-c", SEQUENTIAL],
            "parallel": ["sh", "-c", PARALLEL],
        }
        walls: dict[str, list[float]] = {k: [] for k in sides}
        rss: dict[str, list[float]] = {k: [] for k in sides}
        for _ in range(args.runs):  # alternate, so a burst of load from other work hits every side
            for name, cmd in sides.items():
                wall, peak = measure(cmd, kubeconfig)
                walls[name].append(wall)
                rss[name].append(peak)
        claims = subprocess.run([KUBECTL, "get", "pvc", "-A", "--no-headers"], env=env_for(kubeconfig), capture_output=True, text=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    med = {k: statistics.median(v) for k, v in walls.items()}
    print(f"perf-sim: {args.nodes} nodes x {args.pods_per_node} pods, {len(claims.stdout.splitlines())} claims; {args.runs} runs, medians")
    print("| what | wall | peak RSS | ratio |\n|---|---|---|---|")
    print(f"| `kubectl perf volumes -o json` | {med['ours']:.1f} s | {max(rss['ours']):.0f} MB | |")
    print(
        f"| baseline, sequential: `{SEQUENTIAL}` | {med['sequential']:.1f} s | {max(rss['sequential']):.0f} MB | {med['ours'] / med['sequential']:.2f}x |"
    )
    verdict = "meets" if med["ours"] / med["parallel"] <= 2 else "MISSES"
    print(
        f"| baseline, 16 at a time (xargs -P 16) | {med['parallel']:.1f} s | {max(rss['parallel']):.0f} MB | "
        f"{med['ours'] / med['parallel']:.2f}x ({verdict} the target <= 2x) |"
    )


if __name__ == "__main__":
    main()
