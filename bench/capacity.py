#!/usr/bin/env python3
"""Benchmark: `kubectl perf capacity` against `kubectl get pods -A -o json` on the
same simulated cluster, in one run on one machine; plus small-cluster latency.

    .venv/bin/python bench/capacity.py [--nodes 5000] [--pods-per-node 30] [--runs 3]
                                       [--floor-nodes 1000] [--floor-only]

Prints medians (wall seconds, peak RSS) side by side and the ratios the targets
are stated in. The I/O floor is the pods list capacity reads (same query, same
client pool), every page fetched with nothing parsed (only the continue token is
read): capacity --util -o json is held to 1.5x of it. Where orjson is installed,
capacity also runs with it shadowed (the krew archive's pure-Python decoding).
Each command runs in a fresh process; peak RSS and CPU time come from wait4(),
which covers kubectl and the plugin it execs (same pid).
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

BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl") or "kubectl"


def start_sim(workdir: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path, float]:
    kubeconfig = workdir / f"kc-{time.monotonic_ns()}"
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "perf-sim"), "--kubeconfig", str(kubeconfig), *args], stderr=subprocess.DEVNULL)
    while not kubeconfig.exists():
        if proc.poll() is not None:
            sys.exit("perf-sim failed to start")
        time.sleep(0.005)
    return proc, kubeconfig, time.perf_counter() - start


def measure(cmd: list[str], kubeconfig: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run, output discarded."""
    wall, rss, _cpu = measure_cpu(cmd, kubeconfig)
    return wall, rss


