#!/usr/bin/env python3
"""Benchmarks of the admission webhook, each beside a baseline measured in the same run:
a bare Flask app that only answers `allowed: true`, served by the same server code with
identical settings (worker class, workers, TLS, deadlines). A perf-sim cluster feeds
the webhook's cache. Three modes:

    .venv/bin/python bench/webhook.py [--rounds 10] [--duration 10] [--connections 16] [--workers 1]
        throughput: wrk over HTTPS keep-alive, fresh connections every round, rounds
        alternating between the two servers; prints every round, the minimum and the median.
    .venv/bin/python bench/webhook.py --stall [--stalled 200]
        reviews (a fresh connection every 10) while STALLED connections hang at each stage
        (TLS handshake, headers, body, chunked body); prints median and p99 latency.
    .venv/bin/python bench/webhook.py --memory [--nodes 5000 --pods-per-node 30]
        memory of the whole server (every process) with padding.committed: deny, once the
        node and pod feeds have synced: summed RSS, PSS (what a container is charged,
        shared pages counted once) and peak RSS.

Needs wrk (Debian's `wrk`) for the throughput mode.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

REVIEW = {
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {
        "uid": "bench",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "namespace": "shop",
        "operation": "CREATE",
        "userInfo": {"username": "bench"},
        "dryRun": False,
        "object": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "nodeSelector": {"workload": "general"},
                        "containers": [
                            {
                                "name": "app",
                                "image": "web:1",
                                "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
                            }
                        ],
                        "initContainers": [
                            {
                                "name": "proxy",
                                "image": "envoy",
                                "restartPolicy": "Always",
                                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                            }
                        ],
                    },
                },
            },
        },
    },
}


def serve_bare(argv: list[str]) -> None:
    """The baseline: a Flask app that reads the review and allows it, nothing else."""
    from flask import Flask, Response, request
    from perf_webhook.cli import parse_args, settings_from
    from perf_webhook.server import run

    settings = settings_from(parse_args(argv))

    def load() -> Any:
        app = Flask("bare")

        @app.post("/validate")
        def validate() -> Response:
            uid = json.loads(request.get_data())["request"]["uid"]
            body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": uid, "allowed": True}}
            return Response(json.dumps(body), mimetype="application/json")

        @app.get("/readyz")
        def ready() -> str:
            return "ok (node cache synced)\n"

        return app

    run(settings, load)


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int


def wait_synced(server: Server, ca: Path, timeout: float) -> float:
    """Seconds until /readyz says the cache has synced."""
    ctx = ssl.create_default_context(cafile=str(ca))
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if server.proc.poll() is not None:
            sys.exit(f"{server.name} exited")
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
            conn.request("GET", "/readyz")
            text = conn.getresponse().read().decode()
            conn.close()
            if "synced" in text and "not synced" not in text:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"{server.name} never synced")


@contextmanager
def servers(
    args: argparse.Namespace, policy: str, sim_args: list[str], extra: tuple[str, ...] = ()
) -> Iterator[tuple[Server, Server, Path, Path]]:
    """perf-webhook and the bare app under identical settings, with a perf-sim cluster."""
    from conftest import BIN, start_sim, stop_sim
    from perf_sim.cli import self_signed
    from webhook_helpers import free_port

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sim = start_sim(work / "sim", *sim_args)
        cert, key, ca_pem = self_signed(work)
        ca = work / "ca.crt"
        ca.write_bytes(ca_pem)
        (work / "policy.yaml").write_text(policy)
        body = work / "review.json"
        body.write_text(json.dumps(REVIEW))
        common = ["--tls-cert-file", str(cert), "--tls-private-key-file", str(key), "--bind-address", "127.0.0.1"]
        common += ["--workers", str(args.workers), "--policy", str(work / "policy.yaml"), *extra]
        hook_port, bare_port = free_port(), free_port()
        hook = Server(
            "perf-webhook",
            subprocess.Popen(
                [str(BIN / "perf-webhook"), *common, "--port", str(hook_port), "--kubeconfig", str(sim.kubeconfig)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            hook_port,
        )
        bare = Server(
            "bare Flask app",
            subprocess.Popen([sys.executable, __file__, "--serve-bare", *common, "--port", str(bare_port)], stderr=subprocess.DEVNULL),
            bare_port,
        )
        try:
            yield hook, bare, ca, body
        finally:
            for server in (hook, bare):
                server.proc.send_signal(signal.SIGTERM)
                server.proc.wait(30)
            stop_sim(sim)


def wrk(port: int, body: Path, duration: int, connections: int) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) from one wrk run: its own fresh connections."""
    script = body.with_suffix(".lua")
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = io.open("{body}"):read("*a")\n'
        'response = function(status) if status ~= 200 then error("status " .. status) end end\n'
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), f"https://127.0.0.1:{port}/validate"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


POLICY = "mode: enforce\npadding:\n  memory: 0.75\n  nodeTargets:\n    - selector: {matchLabels: {workload: io}}\n      memory: 0.5\n"


