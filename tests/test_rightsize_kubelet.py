"""Issue 25, sampling without metrics-server: `kubectl perf rightsize` reads the kubelets'
/metrics/resource through nodes/NODE/proxy (usage.read_round) on the nodes running the chosen
workloads' pods. perf-sim --no-metrics-server answers metrics.k8s.io 404 and serves each
node's /metrics/resource from the same usage its metrics API would give: CPU as a counter growing
at the pod's rate, stamped with the instant it was read, and the working set.

By hand: --duration 1 --interval 0.25 is 5 reads (floor(1 / 0.25) + 1). api's pods: a on n1 at
100m and 200Mi, b on n2 at 300m and 400Mi, constant. CPU is the rate between consecutive reads:
4 samples a pod, 8 in all (four 100m, four 300m); memory one a read: 10. The basis counts the
smaller, 8 (hence --min-samples 8). p95 by nearest rank: the ceil(0.95 x 8) = 8th smallest, 300m;
p50: the 4th, 100m. Memory: peak 400Mi + 15% = 460Mi. edge's one pod runs on n4, NotReady: its
kubelet does not answer (503), one note, no samples. n3 (NotReady too) runs only a pod of another
namespace: not read, so no note names it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Sim
from inproc import perf
from rightsize_helpers import deployment, dump, node

RES = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}


def pod_metrics(ns: str, pod: str, cpu: str, memory: str) -> dict[str, Any]:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": pod, "namespace": ns},
        "timestamp": "2026-11-27T10:00:00Z",
        "window": "15s",
        "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": memory}}],
    }


def not_ready(obj: dict[str, Any]) -> dict[str, Any]:
    obj["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    return obj


def api_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """api's pod b runs on n2 (the helper puts every pod on one node)."""
    for obj in pods:
        if obj["kind"] == "Pod" and obj["metadata"]["name"].endswith("-b"):
            obj["spec"]["nodeName"] = "n2"
    return pods


OBJECTS = [
    node("n1", "general", "8", "16Gi"),
    node("n2", "general", "8", "16Gi"),
    not_ready(node("n3", "general", "8", "16Gi")),
    not_ready(node("n4", "general", "8", "16Gi")),
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sample"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}},
    *api_pods(deployment("sample", "api", timedelta(days=30), RES, ["a", "b"], "n1")),
    *deployment("sample", "edge", timedelta(days=30), RES, ["e"], "n4"),
    *deployment("other", "elsewhere", timedelta(days=30), RES, ["x"], "n3"),
    pod_metrics("sample", "api-abc12-a", "100m", "200Mi"),
    pod_metrics("sample", "api-abc12-b", "300m", "400Mi"),
    pod_metrics("sample", "edge-abc12-e", "50m", "64Mi"),
    pod_metrics("other", "elsewhere-abc12-x", "50m", "64Mi"),
]
BASE = ["rightsize", "-n", "sample", "--duration", "1", "--interval", "0.25", "--min-samples", "8"]
KUBELET_CPU = "rates between consecutive kubelet reads: N reads of a pod give N-1 CPU samples; memory: each read's working set"


@pytest.fixture
def no_metrics(sim_factory: Any, tmp_path: Path) -> Sim:
    path = tmp_path / "objects.yaml"
    path.write_text(dump(OBJECTS))
    return sim_factory("--objects", str(path), "--no-metrics-server")


def containers(stdout: str) -> dict[str, Any]:
    doc = json.loads(stdout)
    return {w["name"]: w["containers"][0] for w in doc["workloads"]} | {"_doc": doc}


def test_auto_samples_the_kubelets_without_metrics_server(no_metrics: Sim) -> None:
    ran = perf(no_metrics.kubeconfig, *BASE, "-o", "json")
    assert ran.returncode == 0, ran.stderr
    got = containers(ran.stdout)
    assert got["_doc"]["source"] == "kubelet /metrics/resource"
    api = got["api"]
    assert api["basis"]["samples"] == 8 and api["basis"]["pods"] == 2
    assert (api["basis"]["cpuSamples"], api["basis"]["memorySamples"]) == (8, 10)
    assert api["basis"]["cpuFrom"] == KUBELET_CPU
    # the span: four intervals of at least 0.25 s between the first read and the last
    assert 1.0 <= api["basis"]["spanSeconds"] < 3.0
    assert api["recommended"] == {"requests": {"cpu": "300m", "memory": "460Mi"}, "limits": {"memory": "460Mi"}}
    assert api["admission"] == {"allowed": True, "message": ""}
    # edge: its node's kubelet does not answer: no samples, and one note that names n4 (not n3)
    assert got["edge"]["recommended"] is None
    assert got["edge"]["status"] == "insufficient data: 0 samples, fewer than 8"
    notes = ran.stderr.splitlines()
    assert notes[0].startswith("note: metrics API unavailable") and notes[0].endswith(
        "; usage sampled from the kubelets' /metrics/resource through nodes/NODE/proxy instead"
    ), notes
    unread = [n for n in notes if "no usage from" in n]
    assert len(unread) == 1 and unread[0].startswith(
        "note: no usage from 1 of 3 nodes: node n4: kubelet not reachable through the API server (503): "
        "error trying to reach service: dial tcp 10.0.0.1:10250: connect: connection refused"
    ), notes
    assert "n3" not in ran.stderr


