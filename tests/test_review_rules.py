"""Ways around the padding rule, closed (issue 7 items 4-9), in-process through
create_app(...).test_client(). Budgets: see review_helpers (node-a 12Gi untainted, node-b 8Gi
workload=io tainted dedicated=io, node-gpu 48Gi tainted nvidia.com/gpu)."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from review_helpers import GPU_TOLERATION, IO_TOLERATION, POLICY, answer, client, node
from webhook_helpers import controller, pod, review

TOLERATE_ALL = [{"operator": "Exists"}]


@pytest.fixture(scope="module")
def c() -> Any:
    return client()


def with_policy(**padding: Any) -> Any:
    return client({**POLICY, "padding": {**POLICY["padding"], **padding}})


def container(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "x", "resources": resources, **extra}


# -- item 4: in-place resize and ephemeral containers ---------------------------------------
def resize(old: dict[str, Any], memory_limit: str) -> dict[str, Any]:
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["resources"]["limits"]["memory"] = memory_limit
    return review(new, "UPDATE", old, sub_resource="resize")


def test_a_resize_past_every_budget_is_denied(c: Any) -> None:
    r = answer(c, resize(pod(memory_limit="1Gi"), "13Gi"))
    assert r["allowed"] is False and r["status"]["code"] == 403 and "[padding]" in r["status"]["message"], r
    assert "largest: 12Gi" in r["status"]["message"]


def test_a_resize_within_budget_is_allowed(c: Any) -> None:
    assert answer(c, resize(pod(memory_limit="1Gi"), "10Gi"))["allowed"] is True


def test_a_resize_in_warn_mode_warns(c: Any) -> None:
    r = answer(c, resize(pod(namespace="dev", memory_limit="1Gi"), "13Gi"))
    assert r["allowed"] is True and any("[padding]" in w for w in r["warnings"]), r


def debug(old: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox", "targetContainerName": "main"}]
    return review(new, "UPDATE", old, sub_resource="ephemeralcontainers")


def test_an_ephemeral_container_in_a_pod_without_a_memory_limit_is_a_warning(c: Any) -> None:
    """Issue 27 operations 11: ephemeral containers cannot carry resources, so `kubectl debug` was
    denied on every pod without memory limits, pods this webhook admitted included. Now a warning."""
    r = answer(c, debug(pod(memory_limit=None, requests={"cpu": "100m", "memory": "1Gi"})))
    assert r["allowed"] is True, r
    assert r["warnings"] == ["[padding] ephemeral container 'debugger' has no memory limit and the pod's containers are not all limited"]


def test_an_ephemeral_container_runs_within_the_limits_of_a_bounded_pod(c: Any) -> None:
    # every container has a memory limit: the kubelet bounds the pod's cgroup by their sum
    assert answer(c, debug(pod(memory_limit="1Gi")))["allowed"] is True


@pytest.mark.parametrize("sub", ["status", "binding", "eviction"])
def test_other_subresources_still_pass(c: Any, sub: str) -> None:
    old = pod(memory_limit="1Gi")
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["resources"]["limits"]["memory"] = "99Gi"
    assert answer(c, review(new, "UPDATE", old, sub_resource=sub))["allowed"] is True


# -- item 5: partial limits ----------------------------------------------------------------
def test_a_small_limit_beside_an_unlimited_request_counts_the_request(c: Any) -> None:
    p = pod()
    p["spec"]["containers"] = [
        container("sidecar", {"cpu": "10m", "memory": "1Mi"}, {"memory": "1Mi"}),
        container("main", {"cpu": "1", "memory": "100Gi"}),
    ]
    r = answer(c, review(p))
    assert r["allowed"] is False and "[padding]" in r["status"]["message"], r
    assert "100Gi" in r["status"]["message"], r  # 1Mi + 100Gi, shown to one decimal


def test_the_need_adds_limits_and_requests_by_the_schedulers_rules(c: Any) -> None:
    # app 6Gi (limit) + 5Gi (request, no limit) = 11Gi; init 11.5Gi (request) alone; sidecar 1Gi limit
    # runs beside both: max(6 + 5 + 1, 11.5 + 1) = 12.5Gi > 12Gi. Without the sidecar: 11.5Gi fits.
    p = pod()
    p["spec"]["containers"] = [
        container("a", {"cpu": "1", "memory": "1Gi"}, {"memory": "6Gi"}),
        container("b", {"cpu": "1", "memory": "5Gi"}),
    ]
    p["spec"]["initContainers"] = [container("setup", {"cpu": "1", "memory": "11.5Gi"})]
    assert answer(c, review(p))["allowed"] is True
    p["spec"]["initContainers"].insert(0, container("proxy", {"cpu": "1", "memory": "512Mi"}, {"memory": "1Gi"}, restartPolicy="Always"))
    r = answer(c, review(p))
    assert r["allowed"] is False and "12.5Gi" in r["status"]["message"], r


def test_a_container_with_neither_limit_nor_request_is_unbounded() -> None:
    c = client({**POLICY, "requireRequests": ["cpu"]})
    p = pod()
    p["spec"]["containers"].append(container("greedy", {"cpu": "1"}))
    r = answer(c, review(p))
    assert r["allowed"] is False and "[padding]" in r["status"]["message"], r
    assert "'greedy'" in r["status"]["message"] and "unbounded" in r["status"]["message"], r


def test_a_pod_level_memory_limit_bounds_every_container() -> None:
    c = client({**POLICY, "requireRequests": ["cpu"]})
    p = pod()
    p["spec"]["containers"].append(container("greedy", {"cpu": "1"}))
    p["spec"]["resources"] = {"limits": {"memory": "4Gi"}}
    assert answer(c, review(p))["allowed"] is True
    p["spec"]["resources"] = {"limits": {"memory": "13Gi"}}
    assert answer(c, review(p))["allowed"] is False


# -- item 6: DaemonSets ---------------------------------------------------------------------
def daemonset(memory_limit: str, **spec: Any) -> dict[str, Any]:
    return controller("DaemonSet", pod(memory_limit=memory_limit, **spec))


def test_a_daemonset_must_fit_every_node_it_runs_on(c: Any) -> None:
    # node-a 12Gi and node-b 8Gi (tolerated): 10Gi breaches node-b's budget
    r = answer(c, review(daemonset("10Gi", tolerations=IO_TOLERATION)))
    assert r["allowed"] is False and "[padding]" in r["status"]["message"], r
    assert "node-b" in r["status"]["message"] and "8Gi" in r["status"]["message"] and "node-a" not in r["status"]["message"], r
    assert answer(c, review(daemonset("8Gi", tolerations=IO_TOLERATION)))["allowed"] is True
    assert answer(c, review(daemonset("10Gi")))["allowed"] is True  # node-a only


def test_a_deployment_must_fit_every_node_it_may_be_scheduled_on(c: Any) -> None:
    """Issue 27 bypass 3: the scheduler places by requests, so a pod that fits node-a's 12Gi but not
    node-b's 8Gi (tolerated) may land on node-b; padding.eligibleNodes: every (the default) denies
    it and names the pool to keep it off; `any` keeps the old rule (one node will do)."""
    tolerating = controller("Deployment", pod(memory_limit="10Gi", tolerations=IO_TOLERATION))
    r = answer(c, review(tolerating))
    message = r["status"]["message"] if not r["allowed"] else ""
    assert "[padding] memory 10Gi exceeds the padding budget of node pools the scheduler may place it on" in message, r
    assert "node-b (1 node, budget 8Gi: 50% of 16Gi)" in message and "node-a" not in message, r
    assert answer(c, review(controller("Deployment", pod(memory_limit="8Gi", tolerations=IO_TOLERATION))))["allowed"] is True
    assert answer(with_policy(eligibleNodes="any"), review(tolerating))["allowed"] is True


def test_daemonsets_any_node_opts_out() -> None:
    c = with_policy(daemonSets="anyNode")
    assert answer(c, review(daemonset("10Gi", tolerations=IO_TOLERATION)))["allowed"] is True
    assert answer(c, review(daemonset("13Gi", tolerations=IO_TOLERATION)))["allowed"] is False


def test_a_daemonset_denial_names_the_node_pools() -> None:
    nodes = [
        node("small-1", "8Gi", {"node-pool": "small"}),
        node("small-2", "8Gi", {"node-pool": "small"}),
        node("medium-1", "16Gi", {"node-pool": "medium"}),
        node("big-1", "64Gi", {"node-pool": "big"}),
    ]
    c = client(nodes=nodes)
    # budgets 6Gi, 6Gi, 12Gi, 48Gi: 10Gi breaches the small pool only, 20Gi small and medium
    r = answer(c, review(daemonset("10Gi", tolerations=TOLERATE_ALL)))
    msg = r["status"]["message"]
    assert r["allowed"] is False and "small" in msg and "medium" not in msg and "big" not in msg, r
    assert "2 nodes" in msg, msg
    msg = answer(c, review(daemonset("20Gi", tolerations=TOLERATE_ALL)))["status"]["message"]
    assert "small" in msg and "medium" in msg and "big" not in msg, msg


def test_a_daemonset_pinned_by_affinity_checks_only_those_nodes(c: Any) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "workload", "operator": "In", "values": ["gpu"]}]}]
            }
        }
    }
    assert answer(c, review(daemonset("40Gi", tolerations=GPU_TOLERATION + IO_TOLERATION, affinity=affinity)))["allowed"] is True


# -- item 7: the UPDATE fingerprint ---------------------------------------------------------
def test_moving_a_container_between_lists_is_a_change(c: Any) -> None:
    old = pod(memory_limit="13Gi")  # created before the policy: it breaches
    old["spec"]["containers"].append(container("helper", {"cpu": "1", "memory": "1Gi"}))
    new = copy.deepcopy(old)
    new["spec"]["initContainers"] = [new["spec"]["containers"].pop(0)]
    assert answer(c, review(copy.deepcopy(old), "UPDATE", old))["allowed"] is True  # unchanged: passes
    r = answer(c, review(new, "UPDATE", old))
    assert r["allowed"] is False and "[padding]" in r["status"]["message"], r


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(overhead={"memory": "1Gi"}),
        lambda s: s.update(runtimeClassName="kata"),
        lambda s: s.update(resources={"limits": {"memory": "14Gi"}}),
        lambda s: s["containers"][0].update(restartPolicy="Always"),
        lambda s: s["containers"][0].update(name="renamed"),
        lambda s: s["containers"][0]["resources"].update(requests={"cpu": "100m", "memory": "300Mi"}),
        lambda s: s.update(tolerations=[{"key": "x", "operator": "Exists"}]),
        lambda s: s.update(nodeSelector={"workload": "general"}),
        lambda s: s.update(ephemeralContainers=[{"name": "debugger", "image": "busybox"}]),
    ],
)
def test_every_resource_and_scheduling_field_is_a_change(c: Any, change: Any) -> None:
    old = pod(memory_limit="13Gi")
    new = copy.deepcopy(old)
    change(new["spec"])
    assert answer(c, review(new, "UPDATE", old))["allowed"] is False


# -- item 8: no eligible node ---------------------------------------------------------------
def nowhere() -> dict[str, Any]:
    return pod(memory_limit="1Gi", nodeSelector={"node-pool": "scaled-to-zero"})


def test_no_eligible_node_is_allowed_with_a_warning_by_default(c: Any) -> None:
    r = answer(c, review(nowhere()))
    assert r["allowed"] is True and any("padding" in w and "no node" in w for w in r.get("warnings", [])), r


@pytest.mark.parametrize(("setting", "allowed", "warned"), [("allow", True, False), ("warn", True, True), ("deny", False, False)])
def test_no_eligible_node_follows_the_policy(setting: str, allowed: bool, warned: bool) -> None:
    r = answer(with_policy(noEligibleNode=setting), review(nowhere()))
    assert r["allowed"] is allowed, r
    assert bool(r.get("warnings")) is warned, r
    if not allowed:
        assert "no node" in r["status"]["message"], r


def test_a_pod_that_fits_an_eligible_node_gets_no_warning(c: Any) -> None:
    assert "warnings" not in answer(c, review(pod(memory_limit="1Gi")))


# -- item 9: pod-level limits count as requests ---------------------------------------------
def test_pod_level_limits_count_as_requests(c: Any) -> None:
    p = pod(memory_limit=None, requests={})
    p["spec"]["resources"] = {"limits": {"cpu": "2", "memory": "4Gi"}}
    r = answer(c, review(p))
    assert r["allowed"] is True, r
    p["spec"]["resources"] = {"limits": {"memory": "4Gi"}}
    r = answer(c, review(p))
    assert r["allowed"] is False and "no cpu request" in r["status"]["message"] and "memory request" not in r["status"]["message"], r


# -- issue 27 operations 13: bounded denials, warnings and log lines -------------------------------
def many_containers(count: int, namespace: str = "shop") -> dict[str, Any]:
    p = pod(namespace=namespace, memory_limit="1Gi", requests={})  # no requests at all: the limit defaults none here
    p["spec"]["containers"] = [{"name": f"c{i}", "image": "nginx", "resources": {"limits": {"memory": "1Gi"}}} for i in range(count)]
    return p


def test_a_denial_lists_at_most_ten_findings_then_counts_the_rest(c: Any, caplog: pytest.LogCaptureFixture) -> None:
    """120 containers (within limits.containers), each without a cpu request: 120 [requests] findings
    (the 1Gi limit stands for the memory request), and 120 x 1Gi = 120Gi over node-a's 12Gi: one
    [padding]. 121 in all: 10 listed, "... and 111 more". Before, every one was listed (a 1 MB denial
    from a 0.33 MB pod)."""
    with caplog.at_level(logging.INFO, logger="perf_webhook.decisions"):
        r = answer(c, review(many_containers(120)))
    message = r["status"]["message"]
    assert r["allowed"] is False and message.count("[requests]") == 10 and message.endswith("; ... and 111 more"), message[-200:]
    assert len(message) < 1000
    (line,) = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "perf_webhook.decisions"]
    assert line["message"] == message and len(rec_text := json.dumps(line)) < 2000, rec_text[:300]


def test_warnings_and_audit_log_lines_are_bounded_too(caplog: pytest.LogCaptureFixture) -> None:
    c = client({**POLICY, "namespaceOverrides": {"dev": "warn", "legacy": "audit"}})
    warned = answer(c, review(many_containers(50, namespace="dev")))  # 50 + 1 findings, all warnings
    assert warned["allowed"] is True and len(warned["warnings"]) == 11 and warned["warnings"][-1] == "... and 41 more"
    with caplog.at_level(logging.INFO, logger="perf_webhook.decisions"):
        assert answer(c, review(many_containers(50, namespace="legacy")))["allowed"] is True
    (line,) = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "perf_webhook.decisions"]
    assert len(line["findings"]) == 11 and line["findings"][-1] == "... and 41 more"


# -- issue 27 operations 11: exemptSubjects, matched on userInfo --------------------------------------
@pytest.mark.parametrize(
    ("user_info", "who"),
    [
        ({"username": "alice", "groups": ["system:authenticated"]}, "user alice"),
        ({"username": "bob", "groups": ["system:authenticated", "sre-oncall"]}, "group sre-oncall"),
        ({"username": "system:serviceaccount:tools:debugger", "groups": ["system:serviceaccounts"]}, "service account tools/debugger"),
    ],
)
def test_an_exempt_subject_is_allowed_unjudged_with_a_warning(user_info: dict[str, Any], who: str) -> None:
    subjects = {"users": ["alice"], "groups": ["sre-oncall"], "serviceAccounts": ["tools/debugger"]}
    c = client({**POLICY, "exemptSubjects": subjects})
    body = review(pod(memory_limit=None, requests={}))  # no requests, unbounded: denied for anyone else
    body["request"]["userInfo"] = user_info
    r = answer(c, body)
    assert r["allowed"] is True and r["warnings"] == [f"kubectl-perf did not judge this Pod: {who} is exempt (exemptSubjects)"], r
    for other in (
        {"username": "mallory", "groups": ["alice", "tools/debugger"]},  # a group named like a user is no user
        {"username": "system:serviceaccount:other:debugger"},
        {"username": "tools/debugger"},  # a user named like a service account is not one
        {"username": 7, "groups": "sre-oncall"},  # malformed: matches nothing
    ):
        body["request"]["userInfo"] = other
        assert answer(c, body)["allowed"] is False, other


# -- issue 27 operations 15: messages: pools (the default) names no node -------------------------------
def test_denials_name_pools_and_budgets_but_no_node_by_default() -> None:
    """Whoever is denied may not be allowed to list nodes. node-a (12Gi budget) carries no pool label,
    so the largest budget is given without a place; with a pool label (node-pool: general) the pool."""
    pools = {k: v for k, v in POLICY.items() if k != "messages"}
    r = answer(client(pools), review(pod(memory_limit="13Gi")))
    assert r["status"]["message"].endswith("(largest: 12Gi, 75% of 16Gi)"), r
    labelled = [node("general-7", "16Gi", {"node-pool": "general"})]
    r = answer(client(pools, nodes=labelled), review(pod(memory_limit="13Gi")))
    assert r["status"]["message"].endswith("(largest: 12Gi, 75% of 16Gi in pool general)"), r
    # a DaemonSet: unlabelled nodes are one entry, not named
    r = answer(client(pools), review(controller("DaemonSet", pod(memory_limit="13Gi"))))  # runs on node-a only (untainted)
    message = r["status"]["message"]
    assert message.endswith(": nodes without a pool label (1 node, budget 12Gi: 75% of 16Gi)") and "node-" not in message, message
    # detailed: the node, as before
    assert answer(client(), review(pod(memory_limit="13Gi")))["status"]["message"].endswith("(largest: 12Gi, 75% of 16Gi on node-a)")