def throughput(args: argparse.Namespace) -> None:
    if not shutil.which("wrk"):
        sys.exit("needs wrk: apt-get install wrk")
    with servers(args, POLICY, ["--nodes", str(args.nodes), "--pods-per-node", "1"]) as (hook, bare, ca, body):
        wait_synced(hook, ca, 300)
        wait_synced(bare, ca, 60)
        wrk(hook.port, body, 3, args.connections)  # warm both
        wrk(bare.port, body, 3, args.connections)
        ours: list[tuple[float, float]] = []
        base: list[tuple[float, float]] = []
        for i in range(args.rounds):
            pair = [(hook, ours), (bare, base)]
            for server, results in pair if i % 2 == 0 else pair[::-1]:
                results.append(wrk(server.port, body, args.duration, args.connections))
    print(
        f"{args.rounds} rounds x {args.duration}s, wrk -t2 -c{args.connections} (fresh connections each round), "
        f"{args.workers} worker(s), {args.nodes} nodes cached; {time.strftime('%Y-%m-%d')}\n"
    )
    print("| round | perf-webhook req/s | p99 ms | bare req/s | p99 ms |\n|---|---|---|---|---|")
    for i, ((o_rps, o_p99), (b_rps, b_p99)) in enumerate(zip(ours, base, strict=True), 1):
        print(f"| {i} | {o_rps:.0f} | {o_p99:.1f} | {b_rps:.0f} | {b_p99:.1f} |")
    o_min, b_min = min(r for r, _ in ours), min(r for r, _ in base)
    o_med, b_med = statistics.median(r for r, _ in ours), statistics.median(r for r, _ in base)
    o_p99, b_p99 = statistics.median(p for _, p in ours), statistics.median(p for _, p in base)
    print(f"| min | {o_min:.0f} | | {b_min:.0f} | |")
    print(f"| median | {o_med:.0f} | {o_p99:.1f} | {b_med:.0f} | {b_p99:.1f} |\n")
    print(f"slowest webhook round / bare median: {o_min / b_med:.2f}x (target >= 0.70)")
    print(f"median throughput webhook / bare:    {o_med / b_med:.2f}x (target >= 0.85; issue 7: >= 0.80)")
    print(f"median p99 webhook / bare:           {o_p99 / b_p99:.2f}x (target <= 1.25)")


def stall(args: argparse.Namespace) -> None:
    from webhook_helpers import STALL_STAGES, review_latencies, stalled_connection, still_open

    # Deadlines past the measurement, so every stalled connection is held while reviews run.
    patient = ("--tls-handshake-timeout", "600", "--header-timeout", "600", "--body-timeout", "600")
    with servers(args, POLICY, ["--nodes", str(args.nodes), "--pods-per-node", "1"], patient) as (hook, bare, ca, _body):
        wait_synced(hook, ca, 300)
        wait_synced(bare, ca, 60)
        print(
            f"{args.stalled} connections stalled at each of {', '.join(STALL_STAGES)}; then 500 reviews, a fresh connection "
            f"every 10; {args.workers} worker(s), {args.nodes} nodes cached; {time.strftime('%Y-%m-%d')}\n"
        )
        print("| server | stalled still open after | median ms | p99 ms | max ms |\n|---|---|---|---|---|")
        for server in (hook, bare, hook, bare):
            socks = [stalled_connection(server.port, stage) for stage in STALL_STAGES for _ in range(args.stalled)]
            lat = sorted(review_latencies(server.port, ca, 500, REVIEW))
            open_ = sum(map(still_open, socks))
            for s in socks:
                s.close()
            p99 = lat[int(len(lat) * 0.99) - 1]
            print(
                f"| {server.name} | {open_}/{len(socks)} | {statistics.median(lat) * 1000:.1f} | {p99 * 1000:.1f} | {lat[-1] * 1000:.1f} |"
            )
            time.sleep(1)


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_of(pid: int) -> dict[str, float]:
    """MB over the process tree: RSS now, PSS now, peak RSS."""
    total = {"rss": 0.0, "pss": 0.0, "peak": 0.0, "processes": 0}
    for p in tree(pid):
        status = Path(f"/proc/{p}/status").read_text()
        total["rss"] += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
        total["peak"] += int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
        total["pss"] += int(re.search(r"Pss:\s+(\d+)", Path(f"/proc/{p}/smaps_rollup").read_text()).group(1)) / 1024  # type: ignore[union-attr]
        total["processes"] += 1
    return total


def memory(args: argparse.Namespace) -> None:
    policy = POLICY + "  committed: deny\n"
    sim_args = ["--nodes", str(args.nodes), "--pods-per-node", str(args.pods_per_node)]
    with servers(args, policy, sim_args) as (hook, bare, ca, body):
        took = wait_synced(hook, ca, 1800)
        wait_synced(bare, ca, 60)
        from webhook_helpers import review_latencies

        for server in (hook, bare):
            review_latencies(server.port, ca, 200, REVIEW)  # serve a little: the figures are of a working server
        rows = [(s.name, memory_of(s.proc.pid)) for s in (hook, bare)]
    print(
        f"{args.nodes} nodes, {args.nodes * args.pods_per_node} pods, padding.committed: deny, {args.workers} worker(s); "
        f"node and pod feeds synced in {took:.0f} s; {time.strftime('%Y-%m-%d')}\n"
    )
    print("| server | processes | RSS MB | PSS MB (container charge) | peak RSS MB |\n|---|---|---|---|---|")
    for name, m in rows:
        print(f"| {name} | {m['processes']:.0f} | {m['rss']:.0f} | {m['pss']:.0f} | {m['peak']:.0f} |")
    print(
        f"\nperf-webhook PSS {rows[0][1]['pss']:.0f} MB (target < 150 MB); the cache's cost over the bare app: {rows[0][1]['pss'] - rows[1][1]['pss']:.0f} MB"
    )


def main() -> None:
    if sys.argv[1:2] == ["--serve-bare"]:
        serve_bare(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--stall", action="store_true", help="latency while clients stall at every stage")
    mode.add_argument("--memory", action="store_true", help="memory with committed: deny on a large cluster")
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--pods-per-node", type=int, default=30, help="--memory only")
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--stalled", type=int, default=200, help="--stall: connections per stage")
    args = p.parse_args()
    run: Callable[[argparse.Namespace], None] = stall if args.stall else memory if args.memory else throughput
    run(args)


if __name__ == "__main__":
    main()
