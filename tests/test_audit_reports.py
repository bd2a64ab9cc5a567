"""PolicyReports as Policy Reporter shows them (issue 21, Missing): passes included by default, a documented size
bound (passes dropped first, counted in the summary and an annotation), and --report-per resource (scope the
resource, as Kyverno 1.10+), applied to the real API server.

Expected figures from tests/data/audit-cluster.yaml, worked out by hand in tests/test_audit.py's docstring:
shop/web 3 fail, 2 warn, 2 pass; ops/agent 1 fail, 6 pass; clean/tidy 7 pass; nodes: n-small committed warn,
n-big committed pass; the cluster report: proxy-mode pass, metrics-pipeline fail, node-padding and image-size skip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import realk8s
import yaml
from conftest import DATA
from inproc import perf
from kubectl_perf.reports import MAX_RESULTS, PASSES_DROPPED, Ref, Result, build
from realk8s import RealK8s
from test_reports import RESULTS, TS, WEB, by_name, install_crds

FIXTURE = DATA / "audit-cluster.yaml"
ETCD_LIMIT = 1_572_864  # etcd's default request limit, 1.5 MiB: an object must stay under it
ZERO = {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}


def counts(**given: int) -> dict[str, int]:
    return {**ZERO, **given}


# -- pure: the size bound ----------------------------------------------------------------------------------------
def pod(i: int, result: str, rule: str = "memory-limit") -> Result:
    return Result(rule, "Resources", result, "low", "m", Ref("v1", "Pod", f"p{i:05d}", "big", f"uid-{i}"))


def test_passes_are_dropped_first_and_still_counted() -> None:
    """10 warnings and MAX_RESULTS - 5 passes: 5 too many, so 5 passes go; the summary still counts every pass."""
    many = [pod(i, "warn") for i in range(10)] + [pod(i, "pass", "requests") for i in range(10, MAX_RESULTS + 5)]
    (cluster, big) = build(many, TS)
    assert big["metadata"]["name"] == "kubectl-perf" and len(big["results"]) == MAX_RESULTS
    assert big["metadata"]["annotations"] == {PASSES_DROPPED: "5"}
    assert big["summary"] == counts(warn=10, **{"pass": MAX_RESULTS - 5})
    assert sum(1 for r in big["results"] if r["result"] == "warn") == 10  # no warning is ever dropped
    assert PASSES_DROPPED not in cluster["metadata"]["annotations"]  # the cluster report drops nothing (it carries the score)


def test_past_the_bound_without_passes_the_rest_spills() -> None:
    """MAX_RESULTS + 2 warnings and 3 passes: the 3 passes go, the 2 warnings past the bound spill into -2."""
    many = [pod(i, "warn") for i in range(MAX_RESULTS + 2)] + [pod(i, "pass", "requests") for i in range(3)]
    docs = by_name(build(many, TS))
    first, second = docs[("big", "kubectl-perf")], docs[("big", "kubectl-perf-2")]
    assert first["summary"] == counts(warn=MAX_RESULTS, **{"pass": 3}) and first["metadata"]["annotations"] == {PASSES_DROPPED: "3"}
    assert second["summary"] == counts(warn=2) and "annotations" not in second["metadata"]


def test_a_full_report_stays_far_under_etcds_limit() -> None:
    """MAX_RESULTS results with long messages and properties, as the audit writes them, in one report."""
    ref = Ref(
        "apps/v1", "Deployment", "a-rather-long-deployment-name-" + "x" * 30, "a-long-namespace-name", "0b6a1c2e-0000-4000-8000-0000000000"
    )
    message = "memory 7Gi exceeds the padding budget of node pools a DaemonSet runs a pod on every node of: " + "n-small-pool " * 12
    props = {"target": "0.75", "budget": "12", "allocatable": "16", "containers": "app,sidecar,init-db,log-shipper", "pods": "120"}
    many = [Result("padding", "Resources", "fail", "high", message, ref, props) for _ in range(MAX_RESULTS)]
    (_cluster, report) = build(many, TS)
    size = len(json.dumps(report).encode())
    assert size < ETCD_LIMIT / 3, size  # about 830 bytes a result here: messages twice as long would still fit


def test_one_report_per_resource_scoped_to_it() -> None:
    """tests/test_reports.py's RESULTS, per resource: the Deployment (its UID names the report), the StatefulSet
    (no UID: kind and name), the node (a ClusterPolicyReport of its own); the cluster checks stay in kubectl-perf."""
    docs = by_name(build(RESULTS, TS, "resource"))
    assert set(docs) == {
        ("", "kubectl-perf"),
        ("", "kubectl-perf-node-node-a"),
        ("shop", f"kubectl-perf-{WEB.uid}"),
        ("data", "kubectl-perf-statefulset-db"),
    }
    web = docs[("shop", f"kubectl-perf-{WEB.uid}")]
    assert web["kind"] == "PolicyReport" and web["scope"] == WEB.document() and web["summary"] == counts(fail=1, warn=1)
    node = docs[("", "kubectl-perf-node-node-a")]
    assert node["kind"] == "ClusterPolicyReport" and node["scope"] == {"apiVersion": "v1", "kind": "Node", "name": "node-a"}
    cluster = docs[("", "kubectl-perf")]
    assert "scope" not in cluster and sorted(r["rule"] for r in cluster["results"]) == ["metrics-pipeline", "proxy-mode"]


# -- through kubectl perf audit, on the real API server ------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    """A server of its own (the Namespace `reports` makes its fixture differ from test_audit's, which deletes things)."""
    docs = [*yaml.safe_load_all(FIXTURE.read_text()), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "reports"}}]
    with realk8s.loaded(tmp_path_factory.mktemp("realk8s-audit-reports"), docs, install_crds) as k8s:
        yield k8s


