"""kubectl perf capacity against perf-sim: in this process (tests/inproc.py, the fast lane),
except test_both_plugin_lookups_run_the_same_code (kubectl's own plugin lookup, both ways) and
the tests that need a fresh process (a TTY, a closed stderr, urllib3's warning).

Expected figures for tests/data/cluster.yaml are worked out by hand below,
rule by rule, not by the code under test."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import inproc
import pytest
import yaml
from conftest import BIN, KUBECTL, Sim, env_for, kubectl

N = 10**9
Mi, Gi = 2**20, 2**30

# node-a: web-1 (init migrate 2 cpu before sidecar: cpu max(500m+100m, 2) = 2, mem max(1Gi+128Mi, 512Mi) = 1152Mi;
#         limits mem 2Gi + 256Mi), web-2 (sidecar before init setup: cpu max(250m+200m, 1+200m) = 1.2,
#         mem max(512Mi+256Mi, 2Gi+256Mi) = 2304Mi; limits cpu max(1+0.5, 1+0.5) = 1.5, mem max(1Gi+256Mi, 2Gi+256Mi) = 2304Mi),
#         sandboxed (100m + 250m overhead, 64Mi + 120Mi; limit cpu 200m + 250m, no memory limit so no overhead there).
#         batch-done and batch-failed hold nothing.
NODE_A = {
    "cpu": {"allocatable": 4, "requests": 2 + 1.2 + 0.35, "limits": 1.5 + 0.45},
    "memory": {"allocatable": 16 * Gi, "requests": (1152 + 2304 + 184) * Mi, "limits": (2304 + 2304) * Mi},
}
# node-b: podlevel (pod-level requests 2 cpu / 4Gi replace the containers'; limit 6Gi; ephemeral-storage 1Gi from a container)
#         and db-0 (1 cpu, 4Gi, ephemeral 2Gi; limits 4Gi, ephemeral 4Gi).
NODE_B = {
    "cpu": {"allocatable": 7.91, "requests": 3, "limits": 0},
    "memory": {"allocatable": 16 * Gi, "requests": 8 * Gi, "limits": 10 * Gi},
    "ephemeral-storage": {"allocatable": 200 * Gi, "requests": 3 * Gi, "limits": 4 * Gi},
}
NODE_GPU = {
    "cpu": {"allocatable": 16, "requests": 4, "limits": 0},
    "memory": {"allocatable": 64 * Gi, "requests": 16 * Gi, "limits": 20 * Gi},
    "nvidia.com/gpu": {"allocatable": 2, "requests": 1, "limits": 1},
}


def perf(sim: Sim | None, *args: str) -> inproc.Ran:
    """`kubectl perf capacity ARGS` against sim, run in this process (tests/inproc.py). With
    --kubeconfig too: the kubernetes client reads KUBECONFIG once, when first imported, so in one
    process a later sim's KUBECONFIG alone would reach the first sim."""
    config = ("--kubeconfig", str(sim.kubeconfig)) if sim else ()
    return inproc.perf(sim.kubeconfig if sim else None, "capacity", *config, *args)


def perf_kubectl(sim: Sim | None, *args: str, env: dict[str, str] | None = None) -> Any:
    """The same through the real kubectl and its plugin lookup, in a fresh process."""
    return kubectl(sim, "perf", "capacity", *args, check=False, env=env)


def doc(sim: Sim, *args: str) -> dict[str, Any]:
    result = perf(sim, "-o", "json", *args)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def nodes(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in d["nodes"]}


def close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-9 * max(1, abs(b))


def check(resources: dict[str, Any], expected: dict[str, dict[str, float]]) -> None:
    for resource, parts in expected.items():
        for part, value in parts.items():
            assert close(resources[resource][part], value), (resource, part, resources[resource][part], value)


