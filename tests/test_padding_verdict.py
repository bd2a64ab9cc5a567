"""Issue 20, section 2: one meaning of a padding breach. Usage over a node's padding target is a
breach; committed limits over it are overcommit (a warning, or a breach where the policy's
padding.limits says so); requests likewise when padding.requests asks. capacity's PADDING column,
the cluster row, node groups and --fail-on-breach all read padding.judge.

Figures are worked out by hand from tests/data/cluster.yaml (see test_capacity.py): node-a 16Gi
allocatable, 6Gi used, 4.5Gi of limits; node-b 16Gi, 13Gi used, 10Gi of limits, 8Gi requested;
node-gpu 64Gi, 20Gi of limits, 16Gi requested."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import inproc
import pytest
import yaml
from conftest import Sim
from kubectl_perf.padding import Levels, judge, share, tally
from kubectl_perf.policy_file import PolicyError, parse_policy
from test_capacity import Gi, nodes, perf

N = 10**9  # nanos per byte

# 85% by default; 30% (written as a percentage, the form the file used to refuse) on node-gpu
POLICY = {
    "padding": {
        "memory": "85%",
        "nodeTargets": [{"selector": {"matchLabels": {"workload": "gpu"}}, "memory": "30%"}],
    }
}


def write_policy(tmp_path: Path, **padding: Any) -> str:
    doc = {"padding": {**POLICY["padding"], **padding}}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


# -- the pure verdict ------------------------------------------------------------------
def test_usage_breaches_and_limits_overcommit() -> None:
    # 0.75 x 16Gi = 12Gi: 13Gi used breaches, 10Gi of limits are within
    v = judge(16 * Gi * N, 0.75, 13 * Gi * N, 10 * Gi * N)
    assert (v.state, v.breaches, v.overcommits, v.text()) == ("breach", ("usage",), (), "BREACH usage 81%")  # 13/16 = 81.25%
    # 0.5 x 16Gi = 8Gi: 6Gi used is fine, 10Gi of limits overcommit (62.5%, truncated)
    v = judge(16 * Gi * N, 0.5, 6 * Gi * N, 10 * Gi * N)
    assert (v.state, v.text()) == ("overcommit", "overcommit limits 62%")
    # both at once
    v = judge(16 * Gi * N, 0.5, 13 * Gi * N, 10 * Gi * N)
    assert v.text() == "BREACH usage 81%; overcommit limits 62%"
    # usage not known: only the committed figures are weighed
    assert judge(16 * Gi * N, 0.5, None, 10 * Gi * N).text() == "overcommit limits 62%"
    assert judge(16 * Gi * N, 0.75, None, 10 * Gi * N).text() == "ok"


def test_the_policy_decides_what_committed_figures_count_as() -> None:
    alloc, used, limits, requests = 16 * Gi * N, 6 * Gi * N, 10 * Gi * N, 9 * Gi * N  # budget at 0.5: 8Gi
    assert judge(alloc, 0.5, used, limits, requests).text() == "overcommit limits 62%"  # requests: off by default
    assert judge(alloc, 0.5, used, limits, requests, Levels("breach")).text() == "BREACH limits 62%"
    assert judge(alloc, 0.5, used, limits, requests, Levels("warn", "warn")).text() == "overcommit limits 62%, requests 56%"
    assert judge(alloc, 0.5, used, limits, requests, Levels("warn", "breach")).text() == "BREACH requests 56%; overcommit limits 62%"


def test_the_boundary_is_within() -> None:
    budget = 12 * Gi * N  # 0.75 x 16Gi
    assert judge(16 * Gi * N, 0.75, budget, budget).state == "ok"
    assert judge(16 * Gi * N, 0.75, budget + 1, 0).state == "breach"
    assert judge(16 * Gi * N, 0.75, 0, budget + 1).state == "overcommit"


def test_a_tally_counts_nodes_and_invents_no_target() -> None:
    verdicts = [
        ("a", judge(16 * Gi * N, 0.5, 13 * Gi * N, 10 * Gi * N)),  # breach and overcommit
        ("b", judge(16 * Gi * N, 0.9, 1 * Gi * N, 15 * Gi * N)),  # overcommit: 15 > 14.4
        ("c", judge(16 * Gi * N, 0.75, 1 * Gi * N, 1 * Gi * N)),  # ok
    ]
    t = tally(verdicts)
    assert (t.state, t.text(), t.targets_text()) == ("breach", "BREACH 1/3 nodes; overcommit 2/3", "50-90%")
    assert tally(verdicts[1:]).text() == "overcommit 1/2 nodes"
    assert tally(verdicts[2:]).targets_text() == "75%" and tally(verdicts[2:]).text() == "ok"


def test_usage_asked_for_and_not_known_is_unknown_not_ok() -> None:
    """A node the usage source left out: no breach is known, and none can be ruled out (a review found
    capacity calling it ok while cadvisor, reading the kubelet, saw a breach)."""
    alloc = 16 * Gi * N
    v = judge(alloc, 0.75, None, 10 * Gi * N, usage_expected=True)  # limits within 12Gi
    assert (v.state, v.text(), v.usage_unknown) == ("unknown", "usage unknown", True)
    v = judge(alloc, 0.5, None, 10 * Gi * N, usage_expected=True)  # limits over 8Gi: overcommit, and usage unknown
    assert (v.state, v.text(), v.overcommits) == ("unknown", "overcommit limits 62%; usage unknown", ("limits",))
    v = judge(alloc, 0.5, None, 10 * Gi * N, levels=Levels("breach"), usage_expected=True)  # a breach known is a breach
    assert (v.state, v.text()) == ("breach", "BREACH limits 62%")
    # audit's committed check speaks of the committed figures only: there, no word on usage
    assert judge(alloc, 0.5, None, 10 * Gi * N, usage_expected=True).text(("limits", "requests")) == "overcommit limits 62%"
    assert judge(alloc, 0.75, None, 10 * Gi * N, usage_expected=True).state_of(("limits", "requests")) == "ok"
    # a known usage is judged as ever, expected or not
    assert judge(alloc, 0.75, 13 * Gi * N, 0, usage_expected=True).text() == "BREACH usage 81%"
    verdicts = [
        ("a", judge(alloc, 0.5, 13 * Gi * N, 0, usage_expected=True)),  # breach
        ("b", judge(alloc, 0.5, None, 10 * Gi * N, usage_expected=True)),  # overcommit, usage unknown
        ("c", judge(alloc, 0.75, None, 0, usage_expected=True)),  # usage unknown
        ("d", judge(alloc, 0.75, 1 * Gi * N, 0, usage_expected=True)),  # ok
    ]
    t = tally(verdicts)
    assert (t.state, t.breaching, t.overcommitted, t.unknown) == ("breach", ("a",), ("b",), ("b", "c"))
    assert t.text() == "BREACH 1/4 nodes; overcommit 1/4; usage unknown 2/4"
    assert (tally(verdicts[1:]).state, tally(verdicts[1:]).text()) == ("unknown", "overcommit 1/3 nodes; usage unknown 2/3")
    assert tally(verdicts[2:3]).no_breach_text() == "No node is known to breach its memory padding target: 1 of 1 have no usage figures."
    assert tally(verdicts[3:]).no_breach_text() == "No node breaches its memory padding target."
    assert "usage not read" in tally(verdicts[3:]).no_breach_text(usage_asked=False)


# -- 75% and 0.75 in both places (issue 20, section 3) --------------------------------
def test_padding_targets_take_both_forms_in_the_file() -> None:
    policy = parse_policy(POLICY)
    assert policy.padding_memory == 0.85 and policy.node_targets[0].memory == 0.3
    assert parse_policy({"padding": {"memory": 0.75}}).padding_memory == 0.75
    assert share("75%") == share(0.75) == share("0.75") == 0.75


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        ("150%", "padding.memory: padding target '150%' must be above 0 and at most 1 (100%)"),
        ("0%", "padding.memory: padding target '0%' must be above 0 and at most 1 (100%)"),
        ("75 %", "padding.memory: invalid padding target '75 %': write a fraction unquoted (0.75) or a percentage (\"75%\")"),
        ("0.75", "padding.memory: invalid padding target '0.75': write a fraction unquoted (0.75) or a percentage (\"75%\")"),
        ("lots", "padding.memory: invalid padding target 'lots': use a fraction like 0.75 or a percentage like 75%"),
        (1.5, "padding.memory: 1.5 is greater than the maximum of 1"),
    ],
)
def test_bad_targets_in_the_file_get_one_line(memory: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=f"^policy: {message.replace('(', '[(]').replace(')', '[)]')}$"):
        parse_policy({"padding": {"memory": memory}})


def test_the_policy_file_takes_percentages_through_capacity(fixture_cluster: Sim, tmp_path: Path) -> None:
    # before: "padding.memory: '85%' is not of type 'number'", exit 2
    result = perf(fixture_cluster, "--policy", write_policy(tmp_path), "-o", "json")
    assert result.returncode == 0, result.stderr
    assert {n: v["paddingTarget"] for n, v in nodes(json.loads(result.stdout)).items()} == {"node-a": 0.85, "node-b": 0.85, "node-gpu": 0.3}


# -- capacity through `kubectl perf capacity` -----------------------------------------
def test_overcommitted_limits_do_not_fail_the_run(fixture_cluster: Sim, tmp_path: Path) -> None:
    # node-gpu: 0.3 x 64Gi = 19.2Gi of budget against 20Gi of limits (31%): overcommit, a warning; its
    # usage (13459Mi) is within. node-b at 0.85: 13.6Gi against 13Gi used: within. Before, limits over
    # target were "BREACH limits" and --fail-on-breach exited 1.
    policy = write_policy(tmp_path)
    result = perf(fixture_cluster, "--util", "--policy", policy, "--fail-on-breach")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:5]}
    assert rows["node-gpu"].rstrip().endswith("30%          overcommit limits 31%")
    assert rows["node-b"].rstrip().endswith("85%          ok")
    # the cluster row counts the nodes' verdicts and shows the targets' range, never a weighted one
    assert rows["*"].rstrip().endswith("30-85%       overcommit 1/3 nodes")
    # padding.limits: breach makes the same figure a breach
    result = perf(fixture_cluster, "--util", "--policy", write_policy(tmp_path, limits="breach"), "--fail-on-breach")
    assert result.returncode == 1
    assert "error: 1 node(s) breach their memory padding target: node-gpu" in result.stderr
    assert "BREACH limits 31%" in result.stdout and "BREACH 1/3 nodes" in result.stdout


def test_fail_on_breach_reads_usage_without_util(fixture_cluster: Sim) -> None:
    # usage over target is the breach: --fail-on-breach reads node metrics even without --util
    # (node-b: 13Gi used > 12Gi); before, without --util no usage was read and the run passed
    result = perf(fixture_cluster, "--fail-on-breach")
    assert result.returncode == 1 and "node-b" in result.stderr
    assert "BREACH usage 81%" in result.stdout and "UTIL" not in result.stdout


def test_requests_are_weighed_when_the_policy_asks(fixture_cluster: Sim, tmp_path: Path) -> None:
    # node-gpu at 0.3: 16Gi requested of 19.2Gi is within; at 0.2 (12.8Gi) its 16Gi of requests (25%) pass too
    policy = write_policy(tmp_path, nodeTargets=[{"selector": {"matchLabels": {"workload": "gpu"}}, "memory": 0.2}], requests="warn")
    d = json.loads(perf(fixture_cluster, "--policy", policy, "-o", "json").stdout)
    gpu = nodes(d)["node-gpu"]
    assert (gpu["padding"], gpu["paddingBreaches"], gpu["paddingOvercommits"]) == ("overcommit", [], ["limits", "requests"])


def test_json_csv_and_html_carry_the_same_verdicts(fixture_cluster: Sim, tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    d = json.loads(perf(fixture_cluster, "--util", "--policy", policy, "-o", "json").stdout)
    gpu = nodes(d)["node-gpu"]
    assert gpu["padding"] == "overcommit" and gpu["paddingBreach"] is False
    assert gpu["paddingBudget"] == 64 * Gi * 3 // 10  # bytes: 30% of 64Gi, rounded down
    assert nodes(d)["node-b"]["padding"] == "ok"
    assert d["total"] == {
        **d["total"],
        "padding": "overcommit",
        "paddingTargets": {"min": 0.3, "max": 0.85},
        "paddingBreachingNodes": [],
        "paddingOvercommittedNodes": ["node-gpu"],
    }
    assert "paddingTarget" not in d["total"]  # the cluster has no target of its own
    y = yaml.safe_load(perf(fixture_cluster, "--util", "--policy", policy, "-o", "yaml").stdout)
    assert (y["total"]["padding"], nodes(y)["node-gpu"]["paddingOvercommits"]) == ("overcommit", ["limits"])
    wide = {
        line.split()[0]: line.rstrip()
        for line in perf(fixture_cluster, "--util", "--policy", policy, "-o", "wide").stdout.splitlines()[1:5]
    }
    assert "30-85%" in wide["*"] and "overcommit 1/3 nodes" in wide["*"] and "overcommit limits 31%" in wide["node-gpu"]
    rows = {r["NODE"]: r for r in csv.DictReader(io.StringIO(perf(fixture_cluster, "--util", "--policy", policy, "-o", "csv").stdout))}
    assert (rows["*"]["MEM TARGET"], rows["*"]["PADDING"]) == ("0.3-0.85", "overcommit 1/3 nodes")
    assert (rows["node-gpu"]["MEM TARGET"], rows["node-gpu"]["PADDING"]) == ("0.3", "overcommit limits 31%")
    html = perf(fixture_cluster, "--util", "--policy", policy, "-o", "html").stdout
    assert 'data-padding="overcommit">overcommit limits 31%<' in html and 'data-padding="overcommit">overcommit 1/3 nodes<' in html
    assert re.search(r'<tr data-node="\*" class="total">.*?<td>30-85%</td>', html)  # the pool table's cluster row (issue 23)


def test_groups_count_breaches_and_overcommits(fixture_cluster: Sim, tmp_path: Path) -> None:
    # by workload: gpu overcommits (above); at 50% node-b (io) breaches with 13Gi used of 8Gi and overcommits 10Gi
    policy = write_policy(
        tmp_path, nodeTargets=[*POLICY["padding"]["nodeTargets"], {"selector": {"matchLabels": {"workload": "io"}}, "memory": 0.5}]
    )
    d = json.loads(perf(fixture_cluster, "--util", "--policy", policy, "--by", "node-label:workload", "-o", "json").stdout)
    by = {g["name"]: g for g in d["groups"]}
    assert (by["io"]["padding"], by["io"]["paddingBreachingNodes"], by["io"]["paddingOvercommittedNodes"]) == (
        "breach",
        ["node-b"],
        ["node-b"],
    )
    assert (by["gpu"]["padding"], by["gpu"]["paddingTargets"]) == ("overcommit", {"min": 0.3, "max": 0.3})
    assert by["general"]["padding"] == "ok"


# -- audit reads the same verdict ---------------------------------------------------------
def test_audit_committed_follows_the_policy_levels() -> None:
    from kubectl_perf.audit.compute import Audit, Settings
    from test_audit_compute import NODES, ctr, pod

    pods = [
        pod("b", node_name="small", containers=[ctr(mem="4Gi", limit="4Gi")]),
        pod("c", node_name="small", containers=[ctr(mem="3Gi", limit="3Gi")]),
    ]
    usage = {"big": 1 * Gi * N, "small": 7 * Gi * N}  # small: 7Gi of 8Gi in use (87%), 7Gi of limits and requests; budget 6Gi

    def results(policy: dict[str, Any]) -> dict[str, Any]:
        audit = Audit(parse_policy(policy), Settings(show_pass=True), NODES)
        audit.add_pods(pods)
        return {r.rule: r for r in audit.node_results(usage) if r.resource and r.resource.name == "small"}

    default = results({})
    assert (default["committed"].result, default["node-padding"].result) == ("warn", "fail")
    assert default["committed"].message.startswith("overcommit limits 87%: memory limits committed on the node, 7Gi, exceed")
    assert default["node-padding"].message.startswith("BREACH usage 87%: memory in use, 7Gi, exceeds")
    # every node result carries the node's whole verdict in capacity's words
    assert default["committed"].properties["verdict"] == "BREACH usage 87%; overcommit limits 87%"
    strict = results({"padding": {"limits": "breach", "requests": "warn"}})
    assert strict["committed"].result == "fail"
    assert strict["committed"].message.startswith("BREACH limits 87%; overcommit requests 87%:")


def test_the_webhook_speaks_of_overcommit_in_the_same_words() -> None:
    from kubectl_perf.model import NodeView
    from kubectl_perf.policy import committed_rule

    # 16Gi at 0.75: 12Gi of budget, 10Gi already committed; a 3Gi pod fits the budget but not what is left
    node = NodeView("n", {}, (), 16 * Gi * N, 0.75, committed=10 * Gi * N)
    spec = {"containers": [{"name": "c", "resources": {"limits": {"memory": "3Gi"}}}]}
    (finding,) = committed_rule(spec, parse_policy({"padding": {"committed": "warn"}}), [node])
    assert finding.message.startswith("memory 3Gi would overcommit limits on every node it may run on: ")
    assert finding.message.endswith("(most room: 2Gi)")


# -- cadvisor's node row: the node's own working set -------------------------------------
@pytest.mark.parametrize("endpoint", ["cadvisor", "resource", "summary"])
def test_cadvisor_judges_the_nodes_own_working_set(fixture_cluster: Sim, endpoint: str) -> None:
    # node-b: NodeMetrics 13Gi, the root cgroup's figure on every kubelet endpoint (perf-sim's
    # containers on it add up to less); 0.75 x 16Gi = 12Gi: a breach, 81%; limits 10Gi within
    ran = inproc.perf(
        fixture_cluster.kubeconfig,
        "cadvisor",
        "--kubeconfig",
        str(fixture_cluster.kubeconfig),
        "node-b",
        "--summary",
        "--once",
        "--endpoint",
        endpoint,
        "-o",
        "json",
    )
    assert ran.returncode == 0, ran.stderr
    (node,) = json.loads(ran.stdout)["nodes"]
    assert (node["workingSetBytes"], node["workingSetSource"]) == (13 * Gi, "node")
    assert (node["padding"], node["paddingBreaches"], node["memoryLimitsBytes"]) == ("breach", ["usage"], 10 * Gi)


def test_a_real_dump_gives_the_root_cgroup() -> None:
    # tests/data/cadvisor-real/k8s-1.35-containerd-2.2.txt (newrelic/nri-kubernetes, Apache-2.0):
    # container_memory_working_set_bytes{id="/"} 9.17110784e+08, read from the file by hand
    dump = Path(__file__).parent / "data" / "cadvisor-real" / "k8s-1.35-containerd-2.2.txt"
    ran = inproc.perf(None, "cadvisor", "--summary", "--once", "-f", str(dump), "-o", "json")
    assert ran.returncode == 0, ran.stderr
    doc = json.loads(ran.stdout)
    (node,) = doc["nodes"]
    assert (node["workingSetBytes"], node["workingSetSource"]) == (917110784, "node")
    containers = sum(c["memoryWorkingSetBytes"] or 0 for c in doc["containers"])
    assert containers < 917110784  # the kubelet, runtime and system slices are the node's too


def test_without_the_root_series_the_sum_is_marked(tmp_path: Path) -> None:
    dump = Path(__file__).parent / "data" / "cadvisor-real" / "k8s-1.35-containerd-2.2.txt"
    edited = tmp_path / "no-root.txt"
    edited.write_text("".join(line for line in dump.read_text().splitlines(keepends=True) if 'id="/"' not in line))
    ran = inproc.perf(None, "cadvisor", "--summary", "--once", "-f", str(edited))
    assert ran.returncode == 0, ran.stderr
    node_line = ran.stdout.split("\n\n")[-1].splitlines()[1]
    assert "Mi (sum)" in node_line


def test_the_demos_overcommitted_nodes_no_longer_fail_the_run(sim_factory: Any) -> None:
    # `./dev demo`'s cluster and policy (10 nodes x 30 pods, examples/policy.yaml): issue 20 counted 7 of
    # 10 nodes whose limits pass their target, all of which failed --fail-on-breach. Now only memory in
    # use over target fails it; the breaching nodes are worked out here from capacity's own figures.
    demo = sim_factory("--nodes", "10", "--pods-per-node", "30")
    policy = str(Path(__file__).resolve().parents[1] / "examples" / "policy.yaml")
    d = json.loads(perf(demo, "--util", "--policy", policy, "-o", "json").stdout)
    over_usage, over_limits = [], []
    for n in d["nodes"]:
        memory = n["resources"]["memory"]
        budget = memory["allocatable"] * n["paddingTarget"]
        if memory["usage"] > budget:
            over_usage.append(n["name"])
        if memory["limits"] > budget:
            over_limits.append(n["name"])
    assert len(over_limits) == 7 and len(over_usage) < len(over_limits)
    assert sorted(d["total"]["paddingOvercommittedNodes"]) == sorted(over_limits)
    result = perf(demo, "--util", "--policy", policy, "--fail-on-breach")
    assert result.returncode == (1 if over_usage else 0)
    if over_usage:
        assert f"error: {len(over_usage)} node(s) breach their memory padding target: {', '.join(sorted(over_usage))}" in result.stderr