def reports(server: RealK8s) -> dict[tuple[str, str], dict[str, Any]]:
    items = [
        *json.loads(server.kubectl("get", "policyreports", "-A", "-o", "json").stdout)["items"],
        *json.loads(server.kubectl("get", "clusterpolicyreports", "-o", "json").stdout)["items"],
    ]
    return {(i["metadata"].get("namespace", ""), i["metadata"]["name"]): i for i in items}


def test_reports_carry_passes_without_show_pass(server: RealK8s) -> None:
    ran = perf(server.kubeconfig, "audit", "-o", "policyreport")
    docs = by_name(yaml.safe_load(ran.stdout)["items"])
    assert docs[("shop", "kubectl-perf")]["summary"] == counts(fail=3, warn=2, **{"pass": 2})
    assert docs[("clean", "kubectl-perf")]["summary"] == counts(**{"pass": 7})  # a clean namespace is 100% compliant, not absent
    assert docs[("", "kubectl-perf")]["summary"] == counts(fail=1, warn=1, skip=2, **{"pass": 2})


def test_report_per_resource_applied_then_back_per_namespace(server: RealK8s) -> None:
    ran = perf(server.kubeconfig, "audit", "--apply", "--report-per", "resource", "--fail-on", "none")
    # web, agent, tidy; the cluster's report and one per node
    assert ran.returncode == 0 and "applied 6 report(s), deleted 0 stale report(s)" in ran.stderr, ran.stderr
    found = reports(server)
    scoped = {(r["scope"]["kind"], r["scope"].get("namespace", ""), r["scope"]["name"]): r for r in found.values() if "scope" in r}
    assert {k: r["summary"] for k, r in scoped.items()} == {
        ("Deployment", "shop", "web"): counts(fail=3, warn=2, **{"pass": 2}),
        ("DaemonSet", "ops", "agent"): counts(fail=1, **{"pass": 6}),
        ("Pod", "clean", "tidy"): counts(**{"pass": 7}),
        ("Node", "", "n-small"): counts(warn=1),
        ("Node", "", "n-big"): counts(**{"pass": 1}),
    }
    web = scoped[("Deployment", "shop", "web")]
    uid = json.loads(server.kubectl("get", "deployment", "-n", "shop", "web", "-o", "json").stdout)["metadata"]["uid"]
    assert web["metadata"]["name"] == f"kubectl-perf-{uid}" and web["scope"]["uid"] == uid
    table = server.kubectl("get", "policyreports", "-n", "shop", "-o", "wide").stdout  # Policy Reporter's and kubectl's view
    assert "Deployment" in table and "web" in table
    assert found[("", "kubectl-perf")]["summary"] == counts(fail=1, skip=2, **{"pass": 1})  # proxy-mode, metrics, 2 skips
    # back to one report per namespace: the per-resource reports are stale and go (listing is allowed)
    again = perf(server.kubeconfig, "audit", "--apply", "--fail-on", "none")
    assert "applied 4 report(s), deleted 5 stale report(s)" in again.stderr, again.stderr
    assert set(reports(server)) == {("", "kubectl-perf"), ("clean", "kubectl-perf"), ("ops", "kubectl-perf"), ("shop", "kubectl-perf")}


