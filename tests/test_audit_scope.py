"""kubectl perf audit -n/-A/-l (issue 21, Missing: scope), on perf-sim and on the real API server with a
user whose Role covers one namespace.

Expected results are read off tests/data/audit-cluster.yaml by hand (see tests/test_audit.py's docstring):
- Deployment shop/web: requests fail, padding fail (unbounded memory), emptydir-size-limit fail,
  memory-limit warn, image-latest-tag warn, ephemeral-storage-requests pass, image-pull-always pass.
- DaemonSet ops/agent (label app=agent on the DaemonSet and its pods): padding fail (7Gi does not fit
  n-small's 6Gi), the six other spec rules pass.
- No node lists its images: image-size skips. Under -n/-l the node and cluster checks (committed,
  node-padding, metrics-pipeline, proxy-mode) are one skip each, saying why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import realk8s
import yaml
from conftest import DATA, Sim, start_sim, stop_sim
from inproc import perf
from realk8s import RealK8s
from test_audit import key
from test_reports import install_crds

FIXTURE = DATA / "audit-cluster.yaml"
CLUSTER_CHECKS = {"committed", "node-padding", "metrics-pipeline", "proxy-mode"}
WEB = "Deployment/shop/web"
AGENT = "DaemonSet/ops/agent"
WEB_RESULTS = {
    ("requests", "fail", WEB),
    ("padding", "fail", WEB),
    ("emptydir-size-limit", "fail", WEB),
    ("memory-limit", "warn", WEB),
    ("image-latest-tag", "warn", WEB),
    ("ephemeral-storage-requests", "pass", WEB),
    ("image-pull-always", "pass", WEB),
}
SKIPS = {("image-size", "skip", "-"), *((rule, "skip", "-") for rule in CLUSTER_CHECKS)}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    started = start_sim(tmp_path_factory.mktemp("sim-scope"), "--objects", str(FIXTURE))
    yield started
    stop_sim(started)


def results(kubeconfig: Path, *args: str) -> tuple[int, dict[str, Any]]:
    ran = perf(kubeconfig, "audit", "-o", "json", "--show-pass", *args)
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran.returncode, json.loads(ran.stdout) if ran.stdout else {}


def test_one_namespace_judges_its_workloads_and_skips_cluster_checks(sim: Sim) -> None:
    status, doc = results(sim.kubeconfig, "-n", "shop")
    assert status == 1  # fail results
    assert {key(r) for r in doc["results"]} == WEB_RESULTS | SKIPS
    assert doc["summary"] == {"pass": 2, "fail": 3, "warn": 2, "error": 0, "skip": 5}
    (proxy,) = [r for r in doc["results"] if r["rule"] == "proxy-mode"]
    assert proxy["message"] == "not judged under -n shop: node and cluster checks need the whole cluster (run without -n/-l)"


def test_a_selector_picks_workloads_by_their_labels_in_every_namespace(sim: Sim) -> None:
    status, doc = results(sim.kubeconfig, "-A", "-l", "app=agent")
    assert status == 1
    agent = {key(r) for r in doc["results"] if r["resource"]}
    rules = ("requests", "memory-limit", "emptydir-size-limit", "ephemeral-storage-requests", "image-pull-always", "image-latest-tag")
    assert agent == {("padding", "fail", AGENT), *((rule, "pass", AGENT) for rule in rules)}
    assert {key(r) for r in doc["results"] if not r["resource"]} == SKIPS
    (pods,) = {r["properties"]["pods"] for r in doc["results"] if r["resource"]}
    assert pods == "2"


def test_the_contexts_namespace_is_the_default(sim: Sim, tmp_path: Path) -> None:
    config = sim.config
    config["contexts"][0]["context"]["namespace"] = "ops"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    ran = perf(kubeconfig, "audit", "-o", "json")
    assert "note: namespace ops only, the context's (-A for all namespaces)" in ran.stderr
    assert {key(r) for r in json.loads(ran.stdout)["results"] if r["resource"]} == {("padding", "fail", AGENT)}
    everywhere = perf(kubeconfig, "audit", "-A", "-o", "json")
    assert ("requests", "fail", WEB) in {key(r) for r in json.loads(everywhere.stdout)["results"]}


def test_bad_scope_flags_are_usage_errors() -> None:
    for args, says in (
        (("-n", "shop", "-A"), "-n/--namespace and -A/--all-namespaces cannot be used together"),
        (("-l", "app=web", "--apply"), "--apply with -l/--selector"),
        (("-l", "app in (a"), "invalid label selector"),
    ):
        ran = perf(None, "audit", *args)
        assert ran.returncode == 2 and says in ran.stderr and len(ran.stderr.strip().splitlines()) == 2, ran.stderr


# -- the real API server: user1 may read workloads and write reports in shop, nothing at the cluster scope ----
SHOP_ROLE = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "shop-audit", "namespace": "shop"},
        "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"], "verbs": ["get", "list"]},
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["get", "list"]},
            {"apiGroups": ["wgpolicyk8s.io"], "resources": ["policyreports"], "verbs": ["get", "list", "create", "patch", "delete"]},
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "shop-audit", "namespace": "shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "shop-audit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "user1"}],
    },
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    docs = [*yaml.safe_load_all(FIXTURE.read_text()), *SHOP_ROLE]
    with realk8s.loaded(tmp_path_factory.mktemp("realk8s-audit-scope"), docs, install_crds) as k8s:
        yield k8s


def test_a_namespace_user_gets_the_namespace_results(server: RealK8s) -> None:
    """user1 cannot list nodes, pods at the cluster scope, Services or the kube-proxy ConfigMap: -n shop still runs.
    Without nodes there are no budgets: padding and image-size skip with the server's reason."""
    assert server.kubectl("get", "nodes", user=True, check=False).returncode != 0  # the premise: 403
    assert server.kubectl("get", "pods", "-A", user=True, check=False).returncode != 0
    status, doc = results(server.user_kubeconfig, "-n", "shop")
    assert status == 1
    web = WEB_RESULTS - {("padding", "fail", WEB)}
    assert {key(r) for r in doc["results"]} == web | SKIPS | {("padding", "skip", "-")}
    assert doc["summary"] == {"pass": 2, "fail": 2, "warn": 2, "error": 0, "skip": 6}
    (padding,) = [r for r in doc["results"] if r["rule"] == "padding"]
    assert padding["message"].startswith('the nodes cannot be listed (nodes is forbidden: User "user1"'), padding
    assert "padding budgets" in padding["message"]


