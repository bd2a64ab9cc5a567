"""The webhook in-process: `create_app(policy, nodes).test_client()` over a fixed set of nodes.

The nodes are those of tests/data/cluster.yaml (budgets with POLICY): node-a 0.75 x 16Gi = 12Gi
(no taints), node-b 0.5 x 16Gi = 8Gi (workload=io, tainted dedicated=io), node-gpu 0.75 x 64Gi
= 48Gi (tainted nvidia.com/gpu).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from conftest import DATA
from flask.testing import FlaskClient
from kubectl_perf.model import NodeView, node_view
from kubectl_perf.policy import Policy
from kubectl_perf.policy_file import parse_policy
from perf_webhook.app import create_app

POLICY: dict[str, Any] = {
    "mode": "enforce",
    "requireRequests": ["cpu", "memory"],
    "padding": {"memory": 0.75, "nodeTargets": [{"selector": {"matchLabels": {"workload": "io"}}, "memory": 0.5}]},
    "exemptNamespaces": ["kube-system"],
    "namespaceOverrides": {"dev": "warn", "legacy": "audit"},
    "messages": "detailed",  # node names in denials, which these tests read (the default, pools, has none)
}
IO_TOLERATION = [{"key": "dedicated", "operator": "Equal", "value": "io", "effect": "NoSchedule"}]
GPU_TOLERATION = [{"key": "nvidia.com/gpu", "operator": "Exists"}]


def fixture_nodes() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DATA / "cluster.yaml").read_text()) if d and d.get("kind") == "Node"]


def node(name: str, memory: str, labels: Mapping[str, str] | None = None, taints: Sequence[Mapping[str, str]] = ()) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": {"taints": list(taints)},
        "status": {"allocatable": {"cpu": "8", "memory": memory, "pods": "110"}},
    }


class StaticNodes:
    """A NodeSource that never changes: every node, largest budget first (no grouping)."""

    def __init__(self, nodes: Sequence[Mapping[str, Any]], policy: Policy, committed: Mapping[str, int] | None = None) -> None:
        self.views = [node_view(n, policy.padding_target, (committed or {}).get(n["metadata"]["name"], 0)) for n in nodes]
        self.views.sort(key=lambda v: -v.budget)

    def views_for(self, spec: Mapping[str, Any]) -> list[NodeView] | None:
        return self.views

    def synced(self) -> bool:
        return True

    def age(self) -> float:
        return 0.0

    def node_count(self) -> int:
        return len(self.views)

    def pod_count(self) -> int:
        return 0

    def describe(self) -> str:
        return f"static: {len(self.views)} nodes"


def client(policy_doc: Mapping[str, Any] | None = None, nodes: Sequence[Mapping[str, Any]] | None = None, **kw: Any) -> FlaskClient:
    policy = parse_policy(dict(POLICY if policy_doc is None else policy_doc))
    return create_app(policy, StaticNodes(fixture_nodes() if nodes is None else nodes, policy, **kw)).test_client()


def post(c: FlaskClient, body: Any) -> tuple[int, Any]:
    """POST /validate; the status and the decoded body (or the raw bytes when not JSON)."""
    resp = c.post(
        "/validate",
        data=body if isinstance(body, (bytes, str)) else None,
        json=None if isinstance(body, (bytes, str)) else body,
        content_type="application/json",
    )
    try:
        return resp.status_code, resp.get_json(force=True)
    except Exception:
        return resp.status_code, resp.data


def answer(c: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    """The review's response, checked to be a 200 with the request's uid and no 5xx code inside."""
    status, doc = post(c, body)
    assert status == 200, doc
    resp = doc["response"]
    assert resp["uid"] == body["request"]["uid"]
    assert resp.get("status", {}).get("code", 200) < 500, resp
    return dict(resp)