# -- the overview a person reads first ------------------------------------------------------------------------------
# The score by hand, over every check made on the fixture (severity weights high 3, medium 2, low 1; skips left out):
#   high:   requests (web fail, agent and tidy pass), padding (web and agent fail, tidy pass): 6 judged, 3 passed
#   medium: committed (n-small warn, n-big pass), metrics-pipeline fail, emptydir-size-limit (web fail, 2 pass):
#           6 judged, 3 passed
#   low:    memory-limit (web warn, 2 pass), proxy-mode pass, ephemeral-storage-requests 3 pass,
#           image-pull-always 3 pass, image-latest-tag (web warn, 2 pass): 13 judged, 11 passed
#   score = (3*3 + 3*2 + 11*1) / (6*3 + 6*2 + 13*1) = 26 / 43 = 60.465...% -> 60.5
SCORE = 60.5
BY_CATEGORY = {
    "Resources": counts(fail=3, warn=2, skip=1, **{"pass": 6}),  # requests, padding, committed, node-padding, memory-limit
    "Metrics": counts(fail=1),
    "Networking": counts(**{"pass": 1}),
    "Storage": counts(fail=1, **{"pass": 5}),  # emptydir-size-limit 1 fail 2 pass, ephemeral-storage-requests 3 pass
    "Images": counts(warn=1, skip=1, **{"pass": 5}),  # pull-always 3, latest-tag 1 warn 2 pass, image-size skip
}


def test_json_carries_the_score_and_counts_per_category_and_rule(server: RealK8s) -> None:
    doc = json.loads(perf(server.kubeconfig, "audit", "-o", "json").stdout)
    assert doc["score"] == SCORE and doc["byCategory"] == BY_CATEGORY
    assert doc["byRule"]["padding"] == counts(fail=2, **{"pass": 1}) and doc["byRule"]["image-size"] == counts(skip=1)
    assert list(doc["byRule"])[:3] == ["requests", "padding", "committed"]  # the registry's order
    assert len(doc["results"]) == 10  # results still lists passes only with --show-pass; the counts are of every check


def test_the_table_starts_with_the_score_and_counts(server: RealK8s) -> None:
    lines = perf(server.kubeconfig, "audit").stdout.splitlines()
    assert lines[0] == "score 60.5% (checks passed, weighted by severity: high 3, medium 2, low 1)"
    assert lines[2].split() == ["CATEGORY", "FAIL", "WARN", "ERROR", "SKIP", "PASS"]
    rows = {line.split()[0]: [int(n) for n in line.split()[1:]] for line in lines[3:8]}
    assert rows == {c: [v[k] for k in ("fail", "warn", "error", "skip", "pass")] for c, v in BY_CATEGORY.items()}
    rule_rows = {line.split()[0]: line.split()[1:] for line in lines[9:] if line and line.split()[0] in ("RULE", "padding")}
    assert rule_rows["RULE"] == ["CATEGORY", "SEVERITY", "FAIL", "WARN", "ERROR", "SKIP", "PASS"]
    assert rule_rows["padding"] == ["Resources", "high", "2", "0", "0", "0", "1"]


def test_the_html_page_starts_with_the_score_and_counts(server: RealK8s) -> None:
    html = perf(server.kubeconfig, "audit", "-o", "html").stdout
    assert 'data-score="60.5"' in html and html.index("By category") < html.index('<h2 id="failing">')
    assert '<tr data-category="Metrics"><td>Metrics</td><td class="fail" data-outcome="fail">1</td>' in html
    assert (
        '<tr data-rule-count="padding"><td>padding</td><td>Resources</td><td>high</td><td class="fail" data-outcome="fail">2</td>' in html
    )


def test_the_cluster_report_carries_the_score(server: RealK8s) -> None:
    docs = by_name(yaml.safe_load(perf(server.kubeconfig, "audit", "-o", "policyreport").stdout)["items"])
    assert docs[("", "kubectl-perf")]["metadata"]["annotations"] == {"kubectl-perf/score": "60.5"}
    assert "annotations" not in docs[("shop", "kubectl-perf")]["metadata"]