def test_without_n_the_namespace_user_is_told_status_3(server: RealK8s) -> None:
    ran = perf(server.user_kubeconfig, "audit", "--fail-on", "none")
    assert ran.returncode == 3 and "forbidden" in ran.stderr and len(ran.stderr.strip().splitlines()) == 1, ran.stderr


def test_a_namespace_user_applies_the_namespace_report(server: RealK8s) -> None:
    ran = perf(server.user_kubeconfig, "audit", "-n", "shop", "--apply", "--fail-on", "none", "-o", "json")
    assert ran.returncode == 0, ran.stderr
    assert "applied 1 report(s), deleted 0 stale report(s)" in ran.stderr
    report = json.loads(server.kubectl("get", "policyreport", "-n", "shop", "kubectl-perf", "-o", "json").stdout)
    assert report["scope"] == {"apiVersion": "v1", "kind": "Namespace", "name": "shop"}
    assert {r["rule"] for r in report["results"] if r["result"] == "fail"} == {"requests", "emptydir-size-limit"}
    cluster = server.kubectl("get", "clusterpolicyreports", "-o", "name").stdout
    assert cluster.strip() == ""  # the run wrote no cluster report: the user could not, and it judged no cluster check


def test_a_selector_on_pod_labels_still_judges_their_deployment(sim: Sim) -> None:
    """Deployment shop/web carries no label, its ReplicaSet and pods carry app=web: -l app=web lists the ReplicaSet
    and the pods, which resolve to the Deployment (owner references), judged once with its two pods."""
    status, doc = results(sim.kubeconfig, "-l", "app=web")
    assert status == 1
    assert {key(r) for r in doc["results"] if r["resource"]} == WEB_RESULTS
    assert {r["properties"]["pods"] for r in doc["results"] if r["resource"]} == {"2"}