def alternate(
    ours_cmd: list[str], base_cmd: list[str], kubeconfig: Path, runs: int
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Both commands `runs` times, alternating so load from other work hits both alike, after one
    warm-up run of ours (the simulator plans its nodes on first use)."""
    measure(ours_cmd, kubeconfig)
    ours, base = [], []
    for _ in range(runs):
        ours.append(measure(ours_cmd, kubeconfig))
        base.append(measure(base_cmd, kubeconfig))
    return ours, base


def measure_cpu(cmd: list[str], kubeconfig: Path, extra_env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB, CPU seconds user+system) of one run, output discarded."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(extra_env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed with status {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def medians(cmd: list[str], kubeconfig: Path, runs: int) -> tuple[float, float]:
    results = [measure(cmd, kubeconfig) for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def versus(
    name: str, short: str, ours: list[tuple[float, float]], base: list[tuple[float, float]], target: str, base_name: str
) -> list[tuple[str, str, str]]:
    """Table rows for a command beside its baseline: medians of alternating runs, and their ratio."""
    o_wall, o_rss = statistics.median(r[0] for r in ours), statistics.median(r[1] for r in ours)
    b_wall, b_rss = statistics.median(r[0] for r in base), statistics.median(r[1] for r in base)
    return [
        (name, f"{o_wall:.1f} s, {o_rss:.0f} MB peak RSS", target),
        (f"baseline: {base_name}", f"{b_wall:.1f} s, {b_rss:.0f} MB peak RSS", ""),
        (f"ratio {short} / baseline", f"wall {o_wall / b_wall:.2f}x, RSS {o_rss / b_rss:.3f}x", ""),
    ]


def print_table(heading: str, rows: list[tuple[str, str, str]]) -> None:
    print(f"{heading}; {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n")
    print("| measurement | median | target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")


def fetch_floor() -> None:
    """The I/O floor (run in its own process): every page of the pods list capacity
    reads (running pods, the API server filters them), nothing parsed."""
    from kubectl_perf.api import DEFAULT_CHUNK_SIZE, Cluster, Connection, _peek_continue
    from kubectl_perf.capacity.fetch import RUNNING_PODS

    cluster = Cluster(Connection())
    token = ""
    while True:
        raw = cluster._request("/api/v1/pods", {"limit": DEFAULT_CHUNK_SIZE, "fieldSelector": RUNNING_PODS, "continue": token}).data
        token = _peek_continue(raw)
        if not token:
            break


def without_orjson(work: Path) -> dict[str, str] | None:
    """Environment that shadows orjson with a module refusing to import, as the krew
    archive (pure-Python dependencies only) has none; None when orjson is not installed."""
    try:
        import orjson  # noqa: F401
    except ImportError:
        return None
    stub = work / "no-orjson"
    stub.mkdir(exist_ok=True)
    (stub / "orjson.py").write_text('raise ImportError("shadowed by bench/capacity.py")\n')
    return {"PYTHONPATH": str(stub)}


def floor_rows(work: Path, nodes: int, runs: int) -> list[tuple[str, str, str]]:
    """capacity --util -o json beside the I/O floor, alternating runs (and without orjson too, if installed)."""
    proc, kc, _ = start_sim(work, "--nodes", str(nodes), "--pods-per-node", "30", "--seed", "1")
    json_cmd = [KUBECTL, "perf", "capacity", "--util", "-o", "json"]
    floor_cmd = [sys.executable, __file__, "--fetch-floor"]
    plain = without_orjson(work)
    variants: dict[str, tuple[list[str], dict[str, str] | None]] = {"capacity": (json_cmd, None), "floor": (floor_cmd, None)}
    if plain is not None:
        variants["pure"] = (json_cmd, plain)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    try:
        measure(json_cmd, kc)  # warm-up
        for _ in range(runs):
            for name, (cmd, env) in variants.items():
                results[name].append(measure_cpu(cmd, kc, env))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()

    def wall(name: str) -> float:
        return statistics.median(r[0] for r in results[name])

    def cpu(name: str) -> float:
        return statistics.median(r[2] for r in results[name])

    floor = wall("floor")
    label = f"{nodes} nodes / {nodes * 30} pods"
    decoder = "orjson" if plain is not None else "json (orjson not installed)"
    rows = [
        (
            f"kubectl perf capacity --util -o json, {label}, {decoder}",
            f"{wall('capacity'):.2f} s, {cpu('capacity'):.2f} s CPU",
            "<= 1.5x the I/O floor",
        ),
        (f"I/O floor: the same pods list fetched, nothing parsed, {label}", f"{floor:.2f} s, {cpu('floor'):.2f} s CPU", ""),
        ("ratio capacity / I/O floor", f"{wall('capacity') / floor:.2f}x", ""),
    ]
    if plain is not None:
        rows += [
            (
                f"kubectl perf capacity --util -o json, {label}, orjson shadowed (json)",
                f"{wall('pure'):.2f} s, {cpu('pure'):.2f} s CPU",
                "",
            ),
            ("ratio capacity without orjson / I/O floor", f"{wall('pure') / floor:.2f}x", ""),
        ]
    return rows


def main() -> None:
    if sys.argv[1:] == ["--fetch-floor"]:
        fetch_floor()
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--small-runs", type=int, default=15)
    p.add_argument("--floor-nodes", type=int, default=1000, help="cluster size for the I/O floor comparison (30 pods a node)")
    p.add_argument("--floor-only", action="store_true", help="only capacity beside the I/O floor")
    args = p.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.floor_only:
            print_table(f"median of {args.runs} runs", floor_rows(work, args.floor_nodes, args.runs))
            return

        # start-up of the simulated cluster itself
        starts = []
        for _ in range(5):
            proc, _kc, took = start_sim(work, "--nodes", "100", "--pods-per-node", "30")
            starts.append(took)
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        rows.append(("perf-sim start-up, 100 nodes x 30 pods", f"{statistics.median(starts):.2f} s", "target < 2 s"))

        # small cluster: what a person waits for
        proc, kc, _ = start_sim(work, "--nodes", "3", "--pods-per-node", "30")
        try:
            measure([KUBECTL, "perf", "capacity"], kc)  # warm the page cache
            wall, _rss = medians([KUBECTL, "perf", "capacity"], kc, args.small_runs)
            rows.append(("kubectl perf capacity, 3 nodes", f"{wall:.3f} s", "target < 0.6 s"))
            wall, _rss = medians([KUBECTL, "perf", "capacity", "--util"], kc, args.small_runs)
            rows.append(("kubectl perf capacity --util, 3 nodes", f"{wall:.3f} s", ""))
            wall, _rss = medians([KUBECTL, "perf", "capacity", "--help"], kc, args.small_runs)
            rows.append(("kubectl perf capacity --help", f"{wall:.3f} s", "target < 0.2 s"))
            wall, _rss = medians([str(BIN / "kubectl-perf-capacity"), "--help"], kc, args.small_runs)
            rows.append(("kubectl-perf-capacity --help (no kubectl in front)", f"{wall:.3f} s", ""))
            wall, _rss = medians([KUBECTL, "get", "nodes"], kc, args.small_runs)
            rows.append(("kubectl get nodes, 3 nodes (for scale)", f"{wall:.3f} s", ""))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()

        rows += floor_rows(work, args.floor_nodes, args.runs)

        # the scalability envelope, capacity beside the baseline, alternating runs
        proc, kc, took = start_sim(work, "--nodes", str(args.nodes), "--pods-per-node", str(args.pods_per_node), "--seed", "1")
        rows.append((f"perf-sim start-up, {args.nodes} nodes", f"{took:.2f} s", ""))
        ours_cmd = [KUBECTL, "perf", "capacity", "--util"]
        base_cmd = [KUBECTL, "get", "pods", "-A", "-o", "json"]
        try:
            ours, base = alternate(ours_cmd, base_cmd, kc, args.runs)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    pods = args.nodes * args.pods_per_node
    rows += versus(
        f"kubectl perf capacity --util, {args.nodes} nodes / {pods} pods",
        "capacity",
        ours,
        base,
        "target: wall <= baseline, RSS < 400 MB",
        "kubectl get pods -A -o json, same cluster",
    )
    print_table(f"median of {args.runs} runs at scale, {args.small_runs} small", rows)


if __name__ == "__main__":
    main()