def test_node_totals_match_the_scheduler(fixture_cluster: Sim) -> None:
    d = doc(fixture_cluster, "--resources", "cpu,memory,ephemeral-storage,nvidia.com/gpu,pods")
    by = nodes(d)
    check(by["node-a"]["resources"], NODE_A)
    check(by["node-b"]["resources"], NODE_B)
    check(by["node-gpu"]["resources"], NODE_GPU)
    assert [by[n]["pods"] for n in ("node-a", "node-b", "node-gpu")] == [3, 2, 2]
    assert by["node-a"]["resources"]["pods"] == {"allocatable": 110, "requests": 3}
    total = d["total"]["resources"]
    assert close(total["cpu"]["requests"], 3.55 + 3 + 4) and total["memory"]["limits"] == (4608 * Mi + 10 * Gi + 20 * Gi)
    assert d["total"]["pods"] == 7
    assert d["pending"] == [{"namespace": "shop", "name": "pending-big", "resources": {"cpu": 6, "memory": 40 * Gi}}]
    assert "usage" not in by["node-a"]["resources"]["cpu"]
    assert by["node-a"]["labels"]["topology.kubernetes.io/zone"] == "zone-a"
    assert all(isinstance(v, int) for v in (total["memory"]["requests"], total["pods"]["requests"]))


def test_usage_and_default_padding(fixture_cluster: Sim) -> None:
    by = nodes(doc(fixture_cluster, "--util"))
    assert by["node-a"]["resources"]["cpu"]["usage"] == 1.5 and by["node-a"]["resources"]["memory"]["usage"] == 6 * Gi
    assert by["node-b"]["resources"]["memory"]["usage"] == 13 * Gi
    # default target 0.75 of 16Gi = 12Gi: node-b's usage (13Gi) breaches, its limits (10Gi) do not
    assert [by[n]["paddingTarget"] for n in by] == [0.75, 0.75, 0.75]
    assert by["node-b"]["paddingBreach"] and by["node-b"]["paddingBreaches"] == ["usage"]
    assert not by["node-a"]["paddingBreach"] and not by["node-gpu"]["paddingBreach"]


POLICY = {
    "padding": {
        "memory": 0.75,
        "nodeTargets": [
            {"selector": {"matchLabels": {"workload": "io"}}, "memory": 0.5},
            {"selector": {"matchExpressions": [{"key": "workload", "operator": "In", "values": ["gpu", "ml"]}]}, "memory": 0.9},
        ],
    }
}


