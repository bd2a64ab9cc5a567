#!/usr/bin/env python3
"""Benchmark: the latency perf-webhook adds where users feel it, through a real kube-apiserver
(../shared/kube-apiserver, v1.36): server-side dry-run pod creates from CLIENTS concurrent clients,
in alternating rounds of three kinds:

    none          no webhook registered
    bare          a bare Flask app answering `allowed: true`, under the same server code and
                  settings as perf-webhook (bench/webhook.py --serve-bare)
    perf-webhook  perf-webhook with the repository's example policy

    .venv/bin/python bench/admission_e2e.py [--rounds 5] [--requests 100] [--clients 16] [--workers 1]
    .venv/bin/python bench/admission_e2e.py --quick       # 1 round of 10 requests per client

Each round registers the kind's ValidatingWebhookConfiguration (failurePolicy Fail, the chart's
rules for pods), waits for the API server to use it, then every client sends its requests on its
own keep-alive connection. Prints p50 and p99 per kind over all its rounds, errors (any answer but
201), and perf-webhook's figures over the bare app's (the issue's target: within 1.15x, 0 errors).
The pods meet the policy (requests, a 1Gi limit under every node's budget), so every create passes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

KINDS = ("none", "bare", "perf-webhook")
POLICY = (ROOT / "examples" / "policy.yaml").read_text() if (ROOT / "examples" / "policy.yaml").exists() else "mode: enforce\n"


def node(name: str, memory: str, pool: str) -> dict[str, Any]:
    resources = {"cpu": "8", "memory": memory, "pods": "110"}
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "node-pool": pool, "workload": pool}},
        "status": {"capacity": resources, "allocatable": resources, "conditions": [ready]},
    }


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"generateName": "bench-", "namespace": "bench"},
    "spec": {
        "containers": [
            {"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}}
        ]
    },
}


def configuration(port: int, ca: bytes) -> dict[str, Any]:
    import base64

    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "bench"},
        "webhooks": [
            {
                "name": "pods.perf.kubectl.dev",
                "clientConfig": {"url": f"https://127.0.0.1:{port}/validate", "caBundle": base64.b64encode(ca).decode()},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}],
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }
        ],
    }


def run_clients(server: str, ca: Path, token: str, clients: int, requests: int) -> tuple[list[float], int]:
    """(latencies in seconds, errors) of clients x requests dry-run creates, each client on its own connection."""
    host, port = server.removeprefix("https://").rsplit(":", 1)
    body = json.dumps(POD).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(clients)

    def client() -> None:
        conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=str(ca)), timeout=30)
        mine: list[float] = []
        bad = 0
        start_gate.wait()
        for _ in range(requests):
            start = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/namespaces/bench/pods?dryRun=All", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 201:
                    bad += 1
            except OSError:
                bad += 1
                conn.close()
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def denied_by_perf_webhook(k8s: Any) -> bool:
    bare = {**POD, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    result = k8s.kubectl("create", "-f", "-", "--dry-run=server", input=json.dumps(bare), check=False)
    return "kubectl-perf denied" in result.stderr


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=100, help="requests per client per round (default 100)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--workers", type=int, default=1, help="gunicorn workers of both servers (default 1)")
    p.add_argument("--quick", action="store_true", help="one round of 10 requests per client")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.requests = 1, 10
    from conftest import BIN
    from perf_sim.cli import self_signed
    from realk8s import REALK8S_DIR, RealK8s, available
    from webhook_helpers import free_port

    if not available():
        sys.exit(f"needs the real kube-apiserver at {REALK8S_DIR}")
    from realk8s import REALK8S

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        state = work / "k8s"
        started = subprocess.run([str(REALK8S), "start", str(state)], capture_output=True, text=True, timeout=180)
        if started.returncode != 0:
            sys.exit(f"realk8s did not start: {started.stderr[-500:]}")
        k8s = RealK8s(state)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            k8s.load(
                [
                    node("general-1", "32Gi", "general"),
                    node("io-1", "16Gi", "io"),
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}},
                ]
            )
            cert, key, ca_pem = self_signed(work)
            (work / "policy.yaml").write_text(POLICY)
            common = ["--tls-cert-file", str(cert), "--tls-private-key-file", str(key), "--bind-address", "127.0.0.1"]
            common += ["--workers", str(args.workers), "--policy", str(work / "policy.yaml")]
            ports = {"bare": free_port(), "perf-webhook": free_port()}
            procs.append(
                subprocess.Popen(
                    [str(BIN / "perf-webhook"), *common, "--port", str(ports["perf-webhook"]), "--kubeconfig", str(k8s.kubeconfig)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(ROOT / "bench" / "webhook.py"), "--serve-bare", *common, "--port", str(ports["bare"])],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            time.sleep(3)  # both servers up, perf-webhook's cache synced (two nodes)
            results: dict[str, list[float]] = {k: [] for k in KINDS}
            errors = dict.fromkeys(KINDS, 0)
            for r in range(args.rounds):
                for kind in KINDS:
                    if kind == "none":
                        k8s.kubectl("delete", "validatingwebhookconfiguration", "bench", "--ignore-not-found")
                    else:
                        k8s.kubectl("apply", "-f", "-", input=json.dumps(configuration(ports[kind], ca_pem)))
                    # the API server's informer picks a configuration up within about a second: wait until
                    # a pod without requests is denied by perf-webhook, or no longer is
                    deadline = time.monotonic() + 30
                    while denied_by_perf_webhook(k8s) != (kind == "perf-webhook"):
                        if time.monotonic() > deadline:
                            sys.exit(f"the {kind} configuration never took effect")
                        time.sleep(0.3)
                    time.sleep(1)  # the bare app's configuration is the one in use, not only perf-webhook's gone
                    run_clients(k8s.server, k8s.ca, k8s.ADMIN_TOKEN, args.clients, 2)  # warm the connections and caches
                    latencies, bad = run_clients(k8s.server, k8s.ca, k8s.ADMIN_TOKEN, args.clients, args.requests)
                    results[kind] += latencies
                    errors[kind] += bad
                    print(
                        f"round {r + 1} {kind:13} p50 {statistics.median(latencies) * 1000:7.2f} ms"
                        f"  p99 {percentile(latencies, 0.99) * 1000:7.2f} ms  errors {bad}",
                        flush=True,
                    )
            print(f"\n{args.clients} clients x {args.requests} dry-run creates x {args.rounds} rounds per kind")
            print(f"{'kind':13} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
            for kind in KINDS:
                lat = results[kind]
                print(f"{kind:13} {statistics.median(lat) * 1000:8.2f} {percentile(lat, 0.99) * 1000:8.2f} {errors[kind]:7}")
            hook, bare = results["perf-webhook"], results["bare"]
            print(
                f"\nperf-webhook / bare: p50 {statistics.median(hook) / statistics.median(bare):.2f}x, "
                f"p99 {percentile(hook, 0.99) / percentile(bare, 0.99):.2f}x (target <= 1.15x, 0 errors)"
            )
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            k8s.stop()


if __name__ == "__main__":
    main()