def test_percentile_and_explicit_kubelet_source(no_metrics: Sim) -> None:
    ran = perf(no_metrics.kubeconfig, *BASE, "--usage-source", "kubelet", "--cpu-percentile", "50", "-o", "json")
    assert ran.returncode == 0, ran.stderr
    assert containers(ran.stdout)["api"]["recommended"]["requests"] == {"cpu": "100m", "memory": "460Mi"}
    assert "metrics API unavailable" not in ran.stderr  # asked for: no fallback to explain


def test_metrics_server_source_without_metrics_server_is_exit_3(no_metrics: Sim) -> None:
    ran = perf(no_metrics.kubeconfig, *BASE, "--usage-source", "metrics-server", "-o", "json")
    assert ran.returncode == 3, ran.stderr
    got = containers(ran.stdout)
    assert got["api"]["status"] == "insufficient data: 0 samples, fewer than 8"
    assert got["_doc"]["source"] == "metrics.k8s.io"
    first = ran.stderr.splitlines()[0]
    assert first.startswith("note: metrics API unavailable") and first.endswith("; no usage sampled"), ran.stderr
    assert "Traceback" not in ran.stderr


def test_nodes_proxy_forbidden_is_one_note_and_exit_3(sim_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "objects.yaml"
    path.write_text(dump(OBJECTS))
    sim = sim_factory("--objects", str(path), "--no-metrics-server", "--forbid-cluster-list", "nodes/proxy")
    ran = perf(sim.kubeconfig, *BASE, "-o", "json")
    assert ran.returncode == 3, ran.stderr
    got = containers(ran.stdout)
    assert got["api"]["status"] == "insufficient data: 0 samples, fewer than 8"
    proxy = [line for line in ran.stderr.splitlines() if "nodes/proxy" in line]
    assert len(proxy) == 1 and "no usage from the kubelets either: reading /metrics/resource needs get on nodes/proxy" in proxy[0]


def test_kubelet_history_file_builds_up_across_runs(no_metrics: Sim, tmp_path: Path) -> None:
    """The first read of each pod has no CPU rate yet: its line carries "cpu": null. The second run
    reads the file's 8 CPU and 10 memory samples of api, then adds as many: 16 and 20."""
    history = tmp_path / "history.jsonl"
    first = perf(no_metrics.kubeconfig, *BASE, "--history-file", str(history), "-o", "json")
    assert first.returncode == 0, first.stderr
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    api = [d for d in lines if d["workload"] == "api"]
    assert len(api) == 10 and sum(d["cpu"] is None for d in api) == 2
    assert {d["cpu"] for d in api if d["pod"] == "api-abc12-b"} == {None, 300 * 10**6}
    second = perf(no_metrics.kubeconfig, *BASE, "--history-file", str(history), "-o", "json")
    assert second.returncode == 0, second.stderr
    basis = containers(second.stdout)["api"]["basis"]
    assert (basis["samples"], basis["cpuSamples"], basis["memorySamples"]) == (16, 16, 20)


def test_usage_source_goes_without_prometheus() -> None:
    ran = perf(None, "rightsize", "--prometheus", "http://p", "--usage-source", "kubelet")
    assert ran.returncode == 2
    assert "--usage-source chooses what is sampled without --prometheus" in ran.stderr.splitlines()[0]


# -- the real API server: RBAC is real, and no kubelet answers ------------------------------------
def realk8s_objects() -> list[dict[str, Any]]:
    """One node and the namespace `shop` with Deployment web (one pod on it), as
    test_rightsize_realk8s loads them (no ReplicaSet: the pod's name says whose it is), and user3
    of test_usage_realk8s: may read nodes, pods and workloads, not get nodes/proxy."""
    from test_rightsize_realk8s import objects
    from test_usage_realk8s import AUDITOR

    return [
        obj for obj in objects() if obj["metadata"]["name"].split("-abc12")[0] in ("web", "edge-in") or obj["kind"] in ("Node", "Namespace")
    ] + AUDITOR


def test_kubelet_source_on_the_real_api_server(tmp_path_factory: pytest.TempPathFactory) -> None:
    """user3 (no nodes/proxy): the real server answers 403 to metrics.k8s.io (it authorises before it
    routes) and discovery 404, so auto samples the kubelets; the first node read is refused: one
    note, every workload insufficient data, exit 3. The admin may get nodes/proxy, but the real
    server's nodes run no kubelet: every read fails, one note, exit 3 too."""
    from realk8s import loaded

    with loaded(tmp_path_factory.mktemp("realk8s-rightsize-kubelet"), realk8s_objects()) as k8s:
        argv = ["rightsize", "-n", "shop", "--duration", "0.2", "--interval", "0.1", "--min-age", "1s", "-o", "json"]
        ran = perf(k8s.kubeconfig, *argv, "--as", "user3")
        assert ran.returncode == 3, ran.stderr
        assert "Traceback" not in ran.stderr
        doc = json.loads(ran.stdout)
        assert doc["source"] == "kubelet /metrics/resource"
        statuses = {w["name"]: w["containers"][0]["status"] for w in doc["workloads"]}
        assert statuses and all(s == "insufficient data: 0 samples, fewer than 10" for s in statuses.values()), statuses
        proxy = [line for line in ran.stderr.splitlines() if "nodes/proxy" in line]
        assert len(proxy) == 1, ran.stderr
        assert proxy[0].startswith("note: metrics API unavailable: forbidden to this user (403); no usage from the kubelets either: ")
        assert "needs get on nodes/proxy" in proxy[0] and 'User "user3"' in proxy[0]
        admin = perf(k8s.kubeconfig, *argv, "--usage-source", "kubelet")
        assert admin.returncode == 3, admin.stderr
        lines = admin.stderr.splitlines()
        assert lines[0].startswith(
            "note: --usage-source kubelet; no usage from the kubelets either: no node's /metrics/resource could be read: node small-1"
        ), admin.stderr


def test_kubelet_rounds_dedupe_repeated_stats_and_skip_restarts() -> None:
    """A kubelet answers from its last stats: two reads may carry the same timestamp (and figures),
    which count once; a counter that went back (the container restarted) gives no CPU sample. By
    hand: reads at t=100 (5 core-seconds, 100Mi), t=100 again, t=110 (7 core-seconds: 2 over 10 s is
    200m; 120Mi), t=120 (1 core-second: restarted; 50Mi). CPU: one sample, 200m at t=110; memory:
    three (t=100, 110, 120; the repeat dropped)."""
    from kubectl_perf.owners import Workload
    from kubectl_perf.rightsize.compute import WorkloadInput
    from kubectl_perf.rightsize.fetch import _kubelet_rounds, _Sampler
    from kubectl_perf.rightsize.flags import Sampling

    reads = [(100, 5.0, 100), (100, 5.0, 100), (110, 7.0, 120), (120, 1.0, 50)]

    class Kubelet:
        def __init__(self) -> None:
            self.n = 0

        def stream_lines(self, path: str, timeout: float | None = None) -> list[bytes]:
            assert path == "/api/v1/nodes/n1/proxy/metrics/resource"
            at, cpu, mib = reads[self.n]
            self.n += 1
            labels = 'container="app",namespace="sample",pod="api-abc12-a"'
            return [
                f"container_cpu_usage_seconds_total{{{labels}}} {cpu} {at * 1000}\n".encode(),
                f"container_memory_working_set_bytes{{{labels}}} {mib * 2**20} {at * 1000}\n".encode(),
            ]

    w = Workload("Deployment", "sample", "api")
    pod = {"metadata": {"name": "api-abc12-a", "namespace": "sample"}, "spec": {"nodeName": "n1"}}
    workloads = [WorkloadInput(w, {}, None, (pod,))]
    sampler = _Sampler(workloads, None, 86400.0)
    notes: list[str] = []
    source = Sampling(0.03, 0.01, None, "kubelet")
    assert source.rounds == 4
    assert _kubelet_rounds(Kubelet(), source, workloads, sampler, notes, "--usage-source kubelet") == ""  # type: ignore[arg-type]
    s = sampler.out[(w, "app")]
    assert s.cpu == [(110.0, 200 * 10**6)]
    assert s.memory == [(100.0, 100 * 2**20 * 10**9), (110.0, 120 * 2**20 * 10**9), (120.0, 50 * 2**20 * 10**9)]
    assert notes == []
