#!/usr/bin/env python3
"""Benchmark: the cAdvisor text parser against prometheus_client's, and
`kubectl perf cadvisor --summary --all-nodes` against the shell loop a user would
write, in one run on one machine.

    .venv/bin/python bench/cadvisor.py [--dump-pods 500] [--nodes 200] [--pods-per-node 30] [--runs 3]

1. Parser: a dump of one simulated node with --dump-pods pods (tens of MB, as busy
   nodes produce), read from a file by both parsers, every sample consumed. Ours is
   timed three ways: labels parsed for every sample (the same work as the baseline),
   labels never read (lazy), and the summary's metrics only. A check that both give
   the same samples runs once, untimed.
2. End to end: perf-sim with --nodes nodes, every node scraped once beforehand (the
   simulator keeps each node's pods once built; both sides then see the same warm
   server). Ours: `kubectl perf cadvisor --summary --all-nodes --once -o json`.
   Baseline: `for n in $(kubectl get nodes -o name); do kubectl get --raw
   /api/v1/nodes/${n#node/}/proxy/metrics/cadvisor > /dev/null; done`. Runs alternate; peak RSS
   comes from wait4() (kubectl execs the plugin in the same process; for the loop it is the
   largest of its kubectl processes).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from kubectl_perf.cadvisor.compute import CADVISOR_METRICS  # noqa: E402
from kubectl_perf.promtext import Parser  # noqa: E402

BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "kubectl"
# The loop with its path fixed: `-o name` prints node/NAME, the path wants nodes/NAME.
LOOP = "for n in $(kubectl get nodes -o name); do kubectl get --raw /api/v1/nodes/${n#node/}/proxy/metrics/cadvisor > /dev/null; done"


def start_sim(workdir: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    kubeconfig = workdir / f"kc-{time.monotonic_ns()}"
    proc = subprocess.Popen([str(BIN / "perf-sim"), "--kubeconfig", str(kubeconfig), *args], stderr=subprocess.DEVNULL)
    while not kubeconfig.exists():
        if proc.poll() is not None:
            sys.exit("perf-sim failed to start")
        time.sleep(0.01)
    return proc, kubeconfig


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait()


def env_for(kubeconfig: Path) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


# Runs a command with its output discarded and prints "exit-status peak-RSS-KiB". A small
# interpreter of its own forks it: a child forked from this process (which holds the parser
# benchmark's dump) would start out with this process's RSS as its peak.
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


def measure(cmd: list[str], kubeconfig: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run, output discarded."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-S", "-c", WRAPPER, *cmd], capture_output=True, text=True, env=env_for(kubeconfig)).stdout
    wall = time.perf_counter() - start
    status, rss_kib = (int(x) for x in out.split())
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed with status {status}")
    return wall, rss_kib / 1024


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn()
    return time.perf_counter() - start, n


def parser_bench(dump: Path, runs: int) -> list[tuple[str, str, str]]:
    from prometheus_client.parser import text_fd_to_metric_families

    def theirs() -> int:
        with open(dump, encoding="utf-8") as f:
            return sum(len(family.samples) for family in text_fd_to_metric_families(f))

    def ours_labels() -> int:
        with open(dump, "rb") as f:
            return sum(1 for s in Parser().samples(f) if s.labels is not None)

    def ours_lazy() -> int:
        with open(dump, "rb") as f:
            return sum(1 for _ in Parser().samples(f))

    def ours_summary() -> int:
        with open(dump, "rb") as f:
            return sum(1 for _ in Parser(CADVISOR_METRICS).checked(f))

    agree = same_samples(dump)
    results: dict[str, list[float]] = {"theirs": [], "labels": [], "lazy": [], "summary": []}
    counts: dict[str, int] = {}
    for _ in range(runs):  # alternate, so a burst of load from other work hits both sides
        for name, fn in (("theirs", theirs), ("labels", ours_labels), ("lazy", ours_lazy), ("summary", ours_summary)):
            took, n = timed(fn)
            results[name].append(took)
            counts[name] = n
    med = {k: statistics.median(v) for k, v in results.items()}
    size = dump.stat().st_size / 1e6
    rows = [
        (f"prometheus_client text parser, {size:.0f} MB dump, {counts['theirs']} samples", f"{med['theirs']:.2f} s", "baseline"),
        (
            "promtext, labels parsed for every sample",
            f"{med['labels']:.2f} s",
            f"{med['theirs'] / med['labels']:.1f}x faster (target >= 5x)",
        ),
        ("promtext, labels never read (lazy)", f"{med['lazy']:.2f} s", f"{med['theirs'] / med['lazy']:.1f}x faster"),
        (
            f"promtext, the summary's {len(CADVISOR_METRICS)} metrics ({counts['summary']} samples, labels read)",
            f"{med['summary']:.2f} s",
            f"{med['theirs'] / med['summary']:.1f}x faster",
        ),
        ("same samples as prometheus_client", "yes" if agree else "NO", ""),
    ]
    return rows


def same_samples(dump: Path) -> bool:
    """Sample for sample, as tests/test_promtext.py checks (prometheus_client's counter
    renaming undone; timestamps in seconds)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = dump.read_text()
    types = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    theirs = []
    for family in text_string_to_metric_families(text):
        munged = family.type == "counter" and family.name in types
        for s in family.samples:
            name = family.name if munged and s.name == family.name + "_total" else s.name
            theirs.append((name, s.labels, float(s.value), s.timestamp))
    ours = [
        (s.name, s.labels, s.value, None if s.timestamp is None else s.timestamp / 1000)
        for s in Parser().samples(io.BytesIO(text.encode()))
    ]
    return ours == theirs


