"""What pods get from the API server, and who asks, on the real kube-apiserver (issue 27).

A template's verdict equals its pods' verdict (bypass 4):
its pods get LimitRange defaults (LimitRanger), RuntimeClass overhead (RuntimeClass admission) and,
for a DaemonSet, the DaemonSet controller's tolerations, none of which the template says. Each
test creates the template and then the pod it makes (server-side dry run, so every admission
plugin runs) and expects the same answer.

Budgets by hand, padding 0.75: small-1 8Gi -> 6Gi, untainted; pressured-1 4Gi -> 3Gi, tainted
node.kubernetes.io/memory-pressure:NoSchedule (only tolerating pods, such as a DaemonSet's, go there).

`kubectl debug` works on a pod without memory limits, and exemptSubjects match the userInfo the API
server sends (operations 11).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from realk8s import start
from test_webhook_realk8s import DENIED, Cluster, eventually, node, pod
from webhook_helpers import start_webhook

POLICY = {
    "mode": "enforce",
    "requireRequests": ["cpu", "memory"],
    "padding": {"memory": 0.75},
    "exemptSubjects": {"groups": ["sre-oncall"]},
}
PRESSURE = {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}


def limit_range(namespace: str, default: dict[str, str], default_request: dict[str, str] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "Container", "default": default}
    if default_request:
        item["defaultRequest"] = default_request
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults", "namespace": namespace}, "spec": {"limits": [item]}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    k8s = start(tmp_path_factory.mktemp("realk8s-defaults"))
    hook = None
    try:
        k8s.load(
            [
                node("small-1", "8Gi"),
                node("pressured-1", "4Gi", [PRESSURE]),
                *({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in ("shop", "limited", "limited-big")),
                limit_range("limited", {"cpu": "500m", "memory": "4Gi"}, {"cpu": "100m", "memory": "256Mi"}),
                limit_range("limited-big", {"memory": "8Gi"}),
                {
                    "apiVersion": "node.k8s.io/v1",
                    "kind": "RuntimeClass",
                    "metadata": {"name": "kata"},
                    "handler": "kata",
                    "overhead": {"podFixed": {"memory": "5Gi"}},
                },
            ]
        )
        workdir = tmp_path_factory.mktemp("webhook-defaults")
        hook = start_webhook(workdir / "main", k8s, POLICY, workers=1)  # type: ignore[arg-type]  # has .kubeconfig, as Sim
        c = Cluster(k8s, hook, workdir)
        c.register(hook)
        eventually(lambda: DENIED in c.create(pod("probe", requests=False), "--dry-run=server").stderr, "the webhook judges pods")
        yield c
    finally:
        if hook:
            hook.stop()
        k8s.stop()


def template_of(kind: str, p: dict[str, Any]) -> dict[str, Any]:
    name, namespace = p["metadata"]["name"], p["metadata"]["namespace"]
    template = {"metadata": {"labels": {"app": name}}, "spec": p["spec"]}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template},
    }


def verdict(c: Cluster, obj: dict[str, Any]) -> tuple[bool, str]:
    result = c.create(obj, "--dry-run=server")
    return result.returncode == 0, result.stderr


def no_resources(name: str, namespace: str) -> dict[str, Any]:
    p = pod(name, limit=None, requests=False, namespace=namespace)
    del p["spec"]["containers"][0]["resources"]
    return p


def test_limit_range_defaults_admit_a_template_whose_pods_are_admitted(cluster: Cluster) -> None:
    """No resources at all: its pods get cpu 100m / memory 256Mi requests and a 4Gi limit (fits 6Gi).
    Before, the template was denied (no requests, unbounded memory) while its pods were admitted."""
    p = no_resources("bare", "limited")
    # the feeds list at start; the first template may come before they have
    eventually(lambda: verdict(cluster, template_of("Deployment", p))[0], "the Deployment is admitted with the LimitRange's defaults")
    assert verdict(cluster, p) == (True, "")


def test_limit_range_default_limit_denies_a_template_whose_pods_are_denied(cluster: Cluster) -> None:
    """Requests only (1Gi): its pods get the LimitRange's 8Gi default limit, over small-1's 6Gi.
    Before, the template was admitted (its need was its 1Gi request) and every pod denied."""
    p = pod("loose", limit=None, namespace="limited-big")
    pod_ok, pod_err = verdict(cluster, p)
    deploy_ok, deploy_err = verdict(cluster, template_of("Deployment", p))
    assert (pod_ok, deploy_ok) == (False, False), (pod_err, deploy_err)
    assert "memory 8Gi exceeds the padding budget" in pod_err and "memory 8Gi exceeds the padding budget" in deploy_err, deploy_err


def test_runtime_class_overhead_counts_for_a_template(cluster: Cluster) -> None:
    """A 2Gi limit fits 6Gi; its pods carry kata's 5Gi overhead: 7Gi, denied. Before, the template passed."""
    p = pod("sandboxed", limit="2Gi", runtimeClassName="kata")
    pod_ok, pod_err = verdict(cluster, p)
    deploy_ok, deploy_err = verdict(cluster, template_of("Deployment", p))
    assert (pod_ok, deploy_ok) == (False, False), (pod_err, deploy_err)
    assert "memory 7Gi exceeds" in pod_err and "memory 7Gi exceeds" in deploy_err, deploy_err