def test_policy_file_targets_per_pool_and_fail_on_breach(fixture_cluster: Sim, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    result = perf(fixture_cluster, "--policy", str(policy), "--fail-on-breach", "-o", "json")
    by = nodes(json.loads(result.stdout))
    assert {n: by[n]["paddingTarget"] for n in by} == {"node-a": 0.75, "node-b": 0.5, "node-gpu": 0.9}
    # node-b: 0.5 x 16Gi = 8Gi < 13Gi in use (a breach; --fail-on-breach reads node metrics) and < 10Gi of
    # committed limits (overcommit, a warning under the default padding.limits: warn)
    assert (by["node-b"]["paddingBreaches"], by["node-b"]["paddingOvercommits"]) == (["usage"], ["limits"])
    assert result.returncode == 1 and "node-b" in result.stderr


def test_padding_target_flag(fixture_cluster: Sim) -> None:
    # 0.85 x 16Gi = 13.6Gi: node-b's 13Gi of usage now fits
    result = perf(fixture_cluster, "--util", "--padding-target", "85%", "--fail-on-breach")
    assert result.returncode == 0, result.stderr
    assert "BREACH" not in result.stdout
    result = perf(fixture_cluster, "--util", "--padding-target", "0.8", "--fail-on-breach")
    assert result.returncode == 1 and "BREACH usage 81%" in result.stdout


def test_table_is_what_people_read(fixture_cluster: Sim) -> None:
    result = perf(fixture_cluster, "--util", "-L", "topology.kubernetes.io/zone")
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["NODE", "ZONE", "CPU", "REQUESTS"]
    row = dict((line.split()[0], line) for line in lines[1:] if line)
    assert row["*"].startswith("*")
    # cpu in millicores, memory in Mi, percentages truncated: 3550/4000 = 88.75%, 3640Mi/16Gi = 22.2%, 4608Mi/16Gi = 28.1%
    assert "3550m (88%)" in row["node-a"] and "3640Mi (22%)" in row["node-a"] and "4608Mi (28%)" in row["node-a"]
    assert "zone-b" in row["node-b"] and "BREACH usage 81%" in row["node-b"]
    assert "pending-big" in result.stdout and "\x1b[" not in result.stdout  # no colour when not a terminal
    assert "lack cpu/memory requests" in result.stderr
    assert result.returncode == 0


def test_wide_adds_allocatable_and_pod_counts(fixture_cluster: Sim) -> None:
    out = perf(fixture_cluster, "-o", "wide").stdout
    assert "CPU ALLOCATABLE" in out and "MEMORY ALLOCATABLE" in out and "3/110" in out


def test_yaml_carries_the_same_document(fixture_cluster: Sim) -> None:
    as_json = doc(fixture_cluster)
    as_yaml = yaml.safe_load(perf(fixture_cluster, "-o", "yaml").stdout)
    assert as_yaml == as_json


@pytest.mark.parametrize(("fmt", "delim"), [("csv", ","), ("tsv", "\t")])
def test_csv_and_tsv(fixture_cluster: Sim, fmt: str, delim: str) -> None:
    rows = list(csv.DictReader(io.StringIO(perf(fixture_cluster, "-o", fmt).stdout), delimiter=delim))
    by = {r["NODE"]: r for r in rows if r["SECTION"] != "pending"}
    assert set(by) == {"*", "node-a", "node-b", "node-gpu"}
    assert by["node-a"]["CPU REQUESTS"] == "3550"  # millicores
    assert int(by["node-b"]["MEMORY LIMITS"]) == 10 * Gi
    assert by["node-a"]["PADDING"] == "ok"


def test_pods_view_with_usage_slack_and_missing_requests(fixture_cluster: Sim) -> None:
    d = doc(fixture_cluster, "--pods", "--util")
    pods = {p["name"]: p for n in d["nodes"] for p in n["podDetails"]}
    assert set(pods) == {"web-1", "web-2", "sandboxed", "podlevel", "db-0", "trainer", "besteffort"}
    web1 = pods["web-1"]["resources"]
    assert close(web1["cpu"]["requests"], 2) and close(web1["cpu"]["usage"], 0.32) and web1["memory"]["usage"] == 1000 * Mi
    assert pods["besteffort"]["missingRequests"] == [
        {"container": "notebook", "resource": "cpu"},
        {"container": "notebook", "resource": "memory"},
    ]
    table = perf(fixture_cluster, "--pods", "--util").stdout
    line = next(line for line in table.splitlines() if " web-1 " in line)
    # usage 320m of a 2-cpu request is 16% of request; slack 2 - 0.32 = 1680m
    # of node-a's 4 cores it is 8%
    assert "320m (8%, 16% of req)" in line and "1680m" in line
    assert "no-requests:notebook/cpu,notebook/memory" in table


def test_containers_view(fixture_cluster: Sim) -> None:
    out = perf(fixture_cluster, "--containers", "-o", "wide").stdout
    rows = [line.split() for line in out.splitlines()]
    web1 = [r for r in rows if len(r) > 3 and r[2] == "web-1"]
    # the pod's own line first (CONTAINER *), then its containers by kind (see test_capacity_containers)
    assert [(r[3], r[4]) for r in web1] == [("*", "pod"), ("migrate", "init"), ("proxy", "sidecar"), ("app", "app")]
    d = doc(fixture_cluster, "--containers", "--util")
    web1_doc = next(p for n in d["nodes"] for p in n["podDetails"] if p["name"] == "web-1")
    assert {c["name"]: c["resources"]["cpu"].get("usage") for c in web1_doc["containers"]} == {"migrate": None, "proxy": 0.02, "app": 0.3}


def test_group_by_namespace_and_label(fixture_cluster: Sim) -> None:
    groups = {g["name"]: g for g in doc(fixture_cluster, "--by", "namespace")["groups"]}
    assert set(groups) == {"shop", "secure", "data", "ml"}
    assert close(groups["shop"]["resources"]["cpu"]["requests"], 3.2) and groups["shop"]["pods"] == 2
    assert groups["data"]["resources"]["memory"]["limits"] == 10 * Gi
    teams = {g["name"]: g for g in doc(fixture_cluster, "--by", "label:team")["groups"]}
    assert teams["research"]["resources"]["memory"]["requests"] == 16 * Gi and teams["research"]["pods"] == 2
    out = perf(fixture_cluster, "--by", "label:team").stdout
    assert out.splitlines()[0].split()[0] == "TEAM"


@pytest.mark.parametrize(
    ("args", "expected_nodes", "expected_pods"),
    [
        (["-n", "shop"], {"node-a", "node-b", "node-gpu"}, 2),
        (["-l", "app=web"], {"node-a", "node-b", "node-gpu"}, 2),
        (["--node-selector", "workload=io"], {"node-b"}, 2),
        (["--namespace-labels", "tier=backend"], {"node-a", "node-b", "node-gpu"}, 2),
        (["--node-taints", "dedicated=io:NoSchedule"], {"node-b"}, 2),
        (["--node-taints", "nvidia.com/gpu-"], {"node-a", "node-b"}, 5),
        (["--no-taint"], {"node-a"}, 3),
    ],
)
def test_filters(fixture_cluster: Sim, args: list[str], expected_nodes: set[str], expected_pods: int) -> None:
    d = doc(fixture_cluster, *args)
    assert set(nodes(d)) == expected_nodes
    assert d["total"]["pods"] == expected_pods


def test_sort(fixture_cluster: Sim) -> None:
    order = [n["name"] for n in doc(fixture_cluster, "--sort", "memory.requests.percent")["nodes"]]
    assert order == ["node-b", "node-gpu", "node-a"]  # 50%, 25%, 22%
    order = [n["name"] for n in doc(fixture_cluster, "--sort", "cpu.requests")["nodes"]]
    assert order == ["node-gpu", "node-a", "node-b"]  # 4, 3.55, 3
    order = [n["name"] for n in doc(fixture_cluster, "--util", "--sort", "memory.util", "--node-taints", "nvidia.com/gpu-")["nodes"]]
    assert order == ["node-b", "node-a"]  # 13Gi, 6Gi of usage (node-gpu's is synthesised, so left out)
    result = perf(fixture_cluster, "--sort", "memory.util")
    assert result.returncode == 2 and "needs --util" in result.stderr
    result = perf(fixture_cluster, "--sort", "bogus")
    assert result.returncode == 2 and result.stderr.startswith("error: cannot sort by 'bogus'")


def test_both_plugin_lookups_run_the_same_code(fixture_cluster: Sim, tmp_path: Path) -> None:
    only_dispatcher = tmp_path / "bin"
    only_dispatcher.mkdir()
    (only_dispatcher / "kubectl-perf").symlink_to(BIN / "kubectl-perf")
    env = env_for(fixture_cluster, PATH=f"{only_dispatcher}:/usr/bin:/bin")
    via_dispatcher = perf_kubectl(fixture_cluster, "-o", "json", env=env)
    direct = perf_kubectl(fixture_cluster, "-o", "json")
    assert via_dispatcher.returncode == direct.returncode == 0
    assert json.loads(via_dispatcher.stdout) == json.loads(direct.stdout)
    listing = kubectl(fixture_cluster, "plugin", "list", env=env_for(fixture_cluster), check=False).stdout
    assert "kubectl-perf-capacity" in listing and "kubectl-perf" in listing


def test_without_metrics_server(sim_factory: Any) -> None:
    sim = sim_factory("--objects", str(Path(__file__).parent / "data" / "cluster.yaml"), "--no-metrics-server")
    # --usage-source metrics-server: no fallback to the kubelets (auto reads them: test_usage.py)
    result = perf(sim, "--util", "--usage-source", "metrics-server")
    assert result.returncode == 3
    assert "node-a" in result.stdout and "UTIL" not in result.stdout
    assert "metrics-server is not installed" in result.stderr and "Traceback" not in result.stderr
    assert perf(sim).returncode == 0
    # --fail-on-breach reads node metrics for the verdict (usage over target is the breach): without
    # them it cannot see a breach, and says so with exit 3 rather than pass quietly (issue 20)
    result = perf(sim, "--fail-on-breach", "--usage-source", "metrics-server")
    assert result.returncode == 3 and "the padding verdict weighs committed figures only" in result.stderr
    assert "UTIL" not in result.stdout


def test_forbidden_cluster_wide_suggests_namespace(sim_factory: Any) -> None:
    sim = sim_factory("--objects", str(Path(__file__).parent / "data" / "cluster.yaml"), "--forbid-cluster-list", "pods")
    result = perf(sim)
    assert result.returncode == 1 and "forbidden" in result.stderr and "-n NAMESPACE" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert perf(sim, "-n", "shop").returncode == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--resources", "cpu,,Bad Name"], "invalid resource name"),
        (["--padding-target", "1.5"], "must be above 0"),
        (["--by", "team"], "invalid --by"),
        (["-o", "xml"], "invalid choice"),
        (["-n", "a", "-A"], "cannot be used together"),
        (["--request-timeout", "soon"], "argument --request-timeout: invalid duration"),
    ],
)
def test_bad_flags_are_one_line(fixture_cluster: Sim, args: list[str], needle: str) -> None:
    result = perf(fixture_cluster, *args)
    assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("padding: {memory: 1.5}", "padding.memory: 1.5 is greater than the maximum of 1"),
        ('padding: {memory: "150%"}', "padding.memory: padding target '150%' must be above 0 and at most 1 (100%)"),
        ("padding: {limits: deny}", "padding.limits: 'deny' is not one of warn, breach"),
        ("padding: {nodeTargets: [{memory: 0.5}]}", "padding.nodeTargets.0: 'selector' is a required property"),
        ("mode: strict", "mode: 'strict' is not one of enforce, warn, audit"),
        ("padding: {memroy: 0.5}", "padding: unknown key(s) ('memroy' was unexpected)"),
        ("padding: [", "is not valid YAML"),
    ],
)
def test_bad_policy_file_names_the_key(fixture_cluster: Sim, tmp_path: Path, content: str, needle: str) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(content)
    result = perf(fixture_cluster, "--policy", str(policy))
    assert result.returncode == 2 and needle in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "kc"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "x",
                "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "x", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
            }
        )
    )
    result = perf(None, "--kubeconfig", str(config))
    assert result.returncode == 1 and "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


