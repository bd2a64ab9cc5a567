"""Issue 25 without Prometheus: `kubectl perf rightsize` samples metrics.k8s.io for --duration every
--interval (perf-sim serves each PodMetrics' `usageSeries` one entry per read, stamped 15 s apart),
keeps history in --history-file across runs, and leaves HPA-scaled workloads alone. Expected
figures are worked out by hand from the series below."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Sim
from inproc import perf
from rightsize_helpers import deployment, dump, node

Mi = 2**20


def series(cpus_m: list[int], mems_mi: list[int]) -> list[dict[str, str]]:
    return [{"cpu": f"{c}m", "memory": f"{m}Mi"} for c, m in zip(cpus_m, mems_mi, strict=True)]


def pod_metrics(ns: str, pod: str, entries: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": pod, "namespace": ns},
        "timestamp": "2026-11-27T10:00:00Z",
        "window": "15s",
        "containers": [{"name": "app", "usage": entries[0], "usageSeries": entries}],
    }


RES = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}
# api: pods a (10m, 20m, ... 110m; 100Mi .. 150Mi) and b (120m .. 220m; 150Mi .. 200Mi), 11 reads each.
# scaled: an HPA on cpu targets it. Nodes: one, 8 cores and 16Gi (budget 12Gi at 75%).
OBJECTS = [
    node("n1", "general", "8", "16Gi"),
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sample"}},
    *deployment("sample", "api", timedelta(days=30), RES, ["a", "b"], "n1"),
    *deployment("sample", "scaled", timedelta(days=30), RES, ["s"], "n1"),
    pod_metrics("sample", "api-abc12-a", series(list(range(10, 111, 10)), [100, 105, 110, 115, 120, 125, 130, 135, 140, 145, 150])),
    pod_metrics("sample", "api-abc12-b", series(list(range(120, 221, 10)), [150, 155, 160, 165, 170, 175, 180, 185, 190, 195, 200])),
    pod_metrics("sample", "scaled-abc12-s", series([300] * 11, [64] * 11)),
    {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "scaled", "namespace": "sample"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled"},
            "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}],
        },
    },
]


@pytest.fixture
def sample(sim_factory: Any, tmp_path: Path) -> Sim:
    """A fresh cluster per test: perf-sim counts each pod's metric reads."""
    path = tmp_path / "sample.yaml"
    path.write_text(dump(OBJECTS))
    return sim_factory("--objects", str(path))


def run(sim: Sim, *extra: str) -> dict[str, Any]:
    ran = perf(sim.kubeconfig, "rightsize", "-n", "sample", "--duration", "1", "--interval", "0.1", "-o", "json", *extra)
    assert ran.returncode == 0, ran.stderr
    doc: dict[str, Any] = json.loads(ran.stdout)
    return {w["name"]: w["containers"][0] for w in doc["workloads"]} | {"_doc": doc}


def test_sampled_recommendation_by_hand(sample: Sim) -> None:
    got = run(sample)
    assert got["_doc"]["source"] == "metrics.k8s.io"
    api = got["api"]
    # --duration 1 --interval 0.1: 11 reads, each answered with the next entry: 22 samples (two pods),
    # stamped 15 s apart: a span of 10 x 15 s = 150 s. CPU: 10m .. 220m in steps of 10m; p95 by
    # nearest rank is the ceil(0.95 x 22) = 21st smallest: 210m. Memory peak 200Mi + 15% = 230Mi.
    assert api["basis"] == {"samples": 22, "spanSeconds": 150, "pods": 2, "cpuPercentile": 0.95}
    assert api["recommended"] == {"requests": {"cpu": "210m", "memory": "230Mi"}, "limits": {"memory": "230Mi"}}
    assert api["admission"] == {"allowed": True, "message": ""}
    # scaled: its HPA scales on cpu, so changing its requests moves the HPA's target: skipped.
    assert got["scaled"]["recommended"] is None
    assert got["scaled"]["status"] == "skipped: HPA scaled scales on cpu (--allow-hpa to include)"