def test_a_daemonsets_template_is_judged_with_the_controllers_tolerations(cluster: Cluster) -> None:
    """A 4Gi daemon fits small-1 (6Gi), not pressured-1 (3Gi). Its controller makes each pod tolerate
    memory-pressure (and the other node conditions) and pins it to its node by matchFields, so the
    pod for pressured-1 is denied; before, the template was admitted, as if no pod went there."""
    p = pod("agent", limit="4Gi")
    daemon_pod = copy.deepcopy(p)
    daemon_pod["metadata"]["name"] = "agent-x7k2p"  # a generated name, as the controller gives
    daemon_pod["spec"]["tolerations"] = [  # as the DaemonSet controller writes them (pkg/controller/daemon/util)
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ]
    daemon_pod["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["pressured-1"]}]}]
            }
        }
    }
    pod_ok, pod_err = verdict(cluster, daemon_pod)
    ds_ok, ds_err = verdict(cluster, template_of("DaemonSet", p))
    assert (pod_ok, ds_ok) == (False, False), (pod_err, ds_err)
    # messages: pools (the default): budgets, no node names (issue 27 operations 15)
    assert "(largest: 3Gi, 75% of 4Gi)" in pod_err, pod_err
    assert "nodes without a pool label (1 node, budget 3Gi: 75% of 4Gi)" in ds_err and "pressured-1" not in ds_err + pod_err, ds_err


def test_kubectl_debug_on_a_pod_without_memory_limits_warns(cluster: Cluster) -> None:
    """Requests only (admitted: its need is its 256Mi request). An ephemeral container cannot carry
    resources, and nothing bounds the pod's cgroup: before, `kubectl debug` was denied; now it warns."""
    made = cluster.create(pod("requests-only", limit=None, nodeName="small-1"))
    assert made.returncode == 0, made.stderr
    debugged = cluster.kubectl("debug", "pod/requests-only", "-n", "shop", "--image=busybox", "--profile=general", "--", "true")
    assert debugged.returncode == 0, debugged.stderr
    assert "ephemeral container 'debugger-" in debugged.stderr and "has no memory limit" in debugged.stderr, debugged.stderr
    got = json.loads(cluster.kubectl("get", "pod", "requests-only", "-n", "shop", "-o", "json").stdout)
    assert [c["image"] for c in got["spec"]["ephemeralContainers"]] == ["busybox"]


def test_exempt_subjects_match_the_authenticated_groups(cluster: Cluster) -> None:
    """The API server's userInfo for an impersonated request (system:masters to be allowed at all):
    a pod with no requests is denied for anyone but a member of sre-oncall."""
    bare = no_resources("oncall-tool", "shop")
    as_other = cluster.kubectl("create", "-f", "-", "--dry-run=server", "--as=carol", "--as-group=system:masters", input=bare)
    assert as_other.returncode != 0 and DENIED in as_other.stderr, as_other.stderr
    as_oncall = cluster.kubectl(
        "create", "-f", "-", "--dry-run=server", "--as=carol", "--as-group=system:masters", "--as-group=sre-oncall", input=bare
    )
    assert as_oncall.returncode == 0, as_oncall.stderr
    assert "kubectl-perf did not judge this Pod: group sre-oncall is exempt (exemptSubjects)" in as_oncall.stderr