def test_generated_cluster_totals_are_consistent(generated: Sim) -> None:
    d = doc(generated, "--util", "--resources", "cpu,memory,pods")
    for resource in ("cpu", "memory"):
        for part in ("requests", "limits", "allocatable", "usage"):
            assert close(sum(n["resources"][resource][part] for n in d["nodes"]), d["total"]["resources"][resource][part])
    live = json.loads(
        kubectl(generated, "get", "pods", "-A", "--field-selector", "status.phase!=Succeeded,status.phase!=Failed", "-o", "json").stdout
    )["items"]
    per_node: dict[str, int] = {}
    for p in live:
        if p["spec"].get("nodeName"):
            per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
    assert {n["name"]: n["pods"] for n in d["nodes"]} == per_node
    assert len(d["pending"]) == sum(1 for p in live if not p["spec"].get("nodeName"))


def test_help_and_dispatcher() -> None:
    out = perf(None, "--help").stdout
    assert "--padding-target" in out and "exit status" in out
    top = inproc.perf(None, "--help").stdout
    assert "capacity" in top
    bad = inproc.perf(None, "nonsense")
    assert bad.returncode == 2 and "unknown command 'nonsense'" in bad.stderr


def test_colour_only_on_a_terminal_and_never_with_no_color(fixture_cluster: Sim) -> None:
    import pty
    import subprocess

    def run_in_pty(extra_env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        env = env_for(fixture_cluster, **extra_env)
        proc = subprocess.Popen([KUBECTL, "perf", "capacity", "--util"], stdout=follower, stderr=subprocess.DEVNULL, env=env)
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(30)
        os.close(leader)
        return b"".join(chunks).decode()

    assert "\x1b[31m" in run_in_pty({})  # node-b breaches: red on a terminal
    assert "\x1b[" not in run_in_pty({"NO_COLOR": "1"})


def test_kube_capacity_display_flags(fixture_cluster: Sim) -> None:
    out = perf(fixture_cluster, "--available", "--hide-limits", "--pod-count").stdout
    header, *rows = out.split("\n\n")[0].splitlines()
    assert "LIMITS" not in header and "PODS" in header
    row = {line.split()[0]: line.split() for line in rows}
    # node-a: 4 - 3.55 cores and 16Gi - 3640Mi (12744Mi) are left
    assert row["node-a"][1:4] == ["450m/4000m", "12744Mi/16384Mi", "107/110"]  # 3 pods: 107 slots free
    assert "REQUESTS" not in perf(fixture_cluster, "--hide-requests").stdout.splitlines()[0]


# -- issue 8: numbers that agree under filters ---------------------------------------
def pod_metrics_bytes(sim: Sim, namespace: str) -> dict[str, int]:
    """Memory use per pod straight from the metrics API, summed with the client library's parser (an independent oracle)."""
    from kubernetes.utils import parse_quantity as client_parse

    items = sim.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods")["items"]
    return {i["metadata"]["name"]: int(sum(client_parse(c["usage"]["memory"]) for c in i["containers"])) for i in items}


def test_a_pod_filter_sums_usage_of_the_shown_pods(fixture_cluster: Sim) -> None:
    used = pod_metrics_bytes(fixture_cluster, "data")  # db-0 and podlevel, both on node-b
    result = perf(fixture_cluster, "-n", "data", "--util", "-o", "json")
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    by = nodes(d)
    assert by["node-b"]["resources"]["memory"]["usage"] == used["db-0"] + used["podlevel"]
    assert by["node-a"]["resources"]["memory"]["usage"] == 0 and by["node-a"]["resources"]["memory"]["requests"] == 0
    assert d["total"]["resources"]["memory"]["usage"] == sum(used.values())
    # slack (requests - usage) of the total is the sum of the nodes' slack, never negative here: 8Gi requested
    assert d["total"]["resources"]["memory"]["requests"] - d["total"]["resources"]["memory"]["usage"] > 0
    assert "rows sum the pods -n data selects" in result.stderr
    # without a filter, node usage is the node's own (NodeMetrics: node-b 13Gi)
    assert nodes(doc(fixture_cluster, "--util"))["node-b"]["resources"]["memory"]["usage"] == 13 * Gi


def test_the_padding_verdict_does_not_depend_on_the_filter(fixture_cluster: Sim) -> None:
    # node-b uses 13Gi of 16Gi (> 75%): it breaches whatever namespace is shown, though shop has no pod there
    result = perf(fixture_cluster, "-n", "shop", "--util", "--fail-on-breach")
    assert result.returncode == 1 and "node-b" in result.stderr
    # limits: node-b commits 10Gi (db-0 4Gi + podlevel 6Gi) > 50% of 16Gi, judged on the whole node under -l app=web
    d = json.loads(perf(fixture_cluster, "-l", "app=web", "--padding-target", "0.5", "-o", "json").stdout)
    assert nodes(d)["node-b"]["paddingOvercommits"] == ["limits"] and nodes(d)["node-b"]["resources"]["memory"]["limits"] == 0
    html = perf(fixture_cluster, "-n", "shop", "-o", "html").stdout
    assert "Filtered by <code>-n shop</code>" in html


def test_forbidden_metrics_degrade_to_a_note(sim_factory: Any) -> None:
    sim = sim_factory("--objects", str(Path(__file__).parent / "data" / "cluster.yaml"), "--forbid-cluster-list", "metrics.k8s.io/nodes")
    # with a namespace, pod metrics of that namespace give the usage; the nodes' own are only missed by the verdict
    result = perf(sim, "-n", "data", "--util", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert nodes(json.loads(result.stdout))["node-b"]["resources"]["memory"]["usage"] == sum(pod_metrics_bytes(sim, "data").values())
    assert "forbidden" in result.stderr and "Traceback" not in result.stderr
    # cluster-wide, the table is still printed, without usage, exit 3 as for a missing metrics-server
    result = perf(sim, "--util")
    assert result.returncode == 3 and "node-a" in result.stdout and "UTIL" not in result.stdout
    assert "metrics API unavailable: forbidden" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["-l", "app in (web"], ["-l", "app=we b"], ["--node-selector", "=gpu"], ["--namespace-labels", "tier notin ()"], ["-l", "a,,b"]],
)
def test_bad_label_selectors_are_flag_errors_before_any_request(args: list[str]) -> None:
    # The kubeconfig does not exist: had a request been tried, that would be the (exit 1) error.
    result = inproc.perf("/nonexistent/kubeconfig", "capacity", *args)
    assert result.returncode == 2 and "invalid label selector" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the error and the --help pointer


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (("capacity", "--util"), 1),
        (("capacity", "-o", "html"), 1),
        (("audit",), 3),  # audit's 1 means findings: an output it could not write is "could not run"
        (("report", "--cadvisor-interval", "0"), 1),
        (("cadvisor", "--summary", "--all-nodes", "--once", "-o", "json"), 1),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, tuple) else str(a),
)
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_an_output_that_cannot_be_written_is_one_line(fixture_cluster: Sim, argv: tuple[str, ...], status: int) -> None:
    # `> /dev/full` (a full disk): every plugin printed a Python traceback (OSError: No space left on device)
    import subprocess

    with open("/dev/full", "w") as full:
        result = subprocess.run([KUBECTL, "perf", *argv], stdout=full, stderr=subprocess.PIPE, env=env_for(fixture_cluster), timeout=120)
    errors = [line for line in result.stderr.decode().splitlines() if not line.startswith("note: ")]
    assert (result.returncode, errors) == (status, ["error: cannot write the output: No space left on device"]), result.stderr


