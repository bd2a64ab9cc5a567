"""The real-API-server fixture itself: fixture objects land with the state tests rely on."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import DATA
from realk8s import fixture_key, loaded
from test_reports import install_crds


def test_fixture_cluster_loads_with_status_and_rbac(realk8s):
    docs = list(yaml.safe_load_all((DATA / "cluster.yaml").read_text()))
    # The real server's RuntimeClass admission wants the class the fixture's sandboxed pod names.
    gvisor = {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": "gvisor"},
        "handler": "runsc",
        "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
    }
    made = realk8s.load([gvisor, *docs])
    nodes = [o for o in made if o["kind"] == "Node"]
    want_nodes = [o for d in docs if d for o in (d.get("items") or [d]) if o.get("kind") == "Node"]
    assert len(nodes) == len(want_nodes) > 0
    for node in nodes:
        taints = {t["key"] for t in node["spec"].get("taints") or []}
        assert "node.kubernetes.io/not-ready" not in taints
        assert node["status"]["allocatable"]["memory"]
    status, body = realk8s.request("/api/v1/pods")
    pods = json.loads(body)["items"]
    assert status == 200 and any(p["status"].get("phase") == "Running" for p in pods)
    # user1 has no RBAC bindings: the real server forbids even namespaced lists.
    denied = realk8s.kubectl("get", "pods", "-n", "default", user=True, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


def test_modules_that_load_the_same_fixture_share_one_server(tmp_path_factory: pytest.TempPathFactory) -> None:
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shared-fixture"}}]
    with loaded(tmp_path_factory.mktemp("first"), docs) as first:
        pass
    with loaded(tmp_path_factory.mktemp("second"), iter(docs)) as second:
        assert second is first and second.request("/api/v1/namespaces/shared-fixture")[0] == 200


def test_other_objects_or_another_step_after_loading_make_another_fixture() -> None:
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {"x": "1"}}}]
    same = [{"kind": "Namespace", "metadata": {"labels": {"x": "1"}, "name": "a"}, "apiVersion": "v1"}]  # key order aside
    assert fixture_key(docs, None) == fixture_key(same, None)
    assert fixture_key(docs, None) != fixture_key([{**docs[0], "metadata": {"name": "b"}}], None)
    assert fixture_key(docs, None) != fixture_key(docs, test_fixture_cluster_loads_with_status_and_rbac)
    assert fixture_key(docs, install_crds) == fixture_key(docs, install_crds)
