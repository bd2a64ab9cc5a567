"""Issue 25, Prometheus as the usage source, against a REAL Prometheus (Debian's package):
series with known percentiles are generated as OpenMetrics, backfilled with `promtool tsdb
create-blocks-from openmetrics`, served by `prometheus` on a loopback port with no scrape jobs,
and `kubectl perf rightsize --prometheus` reads them. Every expected figure is worked out by hand
below from the series written, never by the code under test."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from conftest import Sim
from inproc import perf
from rightsize_helpers import NO_PROMETHEUS, PROMETHEUS, PROMTOOL, deployment, dump, free_port, node, openmetrics, prometheus_serving

pytestmark = pytest.mark.skipif(not (PROMETHEUS and PROMTOOL), reason=NO_PROMETHEUS)

DAY = 86400
HISTORY = 2 * DAY  # --history 2d
STEP = 300  # --step 5m: query_range points every 5 minutes, rate over 5m
Mi = 2**20

# The cluster: two nodes of pool `general`, 4 cores and 4Gi each; the padding target 75% gives a
# budget of 3Gi. shop/web: 2 pods asking 1 core and 1Gi (limits: 2 cores, 1Gi), 30 days old.
# shop/cache: 1 pod, 200m and 1Gi. shop/young: 1 day old, younger than the 2-day history.
RES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}
OBJECTS = [
    node("n1", "general", "4", "4Gi"),
    node("n2", "general", "4", "4Gi"),
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    *deployment("shop", "web", timedelta(days=30), RES, ["x1", "x2"], "n1"),
    *deployment(
        "shop", "cache", timedelta(days=30), {"requests": {"cpu": "200m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}, ["c1"], "n2"
    ),
    *deployment("shop", "young", timedelta(days=1), RES, ["y1"], "n2"),
]


def cpu_rate(pod: str, t: float, *, start: float) -> float:
    """Cores used. web-x1: 0.1 for the first 80% of the history, 0.5 for the last 20%; web-x2:
    0.1 throughout; cache: 0.2; young: 0.3."""
    if pod == "web-abc12-x1":
        return 0.5 if t - start >= 0.8 * HISTORY else 0.1
    return {"web-abc12-x2": 0.1, "cache-abc12-c1": 0.2, "young-abc12-y1": 0.3}[pod]


def working_set(pod: str, t: float, *, start: float) -> int:
    """Bytes. web-x1: 200Mi, with one hour at 300Mi in the middle; web-x2: 250Mi; cache: 3000Mi; young: 100Mi."""
    if pod == "web-abc12-x1":
        return 300 * Mi if DAY <= t - start < DAY + 3600 else 200 * Mi
    return {"web-abc12-x2": 250 * Mi, "cache-abc12-c1": 3000 * Mi, "young-abc12-y1": 100 * Mi}[pod]


def openmetrics_of(end: float) -> str:
    """Samples every minute from an hour before the history to 15 minutes after `end` (the
    query's end is a little later than the generation)."""
    start = end - HISTORY
    pods = ["web-abc12-x1", "web-abc12-x2", "cache-abc12-c1", "young-abc12-y1"]
    series: dict[tuple[str, ...], Any] = {
        ("shop", p, "app"): (partial(cpu_rate, p, start=start), partial(working_set, p, start=start)) for p in pods
    }
    # cache's kubelet scraped by a second job too: its usage must count once (200m, not 400m)
    series["shop", "cache-abc12-c1", "app", "kubelet-b"] = series["shop", "cache-abc12-c1", "app"]
    return openmetrics(series, int(start - 3600), int(end + 900))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prometheus_serving(tmp_path_factory.mktemp("prom"), openmetrics_of(time.time())) as url:
        yield url


@pytest.fixture(scope="module")
def shop(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    path = tmp_path_factory.mktemp("shop") / "shop.yaml"
    path.write_text(dump(OBJECTS))
    return sim_factory("--objects", str(path))


def run(shop: Sim, url: str, *extra: str) -> Any:
    ran = perf(shop.kubeconfig, "rightsize", "-n", "shop", "--prometheus", url, "--history", "2d", "--step", "5m", *extra)
    assert ran.returncode == 0, ran.stderr
    return ran


def containers(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["name"]: w["containers"][0] for w in doc["workloads"]}


def test_recommendations_from_backfilled_history(shop: Sim, prometheus: str) -> None:
    doc = json.loads(run(shop, prometheus, "-o", "json").stdout)
    assert doc["source"] == f"prometheus {prometheus}"
    assert doc["history"] == "2d"
    got = containers(doc)
    # web: 2d / 5m + 1 = 577 points per series, two pods: 1,154 CPU samples. x1 runs at 0.5 core for
    # the last 20% of the time, so 10% of all the points are 0.5 (x2's all 0.1): p95 = 0.5 = 500m.
    # Memory peak: x1's hour at 300Mi; + 15% = 345Mi, request and limit. No CPU limit.
    web = got["web"]
    assert web["recommended"] == {"requests": {"cpu": "500m", "memory": "345Mi"}, "limits": {"memory": "345Mi"}}
    assert web["basis"] == {"samples": 1154, "spanSeconds": 172800, "pods": 2, "cpuPercentile": 0.95}
    assert web["admission"] == {"allowed": True, "message": ""}
    assert web["current"] == {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}
    # cache: 0.2 core throughout = 200m; 3000Mi + 15% = 3450Mi, above the 3Gi budget (75% of 4Gi) of
    # every node it may run on: flagged with the budget, never silently recommended.
    cache = got["cache"]
    assert cache["recommended"]["requests"] == {"cpu": "200m", "memory": "3450Mi"}
    assert cache["admission"]["allowed"] is False
    assert cache["admission"]["message"].startswith("pool general budget 3Gi: [padding] ")
    # young: a day old, younger than the 2-day history: insufficient data, not a number.
    young = got["young"]
    assert young["recommended"] is None
    assert young["status"].startswith("insufficient data") and "younger than the history" in young["status"]
    # Totals: requests of running pods before (web 2 x (1, 1Gi), cache (200m, 1Gi), young (1, 1Gi))
    # and after (web 2 x (500m, 345Mi); cache and young unchanged: denied / no recommendation).
    totals = doc["totals"]
    assert totals["cpu"] == {"before": 3.2, "after": 2.2}
    assert totals["memory"] == {"before": 4 * 2**30, "after": 2 * 345 * Mi + 2 * 2**30}
    (pool,) = totals["byPool"]
    # FFD into 4-core, 3Gi bins: before 1Gi x 4 pods -> three per bin -> 2 nodes; after 1Gi, 1Gi,
    # 345Mi, 345Mi -> one bin (2Gi + 690Mi < 3Gi; 1 + 1 + 0.2 + ... cpu 2.2 < 4).
    assert pool == {
        "pool": "general",
        "nodes": 2,
        "cpu": {"before": 3.2, "after": 2.2},
        "memory": {"before": 4 * 2**30, "after": 2 * 345 * Mi + 2 * 2**30},
        "nodesNeeded": {"before": 2, "after": 1, "method": "first-fit-decreasing estimate"},
    }


def test_patch_carries_only_admitted_recommendations(shop: Sim, prometheus: str) -> None:
    import yaml

    out = run(shop, prometheus, "-o", "patch").stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    # web only: cache would be denied, young has no data; the CPU limit 2 is removed (null).
    assert docs == [
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "resources": {"requests": {"cpu": "500m", "memory": "345Mi"}, "limits": {"memory": "345Mi", "cpu": None}},
                            }
                        ]
                    }
                }
            }
        }
    ]
    assert out.startswith("# kubectl patch deployment web -n shop --patch-file FILE\n")
    commands = run(shop, prometheus, "-o", "patch-commands").stdout.splitlines()
    assert len(commands) == 1 and commands[0].startswith("kubectl patch deployment web -n shop --type strategic -p ")


