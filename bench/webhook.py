#!/usr/bin/env python3
"""Benchmark: the admission webhook against a bare Flask app that only answers
`allowed: true`, both under the same gunicorn settings over HTTPS with keep-alive,
driven by wrk (Debian's `wrk`) from another process, with a 5,000-node cluster
in the webhook's cache.

    .venv/bin/python bench/webhook.py [--nodes 5000] [--duration 15] [--rounds 3] [--connections 16]

Prints median throughput and p99 latency side by side, and the ratios the
targets are stated in (throughput >= 80% of bare, p99 <= 1.25x bare).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
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
    from perf_webhook.cli import parse_args, run_gunicorn

    args = parse_args(argv)

    def load() -> Any:
        app = Flask("bare")

        @app.post("/validate")
        def validate() -> Response:
            uid = json.loads(request.get_data())["request"]["uid"]
            body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": uid, "allowed": True}}
            return Response(json.dumps(body), mimetype="application/json")

        @app.get("/readyz")
        def ready() -> str:
            return "ok\n"

        return app

    run_gunicorn(args, load)


def wrk(port: int, body: Path, duration: int, connections: int) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) from one wrk run."""
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
    if "Non-2xx" in out or "errors" in out.lower() and "Socket errors" in out:
        sys.exit(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def wait_ready(port: int, ca: Path, proc: subprocess.Popen[bytes], workers: int) -> None:
    import http.client
    import ssl

    ctx = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("server exited")
        try:
            oks = 0
            for _ in range(6 * workers):
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
                conn.request("GET", "/readyz")
                oks += conn.getresponse().status == 200
                conn.close()
            if oks == 6 * workers:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit("server never became ready")


def main() -> None:
    if sys.argv[1:2] == ["--serve-bare"]:
        serve_bare(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    if not shutil.which("wrk"):
        sys.exit("needs wrk: apt-get install wrk")
    from conftest import BIN, start_sim, stop_sim
    from perf_sim.cli import self_signed
    from webhook_helpers import free_port

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sim = start_sim(work / "sim", "--nodes", str(args.nodes), "--pods-per-node", "1")
        cert, key, ca_pem = self_signed(work)
        ca = work / "ca.crt"
        ca.write_bytes(ca_pem)
        (work / "policy.yaml").write_text(
            "mode: enforce\npadding:\n  memory: 0.75\n  nodeTargets:\n    - selector: {matchLabels: {workload: io}}\n      memory: 0.5\n"
        )
        body = work / "review.json"
        body.write_text(json.dumps(REVIEW))
        common = [
            "--tls-cert-file",
            str(cert),
            "--tls-private-key-file",
            str(key),
            "--bind-address",
            "127.0.0.1",
            "--workers",
            str(args.workers),
            "--threads",
            "8",
        ]
        hook_port, bare_port = free_port(), free_port()
        hook = subprocess.Popen(
            [
                str(BIN / "perf-webhook"),
                *common,
                "--port",
                str(hook_port),
                "--policy",
                str(work / "policy.yaml"),
                "--kubeconfig",
                str(sim.kubeconfig),
            ],
            stderr=subprocess.DEVNULL,
        )
        bare = subprocess.Popen(
            [sys.executable, __file__, "--serve-bare", *common, "--port", str(bare_port), "--policy", str(work / "policy.yaml")],
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(hook_port, ca, hook, args.workers)
            wait_ready(bare_port, ca, bare, args.workers)
            wrk(hook_port, body, 3, args.connections)  # warm both
            wrk(bare_port, body, 3, args.connections)
            ours, base = [], []
            for _ in range(args.rounds):
                ours.append(wrk(hook_port, body, args.duration, args.connections))
                base.append(wrk(bare_port, body, args.duration, args.connections))
        finally:
            for proc in (hook, bare):
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
            stop_sim(sim)
    o_rps, o_p99 = statistics.median(r[0] for r in ours), statistics.median(r[1] for r in ours)
    b_rps, b_p99 = statistics.median(r[0] for r in base), statistics.median(r[1] for r in base)
    print(
        f"median of {args.rounds} rounds x {args.duration}s, wrk -t2 -c{args.connections}, {args.workers} gunicorn workers x 8 threads, "
        f"{args.nodes} nodes cached; {time.strftime('%Y-%m-%d')}\n"
    )
    print("| server | requests/s | p99 latency |\n|---|---|---|")
    print(f"| perf-webhook (Deployment review, nodeSelector) | {o_rps:.0f} | {o_p99:.2f} ms |")
    print(f"| bare Flask app, same gunicorn settings | {b_rps:.0f} | {b_p99:.2f} ms |")
    print(f"| ratio webhook / bare | {o_rps / b_rps:.2f}x (target >= 0.80) | {o_p99 / b_p99:.2f}x (target <= 1.25) |")


if __name__ == "__main__":
    main()
