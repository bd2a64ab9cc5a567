"""What a template's pods get at admission (issue 27 bypass 4), as the webhook applies it before
judging a template: the pure part (as_admitted) by hand-worked cases, and a DaemonSet judged with
its controller's tolerations in-process (no LimitRange or RuntimeClass source needed for those).
The real API server comparison (template and pod, same answer) is test_webhook_defaults_realk8s.py."""

from __future__ import annotations

from typing import Any

from perf_webhook.admission_defaults import as_admitted
from review_helpers import POLICY, answer, client, node
from webhook_helpers import controller, pod, review


def lr(*items: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"limits": list(items)}}


def test_limit_range_defaults_fill_only_what_is_missing() -> None:
    spec = {
        "containers": [
            {"name": "bare"},
            {"name": "limited", "resources": {"limits": {"memory": "2Gi"}}},  # its request defaults from its limit first
            {"name": "requested", "resources": {"requests": {"memory": "1Gi"}}},
        ],
        "initContainers": [{"name": "init"}],
        "ephemeralContainers": [{"name": "dbg"}],
    }
    first = lr({"type": "Container", "default": {"memory": "4Gi"}, "defaultRequest": {"memory": "256Mi", "cpu": "100m"}})
    second = lr({"type": "Container", "default": {"memory": "8Gi", "cpu": "1"}}, {"type": "Pod", "max": {"memory": "64Gi"}})
    out = as_admitted(spec, "Deployment", [first, second])
    resources = {c["name"]: c.get("resources") for cs in ("containers", "initContainers", "ephemeralContainers") for c in out.get(cs, [])}
    assert resources == {
        "bare": {"limits": {"memory": "4Gi", "cpu": "1"}, "requests": {"memory": "256Mi", "cpu": "100m"}},
        "limited": {"limits": {"memory": "2Gi", "cpu": "1"}, "requests": {"memory": "2Gi", "cpu": "100m"}},
        "requested": {"limits": {"memory": "4Gi", "cpu": "1"}, "requests": {"memory": "1Gi", "cpu": "100m"}},
        "init": {"limits": {"memory": "4Gi", "cpu": "1"}, "requests": {"memory": "256Mi", "cpu": "100m"}},
        "dbg": None,  # LimitRanger leaves ephemeral containers alone
    }
    assert spec["containers"][0] == {"name": "bare"}  # the input is left alone


def test_runtime_class_adds_overhead_and_scheduling() -> None:
    rc = {
        "overhead": {"podFixed": {"memory": "5Gi"}},
        "scheduling": {"nodeSelector": {"sandbox": "kata"}, "tolerations": [{"key": "kata", "operator": "Exists"}]},
    }
    out = as_admitted({"containers": [], "nodeSelector": {"zone": "a"}}, "Deployment", (), rc)
    assert out["overhead"] == {"memory": "5Gi"}
    assert out["nodeSelector"] == {"sandbox": "kata", "zone": "a"} and out["tolerations"] == [{"key": "kata", "operator": "Exists"}]


def test_daemonset_tolerations_and_host_network() -> None:
    keys = [(t["key"], t["effect"]) for t in as_admitted({"containers": []}, "DaemonSet")["tolerations"]]
    assert keys == [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]
    host = as_admitted({"containers": [], "hostNetwork": True}, "DaemonSet")["tolerations"]
    assert host[-1] == {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}
    assert "tolerations" not in as_admitted({"containers": []}, "Deployment")


def test_a_daemonset_must_fit_nodes_under_pressure_too() -> None:
    """big-1 (16Gi, budget 12Gi) is fine; small-1 (4Gi, budget 3Gi) is tainted memory-pressure, which
    the DaemonSet controller's pods tolerate: a 4Gi daemon must fit it too. Before, it was admitted."""
    nodes = [node("big-1", "16Gi"), node("small-1", "4Gi", taints=[{"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}])]
    c = client({**POLICY}, nodes=nodes)
    r = answer(c, review(controller("DaemonSet", pod(memory_limit="4Gi"))))
    assert r["allowed"] is False and "small-1 (1 node, budget 3Gi: 75% of 4Gi)" in r["status"]["message"], r
    assert answer(c, review(controller("Deployment", pod(memory_limit="4Gi"))))["allowed"] is True  # a Deployment's pods do not tolerate it
