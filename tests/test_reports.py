"""Audit results as wgpolicyk8s.io PolicyReports: shape and summaries worked out by hand,
and the real kube-apiserver (with the CRDs from ../shared/reference/crds) accepting them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import realk8s
import yaml
from conftest import SHARED
from kubectl_perf.reports import MAX_RESULTS, Ref, Result, as_list, build, summary
from realk8s import RealK8s, collection_path

CRDS = SHARED / "crds" / "wgpolicyk8s.io-policyreports.yaml"
WEB = Ref("apps/v1", "Deployment", "web", "shop", "0b6a1c2e-0000-4000-8000-000000000001")
NODE = Ref("v1", "Node", "node-a")
PROXY_CM = Ref("v1", "ConfigMap", "kube-proxy", "kube-system")
TS = (1_764_300_000, 250_000_000)

RESULTS = [
    Result("requests", "Resources", "fail", "high", "container 'app' has no memory request", WEB, {"pods": 3}),
    Result("image-latest-tag", "Images", "warn", "low", "nginx uses :latest", WEB),
    Result("image-pull-always", "Images", "pass", "low", "ok", Ref("apps/v1", "StatefulSet", "db", "data")),
    Result("committed", "Resources", "warn", "medium", "limits past budget", NODE, {"limits": "12Gi"}),
    Result("proxy-mode", "Networking", "pass", "low", "kube-proxy in ipvs mode", PROXY_CM, {"mode": "ipvs"}, cluster=True),
    Result("metrics-pipeline", "Metrics", "fail", "medium", "metrics.k8s.io is not served"),
]


def by_name(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}


def test_one_report_per_namespace_and_one_cluster_report() -> None:
    docs = by_name(build(RESULTS, TS))
    # shop: the two Deployment results; data: the StatefulSet pass; cluster: node, proxy ConfigMap (a cluster check
    # although the ConfigMap is namespaced) and the metrics result that names no resource.
    assert set(docs) == {("", "kubectl-perf"), ("shop", "kubectl-perf"), ("data", "kubectl-perf")}
    shop = docs[("shop", "kubectl-perf")]
    assert shop["kind"] == "PolicyReport" and shop["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
    assert shop["scope"] == {"apiVersion": "v1", "kind": "Namespace", "name": "shop"}
    assert shop["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubectl-perf"}
    assert shop["summary"] == {"pass": 0, "fail": 1, "warn": 1, "error": 0, "skip": 0}
    requests = next(r for r in shop["results"] if r["rule"] == "requests")
    assert requests == {
        "source": "kubectl-perf",
        "policy": "kubectl-perf",
        "rule": "requests",
        "category": "Resources",
        "severity": "high",
        "timestamp": {"seconds": 1_764_300_000, "nanos": 250_000_000},
        "result": "fail",
        "scored": True,
        "message": "container 'app' has no memory request",
        "resources": [{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web", "uid": WEB.uid}],
        "properties": {"pods": "3"},  # the CRD wants strings
    }
    cluster = docs[("", "kubectl-perf")]
    assert cluster["kind"] == "ClusterPolicyReport" and "scope" not in cluster and "namespace" not in cluster["metadata"]
    assert cluster["summary"] == {"pass": 1, "fail": 1, "warn": 1, "error": 0, "skip": 0}
    assert sorted(r["rule"] for r in cluster["results"]) == ["committed", "metrics-pipeline", "proxy-mode"]
    assert "resources" not in next(r for r in cluster["results"] if r["rule"] == "metrics-pipeline")
    assert docs[("data", "kubectl-perf")]["summary"] == {"pass": 1, "fail": 0, "warn": 0, "error": 0, "skip": 0}


def test_a_clean_cluster_still_gets_an_empty_cluster_report() -> None:
    (only,) = build([], TS)
    assert only["kind"] == "ClusterPolicyReport" and only["results"] == []
    assert only["summary"] == {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}


def test_big_namespaces_spill_into_numbered_reports() -> None:
    many = [Result("memory-limit", "Resources", "warn", "low", "m", Ref("v1", "Pod", f"p{i:05d}", "big")) for i in range(MAX_RESULTS + 2)]
    docs = by_name(build(many, TS))
    assert len(docs[("big", "kubectl-perf")]["results"]) == MAX_RESULTS
    assert docs[("big", "kubectl-perf-2")]["summary"]["warn"] == 2


def test_summary_counts_each_outcome() -> None:
    assert summary(RESULTS) == {"pass": 2, "fail": 2, "warn": 2, "error": 0, "skip": 0}


# -- the real API server validates every report -------------------------------------------------------------
def install_crds(server: RealK8s) -> None:
    server.kubectl("apply", "-f", str(CRDS))
    for crd in ("policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io"):
        server.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")


@pytest.fixture(scope="module")
def crd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    """A private real API server with the report CRDs installed (a cluster-wide change)."""
    server = realk8s.start(tmp_path_factory.mktemp("realk8s-reports"))
    try:
        install_crds(server)
        yield server
    finally:
        server.stop()


def test_the_real_api_server_accepts_the_reports(crd_server: RealK8s) -> None:
    server = crd_server
    for ns in ("shop", "data"):
        server.kubectl("create", "namespace", ns)
    docs = build(RESULTS, TS)
    for doc in docs:
        status, body = server.request(collection_path(doc), "POST", doc)
        assert status == 201, (doc["metadata"], body[:500])
    listed = json.loads(server.kubectl("get", "policyreports", "-A", "-o", "json").stdout)
    assert {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]} == {
        ("shop", "kubectl-perf"),
        ("data", "kubectl-perf"),
    }
    stored = json.loads(server.kubectl("get", "clusterpolicyreport", "kubectl-perf", "-o", "json").stdout)
    assert stored["summary"] == {"pass": 1, "fail": 1, "warn": 1, "error": 0, "skip": 0}
    assert stored["results"] == build(RESULTS, TS)[0]["results"]  # nothing pruned: every field is in the schema
    # kubectl takes the List as -o policyreport prints it
    applied = server.kubectl("apply", "--server-side", "--field-manager", "kubectl-perf", "-f", "-", input=yaml.safe_dump(as_list(docs)))
    assert applied.stdout.count("serverside-applied") == 3, applied.stdout


def test_the_real_api_server_rejects_a_bad_result(crd_server: RealK8s) -> None:
    """The CRDs do validate: a result outside the enum is refused, so the test above means something."""
    (doc,) = build([Result("x", "Resources", "fail", "high", "m")], TS)
    doc["metadata"]["name"] = "bad"
    doc["results"][0]["result"] = "failed"
    status, body = crd_server.request(collection_path(doc), "POST", doc)
    assert status == 422 and b"results[0].result" in body, body[:400]
