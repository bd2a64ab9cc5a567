"""capacity --fit against a real kube-apiserver (../shared/kube-apiserver): what the server stores
decides two things here. A workload's pod template is stored as written (no requests defaulted from
limits), while the pods made from it are defaulted: --fit-workload must place what those pods will
request. And a Node the server has just admitted carries node.kubernetes.io/not-ready:NoSchedule
(TaintNodesByCondition), which keeps pods off it until the kubelet reports Ready.

tests/data/fit-cluster.yaml is loaded (no metrics: the real server does not serve metrics.k8s.io,
so fitWithinPadding weighs requests); expected figures are worked out by hand, as test_capacity_fit's."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from conftest import DATA, KUBECTL, env_for
from realk8s import RealK8s, loaded

Mi, Gi = 2**20, 2**30

# Limits only on the containers; pod-level limits too (the template as a user writes it).
LIMITS_ONLY = {
    "resources": {"limits": {"cpu": "2", "memory": "2Gi"}},
    "initContainers": [{"name": "i", "image": "x", "resources": {"limits": {"cpu": "300m", "memory": "300Mi"}}}],
    "containers": [
        {"name": "a", "image": "x", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}},
        {"name": "b", "image": "x", "resources": {"limits": {"memory": "512Mi"}, "requests": {"memory": "100Mi"}}},
    ],
}
EXTRA = [
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "limits", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "limits"}},
            "template": {"metadata": {"labels": {"app": "limits"}}, "spec": LIMITS_ONLY},
        },
    },
    # the same spec as a Pod, on a node that is not there (it takes no listed node's room): the server defaults it
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "limits-pod", "namespace": "shop"},
        "spec": {**LIMITS_ONLY, "nodeName": "elsewhere"},
    },
    # a node as the server admits it, before its kubelet reports Ready
    {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "new-1", "labels": {"node-pool": "general"}},
        "spec": {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]},
        "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}, "conditions": [{"type": "Ready", "status": "False"}]},
    },
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    docs = [*yaml.safe_load_all((DATA / "fit-cluster.yaml").read_text()), *EXTRA]
    with loaded(tmp_path_factory.mktemp("realk8s-fit"), docs) as k8s:
        yield k8s


def perf(k8s: RealK8s, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "perf", "capacity", *args], capture_output=True, text=True, env=env_for(None, KUBECONFIG=str(k8s.kubeconfig)), timeout=120
    )


def fit_doc(k8s: RealK8s, *args: str) -> dict[str, Any]:
    result = perf(k8s, "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_template_is_placed_as_its_pods_will_request(server: RealK8s) -> None:
    # what the server made of the Pod: each container's limit without a request became its request
    stored = server.kubectl("get", "pod", "limits-pod", "-n", "shop", "-o", "json")
    containers = {c["name"]: c["resources"].get("requests") for c in json.loads(stored.stdout)["spec"]["containers"]}
    assert containers == {"a": {"cpu": "500m", "memory": "1Gi"}, "b": {"memory": "100Mi"}}
    # ...while the Deployment's template keeps limits only
    template = json.loads(server.kubectl("get", "deploy", "limits", "-n", "shop", "-o", "json").stdout)["spec"]["template"]["spec"]
    assert "requests" not in template["containers"][0]["resources"]
    # so the shape: app containers a 500m/1Gi + b 0/100Mi = 500m/1124Mi, against init i 300m/300Mi: 500m, 1124Mi;
    # limits are the pod-level 2 cores, 2Gi
    doc = fit_doc(server, "--fit-workload", "deploy/limits", "-n", "shop")
    assert doc["shape"]["requests"] == {"cpu": 0.5, "memory": 1124 * Mi, "pods": 1}
    assert doc["shape"]["limits"] == {"cpu": 2, "memory": 2 * Gi}
    # gen-1: cpu (4-1)/0.5 = 6, memory (16-4)Gi/1124Mi = 10 -> 6 (cpu); padding (12-4)Gi/1124Mi = 7 -> 6 within
    gen1 = next(n for n in doc["nodes"] if n["name"] == "gen-1")
    assert (gen1["fit"], gen1["fitWithinPadding"], gen1["limitedBy"]) == (6, 6, "cpu")


def test_resources_on_the_real_server(server: RealK8s) -> None:
    result = perf(server, "-o", "json", "--fit", "cpu=500m,memory=1Gi")
    assert result.returncode == 0, result.stderr
    assert "fitWithinPadding weighs the nodes' memory requests only" in result.stderr  # no metrics.k8s.io here
    nodes = {n["name"]: (n["fit"], n["fitWithinPadding"], n["limitedBy"]) for n in json.loads(result.stdout)["nodes"]}
    assert nodes == {
        "big-1": (7, 0, "padding"),  # memory (32-25)/1 = 7; requests 25Gi past the 24Gi budget
        "cordoned-1": (0, 0, "unschedulable"),
        "gen-1": (6, 6, "cpu"),  # (12-4)/1 = 8 within padding on requests
        "gen-2": (2, 2, "pods"),
        "io-1": (0, 0, "taints"),
        "new-1": (0, 0, "taints"),  # not-ready:NoSchedule, as the server admitted it
    }