def end_to_end(work: Path, nodes: int, pods: int, runs: int) -> list[tuple[str, str, str]]:
    proc, kc = start_sim(work, "--nodes", str(nodes), "--pods-per-node", str(pods), "--seed", "2")
    ours_cmd = [KUBECTL, "perf", "cadvisor", "--summary", "--all-nodes", "--once", "-o", "json"]
    base_cmd = ["bash", "-c", LOOP]
    try:
        measure(ours_cmd, kc)  # warm-up: the simulator builds each node's pods on first use
        first = subprocess.run([KUBECTL, "get", "nodes", "-o", "name"], capture_output=True, text=True, env=env_for(kc)).stdout.split()[0]
        raw = [KUBECTL, "get", "--raw", f"/api/v1/nodes/{first.removeprefix('node/')}/proxy/metrics/cadvisor"]
        size = len(subprocess.run(raw, capture_output=True, env=env_for(kc)).stdout)
        ours, base = [], []
        for _ in range(runs):
            base.append(measure(base_cmd, kc))
            ours.append(measure(ours_cmd, kc))
        two = measure([KUBECTL, "perf", "cadvisor", "--summary", "--all-nodes", "--interval", "10", "-o", "json"], kc)
    finally:
        stop(proc)
    o_wall, o_rss = statistics.median(r[0] for r in ours), statistics.median(r[1] for r in ours)
    b_wall, b_rss = statistics.median(r[0] for r in base), statistics.median(r[1] for r in base)
    return [
        (
            f"kubectl perf cadvisor --summary --all-nodes --once, {nodes} nodes x {pods} pods ({size / 1e6:.1f} MB a node)",
            f"{o_wall:.1f} s, {o_rss:.0f} MB peak RSS",
            "target: wall <= 0.5x baseline, RSS < 200 MB",
        ),
        ("baseline: shell loop of kubectl get --raw per node", f"{b_wall:.1f} s, {b_rss:.0f} MB peak RSS", ""),
        ("ratio ours / baseline", f"wall {o_wall / b_wall:.2f}x", ""),
        (
            "kubectl perf cadvisor --summary --all-nodes (two scrapes, --interval 10)",
            f"{two[0]:.1f} s, {two[1]:.0f} MB peak RSS",
            "one run",
        ),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dump-pods", type=int, default=500, help="pods on the node whose dump the parsers read (default 500)")
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--skip-parser", action="store_true")
    p.add_argument("--skip-end-to-end", action="store_true")
    args = p.parse_args()
    print(f"median of {args.runs} alternating runs; {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n")
    print("| measurement | median | against the baseline |\n|---|---|---|", flush=True)

    def show(rows: list[tuple[str, str, str]]) -> None:
        for name, value, note in rows:
            print(f"| {name} | {value} | {note} |", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_parser:
            proc, kc = start_sim(work, "--nodes", "1", "--pods-per-node", str(args.dump_pods), "--seed", "4")
            try:
                dump = work / "dump.txt"
                with open(dump, "wb") as out:
                    subprocess.run(
                        [KUBECTL, "get", "--raw", "/api/v1/nodes/general-00000/proxy/metrics/cadvisor"],
                        stdout=out,
                        env=env_for(kc),
                        check=True,
                    )
            finally:
                stop(proc)
            show(parser_bench(dump, args.runs))
        if not args.skip_end_to_end:
            show(end_to_end(work, args.nodes, args.pods_per_node, args.runs))


if __name__ == "__main__":
    main()
