"""The pure rules behind the webhook (and audit): a pod's memory need, and DaemonSets against
grouped node views, as the webhook's node cache hands them over. Expected amounts by hand."""

from __future__ import annotations

from typing import Any

import pytest
from kubectl_perf.model import NodeView, group_nodes
from kubectl_perf.policy import MemoryNeed, Policy, evaluate, memory_need
from kubectl_perf.policy_file import parse_policy

Gi, Mi = 2**30 * 10**9, 2**20 * 10**9  # in nanos


def c(name: str, request: str | None = None, limit: str | None = None, **extra: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": {"cpu": "1"}}
    if request:
        resources["requests"]["memory"] = request
    if limit:
        resources["limits"] = {"memory": limit}
    return {"name": name, "resources": resources, **extra}


@pytest.mark.parametrize(
    ("spec", "nanos", "unbounded"),
    [
        ({"containers": [c("a", "1Gi", "2Gi"), c("b", "3Gi", "4Gi")]}, 6 * Gi, ""),  # every limit set: their sum
        ({"containers": [c("a", "1Mi", "1Mi"), c("b", "100Gi")]}, 100 * Gi + Mi, ""),  # limit, else request
        ({"containers": [c("a", "1Gi", "2Gi"), c("b")]}, 0, "b"),  # neither: unbounded
        ({"containers": [c("a", "1Gi")], "initContainers": [c("i")]}, 0, "i"),
        # init peak 8Gi (request) against app 2Gi + 1Gi: 8Gi
        ({"containers": [c("a", "1Gi", "2Gi"), c("b", "1Gi")], "initContainers": [c("i", "8Gi")]}, 8 * Gi, ""),
        # a sidecar (1Gi limit) runs beside the init container and the app: max(8 + 1, 2 + 1 + 1) = 9Gi
        (
            {
                "containers": [c("a", "1Gi", "2Gi"), c("b", "1Gi")],
                "initContainers": [c("proxy", "1Gi", "1Gi", restartPolicy="Always"), c("i", "8Gi")],
            },
            9 * Gi,
            "",
        ),
        # ephemeral containers carry no resources: not counted, but named (a warning, issue 27 operations
        # 11) unless the pod's cgroup is bounded; see test_memory_need_names_unbounded_ephemeral_containers
        ({"containers": [c("a", "1Gi")], "ephemeralContainers": [{"name": "dbg"}]}, Gi, ""),
        ({"containers": [c("a", "1Gi", "3Gi")], "ephemeralContainers": [{"name": "dbg"}]}, 3 * Gi, ""),
        # a pod-level limit bounds everything; a pod-level request is a floor
        ({"containers": [c("a"), c("b", "1Gi")], "resources": {"limits": {"memory": "5Gi"}}}, 5 * Gi, ""),
        ({"containers": [c("a", "1Gi"), c("b", "1Gi")], "resources": {"requests": {"memory": "3Gi"}}}, 3 * Gi, ""),
        ({"containers": [c("a", "1Gi", "4Gi"), c("b", "1Gi")], "resources": {"requests": {"memory": "3Gi"}}}, 5 * Gi, ""),
        # overhead adds to the need
        ({"containers": [c("a", "1Gi")], "overhead": {"memory": "128Mi"}}, Gi + 128 * Mi, ""),
        ({"containers": [c("a", "1Gi", "2Gi")], "overhead": {"memory": "128Mi"}}, 2 * Gi + 128 * Mi, ""),
        # issue 27: a zero amount is none (the kubelet reads a zero memory limit as no limit)
        ({"containers": [c("a", "0", "0")]}, 0, "a"),
        ({"containers": [c("a", "1Gi", "0")]}, Gi, ""),  # limit "0": the request is the need
        ({"containers": [c("a", "1Gi", "2Gi"), c("b", "0", "0Mi")]}, 0, "b"),  # not "every container has a limit"
        ({"containers": [c("a", "1Gi")], "resources": {"limits": {"memory": "0"}}}, Gi, ""),  # pod-level "0": no bound
        ({"containers": [c("a")], "resources": {"limits": {"memory": "0"}, "requests": {"memory": "0"}}}, 0, "a"),
    ],
)
def test_memory_need(spec: dict[str, Any], nanos: int, unbounded: str) -> None:
    need = memory_need(spec)
    assert (need.nanos, need.unbounded) == (nanos, unbounded)


def test_memory_need_names_unbounded_ephemeral_containers() -> None:
    dbg = {"name": "dbg"}
    assert memory_need({"containers": [c("a", "1Gi")], "ephemeralContainers": [dbg]}).ephemeral == ("dbg",)
    assert memory_need({"containers": [c("a", "1Gi", "3Gi")], "ephemeralContainers": [dbg]}).ephemeral == ()  # limits bound the cgroup
    assert memory_need({"containers": [c("a"), c("b", "1Gi")], "ephemeralContainers": [dbg]}) == MemoryNeed(0, "a", ("dbg",))


def view(name: str, gi: int, pool: str, target: float = 0.75) -> NodeView:
    return NodeView(name, {"node-pool": pool}, (), gi * Gi, target)


NODES = [view("small-1", 8, "small"), view("small-2", 8, "small"), view("medium-1", 16, "medium"), view("big-1", 64, "big")]
DAEMON = {"containers": [c("agent", "1Gi", "10Gi")]}  # 10Gi: over small's 6Gi budgets, under medium's 12Gi


def test_grouped_views_keep_every_budget_for_daemonsets() -> None:
    grouped = group_nodes(NODES, frozenset())  # a pod that reads no node label: only budgets and pools tell nodes apart
    assert sorted((v.budget, v.nodes) for v in grouped) == [(6 * Gi, 2), (12 * Gi, 1), (48 * Gi, 1)]
    found = evaluate(DAEMON, Policy(), grouped, "DaemonSet")
    assert [f.rule for f in found] == ["padding"]
    assert "small (2 nodes, budget 6Gi: 75% of 8Gi)" in found[0].message and "medium" not in found[0].message
    # issue 27: any pod now fits every node it may be scheduled on (padding.eligibleNodes: every)...
    (other,) = evaluate(DAEMON, Policy(), grouped, "Deployment")
    assert "node pools the scheduler may place it on" in other.message and "small (2 nodes, budget 6Gi: 75% of 8Gi)" in other.message
    # ...unless eligibleNodes: any, where one node will do
    assert evaluate(DAEMON, parse_policy({"padding": {"eligibleNodes": "any"}}), grouped, "Deployment") == []
    assert evaluate(DAEMON, parse_policy({"padding": {"daemonSets": "anyNode"}}), grouped, "DaemonSet") == []


def test_grouping_still_carries_the_most_room() -> None:
    views = [NodeView("a", {}, (), 16 * Gi, 0.75, 10 * Gi), NodeView("b", {}, (), 16 * Gi, 0.75, 4 * Gi)]
    (one,) = group_nodes(views, frozenset())
    assert one.nodes == 2 and one.budget - one.committed == 8 * Gi  # b: 12Gi - 4Gi


@pytest.mark.parametrize(
    ("spec", "nodes", "on_stale", "no_eligible", "skipped", "rules"),
    [
        ({"containers": [c("a", "1Gi", "1Gi")]}, [view("n1", 8, "p")], "allow", "warn", "", []),  # weighed: no skip
        ({"containers": [c("a", "1Gi", "1Gi")]}, None, "allow", "warn", "stale_cache", []),
        ({"containers": [c("a", "1Gi", "1Gi")]}, None, "deny", "warn", "stale_cache", ["padding"]),
        (
            {"containers": [c("a", "1Gi", "1Gi")], "nodeSelector": {"pool": "none"}},
            [view("n1", 8, "p")],
            "allow",
            "allow",
            "no_eligible_node",
            [],
        ),
        (
            {"containers": [c("a", "1Gi", "1Gi")], "nodeSelector": {"pool": "none"}},
            [view("n1", 8, "p")],
            "allow",
            "warn",
            "no_eligible_node",
            ["padding"],
        ),
        ({"containers": [c("a")]}, None, "allow", "warn", "stale_cache", ["padding"]),  # unbounded, and no node view
        ({"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}, None, "allow", "warn", "stale_cache", ["padding"]),
        # a zero request is no request (issue 27): unbounded, no longer "nothing to weigh"
        (
            {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1", "memory": "0"}}}]},
            None,
            "allow",
            "warn",
            "stale_cache",
            ["padding"],
        ),
        ({"containers": []}, None, "allow", "warn", "", []),  # nothing to weigh
    ],
)
def test_padding_rule_says_why_it_could_not_weigh_the_pod(
    spec: dict[str, Any], nodes: list[NodeView] | None, on_stale: str, no_eligible: str, skipped: str, rules: list[str]
) -> None:
    """The webhook's padding_skipped metric and stale warning read these, never a second judgement (issue 19 item 5)."""
    from kubectl_perf.policy import padding_rule

    policy = parse_policy({"onStaleCache": on_stale, "padding": {"noEligibleNode": no_eligible}})
    found = padding_rule(spec, policy, nodes)
    assert (found.skipped, [f.rule for f in found]) == (skipped, rules)
    assert evaluate(spec, policy, nodes).skipped == skipped


@pytest.mark.parametrize(
    ("resources", "pod_level", "missing"),
    [
        ({"requests": {"cpu": "0", "memory": "1Gi"}}, {}, [("a", "cpu")]),  # an explicit 0 stands, even beside a limit
        ({"requests": {"cpu": "0"}, "limits": {"cpu": "1", "memory": "1Gi"}}, {}, [("a", "cpu")]),
        ({"limits": {"cpu": "0m", "memory": "0Gi"}}, {}, [("a", "cpu"), ("a", "memory")]),  # defaulted from a zero limit
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, {}, []),  # a limit stands for the request the API server defaults
        ({"requests": {"cpu": "0", "memory": "0"}}, {"requests": {"cpu": "2", "memory": "2Gi"}}, []),  # the pod level covers
        ({}, {"requests": {"cpu": "0"}, "limits": {"memory": "0"}}, [("a", "cpu"), ("a", "memory")]),
        # null decodes to a zero Quantity on the API server: written, so the limit does not stand in
        ({"requests": {"cpu": None, "memory": "1Gi"}, "limits": {"cpu": "1"}}, {}, [("a", "cpu")]),
    ],
)
def test_requests_need_a_non_zero_amount(resources: dict[str, Any], pod_level: dict[str, Any], missing: list[tuple[str, str]]) -> None:
    """Issue 27 bypass 1: requireRequests asked for presence only, so "0" passed."""
    from kubectl_perf.policy import missing_requests, requests_rule

    spec = {"containers": [{"name": "a", "resources": resources}], "resources": pod_level}
    assert missing_requests(spec, ("cpu", "memory")) == missing
    messages = [f.message for f in requests_rule(spec, Policy())]
    assert len(messages) == len(missing) and all(m.endswith("request (0 counts as none)") for m in messages)  # each wrote a 0


def test_a_denial_names_at_most_ten_pools() -> None:
    """Issue 27 operations 13: nodes without a pool label are pools of their own, so a DaemonSet
    pinned by matchFields (no grouping) once named all 5,000 of them. 15 nodes of 8Gi (6Gi budgets)
    against 7Gi: 10 named, "... and 5 more"."""
    nodes = [NodeView(f"n{i:02}", {}, (), 8 * Gi, 0.75) for i in range(15)]
    (found,) = evaluate({"containers": [c("agent", "7Gi", "7Gi")]}, Policy(messages="detailed"), nodes, "DaemonSet")
    assert found.message.count("(1 node, budget 6Gi") == 10 and found.message.endswith(", ... and 5 more"), found.message
    # messages: pools (the default) names no node: unlabelled nodes are one entry
    (found,) = evaluate({"containers": [c("agent", "7Gi", "7Gi")]}, Policy(), nodes, "DaemonSet")
    assert found.message.endswith(": nodes without a pool label (15 nodes, budget 6Gi: 75% of 8Gi)"), found.message
