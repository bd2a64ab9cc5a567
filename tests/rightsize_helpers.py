"""Shared by the rightsize tests: a hand-written cluster (nodes, Deployments, their pods) in
perf-sim's objects format, with creation times relative to now."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml


def stamp(ago: timedelta) -> str:
    return (datetime.now(timezone.utc) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(name: str, pool: str, cpu: str, memory: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"node-pool": pool}},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def deployment(
    ns: str, name: str, age: timedelta, resources: dict[str, Any], pods: list[str], node_name: str, container: str = "app"
) -> list[dict[str, Any]]:
    """A Deployment, its ReplicaSet (hash abc12) and running pods NAME-abc12-<suffix>."""
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": container, "image": "x", "resources": resources}]},
    }
    created = stamp(age)
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": created},
            "spec": {"replicas": len(pods), "selector": {"matchLabels": {"app": name}}, "template": template},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name}-abc12",
                "namespace": ns,
                "creationTimestamp": created,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": f"u-{name}", "controller": True}],
            },
            "spec": {"replicas": len(pods), "selector": {"matchLabels": {"app": name}}, "template": template},
        },
    ]
    for suffix in pods:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{name}-abc12-{suffix}",
                    "namespace": ns,
                    "labels": {"app": name, "pod-template-hash": "abc12"},
                    "creationTimestamp": created,
                    "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-abc12", "uid": f"r-{name}", "controller": True}
                    ],
                },
                "spec": {"nodeName": node_name, **template["spec"]},
                "status": {"phase": "Running"},
            }
        )
    return out


def dump(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


# -- a real Prometheus with backfilled history ------------------------------------------------
PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
NO_PROMETHEUS = "needs Debian's prometheus package (prometheus and promtool); ./dev test installs it"
Rate = Callable[[float], float]  # unix seconds -> cores
WorkingSet = Callable[[float], int]  # unix seconds -> bytes


def openmetrics(series: Mapping[tuple[str, ...], tuple[Rate, WorkingSet]], first: int, last: int, every: int = 60) -> str:
    """OpenMetrics text of cAdvisor's two series per (namespace, pod, container[, job]), a sample
    every `every` seconds from `first` to `last`; the CPU counter integrates the rate."""
    lines = []
    for key, (rate, _ws) in series.items():
        labels = _labels(key)
        total = 0.0
        for t in range(first, last + 1, every):
            lines.append(f"container_cpu_usage_seconds_total{{{labels}}} {total:.6f} {t}")
            total += rate(t) * every
    for key, (_rate, ws) in series.items():
        labels = _labels(key)
        lines.extend(f"container_memory_working_set_bytes{{{labels}}} {ws(t)} {t}" for t in range(first, last + 1, every))
    return "\n".join(lines) + "\n# EOF\n"


def _labels(key: tuple[str, ...]) -> str:
    ns, pod, container, *job = key
    return f'namespace="{ns}",pod="{pod}",container="{container}"' + "".join(f',job="{j}"' for j in job)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prometheus_serving(tmp: Path, text: str) -> Iterator[str]:
    """`text` backfilled by promtool into a TSDB that prometheus serves on a loopback port, with no
    scrape jobs; yields its URL."""
    assert PROMETHEUS and PROMTOOL
    (tmp / "series.om").write_text(text)
    tsdb = tmp / "tsdb"
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(tmp / "series.om"), str(tsdb)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (tmp / "prometheus.yml").write_text("global: {}\nscrape_configs: []\n")
    port = free_port()
    log = open(tmp / "prometheus.log", "wb")
    argv = [PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tsdb}", f"--web.listen-address=127.0.0.1:{port}"]
    proc = subprocess.Popen([*argv, "--storage.tsdb.retention.time=30d"], stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prometheus did not start: " + (tmp / "prometheus.log").read_text()[-2000:])
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
