"""Node eligibility and the admission rules, pure, against hand-worked cases."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import DATA, Sim
from kubectl_perf.api import Cluster, Connection
from kubectl_perf.model import NodeView, node_view
from kubectl_perf.padding import judge
from kubectl_perf.policy import RULES, Policy, committed_rule, evaluate, padding_rule, requests_rule
from kubectl_perf.policy_file import parse_policy
from kubectl_perf.scheduling import node_matches, tolerates

Gi = 2**30 * 10**9


@pytest.mark.parametrize(
    ("toleration", "taint", "ok"),
    [
        ({"key": "a", "operator": "Equal", "value": "1", "effect": "NoSchedule"}, {"key": "a", "value": "1", "effect": "NoSchedule"}, True),
        ({"key": "a", "value": "1"}, {"key": "a", "value": "1", "effect": "NoExecute"}, True),  # operator defaults to Equal, any effect
        ({"key": "a", "operator": "Equal", "value": "2"}, {"key": "a", "value": "1", "effect": "NoSchedule"}, False),
        ({"key": "a", "operator": "Exists"}, {"key": "a", "value": "x", "effect": "NoSchedule"}, True),
        ({"operator": "Exists"}, {"key": "anything", "effect": "NoExecute"}, True),
        ({"key": "a", "operator": "Exists", "effect": "NoExecute"}, {"key": "a", "effect": "NoSchedule"}, False),
        ({"key": "b", "operator": "Exists"}, {"key": "a", "effect": "NoSchedule"}, False),
    ],
)
def test_tolerations(toleration: dict[str, str], taint: dict[str, str], ok: bool) -> None:
    assert tolerates(toleration, taint) is ok


def test_prefer_no_schedule_does_not_block() -> None:
    assert node_matches({}, "n", {}, [{"key": "a", "effect": "PreferNoSchedule"}])
    assert not node_matches({}, "n", {}, [{"key": "a", "effect": "NoSchedule"}])


def affinity(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": t} for t in terms]}
            }
        }
    }


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        ({"nodeSelector": {"zone": "a"}}, True),
        ({"nodeSelector": {"zone": "b"}}, False),
        (affinity([{"key": "cores", "operator": "Gt", "values": ["8"]}]), True),
        (affinity([{"key": "cores", "operator": "Lt", "values": ["8"]}]), False),
        (affinity([{"key": "zone", "operator": "In", "values": ["b"]}], [{"key": "zone", "operator": "Exists"}]), True),  # terms OR
        (affinity([{"key": "zone", "operator": "In", "values": ["a"]}, {"key": "gpu", "operator": "Exists"}]), False),  # expressions AND
        (
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]
                        }
                    }
                }
            },
            True,
        ),
        ({"nodeName": "other"}, False),
    ],
)
def test_node_selection(spec: dict[str, Any], ok: bool) -> None:
    assert node_matches(spec, "n1", {"zone": "a", "cores": "16"}, []) is ok


def view(name: str, gi: int, target: float = 0.75, committed_gi: float = 0, **labels: str) -> NodeView:
    return NodeView(name, labels, (), gi * Gi, target, int(committed_gi * Gi))


def spec(limit: str) -> dict[str, Any]:
    return {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": limit}}}]}


def test_padding_uses_the_best_eligible_node_under_eligible_nodes_any() -> None:
    nodes = [view("small", 16), view("big", 64, workload="gpu")]
    anyone = parse_policy({"padding": {"eligibleNodes": "any"}, "messages": "detailed"})
    assert evaluate(spec("40Gi"), anyone, nodes) == []  # 0.75 x 64Gi = 48Gi
    assert [f.rule for f in evaluate(spec("40Gi"), Policy(), nodes)] == ["padding"]  # every (default): small's 12Gi too
    found = evaluate(spec("50Gi"), anyone, nodes)
    assert [f.rule for f in found] == ["padding"] and "largest: 48Gi, 75% of 64Gi on big" in found[0].message
    # no node to weigh against: allowed with a warning (policy padding.noEligibleNode, default warn)
    assert [(f.rule, f.deny) for f in evaluate(spec("1Gi"), Policy(), [])] == [("padding", False)]


def test_committed_warn_and_deny() -> None:
    nodes = [view("a", 16, committed_gi=10)]  # budget 12Gi, room 2Gi
    warn = evaluate(spec("4Gi"), parse_policy({"padding": {"committed": "warn"}}), nodes)
    assert [(f.rule, f.deny) for f in warn] == [("committed", False)]
    deny = evaluate(spec("4Gi"), parse_policy({"padding": {"committed": "deny"}}), nodes)
    assert [(f.rule, f.deny) for f in deny] == [("committed", True)]
    assert evaluate(spec("2Gi"), parse_policy({"padding": {"committed": "deny"}}), nodes) == []


def test_each_rule_by_its_id() -> None:
    assert list(RULES) == ["requests", "padding", "committed"]
    bare = {"containers": [{"name": "c", "resources": {"limits": {"memory": "20Gi"}}}]}  # no cpu; the limit defaults the memory request
    nodes = [view("a", 16, committed_gi=10)]  # budget 12Gi, room 2Gi
    policy = parse_policy({"padding": {"committed": "deny"}})
    assert [(f.rule, f.container, f.resource) for f in requests_rule(bare, policy)] == [("requests", "c", "cpu")]
    assert [f.rule for f in padding_rule(bare, policy, nodes)] == ["padding"]
    assert committed_rule(bare, policy, nodes) == []  # 20Gi fits no budget at all: padding says so, committed stays quiet
    assert [f.rule for f in RULES["committed"](spec("4Gi"), policy, nodes)] == ["committed"]
    assert [f.rule for f in evaluate(bare, policy, nodes)] == ["requests", "padding"]


@pytest.mark.parametrize(
    ("memory", "target", "budget_bytes"),
    [
        ("16Gi", 0.75, 12 * 2**30),  # exact
        ("1000", 0.333, 333),  # 333.0 bytes; the budget is whole nanos, rounded down
        ("1001", 0.5, 500.5),  # a half byte: 500.5 bytes fit, 501 do not
    ],
)
def test_the_padding_boundary_is_the_same_everywhere(memory: str, target: float, budget_bytes: float) -> None:
    """A pod needing exactly the budget fits, one nano more does not; a node using or
    committing exactly the budget is within it, one nano more breaches: the webhook's
    rule and capacity's column agree at the boundary."""
    node = {"metadata": {"name": "n", "labels": {"pool": "p"}}, "status": {"allocatable": {"memory": memory}}}
    policy = Policy(padding_memory=target)
    budget = round(budget_bytes * 10**9)  # nanos, worked out by hand above
    assert node_view(node, policy.padding_target).budget == budget
    for need, fits in ((budget, True), (budget + 1, False)):
        pod = {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": f"{need}n"}}}]}
        assert (padding_rule(pod, policy, [node_view(node, policy.padding_target)]) == []) is fits
        verdict = judge(node_view(node, policy.padding_target).memory, target, need, need)  # every plugin's node verdict
        assert (verdict.breaches == () and verdict.overcommits == ()) is fits


def test_stale_view() -> None:
    assert evaluate(spec("1Gi"), parse_policy({"onStaleCache": "allow"}), None) == []
    assert [f.rule for f in evaluate(spec("1Gi"), parse_policy({"onStaleCache": "deny"}), None)] == ["padding"]


def test_node_cache_relists_after_410(sim_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from perf_webhook import cache as cache_module

    monkeypatch.setattr(cache_module, "WATCH_SECONDS", 1)
    sim: Sim = sim_factory("--objects", str(DATA / "cluster.yaml"))
    lists = 0
    original = cache_module.Feed._list

    def counting(self: Any, *args: Any) -> str:
        nonlocal lists
        lists += 1
        return original(self, *args)

    monkeypatch.setattr(cache_module.Feed, "_list", counting)
    cache = cache_module.NodeViewCache(lambda: Cluster(Connection(str(sim.kubeconfig))), Policy())
    cache.start()
    try:
        assert cache.nodes.synced.wait(10)
        assert {v.name for v in cache.views() or []} == {"node-a", "node-b", "node-gpu"}
        sim.request("/sim/compact", "POST")  # the next watch's resource version is too old: 410, relist
        deadline = time.monotonic() + 15
        while lists < 2:
            assert time.monotonic() < deadline, "the cache never listed again"
            time.sleep(0.1)
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-new"}, "status": {"allocatable": {"memory": "8Gi"}}}
        sim.request("/api/v1/nodes", "POST", node)
        deadline = time.monotonic() + 15
        while "node-new" not in {v.name for v in cache.views() or []}:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        cache.stop()


NO_SCHEDULE = [{"key": "dedicated", "value": "big", "effect": "NoSchedule"}]
NO_EXECUTE = [{"key": "dedicated", "value": "big", "effect": "NoExecute"}]


@pytest.mark.parametrize(
    ("spec", "taints", "ok"),
    [
        ({"nodeName": "n1"}, NO_SCHEDULE, True),  # the kubelet ignores NoSchedule: the scheduler is not asked
        ({}, NO_SCHEDULE, False),  # the scheduler honours it
        ({"nodeName": "n1"}, NO_EXECUTE, False),  # the kubelet refuses an untolerated NoExecute taint
        ({"nodeName": "n1", "tolerations": [{"key": "dedicated", "operator": "Exists"}]}, NO_EXECUTE, True),
        ({"nodeName": "n1", "nodeSelector": {"zone": "b"}}, NO_SCHEDULE, False),  # the kubelet checks selectors too
    ],
)
def test_a_pod_bound_by_node_name_meets_the_kubelets_rules(spec: dict[str, Any], taints: list[dict[str, str]], ok: bool) -> None:
    """Issue 27 bypass 2: nodeName on a NoSchedule-tainted node was "no eligible node", allowed with a warning."""
    assert node_matches(spec, "n1", {"zone": "a"}, taints) is ok


def test_node_name_on_a_tainted_node_is_weighed_against_it() -> None:
    tainted = [NodeView("big-1", {}, tuple(NO_SCHEDULE), 16 * Gi, 0.75)]  # budget 12Gi
    found = evaluate({**spec("13Gi"), "nodeName": "big-1"}, Policy(), tainted)
    assert [(f.rule, f.deny) for f in found] == [("padding", True)] and "largest: 12Gi" in found[0].message
    assert evaluate({**spec("10Gi"), "nodeName": "big-1"}, Policy(), tainted) == []
    # a node the cache does not know: padding.noEligibleNode decides (warn by default)
    assert [(f.rule, f.deny) for f in evaluate({**spec("1Gi"), "nodeName": "ghost"}, Policy(), tainted)] == [("padding", False)]
    ghost = evaluate({**spec("1Gi"), "nodeName": "ghost"}, parse_policy({"padding": {"noEligibleNode": "deny"}}), tainted)
    assert [(f.rule, f.deny) for f in ghost] == [("padding", True)]
