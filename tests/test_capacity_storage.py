"""ephemeral-storage usage from the kubelet's /stats/summary (issue 8 item 17):
`kubectl perf capacity --util --resources ephemeral-storage`.

In-process: the summary's figures (hand-written below) as the eviction manager counts them, the
bounded concurrent reads. Against perf-sim (in-process, test_capacity.perf): every node's figure checked against
the kubelet JSON perf-sim serves, read raw and summed here (an oracle independent of the plugin),
and the nodes/proxy 403 note. The real API server's answers are in test_capacity_nsonly_realk8s."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from conftest import Sim
from kubectl_perf.api import ApiError
from kubectl_perf.capacity.compute import BuildOptions, build
from kubectl_perf.capacity.options import Pods
from kubectl_perf.capacity.storage import StorageUsage, fold, node_used, read
from kubectl_perf.policy import Policy
from test_capacity import Gi, Mi, perf
from test_compute import OBJ

N = 10**9
STORAGE = "ephemeral-storage"

# A kubelet summary, cut to what matters: the node filesystem keeps 5% for root, so
# capacity - available (100Gi - 55Gi = 45Gi) is more than usedBytes (40Gi).
SUMMARY = {
    "node": {"nodeName": "node-b", "fs": {"capacityBytes": 100 * Gi, "availableBytes": 55 * Gi, "usedBytes": 40 * Gi}},
    "pods": [
        {"podRef": {"namespace": "data", "name": "db-0"}, "ephemeral-storage": {"usedBytes": 1536 * Mi}},
        {"podRef": {"namespace": "data", "name": "podlevel"}, "ephemeral-storage": {"usedBytes": 512 * Mi}},
        {"podRef": {"namespace": "data", "name": "no-figure"}, "ephemeral-storage": {}},
    ],
}


def test_node_use_is_what_eviction_sees() -> None:
    assert node_used(SUMMARY) == 45 * Gi  # nodefs.available: capacity - available, not usedBytes
    assert node_used({"node": {"fs": {"usedBytes": 7}}}) == 7  # no capacity given: usedBytes
    assert node_used({"node": {}}) is None
    usage = StorageUsage()
    fold(SUMMARY, "node-b", usage)
    assert usage.nodes == {"node-b": 45 * Gi}
    assert usage.pods == {("data", "db-0"): 1536 * Mi, ("data", "podlevel"): 512 * Mi}


def storage_report(**options: Any) -> Any:
    usage = StorageUsage()
    fold(SUMMARY, "node-b", usage)
    opts = BuildOptions(Policy(), util=True, **options)
    return build(opts, OBJ["Node"], [OBJ["Pod"]], OBJ["NodeMetrics"], OBJ["PodMetrics"], None, usage.nodes, usage.pods)


def test_rows_carry_storage_use() -> None:
    r = storage_report(view=Pods())
    assert r.nodes["node-b"].amounts.usage is not None and r.nodes["node-b"].amounts.usage[STORAGE] == 45 * Gi * N
    assert STORAGE not in (r.nodes["node-a"].amounts.usage or {})  # no summary for node-a: not measured, not 0
    pods = {p.name: p for p in r.nodes["node-b"].rows}
    assert pods["db-0"].amounts.usage is not None and pods["db-0"].amounts.usage[STORAGE] == 1536 * Mi * N
    assert r.metered == {"cpu", "memory", STORAGE}
    # the node's own cpu and memory from NodeMetrics stay as they were
    assert r.nodes["node-b"].amounts.usage["memory"] == 13 * Gi * N


def test_under_a_pod_filter_rows_sum_the_shown_pods() -> None:
    r = storage_report(pods_filtered=True)
    # db-0 1536Mi + podlevel 512Mi = 2Gi; node-a shows no data pod: a measured 0
    assert r.nodes["node-b"].amounts.usage is not None and r.nodes["node-b"].amounts.usage[STORAGE] == 2 * Gi * N
    assert r.nodes["node-a"].amounts.usage is not None and r.nodes["node-a"].amounts.usage[STORAGE] == 0


class FakeCluster:
    """Answers summaries after a pause, counting how many are in flight at once."""

    def __init__(self, fail: dict[str, int]) -> None:
        self.fail, self.lock, self.now, self.most, self.timeouts = fail, threading.Lock(), 0, 0, set()

    def get(self, path: str, query: Any = None, timeout: float | None = None) -> dict[str, Any]:
        node = path.split("/")[4]
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.timeouts.add(timeout)
        try:
            time.sleep(0.02)
            if node in self.fail:
                raise ApiError("boom", self.fail[node])
            return {"node": {"fs": {"capacityBytes": 10, "availableBytes": 4}}, "pods": []}
        finally:
            with self.lock:
                self.now -= 1


def test_reads_are_bounded_and_a_failed_node_is_a_note() -> None:
    cluster = FakeCluster({"n3": 503})
    names = [f"n{i}" for i in range(24)]
    usage = read(cluster, names, concurrency=4, timeout=2.5)
    assert 1 < cluster.most <= 4 and cluster.timeouts == {2.5}
    assert len(usage.nodes) == 23 and usage.nodes["n0"] == 6 and list(usage.failed) == ["n3"]
    assert usage.notes() == [f"{STORAGE} usage unavailable on 1 of 24 nodes: {usage.failed['n3']}"]
    assert "kubelet not reachable" in usage.failed["n3"]


def test_forbidden_stops_the_reads() -> None:
    usage = read(FakeCluster({f"n{i}": 403 for i in range(40)}), [f"n{i}" for i in range(40)], concurrency=2)
    assert usage.nodes == {} and usage.forbidden
    assert len(usage.notes()) == 1 and "nodes/proxy" in usage.notes()[0]


# -- through kubectl, against perf-sim -------------------------------------------------------
def summaries(sim: Sim) -> dict[str, dict[str, Any]]:
    return {n: sim.get(f"/api/v1/nodes/{n}/proxy/stats/summary") for n in ("node-a", "node-b", "node-gpu")}


def test_kubectl_perf_capacity_shows_kubelet_storage(fixture_cluster: Sim) -> None:
    raw = summaries(fixture_cluster)  # perf-sim's figures are steady: the same on every read
    result = perf(fixture_cluster, "--util", "--resources", "cpu,memory,ephemeral-storage", "--pods", "-o", "json")
    assert result.returncode in (0, 1), result.stderr
    d = json.loads(result.stdout)
    for node in d["nodes"]:
        fs = raw[node["name"]]["node"]["fs"]
        assert node["resources"][STORAGE]["usage"] == fs["capacityBytes"] - fs["availableBytes"]
        pods = {p["podRef"]["name"]: p["ephemeral-storage"]["usedBytes"] for p in raw[node["name"]]["pods"]}
        for pod in node["podDetails"]:
            assert pod["resources"][STORAGE]["usage"] == pods[pod["name"]]
        assert node["resources"]["memory"]["usage"] > 0  # cpu and memory still from metrics.k8s.io
    assert d["total"]["resources"][STORAGE]["usage"] == sum(
        s["node"]["fs"]["capacityBytes"] - s["node"]["fs"]["availableBytes"] for s in raw.values()
    )
    assert "no usage for ephemeral-storage" not in result.stderr
    table = perf(fixture_cluster, "--util", "--resources", "ephemeral-storage")
    assert table.stdout.splitlines()[0].split()[:4] == ["NODE", "EPHEMERAL-STORAGE", "REQUESTS", "EPHEMERAL-STORAGE"]
    assert "EPHEMERAL-STORAGE UTIL" in table.stdout.splitlines()[0]


def test_a_namespace_sums_its_pods_storage(fixture_cluster: Sim) -> None:
    raw = summaries(fixture_cluster)
    d = json.loads(perf(fixture_cluster, "--util", "--resources", STORAGE, "-n", "data", "-o", "json").stdout)
    by = {n["name"]: n for n in d["nodes"]}
    data = sum(p["ephemeral-storage"]["usedBytes"] for p in raw["node-b"]["pods"] if p["podRef"]["namespace"] == "data")
    assert by["node-b"]["resources"][STORAGE]["usage"] == data and by["node-a"]["resources"][STORAGE]["usage"] == 0


@pytest.fixture(scope="module")
def no_proxy(sim_factory: Any) -> Sim:
    from conftest import DATA

    return sim_factory("--objects", str(DATA / "cluster.yaml"), "--forbid-cluster-list", "nodes/proxy")


def test_forbidden_node_proxy_is_a_note(no_proxy: Sim) -> None:
    result = perf(no_proxy, "--util", "--resources", "cpu,memory,ephemeral-storage")
    assert result.returncode == 0, result.stderr  # cpu and memory usage still shown; storage is a note
    notes = [line for line in result.stderr.splitlines() if "nodes/proxy" in line]
    assert len(notes) == 1 and notes[0].startswith("note: no ephemeral-storage usage") and "Traceback" not in result.stderr
    assert "EPHEMERAL-STORAGE UTIL" not in result.stdout and "MEMORY UTIL" in result.stdout


@pytest.fixture(scope="module")
def gpu_down(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """The fixture cluster with node-gpu NotReady: its kubelet does not answer (503 through the proxy)."""
    import yaml
    from conftest import DATA

    docs = list(yaml.safe_load_all((DATA / "cluster.yaml").read_text()))
    for doc in docs:
        if doc.get("kind") == "Node" and doc["metadata"]["name"] == "node-gpu":
            doc["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    path = tmp_path_factory.mktemp("gpu-down") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return sim_factory("--objects", str(path))


def test_an_unreachable_kubelet_is_a_note_and_a_filter_reads_only_its_nodes(gpu_down: Sim) -> None:
    result = perf(gpu_down, "--util", "--resources", "ephemeral-storage", "-o", "json")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "ephemeral-storage usage unavailable" in line]
    assert len(notes) == 1 and "on 1 of 3 nodes" in notes[0] and "node-gpu" in notes[0] and "503" in notes[0]
    by = {n["name"]: n["resources"][STORAGE] for n in json.loads(result.stdout)["nodes"]}
    assert "usage" not in by["node-gpu"] and "usage" in by["node-a"] and "usage" in by["node-b"]
    table = perf(gpu_down, "--util", "--resources", "ephemeral-storage")
    gpu_line = next(line for line in table.stdout.splitlines() if line.startswith("node-gpu ("))  # marked NotReady
    assert gpu_line.split()[-1] == "-", table.stdout  # its UTIL, last without memory: not measured, not 0
    # -n data runs on node-b alone: node-gpu's kubelet is not asked, so no note
    shown = perf(gpu_down, "--util", "--resources", "ephemeral-storage", "-n", "data")
    assert shown.returncode == 0 and "unavailable" not in shown.stderr, shown.stderr
