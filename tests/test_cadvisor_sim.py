"""kubectl perf cadvisor against perf-sim: the summary in this process (tests/inproc.py),
the dump through kubectl's plugin lookup (it streams bytes through stdout's buffer, which
a captured stream lacks).

Expected figures come from tests/data/cluster.yaml (web-1's usage is given there:
app 300m / 900Mi, proxy 20m / 100Mi; limits by hand from its spec) or from the
metrics.k8s.io API read directly by the test (what `kubectl top` shows), never from
the code under test."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import DATA, Sim, kubectl
from inproc import Ran, perf

Mi, Gi = 2**20, 2**30
_UNITS = {"n": 1, "u": 10**3, "m": 10**6, "": 10**9, "Ki": 2**10 * 10**9, "Mi": 2**20 * 10**9, "Gi": 2**30 * 10**9}


def parse_nanos(text: str) -> int:
    """The few quantity forms metrics.k8s.io writes (123n, 300m, 900Mi, 1234Ki), in nanos:
    worked out here, apart from the suite's own parser."""
    match = re.fullmatch(r"(\d+)([a-zA-Z]*)", text)
    assert match and match.group(2) in _UNITS, text
    return int(match.group(1)) * _UNITS[match.group(2)]


def dump(sim: Sim, *args: str) -> Any:
    """The dump, through the real kubectl."""
    return kubectl(sim, "perf", "cadvisor", *args, check=False)


def cadvisor(sim: Sim, *args: str) -> Ran:
    """`kubectl perf cadvisor ARGS` in this process. --kubeconfig as well as KUBECONFIG: the
    kubernetes client reads KUBECONFIG once, when first imported, so in one process every
    later cluster would be the first one."""
    return perf(sim.kubeconfig, "cadvisor", "--kubeconfig", str(sim.kubeconfig), *args)