def test_allow_hpa_and_floors(sample: Sim) -> None:
    got = run(sample, "--allow-hpa", "--memory-min", "100Mi", "--cpu-percentile", "50", "--cpu-limit-ratio", "1.5")
    # scaled: 300m throughout, 64Mi + 15% = 73.6Mi -> 74Mi, under the 100Mi floor: 100Mi; CPU limit 1.5 x 300m = 450m.
    assert got["scaled"]["recommended"] == {"requests": {"cpu": "300m", "memory": "100Mi"}, "limits": {"cpu": "450m", "memory": "100Mi"}}
    # api at p50: the ceil(0.5 x 22) = 11th smallest of 10m .. 220m = 110m.
    assert got["api"]["recommended"]["requests"]["cpu"] == "110m"


def test_too_few_samples_is_insufficient_data(sample: Sim) -> None:
    got = run(sample, "--min-samples", "23")
    assert got["api"]["recommended"] is None
    assert got["api"]["status"] == "insufficient data: 22 samples, fewer than 23"


def test_history_file_builds_up_across_runs(sample: Sim, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    first = run(sample, "--history-file", str(history))
    assert first["api"]["basis"]["samples"] == 22
    assert len(history.read_text().splitlines()) == 22 + 11  # api's two pods and scaled's one, 11 reads each
    second = run(sample, "--history-file", str(history))
    # The second run reads entries 12 .. 22: past the series' end, so each pod's last entry (110m, 220m),
    # stamped anew. 44 samples: the 22 of the file and 22 new. Sorted, the top 12 are 220m (b's last,
    # once in the first run and 11 times now): the ceil(0.95 x 44) = 42nd smallest is 220m. Span: 21 x 15 s.
    api = second["api"]
    assert api["basis"] == {"samples": 44, "spanSeconds": 315, "pods": 2, "cpuPercentile": 0.95}
    assert api["recommended"]["requests"] == {"cpu": "220m", "memory": "230Mi"}
    assert second["_doc"]["history"] == "14d"


def test_bad_history_file_is_one_line(sample: Sim, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    ran = perf(sample.kubeconfig, "rightsize", "-n", "sample", "--duration", "0.1", "--interval", "0.1", "--history-file", str(bad))
    assert ran.returncode == 2
    assert ran.stderr == f"error: --history-file {bad}: line 1 is not a rightsize sample\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cpu-percentile", "0"], "percentile '0' must be above 0"),
        (["--history", "soon"], "invalid duration 'soon'"),
        (["--prometheus", "prom:9090"], "use an http:// or https:// URL"),
        (["--prometheus-header", "X: y"], "go with --prometheus"),
        (["--cpu-limit-ratio", "0.5"], "below 1"),
        (["--prometheus", "http://p", "--history", "100d", "--step", "1m"], "raise --step"),
    ],
)
def test_bad_flags_are_one_line(argv: list[str], message: str) -> None:
    ran = perf(None, "rightsize", *argv)
    assert ran.returncode == 2
    assert message in ran.stderr.splitlines()[0]


