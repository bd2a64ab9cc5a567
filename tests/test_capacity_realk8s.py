"""kubectl perf capacity's read path against a real kube-apiserver (../shared/kube-apiserver),
with the fixture cluster loaded (nodes and pods with status, a RuntimeClass with overhead) and a
user whose RBAC reaches one namespace. Expected figures are test_capacity's, worked out by hand."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from conftest import DATA, KUBECTL, env_for
from realk8s import RealK8s, loaded
from test_capacity import NODE_A, NODE_B, NODE_GPU, close, nodes

GVISOR = {
    "apiVersion": "node.k8s.io/v1",
    "kind": "RuntimeClass",
    "metadata": {"name": "gvisor"},
    "handler": "runsc",
    "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
}
# user1 may list pods in shop only, and read nodes: what a namespace's team usually has.
RBAC = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "pod-reader", "namespace": "shop"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "user1-pods", "namespace": "shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "user1"}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "node-reader"},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "user1-nodes"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "node-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "user1"}],
    },
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    """A private server: the shared one may hold another test's copy of the fixture cluster."""
    with loaded(
        tmp_path_factory.mktemp("realk8s-capacity"), [GVISOR, *yaml.safe_load_all((DATA / "cluster.yaml").read_text()), *RBAC]
    ) as k8s:
        yield k8s


def perf(k8s: RealK8s, *args: str, user: bool = False) -> subprocess.CompletedProcess[str]:
    kubeconfig = k8s.user_kubeconfig if user else k8s.kubeconfig
    return subprocess.run(
        [KUBECTL, "perf", "capacity", *args], capture_output=True, text=True, env=env_for(None, KUBECONFIG=str(kubeconfig)), timeout=120
    )


def test_node_sums_from_the_real_server(server: RealK8s) -> None:
    result = perf(server, "-o", "json", "--resources", "cpu,memory,nvidia.com/gpu")
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    by = nodes(d)
    for name, expected in (("node-a", NODE_A), ("node-b", NODE_B), ("node-gpu", NODE_GPU)):
        for resource in ("cpu", "memory", "nvidia.com/gpu"):
            if resource not in expected:
                continue
            got: dict[str, Any] = by[name]["resources"][resource]
            for part in ("allocatable", "requests", "limits"):
                assert close(got[part], expected[resource][part]), (name, resource, part, got)
    assert [(p["namespace"], p["name"]) for p in d["pending"]] == [("shop", "pending-big")]


def test_small_pages_read_the_same(server: RealK8s) -> None:
    # real continue tokens: 2 pods a page
    assert json.loads(perf(server, "-o", "json", "--chunk-size", "2").stdout) == json.loads(perf(server, "-o", "json").stdout)


def test_without_metrics_server_the_table_still_prints(server: RealK8s) -> None:
    result = perf(server, "--util")  # the real server does not serve metrics.k8s.io: 404
    assert result.returncode == 3 and result.stdout.startswith("NODE") and "metrics-server is not installed" in result.stderr


def test_a_user_limited_to_one_namespace(server: RealK8s) -> None:
    everywhere = perf(server, user=True)
    assert everywhere.returncode == 1 and "forbidden" in everywhere.stderr and "-n NAMESPACE" in everywhere.stderr
    assert len(everywhere.stderr.strip().splitlines()) == 1
    shop = perf(server, "-n", "shop", "--pods", "-o", "json", user=True)
    assert shop.returncode == 0, shop.stderr
    pods = {p["name"] for n in json.loads(shop.stdout)["nodes"] for p in n["podDetails"]}
    assert pods == {"web-1", "web-2"}  # batch-done and batch-failed hold nothing
    assert "listing every pod is forbidden" in shop.stderr  # the padding verdict falls back to the shown pods


def test_impersonation_reaches_the_server(server: RealK8s) -> None:
    # admin acting as user1 gets user1's answer
    result = perf(server, "--as", "user1")
    assert result.returncode == 1 and 'User "user1"' in result.stderr and "forbidden" in result.stderr
    assert perf(server, "--as", "user1", "-n", "shop").returncode == 0


def test_triage_flags_without_metrics(server: RealK8s) -> None:
    """--sort breach and --only-breaching read node metrics as --fail-on-breach does (issue 23): the
    real server has no metrics.k8s.io, so exit 3 with the note, and the verdicts weigh committed
    limits only. None is over its 75% budget (node-a 4608Mi of 12Gi, node-b 10Gi of 12Gi, node-gpu
    20Gi of 48Gi), and no usage is known: each verdict is `usage unknown` (not ok: it may breach),
    ranked by limits' share of allocatable: node-b 10/16 = 62.5%, node-gpu 20/64 = 31.25%, node-a
    4.5/16 = 28.1%."""
    result = perf(server, "--sort", "breach", "-o", "json")
    assert result.returncode == 3 and "weighs committed figures only" in result.stderr
    doc = json.loads(result.stdout)
    assert [(n["name"], n["padding"]) for n in doc["nodes"]] == [("node-b", "unknown"), ("node-gpu", "unknown"), ("node-a", "unknown")]
    assert sorted(doc["total"]["paddingUnknownNodes"]) == ["node-a", "node-b", "node-gpu"] and doc["total"]["paddingBreachingNodes"] == []
    only = perf(server, "--only-breaching")
    assert only.returncode == 3 and "no node is known to breach its memory padding target (usage unknown on 3 of 3 nodes)" in only.stderr
    assert [line.split()[0] for line in only.stdout.split("\n\n")[0].splitlines()[1:]] == ["*"]  # the cluster row alone