def summary(sim: Sim, *args: str) -> dict[str, Any]:
    result = cadvisor(sim, "--summary", "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rows(doc: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(c["namespace"], c["pod"], c["container"]): c for c in doc["containers"]}


def within(a: float | None, b: float, rel: float = 0.01) -> bool:
    return a is not None and abs(a - b) <= rel * abs(b)


def test_summary_agrees_with_the_pod_spec_and_metrics_api(fixture_cluster: Sim) -> None:
    doc = summary(fixture_cluster, "node-a", "--interval", "1.5")
    by = rows(doc)
    assert {k[1] for k in by} == {"web-1", "web-2", "sandboxed"}  # running pods only: not batch-done/failed
    app, proxy = by[("shop", "web-1", "app")], by[("shop", "web-1", "proxy")]
    assert within(app["cpuCores"], 0.3) and app["memoryWorkingSetBytes"] == 900 * Mi
    assert app["memoryLimitBytes"] == 2 * Gi and app["memoryLimitRatio"] == 900 / 2048 and app["cpuLimitCores"] is None
    assert app["cpuRequestCores"] == 0.5 and app["throttledRatio"] is None  # no CPU limit: no CFS series
    assert within(proxy["cpuCores"], 0.02) and proxy["memoryLimitBytes"] == 256 * Mi and proxy["memoryLimitRatio"] == 100 / 256
    limited = by[("shop", "web-2", "app")]  # limit 1 core: CFS series, a ratio from two scrapes
    assert limited["cpuLimitCores"] == 1 and 0 <= limited["throttledRatio"] <= 1
    assert by[("secure", "sandboxed", "app")]["cpuLimitCores"] == 0.2
    # the node's working set is the node's own, as metrics.k8s.io reports it (NodeMetrics: node-a 6Gi),
    # not the sum of its containers' (issue 20)
    (node,) = doc["nodes"]
    assert node["name"] == "node-a" and node["workingSetBytes"] == 6 * Gi and node["workingSetSource"] == "node"
    assert node["allocatableMemoryBytes"] == 16 * Gi and node["paddingTarget"] == 0.75 and node["paddingBreach"] is False
    # its pods commit 4.5Gi of limits (tests/data/cluster.yaml), as capacity counts them
    assert node["memoryLimitsBytes"] == 4608 * Mi and node["padding"] == "ok"
    tight = summary(fixture_cluster, "node-a", "--once", "--padding-target", "0.3")["nodes"][0]
    # 30% of 16Gi is 4.8Gi: 6Gi in use breaches (37%), 4.5Gi of limits do not
    assert tight["paddingBreach"] is True and (tight["paddingBreaches"], tight["paddingOvercommits"]) == (["usage"], [])


def test_every_container_agrees_with_kubectl_top(generated: Sim) -> None:
    """Counters grow at the rates metrics.k8s.io reports: two scrapes give back `kubectl top`."""
    doc = summary(generated, "--all-nodes", "--interval", "2", "--concurrency", "3")
    top = {
        (p["metadata"]["namespace"], p["metadata"]["name"], c["name"]): c["usage"]
        for p in generated.get("/apis/metrics.k8s.io/v1beta1/pods")["items"]
        for c in p["containers"]
    }
    by = rows(doc)
    assert set(by) == set(top) and len(doc["nodes"]) == 6
    for key, usage in top.items():
        row = by[key]
        assert within(row["cpuCores"], parse_nanos(usage["cpu"]) / 10**9, 0.02), (key, row["cpuCores"], usage)
        assert row["memoryWorkingSetBytes"] // 1024 == parse_nanos(usage["memory"]) // 10**9 // 1024, key
        assert (row["throttledRatio"] is None) == (row["cpuLimitCores"] is None), key
    flags = [f for r in doc["containers"] for f in r["flags"]]
    assert "throttling" in flags and "memory" in flags, "some containers are throttled and some near their memory limit"
    assert any(r["oomEvents"] for r in doc["containers"])


def test_cfs_series_only_for_containers_with_a_cpu_limit(fixture_cluster: Sim) -> None:
    text = dump(fixture_cluster, "node-a", "--metric", "^container_cpu_cfs_periods_total$", "-o", "jsonl").stdout
    limited = {(o["labels"]["pod"], o["labels"]["container"]) for o in map(json.loads, text.splitlines())}
    # web-2: app (limit 1) and its proxy sidecar (limit 500m); sandboxed app (limit 200m); web-1 has memory limits only
    assert limited == {("web-2", "app"), ("web-2", "proxy"), ("sandboxed", "app")}


def test_dump_of_several_nodes_names_each_sample(fixture_cluster: Sim) -> None:
    text = dump(fixture_cluster, "node-a", "node-b", "--metric", "working_set_bytes", "--drop-pod-cgroups", "-o", "jsonl").stdout
    objs = [json.loads(line) for line in text.splitlines()]
    pods = {(o["node"], o["labels"]["pod"]) for o in objs if o["labels"].get("pod")}
    assert pods == {("node-a", "web-1"), ("node-a", "web-2"), ("node-a", "sandboxed"), ("node-b", "podlevel"), ("node-b", "db-0")}
    raw = kubectl(fixture_cluster, "get", "--raw", "/api/v1/nodes/node-b/proxy/metrics/cadvisor").stdout
    ours = dump(fixture_cluster, "node-b").stdout

    def series(text: str) -> list[str]:  # values and timestamps move between scrapes; the series do not
        return [line.rsplit("}", 1)[0] if "{" in line else line for line in text.splitlines()]

    assert series(ours) == series(raw) and len(ours) > 10_000


def test_nodes_hosting_selected_pods(fixture_cluster: Sim) -> None:
    doc = summary(fixture_cluster, "-n", "data", "--once")
    assert [n["name"] for n in doc["nodes"]] == ["node-b"]
    assert {(c["pod"], c["container"]) for c in doc["containers"]} == {("db-0", "postgres"), ("podlevel", "a"), ("podlevel", "b")}
    doc = summary(fixture_cluster, "-l", "app=web", "--once")
    assert {c["pod"] for c in doc["containers"]} == {"web-1", "web-2"}


def test_resource_and_summary_endpoints(fixture_cluster: Sim) -> None:
    by = rows(summary(fixture_cluster, "node-a", "--endpoint", "resource", "--interval", "1.5"))
    app = by[("shop", "web-1", "app")]
    assert within(app["cpuCores"], 0.3) and app["memoryWorkingSetBytes"] == 900 * Mi and app["memoryLimitRatio"] == 900 / 2048
    assert app["throttledRatio"] is None and app["memoryRssBytes"] is None  # /metrics/resource has neither
    doc = summary(fixture_cluster, "node-a", "--endpoint", "summary")
    app = rows(doc)[("shop", "web-1", "app")]
    assert app["cpuCores"] == 0.3 and app["memoryWorkingSetBytes"] == 900 * Mi  # usageNanoCores: a rate already
    pods = {p["pod"]: p for p in doc["pods"]}
    assert set(pods) == {"web-1", "web-2", "sandboxed"} and all(p["networkRxBytes"] > 0 for p in pods.values())
    assert doc["nodes"][0]["fsCapacityBytes"] > doc["nodes"][0]["fsUsedBytes"] > 0


@pytest.fixture(scope="module")
def with_down_node(sim_factory: Any) -> Sim:
    sim: Sim = sim_factory("--objects", str(DATA / "cluster.yaml"), str(DATA / "cadvisor-notready.yaml"))
    return sim


def test_unreachable_node_is_a_note_and_status_1(with_down_node: Sim) -> None:
    result = cadvisor(with_down_node, "--summary", "--all-nodes", "--once", "-o", "json")
    assert result.returncode == 1
    assert "node node-down: kubelet not reachable through the API server (503)" in result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)  # the report is still printed, for the nodes that answered
    assert [n["name"] for n in doc["nodes"]] == ["node-a", "node-b", "node-gpu"]