def test_notes_on_a_closed_stderr_end_quietly(fixture_cluster: Sim) -> None:
    # `... 2>&1 | head -1`: the notes come after head has gone; no BrokenPipeError, no exit 1
    import subprocess

    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [KUBECTL, "perf", "capacity", "--util"], stdout=subprocess.PIPE, stderr=write, env=env_for(fixture_cluster), timeout=120
        )
    finally:
        os.close(write)
    assert result.returncode == 0 and result.stdout.startswith(b"NODE")


def test_one_node_has_no_cluster_row_and_available_counts_free_pods(fixture_cluster: Sim) -> None:
    out = perf(fixture_cluster, "--node-selector", "workload=io", "--available", "--resources", "cpu,pods").stdout
    lines = out.splitlines()
    assert lines[1].split()[0] == "node-b" and not any(line.startswith("*") for line in lines)
    # node-b runs podlevel and db-0: 108 of its 110 pod slots are free
    assert lines[1].split()[-1] == "108/110", out
    assert not any(line.startswith("*") for line in perf(fixture_cluster, "--node-selector", "workload=io", "--pods").stdout.splitlines())


def test_hiding_every_column_is_a_flag_error(fixture_cluster: Sim) -> None:
    result = perf(fixture_cluster, "--hide-requests", "--hide-limits")
    assert result.returncode == 2 and "add --util" in result.stderr
    assert perf(fixture_cluster, "--hide-requests", "--hide-limits", "--util").returncode == 0


