#!/usr/bin/env python3
"""The crafted inputs of issue 27 (availability 5-7) against a running perf-webhook, while an
ordinary user's reviews are timed: the worker's RSS must stay flat and the ordinary reviews fast.

    .venv/bin/python bench/admission_abuse.py [--nodes 5000] [--crafted 10000] [--idle 2000]

A perf-sim cluster (--nodes, in five pools, with kubernetes.io/hostname labels) feeds the cache.
Three attackers run together, each from its own thread:
  - label keys (item 5): --crafted reviews, each with a nodeSelector on a key never seen before
    or on one node's kubernetes.io/hostname, so every one asks for a grouping of its own;
  - large specs (item 6): reviews with 1,500 node-affinity terms and one matchFields term (the
    review's 92 KiB object), one in ten of the crafted reviews;
  - idle TLS connections (item 7): --idle connections that complete the handshake and send
    nothing, opened in bursts of 200.
The ordinary user sends the bench's usual Deployment review on one keep-alive connection, one
every 10 ms, for as long as the attack lasts; its latencies are reported as p50/p99/max.

RSS is sampled (the worker process, /proc/PID/status VmRSS) after the cache syncs, after the
first 1,000 crafted reviews (warm: the groupings' LRU and the allocator's arenas are full), and
at the end. Targets: RSS at the end within 10 MB of the warm sample; the ordinary user's p99
under 100 ms. Do not run this on a shared machine for long: it loads both cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import socket
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
sys.path.insert(0, str(ROOT / "bench"))

POLICY = "mode: enforce\npadding:\n  memory: 0.75\n"


def worker_rss(pid: int) -> float:
    """MB resident in gunicorn's worker (the arbiter's only child)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    status = Path(f"/proc/{children[0]}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def review(spec: dict[str, Any], uid: str) -> bytes:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "crafted", "namespace": "shop"},
        "spec": {
            **spec,
            "containers": [
                {"name": "c", "image": "x", "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}
            ],
        },
    }
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop",
            "operation": "CREATE",
            "userInfo": {"username": "tenant"},
            "dryRun": True,
            "object": pod,
        },
    }
    return json.dumps(body).encode()


def crafted(i: int, nodes: int) -> bytes:
    if i % 10 == 9:  # item 6: 1,500 affinity terms and a matchFields term
        terms: list[dict[str, Any]] = [{"matchExpressions": [{"key": f"k{t}", "operator": "In", "values": [f"v{t}"]}]} for t in range(1500)]
        terms.append({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-0"]}]})
        spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}
    elif i % 2:  # item 5: one node's hostname (one group per node when grouped by it)
        spec = {"nodeSelector": {"kubernetes.io/hostname": f"node-{i % nodes}"}}
    else:  # item 5: a label key never seen before
        spec = {"nodeSelector": {f"crafted.example/k{i}": "x"}}
    return review(spec, f"crafted-{i}")


class Post:
    def __init__(self, port: int, ca: Path) -> None:
        self.ctx = ssl.create_default_context(cafile=str(ca))
        self.port = port
        self.conn = self._new()

    def _new(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=60)

    def __call__(self, body: bytes) -> int:
        for attempt in (0, 1):
            try:
                self.conn.request("POST", "/validate", body=body, headers={"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                resp.read()
                if resp.getheader("Connection") == "close":
                    self.conn.close()
                    self.conn = self._new()
                return resp.status
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = self._new()
                if attempt:
                    raise
        return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=5000)
    p.add_argument("--crafted", type=int, default=10000, help="crafted reviews (items 5 and 6)")
    p.add_argument("--idle", type=int, default=2000, help="idle TLS connections (item 7)")
    p.add_argument("--header-timeout", type=float, default=5.0)
    args = p.parse_args()

    from conftest import BIN, start_sim, stop_sim
    from perf_sim.cli import self_signed
    from webhook_helpers import free_port

    from webhook import REVIEW, wait_synced
    from webhook import Server as Named

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sim = start_sim(work / "sim", "--nodes", str(args.nodes), "--pods-per-node", "1")
        cert, key, ca_pem = self_signed(work)
        ca = work / "ca.crt"
        ca.write_bytes(ca_pem)
        (work / "policy.yaml").write_text(POLICY)
        port = free_port()
        cmd = [str(BIN / "perf-webhook"), "--tls-cert-file", str(cert), "--tls-private-key-file", str(key)]
        cmd += ["--bind-address", "127.0.0.1", "--port", str(port), "--policy", str(work / "policy.yaml")]
        cmd += ["--kubeconfig", str(sim.kubeconfig), "--header-timeout", str(args.header_timeout)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            took = wait_synced(Named("perf-webhook", proc, port), ca, 600)
            ordinary_body = json.dumps(REVIEW).encode()
            user = Post(port, ca)
            for _ in range(50):
                user(ordinary_body)  # warm
            samples = [("synced", worker_rss(proc.pid))]
            done = threading.Event()
            statuses: dict[int, int] = {}
            warm = threading.Event()

            def labels_and_specs() -> None:
                post = Post(port, ca)
                for i in range(args.crafted):
                    status = post(crafted(i, args.nodes))
                    statuses[status] = statuses.get(status, 0) + 1
                    if i == 999:
                        samples.append(("after 1,000 crafted", worker_rss(proc.pid)))
                        warm.set()
                done.set()

            idle_cut = [0, 0]  # opened, closed by the server

            def idle_connections() -> None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                while idle_cut[0] < args.idle and not done.is_set():
                    burst = []
                    for _ in range(min(200, args.idle - idle_cut[0])):
                        try:
                            burst.append(ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30)))
                        except OSError:
                            break
                    idle_cut[0] += len(burst)
                    time.sleep(args.header_timeout + 1)
                    for s in burst:
                        s.settimeout(0.5)
                        try:
                            if s.recv(1) == b"":
                                idle_cut[1] += 1
                        except (OSError, ssl.SSLError):
                            pass
                        s.close()

            threads = [threading.Thread(target=labels_and_specs), threading.Thread(target=idle_connections)]
            started = time.monotonic()
            for t in threads:
                t.start()
            latencies: list[float] = []
            while not done.is_set():
                start = time.perf_counter()
                status = user(ordinary_body)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    sys.exit(f"the ordinary review got {status}")
                time.sleep(0.01)
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            samples.append(("end", worker_rss(proc.pid)))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            stop_sim(sim)

    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"{args.nodes} nodes (synced in {took:.0f} s); {args.crafted} crafted reviews (answers {statuses}) and "
        f"{idle_cut[0]} idle TLS connections ({idle_cut[1]} closed by the server within --header-timeout "
        f"{args.header_timeout:g} s + 1 s) in {elapsed:.0f} s; {time.strftime('%Y-%m-%d')}\n"
    )
    print("| worker RSS at | MB |\n|---|---|")
    for what, mb in samples:
        print(f"| {what} | {mb:.1f} |")
    growth = samples[-1][1] - samples[1][1] if len(samples) > 2 else float("nan")
    print(
        f"\nordinary reviews meanwhile: {len(latencies)}, p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {p99:.1f} ms (target < 100), max {latencies[-1] * 1000:.1f} ms"
    )
    print(f"RSS growth from warm to end: {growth:+.1f} MB (target within 10 MB)")


if __name__ == "__main__":
    main()
