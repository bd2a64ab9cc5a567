"""kubectl perf cadvisor on real kubelet dumps nobody on this project wrote (origin and
licence: tests/data/cadvisor-real/README.md), through the command as a user runs it.
Every expected figure is worked out by hand from the lines quoted beside it."""

from __future__ import annotations

from conftest import DATA
from test_cadvisor import cadvisor, near, rows, summary

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