def test_csv_wide_yaml_and_html(sample: Sim) -> None:
    import csv
    import io

    import yaml

    base = ["rightsize", "-n", "sample", "--duration", "1", "--interval", "0.1"]
    ran = perf(sample.kubeconfig, *base, "-o", "csv")
    assert ran.returncode == 0, ran.stderr
    # csv headers are the table's, upper case (the one csv convention): read them lower-cased
    rows = {r["workload"]: r for r in ({k.lower(): v for k, v in row.items()} for row in csv.DictReader(io.StringIO(ran.stdout)))}
    api = rows["Deployment/sample/api"]
    # base units: 500m is 0.5 cores, 512Mi 536870912 bytes; recommended 210m and 230Mi (by hand above)
    assert (api["cpu request"], api["memory request"]) == ("0.5", str(512 * Mi))
    assert (api["cpu recommended"], api["memory recommended"]) == ("0.21", str(230 * Mi))
    assert (api["samples"], api["span"], api["admitted"]) == ("22", "150", "true")
    assert rows["Deployment/sample/scaled"]["admitted"] == ""
    wide = perf(sample.kubeconfig, *base, "-o", "wide").stdout
    assert "CPU RECOMMENDED" in wide.splitlines()[0] and "CPU RECOMMENDED" not in perf(sample.kubeconfig, *base).stdout
    doc = yaml.safe_load(perf(sample.kubeconfig, *base, "-o", "yaml").stdout)
    assert doc["strategy"] == {
        "cpuRequest": "p95",
        "cpuMin": "10m",
        "cpuLimit": "none",
        "memory": "max + 15%",
        "memoryMin": "32Mi",
        "minSamples": 10,
        "allowHpa": False,
    }
    page = perf(sample.kubeconfig, *base, "-o", "html").stdout
    assert page.startswith("<!DOCTYPE html>") and "Deployment/sample/api" in page and "<script" not in page


def test_through_the_real_kubectl_plugin_lookup(generated: Sim) -> None:
    """kubectl finds kubectl-perf-rightsize on PATH; a generated cluster's workloads are sampled
    twice (--duration 1 --interval 1): 2 samples per running pod, so only workloads of 5 pods or more
    reach the default --min-samples 10; the three Deployments perf-sim gives an HPA on cpu are skipped."""
    from conftest import kubectl

    ran = kubectl(generated, "perf", "rightsize", "-A", "--duration", "1", "--interval", "1", "-o", "json")
    doc = json.loads(ran.stdout)
    assert doc["source"] == "metrics.k8s.io" and doc["workloads"]
    skipped = sorted(w["name"] for w in doc["workloads"] if w["containers"][0]["status"].startswith("skipped: HPA"))
    assert skipped == ["checkout", "notebook", "orders"]
    others = [c for w in doc["workloads"] if w["name"] not in skipped for c in w["containers"]]
    assert others
    for c in others:
        samples = c["basis"]["samples"]
        assert samples == 2 * c["basis"]["pods"]
        assert c["status"] == ("recommended" if samples >= 10 else f"insufficient data: {samples} samples, fewer than 10")


def test_perf_sim_usage_period_moves_usage_deterministically(sim_factory: Any) -> None:
    """perf-sim --usage-period: each container's usage is its fixed figure times a factor in
    0.5 .. 1.5 that changes each period, stamped with the period's start."""
    import time

    from kubectl_perf.quantity import parse_quantity

    fixed = sim_factory("--nodes", "1", "--pods-per-node", "8", "--seed", "5")
    moving = sim_factory("--nodes", "1", "--pods-per-node", "8", "--seed", "5", "--usage-period", "1")

    def usage(sim: Sim) -> tuple[set[str], dict[tuple[str, str, str], tuple[int, int]]]:
        items = sim.get("/apis/metrics.k8s.io/v1beta1/pods")["items"]
        stamps = {i["timestamp"] for i in items}
        figures = {
            (i["metadata"]["namespace"], i["metadata"]["name"], c["name"]): (
                parse_quantity(c["usage"]["cpu"]),
                parse_quantity(c["usage"]["memory"]),
            )
            for i in items
            for c in i["containers"]
        }
        return stamps, figures

    _, base = usage(fixed)
    first_stamps, first = usage(moving)
    time.sleep(1.05)
    second_stamps, second = usage(moving)
    assert first_stamps != second_stamps  # stamped with the period's start
    assert first.keys() == second.keys() == base.keys()
    assert first != second
    for key, (cpu, _mem) in first.items():
        assert 0.5 * base[key][0] - 10**6 <= cpu <= 1.5 * base[key][0] + 10**6  # within the factor (a nanocore's rounding aside)
