"""kubectl perf cadvisor on real kubelet dumps nobody on this project wrote (origin and
licence: tests/data/cadvisor-real/README.md), through the command as a user runs it.
Every expected figure is worked out by hand from the lines quoted beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from conftest import DATA
from test_cadvisor import cadvisor, near, rows, run, summary

REAL = DATA / "cadvisor-real"
K135 = REAL / "k8s-1.35-containerd-2.2.txt"  # kind v1.35.0, containerd 2.2.1, cgroup v2 (kernel 6.12)
K135_PODS = REAL / "k8s-1.35-pods.yaml"  # kubectl get pods -A -o yaml of the same cluster
K115 = REAL / "k8s-1.15-docker.txt"  # v1.15, docker 19.03: both label sets
OLD = REAL / "k8s-pre-1.16-docker.txt"  # minikube, docker 17.09: container_name/pod_name only
PI = ("e2e-deployment-79967c5968-8bnn8", "compute-pi-digits")


def table(*args: str) -> list[list[str]]:
    ran = cadvisor("--summary", *args)
    assert ran.returncode == 0, ran.stderr
    return [line.split() for line in ran.stdout.splitlines()]


def test_one_dump_shows_throttling_since_start() -> None:
    # container_cpu_cfs_periods_total{...8bnn8} 357, container_cpu_cfs_throttled_periods_total 357,
    # container_cpu_cfs_throttled_seconds_total 32.862566; quota 8000 / period 100000 = 80m limit
    doc = summary("--once", "-f", str(K135))
    pi = rows(doc)[PI]
    assert pi["throttledRatioSinceStart"] == 357 / 357 and near(pi["throttledSecondsSinceStart"], 32.862566)
    assert pi["throttledRatio"] is None and pi["throttledSeconds"] is None  # no interval from one scrape
    assert near(pi["cpuLimitCores"], 8000 / 100000) and "throttling" in pi["flags"]
    # usage 2.862868 s since the start at 1782468833, sampled at 1782468869183 ms: 36.183 s
    assert near(pi["cpuCores"], 2.862868 / 36.183)
    # statefulset-1: 144 of 175 periods throttled
    assert near(rows(doc)[("e2e-statefulset-1", "compute-pi-digits")]["throttledRatioSinceStart"], 144 / 175)
    # the table says what the figure is
    lines = table("--once", "-f", str(K135), "-o", "wide")
    header = " ".join(lines[0])
    assert "THROTTLED SINCE START" in header and "THROTTLED TIME SINCE START" in header
    row = next(line for line in lines if PI[0] in line)
    assert "100%" in row and "32.86s" in row and row[-1] == "throttling"


def test_since_start_sorts_and_reaches_the_html() -> None:
    doc = summary("--once", "-f", str(K135), "--sort", "throttling", "--top", "1")
    (top,) = doc["containers"]
    # 357/357 and daemonset-kb65b's 423/423 are both 100%: the tie keeps name order
    assert (top["pod"], top["throttledRatioSinceStart"]) == ("e2e-daemonset-kb65b", 1.0)
    html = cadvisor("--summary", "--once", "-f", str(K135), "-o", "html").stdout
    assert "throttled since start" in html and 'data-thr="100.0"' in html


def test_pre_1_16_label_names(tmp_path: Path) -> None:
    # container_name/pod_name only, no sample timestamps: the file's time is the scrape's
    dump = tmp_path / "minikube.txt"
    dump.write_bytes(OLD.read_bytes())
    os.utime(dump, (1521545800, 1521545800))  # 1000 s after addon-resizer's start, 1.5215448e+09
    doc = summary("--once", "-f", str(dump))
    # 12 working-set series with a container_name other than "" and "POD" (counted with grep)
    assert len(doc["containers"]) == 12 and doc["nodes"][0]["containers"] == 12
    ar = rows(doc)[("kube-state-metrics-57f4659995-6n2qq", "addon-resizer")]
    assert ar["namespace"] == "kube-system"
    # no cpu="total" in this kubelet: the two per-core series, 5.173567202 + 4.224512782, over 1000 s
    assert near(ar["cpuCores"], (5.173567202 + 4.224512782) / 1000)
    # quota 10000 / period 100000; 2507 of 8495 periods throttled since start (29.5% > 25%), 287.97 s
    assert near(ar["cpuLimitCores"], 0.1) and near(ar["throttledRatioSinceStart"], 2507 / 8495)
    assert near(ar["throttledSecondsSinceStart"], 287.965920749) and ar["flags"] == ["throttling"]
    assert ar["memoryWorkingSetBytes"] == 12197888 and near(ar["memoryLimitRatio"], 12197888 / 31457280)
    # the dump's own filters read the old names too
    text = run("-f", str(OLD), "-n", "kube-system", "--pod", "^kube-state-metrics", "--metric", "cfs_periods", "--drop-pod-cgroups")
    samples = [line for line in text.stdout.decode().splitlines() if not line.startswith("#")]
    assert len(samples) == 2 and all('pod_name="kube-state-metrics-57f4659995-6n2qq"' in line for line in samples)


def test_both_label_sets_count_once() -> None:
    doc = summary("--once", "-f", str(K115))
    # 30 working-set series with a container other than "" and "POD" (counted with grep), each
    # container twice: this minikube ran inside Docker, so cAdvisor saw /docker/<id>/kubepods/...
    # and /kubepods/...; 15 containers, one row each, the kubelet's own /kubepods cgroup (listed second)
    assert len(doc["containers"]) == 15
    db = rows(doc)[("cockroachdb-1", "cockroachdb")]
    assert db["memoryWorkingSetBytes"] == 106184704 and db["namespace"] == "default"


def test_no_container_series_is_one_line_and_status_2(tmp_path: Path) -> None:
    page = tmp_path / "error.html"
    page.write_text("<html><head><title>503 Service Unavailable</title></head><body>upstream error</body></html>\n")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    for bad in (page, garbage):
        ran = cadvisor("--summary", "--once", "-f", str(bad))
        assert ran.returncode == 2 and ran.stdout == "", ran.stderr
        (line,) = ran.stderr.strip().splitlines()
        assert f"{bad}: no cAdvisor container series" in line and "Traceback" not in line
    ran = cadvisor("--summary", "-f", str(K135), "-f", str(page))  # one good dump does not excuse the other
    assert ran.returncode == 2 and f"{page}: no cAdvisor container series" in ran.stderr


def test_the_same_dump_twice_is_one_line_and_status_2(tmp_path: Path) -> None:
    copy = tmp_path / "copy.txt"
    copy.write_bytes(K135.read_bytes())
    ran = cadvisor("--summary", "-f", str(K135), "-f", str(copy))
    assert ran.returncode == 2 and ran.stdout == ""
    (line,) = ran.stderr.strip().splitlines()
    assert "same scrape" in line and str(copy) in line


def test_pods_file_as_yaml_gives_specs_and_the_node(tmp_path: Path) -> None:
    # kubectl get pods -o yaml: compute-pi-digits requests 40m / 15Mi, limits 80m / 30Mi, on datagen-1-35
    doc = summary("--once", "-f", str(K135), "--pods-file", str(K135_PODS))
    pi = rows(doc)[PI]
    assert near(pi["cpuRequestCores"], 0.04) and near(pi["cpuLimitCores"], 0.08)
    assert pi["memoryRequestBytes"] == 15 * 2**20 and pi["memoryLimitBytes"] == 30 * 2**20
    # the dump names no node: the pods file says where its pods run
    assert pi["node"] == "datagen-1-35" and [n["name"] for n in doc["nodes"]] == ["datagen-1-35"]
    assert {c["node"] for c in doc["containers"]} == {"datagen-1-35"}
    # the same pods as JSON give the same report
    as_json = tmp_path / "pods.json"
    as_json.write_text(json.dumps(yaml.safe_load(K135_PODS.read_text())))
    assert summary("--once", "-f", str(K135), "--pods-file", str(as_json)) == doc
    # a NODE named on the command line wins
    assert rows(summary("node-x", "--once", "-f", str(K135), "--pods-file", str(K135_PODS)))[PI]["node"] == "node-x"
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [\n  - {metadata: \n")
    ran = cadvisor("--summary", "--once", "-f", str(K135), "--pods-file", str(bad))
    assert ran.returncode == 2 and "neither JSON nor YAML" in ran.stderr and "Traceback" not in ran.stderr


def test_a_pods_file_edited_wrong_is_one_line_and_status_2(tmp_path: Path) -> None:
    """A pods file no API server decoded: a list of requests, or a quantity that does not parse, names the pod
    and the field (it said "unexpected data from the cluster", exit 1, before)."""
    listed = yaml.safe_load(K135_PODS.read_text())
    pod = next(p for p in listed["items"] if p["metadata"]["name"] == PI[0])  # compute-pi-digits is its first container
    where = f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']}"
    for wrong, says in (
        (["cpu"], "spec.containers[0].resources.requests must be an object"),
        ({"cpu": "forty"}, "invalid quantity 'forty'"),
    ):
        pod["spec"]["containers"][0]["resources"]["requests"] = wrong
        bad = tmp_path / "pods.yaml"
        bad.write_text(yaml.safe_dump(listed))
        ran = cadvisor("--summary", "--once", "-f", str(K135), "--pods-file", str(bad))
        assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
        assert ran.stderr.startswith(f"error: --pods-file {bad}: {where}: {says}"), ran.stderr


def test_no_cpu_request_from_cgroup_v2_shares() -> None:
    # coredns requests 100m (k8s-1.35-pods.yaml); on this cgroup v2 node container_spec_cpu_shares
    # says 421 (weight 17 converted back), which read as shares/1024 would be 411m
    ran = cadvisor("--summary", "-o", "json", "--once", "-f", str(K135))
    coredns = rows(json.loads(ran.stdout))[("coredns-7d764666f9-qdcxt", "coredns")]
    assert coredns["cpuRequestCores"] is None and "CPU requests are not shown" in ran.stderr
    assert coredns["memoryLimitBytes"] == 178257920  # container_spec_memory_limit_bytes 1.7825792e+08 is exact
    with_specs = cadvisor("--summary", "-o", "json", "--once", "-f", str(K135), "--pods-file", str(K135_PODS))
    assert near(rows(json.loads(with_specs.stdout))[("coredns-7d764666f9-qdcxt", "coredns")]["cpuRequestCores"], 0.1)
    assert "CPU requests are not shown" not in with_specs.stderr


def test_oom_killed_and_restarted_comes_from_the_pod_status(tmp_path: Path) -> None:
    # the real pods, with one status edited here (no real pod in them was OOM-killed): the
    # container restarted 4 times, last after an OOM kill; its dump counter says 0
    doc = yaml.safe_load(K135_PODS.read_text())
    pod = next(p for p in doc["items"] if p["metadata"]["name"] == PI[0])
    (status,) = pod["status"]["containerStatuses"]
    status["restartCount"] = 4
    status["lastState"] = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-06-26T10:13:00Z"}}
    pods = tmp_path / "pods.yaml"
    pods.write_text(yaml.safe_dump(doc))
    by = rows(summary("--once", "-f", str(K135), "--pods-file", str(pods)))
    pi = by[PI]
    assert pi["oomEvents"] == 0 and pi["restarts"] == 4 and pi["lastOomKilledAt"] == "2026-06-26T10:13:00Z"
    assert pi["flags"] == ["throttling", "oom-killed"]
    coredns = by[("coredns-7d764666f9-qdcxt", "coredns")]
    assert coredns["restarts"] == 0 and coredns["lastOomKilledAt"] is None and "oom-killed" not in coredns["flags"]
    lines = table("--once", "-f", str(K135), "--pods-file", str(pods), "-o", "wide")
    assert "RESTARTS" in lines[0] and "KILL" in lines[0]
    row = next(line for line in lines if PI[0] in line)
    assert "2026-06-26T10:13:00Z" in row and row[-1] == "throttling,oom-killed"
    # without pod status nothing is claimed
    assert rows(summary("--once", "-f", str(K135)))[PI]["restarts"] is None