def test_forbidden_node_proxy_says_so(sim_factory: Any) -> None:
    sim: Sim = sim_factory("--objects", str(DATA / "cluster.yaml"), "--forbid-cluster-list", "nodes/proxy")
    for result in (dump(sim, "node-a"), cadvisor(sim, "--summary", "--all-nodes", "--once")):
        assert result.returncode == 1 and "nodes/proxy permission" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not result.stdout


def test_padding_targets_come_from_the_policy_file(fixture_cluster: Sim, tmp_path: Any) -> None:
    policy = tmp_path / "policy.yaml"
    # node-a is labelled workload=general: 5% of its 16Gi is 819Mi, under web-1's 900Mi working set alone
    policy.write_text("padding:\n  memory: 0.75\n  nodeTargets:\n    - selector: {matchLabels: {workload: general}}\n      memory: 0.05\n")
    doc = summary(fixture_cluster, "node-a", "node-b", "--once", "--policy", str(policy))
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["node-a"]["paddingTarget"] == 0.05 and nodes["node-a"]["paddingBreach"] is True
    assert nodes["node-b"]["paddingTarget"] == 0.75 and nodes["node-b"]["allocatableMemoryBytes"] == 16 * Gi


def test_progress_on_a_terminal(fixture_cluster: Sim) -> None:
    import os
    import pty
    import subprocess

    from conftest import KUBECTL, env_for

    master, slave = pty.openpty()
    proc = subprocess.run(
        [KUBECTL, "perf", "cadvisor", "--summary", "--all-nodes", "--once", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env_for(fixture_cluster),
        timeout=120,
    )
    os.close(slave)
    seen = b""
    try:
        while chunk := os.read(master, 4096):
            seen += chunk
    except OSError:  # the terminal closed: everything was read
        pass
    os.close(master)
    assert proc.returncode == 0 and b"scraped 3/3 nodes" in seen
    assert json.loads(proc.stdout)["nodes"]  # progress went to the terminal, never into the report


def test_shell_completion_knows_the_flags(fixture_cluster: Sim) -> None:
    from test_completion import complete

    values, _ = complete(fixture_cluster, "cadvisor", "--thr")
    assert values == ["--throttle-threshold"]


def test_node_table_honours_sort_and_top(generated: Sim) -> None:
    """--sort and --top order and cut the node table as they do the container table."""
    every = summary(generated, "--all-nodes", "--once")["nodes"]
    assert len(every) > 3 and [n["name"] for n in every] == sorted(n["name"] for n in every)  # by name without --sort
    doc = summary(generated, "--all-nodes", "--once", "--sort", "memory", "--top", "3")
    ratio = {n["name"]: n["workingSetBytes"] / n["allocatableMemoryBytes"] for n in every}
    assert [n["name"] for n in doc["nodes"]] == sorted(ratio, key=lambda name: -ratio[name])[:3]
    doc = summary(generated, "--all-nodes", "--once", "--sort", "throttling", "--top", "2")
    # each node's count: its containers flagged "throttling" in the full report
    flagged: dict[str, int] = {}
    for c in summary(generated, "--all-nodes", "--once")["containers"]:
        flagged[c["node"]] = flagged.get(c["node"], 0) + ("throttling" in c["flags"])
    counts = [n["throttlingContainers"] for n in doc["nodes"]]
    assert len(counts) == 2 and counts == sorted(flagged.values(), reverse=True)[:2]
    assert all(flagged[n["name"]] == n["throttlingContainers"] for n in doc["nodes"])