def test_policy_schema_rejects_values_with_exists(fixture_cluster: Sim, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("padding: {nodeTargets: [{selector: {matchExpressions: [{key: gpu, operator: Exists, values: [x]}]}, memory: 0.5}]}")
    result = perf(fixture_cluster, "--policy", str(policy))
    assert result.returncode == 2 and "matchExpressions.0.values: ['x'] is expected to be empty" in result.stderr, result.stderr


def test_groups_follow_the_sort(fixture_cluster: Sim) -> None:
    # memory requests by namespace: shop 3.3Gi (web-1 1152Mi + web-2 2304Mi), data 8Gi, ml 16Gi, secure 184Mi
    out = perf(fixture_cluster, "--by", "namespace", "--sort", "memory.requests").stdout
    assert [line.split()[0] for line in out.splitlines()[1:5]] == ["ml", "data", "shop", "secure"]
    d = json.loads(perf(fixture_cluster, "--by", "namespace", "--sort", "memory.requests", "-o", "json").stdout)
    assert [g["name"] for g in d["groups"]] == ["ml", "data", "shop", "secure"]


@pytest.mark.parametrize(
    ("kube_capacity", "ours"),
    [
        ("cpu.request", "cpu.requests"),
        ("cpu.limit", "cpu.limits"),
        ("mem.request", "memory.requests"),
        ("mem.util", "memory.util"),
        ("mem.request.percentage", "memory.requests.percent"),
        ("cpu.util.percentage", "cpu.util.percent"),
        ("pod.count", "pods"),
        ("name", "name"),
    ],
)
def test_kube_capacity_sort_spellings(fixture_cluster: Sim, kube_capacity: str, ours: str) -> None:
    theirs = perf(fixture_cluster, "--util", "--sort", kube_capacity)
    assert theirs.returncode == 0, theirs.stderr
    assert theirs.stdout == perf(fixture_cluster, "--util", "--sort", ours).stdout


def test_kube_capacity_flag_habits(fixture_cluster: Sim) -> None:
    # -t and the '!' exclusion: node-b carries dedicated=io:NoSchedule
    shown = perf(fixture_cluster, "-t", "!dedicated=io:NoSchedule").stdout
    assert "node-b" not in shown and "node-a" in shown
    assert perf(fixture_cluster, "-t", "dedicated=io:NoSchedule").stdout.splitlines()[1].startswith("node-b")
    # --pods --containers together: the container view
    both = perf(fixture_cluster, "--pods", "--containers")
    assert both.returncode == 0 and "CONTAINER" in both.stdout.splitlines()[0]
    labels = perf(fixture_cluster, "--show-labels").stdout
    assert "node.kubernetes.io/instance-type=i3.large,topology.kubernetes.io/zone=zone-b,workload=io" in labels


def test_insecure_skip_tls_verify(fixture_cluster: Sim, tmp_path: Path) -> None:
    config = fixture_cluster.config
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(config))
    env = env_for(None, KUBECONFIG=str(path))  # a fresh process: urllib3's warning would reach its stderr
    refused = perf_kubectl(None, env=env)
    assert refused.returncode == 1 and "certificate signed by unknown authority" in refused.stderr
    allowed = perf_kubectl(None, "--insecure-skip-tls-verify", env=env)
    assert allowed.returncode == 0 and allowed.stdout.startswith("NODE") and "Warning" not in allowed.stderr


