"""capacity under real RBAC (../shared/kube-apiserver): a user who may list pods in one
namespace only (issue 8 item 3's namespace-only mode), and the kubelet summaries behind
ephemeral-storage usage (item 17) for a user without nodes/proxy and for one whose node
proxy finds no kubelet (the real server runs none).

Expected figures are test_capacity's, worked out by hand (see test_capacity_nsonly)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml
from conftest import DATA
from realk8s import RealK8s, loaded
from test_capacity_nsonly import WEB_1, WEB_2, check
from test_capacity_realk8s import GVISOR, perf


def binding(kind: str, name: str, role_kind: str, user: str, namespace: str | None = None) -> dict[str, object]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }


# user1 may list pods in shop, nothing else (no nodes); user2 may list nodes and pods everywhere
# but not get nodes/proxy: a separate grant, as the kubelet's API is.
RBAC = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "shop-pods", "namespace": "shop"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    },
    binding("RoleBinding", "shop-pods", "Role", "user1", "shop"),
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader-no-proxy"},
        "rules": [{"apiGroups": [""], "resources": ["nodes", "pods", "namespaces"], "verbs": ["get", "list"]}],
    },
    binding("ClusterRoleBinding", "reader-no-proxy", "ClusterRole", "user2"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    with loaded(
        tmp_path_factory.mktemp("realk8s-capacity-rbac"), [GVISOR, *yaml.safe_load_all((DATA / "cluster.yaml").read_text()), *RBAC]
    ) as k8s:
        yield k8s


def test_a_user_who_cannot_list_nodes_sees_the_namespace_pods(server: RealK8s) -> None:
    assert server.kubectl("get", "nodes", user=True, check=False).returncode != 0  # the premise: 403
    result = perf(server, "-n", "shop", "-o", "json", user=True)
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    pods = {p["name"]: p for p in d["pods"]}
    assert d["nodes"] == [] and set(pods) == {"web-1", "web-2"} and pods["web-1"]["node"] == "node-a"
    check(pods["web-1"]["resources"], WEB_1)
    check(pods["web-2"]["resources"], WEB_2)
    notes = [line for line in result.stderr.splitlines() if "cannot list nodes" in line]
    assert len(notes) == 1 and 'User "user1"' in notes[0]


def test_without_metrics_the_pods_still_print(server: RealK8s) -> None:
    result = perf(server, "-n", "shop", "--util", user=True)
    assert result.returncode == 3, result.stderr  # --util asked for usage the cluster cannot give
    assert result.stdout.split()[:2] == ["NAMESPACE", "POD"] and "web-2" in result.stdout
    # RBAC answers before the missing metrics-server: user1 gets 403 on metrics.k8s.io, a note
    assert "metrics API unavailable: forbidden" in result.stderr and "cannot list nodes" in result.stderr


def test_without_a_namespace_the_error_says_what_to_do(server: RealK8s) -> None:
    result = perf(server, user=True)
    assert result.returncode == 1 and "-n NAMESPACE" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_no_nodes_proxy_is_one_note(server: RealK8s) -> None:
    result = perf(server, "--as", "user2", "--util", "--resources", "cpu,memory,ephemeral-storage")
    assert result.returncode == 3, result.stderr  # no metrics-server on the real server
    assert result.stdout.startswith("NODE")
    notes = [line for line in result.stderr.splitlines() if "ephemeral-storage" in line]
    assert len(notes) == 1 and "nodes/proxy" in notes[0] and 'User "user2"' in notes[0], result.stderr


def test_a_node_proxy_without_kubelet_is_unavailable(server: RealK8s) -> None:
    result = perf(server, "--util", "--resources", "ephemeral-storage", "-o", "json")
    assert result.returncode == 3, result.stderr
    notes = [line for line in result.stderr.splitlines() if "ephemeral-storage usage unavailable" in line]
    assert len(notes) == 1 and "on 3 of 3 nodes" in notes[0], result.stderr
    assert all("usage" not in n["resources"]["ephemeral-storage"] for n in json.loads(result.stdout)["nodes"])
