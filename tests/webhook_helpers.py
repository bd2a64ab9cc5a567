"""Start perf-webhook under gunicorn against a perf-sim cluster, and talk HTTPS to it."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from conftest import BIN, Sim
from perf_sim.cli import self_signed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Webhook:
    proc: subprocess.Popen[bytes]
    port: int
    ca: Path
    workdir: Path
    log: Path

    def connection(self) -> http.client.HTTPSConnection:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)

    def post(self, body: Any, content_type: str = "application/json", conn: http.client.HTTPSConnection | None = None) -> tuple[int, Any]:
        own = conn is None
        conn = conn or self.connection()
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request("POST", "/validate", body=data, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        raw = resp.read()
        if own:
            conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw

    def get(self, path: str) -> tuple[int, str]:
        conn = self.connection()
        conn.request("GET", path)
        resp = conn.getresponse()
        out = resp.status, resp.read().decode()
        conn.close()
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_webhook(
    workdir: Path,
    sim: Sim | None,
    policy: dict[str, Any],
    workers: int | None = 1,
    wait_ready: bool = True,
    extra: tuple[str, ...] = (),
    kubeconfig: Path | None = None,
) -> Webhook:
    """perf-webhook on a free loopback port; ready means every worker's cache has synced."""
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key, ca_pem = self_signed(workdir)
    ca = workdir / "ca.crt"
    ca.write_bytes(ca_pem)
    policy_file = workdir / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    port = free_port()
    log = workdir / "webhook.log"
    proc = subprocess.Popen(
        [
            str(BIN / "perf-webhook"),
            "--tls-cert-file",
            str(cert),
            "--tls-private-key-file",
            str(key),
            "--port",
            str(port),
            "--bind-address",
            "127.0.0.1",
            "--policy",
            str(policy_file),
            "--kubeconfig",
            str(kubeconfig or (sim.kubeconfig if sim else workdir / "no-kubeconfig")),
            *(("--workers", str(workers)) if workers else ()),
            *extra,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    hook = Webhook(proc, port, ca, workdir, log)
    if wait_ready:
        deadline = time.monotonic() + 30
        while True:
            try:
                # every worker must have synced: ask often enough to meet each of them
                if all(hook.get("/readyz")[1] == "ok (node cache synced)\n" for _ in range(4 * (workers or 1))):
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"perf-webhook did not become ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
    return hook


def review(
    obj: dict[str, Any],
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    uid: str = "uid-1",
    dry_run: bool = False,
    sub_resource: str | None = None,
) -> dict[str, Any]:
    kind = obj.get("kind", "Pod")
    group = {"Pod": "", "CronJob": "batch", "Job": "batch", "ReplicationController": ""}.get(kind, "apps")
    version = "v1"
    namespace = (obj.get("metadata") or {}).get("namespace", "default")
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "namespace": namespace,
        "name": (obj.get("metadata") or {}).get("name", ""),
        "operation": operation,
        "userInfo": {"username": "tester"},
        "object": obj if operation != "DELETE" else None,
        "oldObject": old,
        "dryRun": dry_run,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }
    if sub_resource:
        request["subResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def pod(
    name: str = "app", namespace: str = "shop", memory_limit: str | None = "1Gi", requests: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": requests if requests is not None else {"cpu": "100m", "memory": "256Mi"}}
    if memory_limit:
        resources["limits"] = {"memory": memory_limit}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": "nginx", "resources": resources}], **spec},
    }


def controller(kind: str, pod_obj: dict[str, Any]) -> dict[str, Any]:
    template = {"metadata": {"labels": pod_obj["metadata"]["labels"]}, "spec": pod_obj["spec"]}
    meta = {"name": pod_obj["metadata"]["name"], "namespace": pod_obj["metadata"]["namespace"]}
    if kind == "CronJob":
        spec: dict[str, Any] = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": meta, "spec": spec}
    api = "batch/v1" if kind == "Job" else "v1" if kind == "ReplicationController" else "apps/v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": meta,
        "spec": {"selector": {"matchLabels": pod_obj["metadata"]["labels"]}, "template": template},
    }


# -- clients that stall ------------------------------------------------------------------
STALL_STAGES = ("handshake", "headers", "body", "chunked")
_STALLER = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # one context: building one per connection costs ~100 ms
_STALLER.check_hostname, _STALLER.verify_mode = False, ssl.CERT_NONE


def stalled_connection(port: int, stage: str, host: str = "127.0.0.1") -> socket.socket:
    """A connection that stops at `stage`: 4 bytes of a TLS ClientHello; half a request's
    headers; a body shorter than its Content-Length; a chunked body cut inside a chunk."""
    raw = socket.create_connection((host, port), timeout=30)
    if stage == "handshake":
        raw.sendall(b"\x16\x03\x01\x02")  # record type handshake, TLS 1.0 record, length...
        return raw
    tls = _STALLER.wrap_socket(raw, server_hostname=host)
    head = f"POST /validate HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    if stage == "headers":
        tls.sendall(head.encode())  # no blank line: the headers never end
    elif stage == "body":
        tls.sendall(f'{head}Content-Length: 1000\r\n\r\n{{"kind": '.encode())
    elif stage == "chunked":
        tls.sendall(f'{head}Transfer-Encoding: chunked\r\n\r\n100\r\n{{"kind": '.encode())
    else:
        raise ValueError(stage)
    return tls


def still_open(sock: socket.socket) -> bool:
    """True while the server has neither closed nor answered the connection. Reads
    through TLS, so the session tickets a TLS 1.3 server sends are not taken for an answer."""
    sock.setblocking(False)
    try:
        sock.recv(1)  # b"": closed; data: answered
        return False
    except (BlockingIOError, ssl.SSLWantReadError):
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def review_latencies(port: int, ca: Path, count: int, body: dict[str, Any], fresh_every: int = 10) -> list[float]:
    """Seconds for each of `count` valid reviews, over connections renewed every `fresh_every`."""
    ctx = ssl.create_default_context(cafile=str(ca))
    data = json.dumps(body).encode()
    out: list[float] = []
    conn: http.client.HTTPSConnection | None = None
    for i in range(count):
        if i % fresh_every == 0:
            if conn:
                conn.close()
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
        assert conn is not None
        start = time.perf_counter()
        conn.request("POST", "/validate", body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        out.append(time.perf_counter() - start)
        assert resp.status == 200, resp.status
    if conn:
        conn.close()
    return out