def test_table_sorted_by_savings_with_verdicts(shop: Sim, prometheus: str) -> None:
    out = run(shop, prometheus).stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["WORKLOAD", "CONTAINER", "CURRENT"]
    # web frees 2 x (1Gi - 345Mi) of memory; cache grows (denied), young has none: web first.
    assert lines[1].startswith("Deployment/shop/web")
    assert "1154 samples over 2d, 2 pod(s), p95" in lines[1] and lines[1].rstrip().endswith("ok")
    assert "would be denied:" in out and "insufficient data" in out


def test_prometheus_unreachable_is_one_line(shop: Sim) -> None:
    port = free_port()
    ran = perf(shop.kubeconfig, "rightsize", "-n", "shop", "--prometheus", f"http://127.0.0.1:{port}", "--prometheus-timeout", "2s")
    assert ran.returncode == 1
    assert ran.stderr.startswith("error: http://127.0.0.1:") and "cannot query Prometheus" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_token_file_and_header_flags(shop: Sim, prometheus: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    ran = run(shop, prometheus, "--prometheus-token-file", str(token), "--prometheus-header", "X-Scope-OrgID: team-a", "-o", "json")
    assert containers(json.loads(ran.stdout))["web"]["recommended"]["requests"]["cpu"] == "500m"
    missing = perf(
        shop.kubeconfig, "rightsize", "-n", "shop", "--prometheus", prometheus, "--prometheus-token-file", str(tmp_path / "nope")
    )
    assert missing.returncode == 2 and missing.stderr.startswith("error: --prometheus-token-file")


def test_batches_of_one_pod_give_the_same_answer(shop: Sim, prometheus: str) -> None:
    """--prometheus-batch 1: one query per pod (web's two pods apart), the samples joined per workload."""
    whole = containers(json.loads(run(shop, prometheus, "-o", "json").stdout))
    single = containers(json.loads(run(shop, prometheus, "-o", "json", "--prometheus-batch", "1").stdout))
    assert single == whole
    assert single["web"]["basis"]["samples"] == 1154


def test_a_silent_prometheus_times_out_in_one_line(shop: Sim) -> None:
    """A server that accepts and never answers: --prometheus-timeout bounds the wait."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        ran = perf(shop.kubeconfig, "rightsize", "-n", "shop", "--prometheus", f"http://127.0.0.1:{port}", "--prometheus-timeout", "1s")
        assert time.monotonic() - started < 20
        assert ran.returncode == 1
        assert ran.stderr.startswith(f"error: http://127.0.0.1:{port}: cannot query Prometheus:") and "timed out" in ran.stderr
        assert len(ran.stderr.splitlines()) == 1
    finally:
        stop.set()
        thread.join()
        for s in held:
            s.close()
        listener.close()
