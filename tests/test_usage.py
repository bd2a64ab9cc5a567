"""Usage without metrics-server (issue 24 section 2): the kubelets' /metrics/resource read
through nodes/NODE/proxy, two samples a window apart, in metrics-server's stead.

In-process: two hand-written /metrics/resource samples and the rates worked out by hand;
the cross-check's stale and missing nodes. Against perf-sim (kubectl perf capacity and audit,
in-process): the fixture cluster's figures (tests/data/cluster.yaml's NodeMetrics, by hand)
without metrics-server, the same figures the sim's metrics API gives, nodes/proxy forbidden
as one note, an unreachable kubelet as one note, and metrics-server's stale or missing figures.
The real API server's RBAC answer is in test_usage_realk8s."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import DATA, Sim
from inproc import perf as inproc_perf
from kubectl_perf.api import ApiError
from kubectl_perf.usage import Sample, cross_check, fold, items, read_kubelets
from test_capacity import Gi, perf

N = 10**9

# Two reads of one node's /metrics/resource, 15 s apart by the kubelet's own timestamps (ms).
FIRST = b"""# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 100 1000000
node_memory_working_set_bytes 2e+09 1000000
container_cpu_usage_seconds_total{container="app",namespace="shop",pod="web"} 10 1000000
container_cpu_usage_seconds_total{container="side",namespace="shop",pod="web"} 5 1000000
container_cpu_usage_seconds_total{container="x",namespace="data",pod="db"} 3 1000000
container_memory_working_set_bytes{container="app",namespace="shop",pod="web"} 1e+08 1000000
container_memory_working_set_bytes{container="side",namespace="shop",pod="web"} 2e+07 1000000
container_memory_working_set_bytes{container="x",namespace="data",pod="db"} 5e+08 1000000
container_start_time_seconds{container="app",namespace="shop",pod="web"} 900 1000000
resource_scrape_error 0
"""
SECOND = b"""node_cpu_usage_seconds_total 115 1015000
node_memory_working_set_bytes 2.5e+09 1015000
container_cpu_usage_seconds_total{container="app",namespace="shop",pod="web"} 13 1015000
container_cpu_usage_seconds_total{container="side",namespace="shop",pod="web"} 5.75 1015000
container_cpu_usage_seconds_total{container="x",namespace="data",pod="db"} 1 1015000
container_memory_working_set_bytes{container="app",namespace="shop",pod="web"} 1.5e+08 1015000
container_memory_working_set_bytes{container="side",namespace="shop",pod="web"} 3e+07 1015000
container_memory_working_set_bytes{container="x",namespace="data",pod="db"} 6e+08 1015000
container_start_time_seconds{container="app",namespace="shop",pod="web"} 900 1015000
container_start_time_seconds{container="side",namespace="shop",pod="web"} 965 1015000
container_start_time_seconds{container="x",namespace="data",pod="db"} 1010 1015000
"""


def sample(text: bytes) -> Sample:
    return fold(text.splitlines(), taken=0.0)


def test_two_samples_give_metrics_servers_figures() -> None:
    node, pods = items("node-x", sample(FIRST), sample(SECOND), None)
    # node: (115 - 100) core-seconds over 1015 - 1000 = 15 s = 1 core; the newer working set
    assert node == {
        "metadata": {"name": "node-x"},
        "timestamp": "1970-01-01T00:16:55Z",  # 1,015,000 ms = 1015 s
        "window": "15s",
        "usage": {"cpu": "1000000000n", "memory": "2500000000"},
    }
    # web: app (13 - 10) / 15 = 0.2 cores, side (5.75 - 5) / 15 = 0.05; db's counter went back
    # (1 < 3: the container restarted between the samples), so db is left out, as metrics-server does
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods] == [("shop", "web")]
    assert pods[0]["containers"] == [
        {"name": "app", "usage": {"cpu": "200000000n", "memory": "150000000"}},
        {"name": "side", "usage": {"cpu": "50000000n", "memory": "30000000"}},
    ]
    # -n data: the shop pod is not asked for, and db has no rate
    assert items("node-x", sample(FIRST), sample(SECOND), "data")[1] == []


def test_node_rows_alone_skip_the_container_series() -> None:
    """capacity's node rows (no --pods) fold the two node series only: the same node figures
    (1 core, 2.5 GB, as above), no container held."""
    first, second = (fold(t.splitlines(), taken=0.0, pods=False) for t in (FIRST, SECOND))
    assert (first.cpu, first.memory, first.start, second.cpu) == ({}, {}, {}, {})
    node, pods = items("node-x", first, second, None)
    assert node is not None and node["usage"] == {"cpu": "1000000000n", "memory": "2500000000"} and pods == []


def test_one_sample_is_the_counter_since_start() -> None:
    node, pods = items("node-x", sample(SECOND), None, None)
    # no node CPU: its counter runs from a boot /metrics/resource does not give; memory as read
    assert node is not None and node["usage"] == {"memory": "2500000000"} and node["window"] == "0s"
    # each container's counter over the time since it started, read at 1015 s:
    # app 13 / (1015 - 900) = 0.113043478 cores, side 5.75 / (1015 - 965) = 0.115, db's x 1 / (1015 - 1010) = 0.2
    assert [p["containers"] for p in pods] == [
        [
            {"name": "app", "usage": {"cpu": "113043478n", "memory": "150000000"}},
            {"name": "side", "usage": {"cpu": "115000000n", "memory": "30000000"}},
        ],
        [{"name": "x", "usage": {"cpu": "200000000n", "memory": "600000000"}}],
    ]
    assert all(p["window"] == "0s" for p in pods)
    # a container without a start time has no figure, and its pod is left out
    first_only, _ = items("node-x", sample(FIRST), None, None)[1], None
    assert [p["metadata"]["name"] for p in first_only] == []  # FIRST gives app's start only, side has none


class FakeKubelets:
    """/metrics/resource per node: FIRST, then SECOND; some nodes fail; counts reads in flight."""

    def __init__(self, fail: dict[str, int]) -> None:
        self.fail, self.lock, self.now, self.most, self.reads = fail, threading.Lock(), 0, 0, 0

    def stream_lines(self, path: str, query: Any = None, timeout: float | None = None) -> Iterator[bytes]:
        assert timeout == 10.0, "each kubelet read carries its own bound (README: 10 s per read)"
        node = path.split("/")[4]
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.reads += 1
            second = self.reads > 24
        try:
            time.sleep(0.02)
            if node in self.fail:
                raise ApiError("boom", self.fail[node])
            return iter((SECOND if second else FIRST).splitlines())
        finally:
            with self.lock:
                self.now -= 1


def test_reads_are_bounded_two_rounds_and_a_failed_node_is_a_note() -> None:
    cluster = FakeKubelets({"n3": 503})
    slept: list[float] = []
    got = read_kubelets(cluster, [f"n{i}" for i in range(24)], 15.0, concurrency=4, sleep=slept.append)
    assert 1 < cluster.most <= 4
    assert cluster.reads == 24 + 23  # the failed node is not read again
    assert len(slept) == 1 and 14 < slept[0] <= 15  # the second round a window after the first began
    assert len(got.nodes) == 23 and got.nodes[0]["usage"]["cpu"] == "1000000000n"
    assert list(got.failed) == ["n3"] and "kubelet not reachable" in got.failed["n3"]


def test_forbidden_stops_the_reads() -> None:
    cluster = FakeKubelets({f"n{i}": 403 for i in range(40)})
    got = read_kubelets(cluster, [f"n{i}" for i in range(40)], 15.0, concurrency=2, sleep=lambda _s: None)
    assert got.forbidden and got.nodes == [] and got.pods == [] and cluster.reads < 40


def test_cross_check_stale_and_missing() -> None:
    fresh = {"metadata": {"name": "a"}, "timestamp": "2026-12-05T12:00:00Z", "window": "15s"}
    old: dict[str, Any] = {"metadata": {"name": "b"}, "timestamp": "2026-12-05T11:59:29Z", "window": "15s"}
    kubelet_now = 1796472000.0  # 2026-12-05T12:00:00Z
    # b is 31 s behind the kubelet: over 2 windows of 15 s (30 s); a is current; c has no figures
    notes = cross_check([fresh, old], ["a", "b", "c"], kubelet_now)
    assert notes == [
        "metrics-server has no figures for 1 of 3 nodes: c",
        "metrics-server's figures are stale on 1 nodes: b's are 31s old, over 2 windows of 15s",
    ]
    old["timestamp"] = "2026-12-05T11:59:31Z"  # 29 s: within two windows
    assert cross_check([fresh, old], ["a", "b"], kubelet_now) == []
    assert cross_check([{"metadata": {"name": "a"}, "timestamp": "2026-12-05T11:58:00Z", "window": "1m0s"}], ["a"], kubelet_now) == []
    old["timestamp"] = "2026-12-05T11:59:29.500Z"  # RFC 3339 allows fractions: 30.5 s, past two windows
    assert cross_check([old], ["b"], kubelet_now) == [
        "metrics-server's figures are stale on 1 nodes: b's are 30s old, over 2 windows of 15s"
    ]
    for unreadable in ("yesterday", "2026-12-05 11:00:00", "2026-12-05T11:00:00+01:00", 1796472000):
        old["timestamp"] = unreadable  # not judged: no note rather than a wrong one
        assert cross_check([old], ["b"], kubelet_now) == []


# -- through kubectl perf, against perf-sim ----------------------------------------------------
@pytest.fixture(scope="module")
def no_ms(sim_factory: Any) -> Sim:
    return sim_factory("--objects", str(DATA / "cluster.yaml"), "--no-metrics-server")


def by_node(result: Any) -> dict[str, dict[str, Any]]:
    assert result.returncode in (0, 1), result.stderr
    return {n["name"]: n for n in json.loads(result.stdout)["nodes"]}


def test_capacity_without_metrics_server_reads_the_kubelets(no_ms: Sim) -> None:
    result = perf(no_ms, "--util", "--usage-window", "0.5", "-o", "json")
    by = by_node(result)
    # cluster.yaml's NodeMetrics, by hand: node-a 1500m and 6Gi, node-b 2500m and 13Gi; the sim's
    # kubelets count CPU at those rates, so two samples give them back (to the ms of their timestamps)
    assert abs(by["node-a"]["resources"]["cpu"]["usage"] - 1.5) < 0.015
    assert abs(by["node-b"]["resources"]["cpu"]["usage"] - 2.5) < 0.025
    assert by["node-a"]["resources"]["memory"]["usage"] == 6 * Gi and by["node-b"]["resources"]["memory"]["usage"] == 13 * Gi
    assert by["node-b"]["paddingBreaches"] == ["usage"]  # 13Gi over 75% of 16Gi = 12Gi
    notes = [line for line in result.stderr.splitlines() if "/metrics/resource" in line]
    assert notes == [
        "note: metrics API unavailable: metrics-server is not installed (404); usage read from the kubelets' "
        "/metrics/resource (two samples 0.5s apart)"
    ]
    # --fail-on-breach alone sees the breach too (it was exit 3 without metrics-server)
    assert perf(no_ms, "--fail-on-breach", "--usage-window", "0.5").returncode == 1


def test_the_kubelets_agree_with_the_metrics_api(fixture_cluster: Sim, no_ms: Sim) -> None:
    """perf-sim's /metrics/resource is consistent with its metrics API: the same pods and figures
    through either source (memory to the KiB metrics.k8s.io rounds to, CPU to 1%)."""
    served = by_node(perf(fixture_cluster, "--util", "--pods", "-o", "json"))
    for sim, extra in ((no_ms, ()), (fixture_cluster, ("--usage-source", "kubelet"))):
        read = by_node(perf(sim, "--util", "--pods", "--usage-window", "0.5", "-o", "json", *extra))
        assert set(read) == set(served)
        for name, node in served.items():
            for resource, tolerance in (("cpu", 0.01), ("memory", 1024)):
                want, got = node["resources"][resource]["usage"], read[name]["resources"][resource]["usage"]
                assert abs(got - want) <= (tolerance * want if resource == "cpu" else tolerance), (name, resource, got, want)
            pods = {p["name"]: p["resources"] for p in read[name]["podDetails"]}
            assert set(pods) == {p["name"] for p in node["podDetails"]}
            for pod in node["podDetails"]:
                want_mem, got_mem = pod["resources"]["memory"]["usage"], pods[pod["name"]]["memory"]["usage"]
                assert abs(got_mem - want_mem) < 1024 * len(pod.get("containerDetails") or [1]) + 1024, (pod["name"], got_mem, want_mem)
                want_cpu, got_cpu = pod["resources"]["cpu"]["usage"], pods[pod["name"]]["cpu"]["usage"]
                assert abs(got_cpu - want_cpu) <= 0.01 * want_cpu + 0.001, (pod["name"], got_cpu, want_cpu)


def test_one_sample_marks_node_cpu_unknown(no_ms: Sim) -> None:
    result = perf(no_ms, "--util", "--usage-window", "0")
    assert result.returncode == 0, result.stderr
    node_a = next(line for line in result.stdout.splitlines() if line.startswith("node-a"))
    assert node_a.split()[5] == "-" and "6144Mi (37%)" in node_a  # CPU UTIL unknown, MEMORY UTIL 6Gi of 16Gi
    assert "one sample: CPU averaged since each container started, node CPU unknown" in result.stderr


def test_usage_source_metrics_server_keeps_the_old_answer(no_ms: Sim) -> None:
    result = perf(no_ms, "--util", "--usage-source", "metrics-server")
    assert result.returncode == 3 and "UTIL" not in result.stdout
    assert "metrics-server is not installed" in result.stderr and "/metrics/resource" not in result.stderr


def test_bad_window_is_a_flag_error() -> None:
    result = perf(None, "--util", "--usage-window", "soon")
    assert result.returncode == 2 and "invalid --usage-window 'soon'" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def no_ms_no_proxy(sim_factory: Any) -> Sim:
    return sim_factory("--objects", str(DATA / "cluster.yaml"), "--no-metrics-server", "--forbid-cluster-list", "nodes/proxy")


def test_nodes_proxy_forbidden_is_one_note(no_ms_no_proxy: Sim) -> None:
    result = perf(no_ms_no_proxy, "--util", "--usage-window", "0.5")
    assert result.returncode == 3 and result.stdout.startswith("NODE") and "UTIL" not in result.stdout
    assert "Traceback" not in result.stderr
    notes = [line for line in result.stderr.splitlines() if "nodes/proxy" in line]
    assert len(notes) == 1 and "metrics-server is not installed" in notes[0] and "usage columns are left out" in notes[0]


def test_audit_node_padding_from_the_kubelets(no_ms: Sim, no_ms_no_proxy: Sim) -> None:
    def audit(sim: Sim, *args: str) -> Any:
        return inproc_perf(sim.kubeconfig, "audit", "--kubeconfig", str(sim.kubeconfig), "-o", "json", *args)

    result = audit(no_ms, "--usage-window", "0.5")
    d = json.loads(result.stdout)
    padding = {r["resource"]["name"]: r for r in d["results"] if r["rule"] == "node-padding"}
    # node-b: 13Gi in use (cluster.yaml, by hand) over 75% of 16Gi
    assert padding["node-b"]["result"] == "fail" and "13Gi" in padding["node-b"]["message"], padding
    assert [line for line in result.stderr.splitlines() if "usage read from the kubelets' /metrics/resource" in line][0].startswith(
        "note: "
    )
    # nodes/proxy forbidden: node-padding is one skip that says why, not an abort
    skipped = audit(no_ms_no_proxy, "--usage-window", "0.5")
    assert "Traceback" not in skipped.stderr and "nodes/proxy" not in skipped.stderr
    rows = [r for r in json.loads(skipped.stdout)["results"] if r["rule"] == "node-padding"]
    assert len(rows) == 1 and rows[0]["result"] == "skip" and "needs get on nodes/proxy" in rows[0]["message"], rows


@pytest.fixture(scope="module")
def stale(sim_factory: Any) -> Sim:
    return sim_factory("--objects", str(DATA / "cluster.yaml"), "--metrics-age", "100", "--metrics-skip", "node-gpu")


def test_stale_and_missing_metrics_server_figures_are_noted(stale: Sim, fixture_cluster: Sim) -> None:
    result = perf(stale, "--util")
    assert result.returncode == 0, result.stderr
    # node-gpu unscraped; node-a and node-b 100 s behind the kubelets, over 2 windows of 20.035 s
    assert "note: metrics-server has no figures for 1 of 3 nodes: node-gpu" in result.stderr
    stale_notes = [line for line in result.stderr.splitlines() if "stale" in line]
    assert len(stale_notes) == 1 and "stale on 2 nodes: node-a's are 10" in stale_notes[0] and "2 windows of 20.035s" in stale_notes[0]
    assert "stale" not in perf(fixture_cluster, "--util").stderr  # 10 s behind: fresh


def test_figures_that_are_not_finite_are_no_figures() -> None:
    """The text format allows NaN and +Inf, and 1e999 reads as infinity: none of them is a usage
    figure (int() of them would raise); the node's finite series are kept."""
    text = b"""node_cpu_usage_seconds_total 1e999 1000000
node_memory_working_set_bytes NaN 1000000
container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} +Inf 1000000
container_memory_working_set_bytes{container="a",namespace="n",pod="p"} 5e+08 1000000
container_start_time_seconds{container="a",namespace="n",pod="p"} 900 1000000
"""
    s = sample(text)
    assert (s.node_cpu, s.node_memory, s.cpu) == (None, None, {})
    node, pods = items("x", s, None, None)
    assert node is None and pods == []  # no node figure; the pod has no CPU figure, so it is left out