def test_a_filter_that_matches_nothing_says_so(fixture_cluster: Sim) -> None:
    nodes_none = perf(fixture_cluster, "--node-selector", "workload=nothing")
    assert nodes_none.returncode == 0 and "note: no node matches --node-selector workload=nothing" in nodes_none.stderr
    pods_none = perf(fixture_cluster, "-l", "app=nothing")
    assert pods_none.returncode == 0 and "note: no pod matches -l app=nothing" in pods_none.stderr
    assert "no pod matches" not in perf(fixture_cluster, "-l", "app=web").stderr


def test_unknown_resources_are_errors_naming_the_known_ones(fixture_cluster: Sim) -> None:
    result = perf(fixture_cluster, "--resources", "cpu,mem")
    assert result.returncode == 2 and "unknown resource 'mem'" in result.stderr
    assert "memory" in result.stderr and "nvidia.com/gpu" in result.stderr  # node-gpu advertises it
    util = perf(fixture_cluster, "--util", "--resources", "cpu,memory,nvidia.com/gpu")
    assert util.returncode == 0 and "no usage for nvidia.com/gpu" in util.stderr


NODE_STATES = """
apiVersion: v1
kind: Node
metadata: {name: node-ok}
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Node
metadata: {name: node-down}
spec: {unschedulable: true}
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
  conditions: [{type: Ready, status: "Unknown"}]
"""


def test_not_ready_and_cordoned_nodes_are_marked(sim_factory: Any, tmp_path: Path) -> None:
    objects = tmp_path / "states.yaml"
    objects.write_text(NODE_STATES)
    sim = sim_factory("--objects", str(objects))
    table = perf(sim).stdout
    assert "node-down (NotReady,SchedulingDisabled)" in table and "node-ok (" not in table
    d = nodes(doc(sim))
    assert (d["node-down"]["ready"], d["node-down"]["schedulable"]) == (False, False)
    assert (d["node-ok"]["ready"], d["node-ok"]["schedulable"]) == (True, True)
    assert "node-down (NotReady,SchedulingDisabled)" in perf(sim, "-o", "html").stdout
    assert set(nodes(doc(sim, "--schedulable-only"))) == {"node-ok"}


def test_pod_percentages_are_of_the_node_and_sorts_use_them(fixture_cluster: Sim) -> None:
    out = perf(fixture_cluster, "--pods", "--sort", "cpu.requests.percent").stdout
    under_a = [line.split() for line in out.splitlines() if line.startswith("node-a ") and " * " not in line]
    # of node-a's 4 cores: web-1 2 (50%), web-2 1.2 (30%), sandboxed 0.35 (8.75%)
    assert [row[2] for row in under_a] == ["web-1", "web-2", "sandboxed"]
    # 350m of 4 cores is 8.75%: truncated, as kubectl top
    assert under_a[0][3:5] == ["2000m", "(50%)"] and under_a[2][3:5] == ["350m", "(8%)"]
