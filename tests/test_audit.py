"""kubectl perf audit end to end, against the real kube-apiserver (tests/data/audit-cluster.yaml
loaded, the PolicyReport CRDs installed) and against perf-sim: in this process (tests/inproc.py),
and once each through kubectl's plugin lookup and the standalone `kubectl-perf-audit` script.

Expected outcomes are read off tests/data/audit-cluster.yaml by hand (budgets at 0.75:
n-big 12Gi, n-small 6Gi):
- Deployment shop/web (2 pods via ReplicaSet web-5f6d7c8b9): no memory request -> requests fail;
  no memory limit -> memory-limit warn; memory emptyDir without sizeLimit -> emptydir-size-limit fail;
  a writable root but no disk emptyDir -> ephemeral-storage-requests pass; `nginx` untagged ->
  image-latest-tag warn, whose message says it also pulls on every start (the API server defaults
  Always), and image-pull-always pass (one cause, one result); neither memory request nor limit ->
  its memory is unbounded -> padding fail.
- DaemonSet ops/agent (2 pods): 7Gi fits n-big (12Gi) but not n-small (6Gi) -> padding fail on 1 node;
  its six other rules pass.
- Pod clean/tidy: all seven rules pass.
- Nodes: n-small commits 7Gi of limits > 6Gi -> committed warn; n-big 7Gi + 1Gi = 8Gi -> pass.
  No metrics.k8s.io on the real server -> node-padding skip and metrics-pipeline fail.
- kube-proxy ConfigMap with mode "" -> iptables; 3 Services <= 1000 -> proxy-mode pass.
- No node lists its images (status.images) -> one image-size skip (tests/test_audit_image_size.py judges sizes).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import realk8s
import yaml
from conftest import BIN, DATA, Sim, env_for, kubectl
from inproc import Ran, perf
from realk8s import RealK8s
from test_html_report import CHROMIUM, browser
from test_reports import CRDS, install_crds

FIXTURE = DATA / "audit-cluster.yaml"
NON_PASS = {
    ("requests", "fail", "Deployment/shop/web"),
    ("memory-limit", "warn", "Deployment/shop/web"),
    ("emptydir-size-limit", "fail", "Deployment/shop/web"),
    ("image-latest-tag", "warn", "Deployment/shop/web"),
    ("padding", "fail", "Deployment/shop/web"),
    ("padding", "fail", "DaemonSet/ops/agent"),
    ("committed", "warn", "Node//n-small"),
    ("node-padding", "skip", "-"),
    ("metrics-pipeline", "fail", "-"),
    ("image-size", "skip", "-"),
}
# passes: web 2 (ephemeral-storage-requests, image-pull-always), agent 6, tidy 7, committed n-big 1, proxy-mode 1
SUMMARY = {"pass": 17, "fail": 5, "warn": 3, "error": 0, "skip": 2}


def key(r: dict[str, Any]) -> tuple[str, str, str]:
    ref = r["resource"]
    return r["rule"], r["result"], f"{ref['kind']}/{ref.get('namespace', '')}/{ref['name']}" if ref else "-"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    """A private real API server (the CRDs are a cluster-wide change) with the audit fixture loaded."""
    with realk8s.loaded(tmp_path_factory.mktemp("realk8s-audit"), yaml.safe_load_all(FIXTURE.read_text()), install_crds) as server:
        yield server


def env_real(server: RealK8s, **extra: str) -> dict[str, str]:
    return env_for(None, KUBECONFIG=str(server.kubeconfig), **extra)


def audit(server: RealK8s, *args: str) -> Ran:
    return perf(server.kubeconfig, "audit", *args)


def test_results_through_kubectl_plugin_lookup(cluster: RealK8s) -> None:
    result = kubectl(None, "perf", "audit", "-o", "json", check=False, env=env_real(cluster))
    assert result.returncode == 1, result.stderr  # fail results
    doc = json.loads(result.stdout)
    assert {key(r) for r in doc["results"]} == NON_PASS
    assert doc["summary"] == SUMMARY
    web = next(r for r in doc["results"] if r["rule"] == "requests")
    assert web["properties"]["pods"] == "2" and web["severity"] == "high" and web["category"] == "Resources"
    assert web["resource"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        # the Deployment's own (the listed controller), not the fixture's made-up one in the ReplicaSet's owner reference
        "uid": cluster.kubectl("get", "deployment", "-n", "shop", "web", "-o", "jsonpath={.metadata.uid}").stdout,
    }
    (latest,) = [r for r in doc["results"] if r["rule"] == "image-latest-tag"]  # one result for the untagged image
    assert "'web' run nginx (:latest or no tag)" in latest["message"] and "'web' also pull it on every start" in latest["message"]
    agent = next(r for r in doc["results"] if r["rule"] == "padding" and r["resource"]["kind"] == "DaemonSet")
    # messages: pools, the default (issue 27 operations 15): n-small's `pool` label is no pool label, so no name
    assert agent["properties"] == {"pods": "2"} and "nodes without a pool label (1 node, budget 6Gi: 75% of 8Gi)" in agent["message"]
    assert "n-small" not in agent["message"] and "n-big" not in agent["message"]


def test_show_pass_lists_every_check_and_the_proxy_mode(cluster: RealK8s) -> None:
    doc = json.loads(audit(cluster, "-o", "json", "--show-pass").stdout)
    assert len(doc["results"]) == sum(SUMMARY.values())
    (proxy,) = [r for r in doc["results"] if r["rule"] == "proxy-mode"]
    services = len(json.loads(cluster.kubectl("get", "services", "-A", "-o", "json").stdout)["items"])  # kubectl as the oracle
    assert proxy["result"] == "pass" and proxy["properties"] == {"mode": "iptables", "services": str(services), "threshold": "1000"}
    warned = json.loads(audit(cluster, "-o", "json", "--show-pass", "--proxy-threshold", str(services - 1)).stdout)
    assert [r["result"] for r in warned["results"] if r["rule"] == "proxy-mode"] == ["warn"]


def test_table_groups_by_category_and_ends_with_the_summary(cluster: RealK8s) -> None:
    result = audit(cluster)
    lines = result.stdout.strip().splitlines()
    # the overview comes first (tests/test_audit_reports.py checks it); the results table follows
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["CATEGORY", "RESULT"])
    assert lines[start].split()[:5] == ["CATEGORY", "RESULT", "SEVERITY", "RULE", "RESOURCE"]
    assert lines[-1] == "5 fail, 3 warn, 0 error, 2 skip, 17 pass"
    categories = [line.split()[0] for line in lines[start + 1 : -1]]
    assert categories == sorted(categories, key=["Resources", "Metrics", "Networking", "Storage", "Images"].index)
    assert "\033[" not in result.stdout  # no colour off a terminal


def test_exit_status_for_ci(cluster: RealK8s) -> None:
    failing = ("requests,emptydir-size-limit,padding,metrics-pipeline",)  # every fail result's rule
    assert audit(cluster, "--disable", *failing).returncode == 0  # only warnings left
    assert audit(cluster, "--disable", *failing, "--fail-on", "warn").returncode == 1
    assert audit(cluster, "--fail-on", "none").returncode == 0  # fail results, yet the run went well
    bad = audit(cluster, "--disable", "nope")
    assert bad.returncode == 2 and "unknown rule 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_the_policy_file_disables_rules_and_sets_thresholds(cluster: RealK8s, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("audit:\n  disable: [requests, emptydir-size-limit, padding, metrics-pipeline]\n  proxyThreshold: 0\n")
    result = audit(cluster, "--policy", str(policy), "-o", "json")
    doc = json.loads(result.stdout)
    assert result.returncode == 0 and doc["summary"]["fail"] == 0, result.stderr  # only warnings and a skip left
    assert [r["result"] for r in doc["results"] if r["rule"] == "proxy-mode"] == ["warn"]  # 3 Services > 0
    assert audit(cluster, "--policy", str(policy), "--proxy-threshold", "1000", "--fail-on", "warn").returncode == 1
    policy.write_text("audit:\n  disable: [nope]\n")
    bad = audit(cluster, "--policy", str(policy))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "audit.disable.0" in bad.stderr, bad.stderr


def test_policyreport_output_is_what_kubectl_applies(cluster: RealK8s) -> None:
    out = audit(cluster, "-o", "policyreport")
    doc = yaml.safe_load(out.stdout)
    # reports carry passes: clean (tidy's seven passes) has one too
    assert doc["kind"] == "List" and [(i["kind"], i["metadata"].get("namespace", "")) for i in doc["items"]] == [
        ("ClusterPolicyReport", ""),
        ("PolicyReport", "clean"),
        ("PolicyReport", "ops"),
        ("PolicyReport", "shop"),
    ]
    dry = cluster.kubectl("apply", "--server-side", "--dry-run=server", "--field-manager", "kubectl-perf", "-f", "-", input=out.stdout)
    assert dry.stdout.count("serverside-applied (server dry run)") == 4, dry.stdout


def test_apply_writes_reports_and_deletes_those_of_clean_namespaces(cluster: RealK8s) -> None:
    result = audit(cluster, "--apply", "-o", "json")
    assert result.returncode == 1 and "applied 4 report(s)" in result.stderr, result.stderr
    reports = json.loads(cluster.kubectl("get", "policyreports", "-A", "-o", "json", "--show-managed-fields").stdout)["items"]
    by_ns = {r["metadata"]["namespace"]: r for r in reports}
    assert set(by_ns) == {"shop", "ops", "clean"}  # passes are reported: clean's seven
    assert by_ns["shop"]["summary"] == {"pass": 2, "fail": 3, "warn": 2, "error": 0, "skip": 0}
    assert by_ns["ops"]["summary"] == {"pass": 6, "fail": 1, "warn": 0, "error": 0, "skip": 0}
    assert by_ns["clean"]["summary"] == {"pass": 7, "fail": 0, "warn": 0, "error": 0, "skip": 0}, [
        (r["policy"], r["result"], r.get("message")) for r in by_ns["clean"]["results"] if r["result"] != "pass"
    ]
    assert by_ns["shop"]["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubectl-perf"}
    managers = {f["manager"] for f in by_ns["shop"]["metadata"]["managedFields"]}
    assert managers == {"kubectl-perf"} and by_ns["shop"]["metadata"]["managedFields"][0]["operation"] == "Apply"
    cpolr = json.loads(cluster.kubectl("get", "clusterpolicyreport", "kubectl-perf", "-o", "json").stdout)
    # committed n-big and proxy-mode pass; metrics-pipeline fails; committed n-small warns; node-padding, image-size skip
    assert cpolr["summary"] == {"pass": 2, "fail": 1, "warn": 1, "error": 0, "skip": 2}
    # the DaemonSet leaves: ops is clean now, and its report goes
    cluster.kubectl("delete", "pods", "-n", "ops", "--all", "--grace-period=0", "--force")
    cluster.kubectl("delete", "daemonset", "-n", "ops", "agent")
    again = audit(cluster, "--apply", "-o", "json")
    assert "applied 3 report(s), deleted 1 stale report(s)" in again.stderr, again.stderr
    left = json.loads(cluster.kubectl("get", "policyreports", "-A", "-o", "json").stdout)["items"]
    assert sorted(r["metadata"]["namespace"] for r in left) == ["clean", "shop"]


def test_standalone_console_script(cluster: RealK8s) -> None:
    result = subprocess.run(
        [str(BIN / "kubectl-perf-audit"), "-o", "json", "--disable", "committed,padding"],
        capture_output=True,
        text=True,
        env=env_real(cluster),
        timeout=120,
    )
    rules = {r["rule"] for r in json.loads(result.stdout)["results"]}
    assert "requests" in rules and not rules & {"committed", "padding"}


# -- perf-sim -------------------------------------------------------------------------------------------------
def test_apply_without_the_crds_is_one_clear_line(fixture_cluster: Sim) -> None:
    """Could not apply: 3, also with --fail-on none (a schedule must still see that its reports were not written)."""
    result = perf(fixture_cluster.kubeconfig, "audit", "--apply", "--fail-on", "none")
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1].startswith("error: the cluster does not serve wgpolicyk8s.io/v1alpha2 PolicyReports")
    assert "Traceback" not in result.stderr


def test_fixture_cluster_on_perf_sim(fixture_cluster: Sim) -> None:
    """tests/data/cluster.yaml: node-b uses 13Gi of a 12Gi budget (fail); ml/besteffort requests nothing (requests
    fail) and so its memory is unbounded (padding fail); shop/pending-big needs 40Gi, more than node-a's 12Gi,
    the only node it tolerates (fail); ml/trainer's 20Gi fits node-gpu's 48Gi but not node-a's 12Gi, and nothing
    keeps it off node-a once unbound (padding.eligibleNodes: every, the default since issue 27: fail)."""
    doc = json.loads(perf(fixture_cluster.kubeconfig, "audit", "-o", "json").stdout)
    fails = {key(r) for r in doc["results"] if r["result"] == "fail" and r["rule"] != "metrics-pipeline"}
    assert fails == {
        ("node-padding", "fail", "Node//node-b"),
        ("requests", "fail", "Pod/ml/besteffort"),
        ("padding", "fail", "Pod/ml/besteffort"),
        ("padding", "fail", "Pod/shop/pending-big"),
        ("padding", "fail", "Pod/ml/trainer"),
    }


def test_ipvs_on_a_1_36_server_warns_with_nftables_advice(sim_factory: Any) -> None:
    """tests/data/audit-proxy.yaml on perf-sim (/version v1.36.2): IPVS is deprecated from 1.35 -> warn, advising
    nftables and naming k-old (kernel 5.10 < 5.13); nftables passes; iptables past the threshold advises nftables,
    not IPVS."""
    sim = sim_factory("--objects", str(DATA / "audit-proxy.yaml"))

    def proxy(*args: str) -> dict[str, Any]:
        results = json.loads(perf(sim.kubeconfig, "audit", "-o", "json", "--show-pass", *args).stdout)["results"]
        (found,) = [r for r in results if r["rule"] == "proxy-mode"]
        return found

    ipvs = proxy()
    assert ipvs["result"] == "warn" and ipvs["properties"]["oldKernelNodes"] == "k-old", ipvs
    assert "IPVS mode, deprecated from Kubernetes 1.35 (KEP-5495; this server is 1.36)" in ipvs["message"]
    assert "switch kube-proxy to nftables" in ipvs["message"] and "do not run: k-old (5.10.226-214.879.amzn2.x86_64)" in ipvs["message"]
    for mode, expected in (("nftables", "pass"), ("iptables", "warn")):
        config = f"kind: KubeProxyConfiguration\nmode: {mode}\n"
        kubectl(
            sim,
            "patch",
            "configmap",
            "-n",
            "kube-system",
            "kube-proxy",
            "--type=merge",
            "-p",
            json.dumps({"data": {"config.conf": config}}),
        )
        found = proxy("--proxy-threshold", "0")
        assert (found["properties"]["mode"], found["result"]) == (mode, expected), found
    assert "switch kube-proxy to nftables" in found["message"] and "IPVS" not in found["message"]


def test_a_forbidden_probe_skips_its_check_and_the_rest_runs(sim_factory: Any) -> None:
    """RBAC that does not allow listing Services (the proxy check's count): proxy-mode skips with the
    server's reason, every other result is as on tests/data/cluster.yaml with the list allowed."""
    allowed = sim_factory("--objects", str(DATA / "cluster.yaml"))
    sim = sim_factory("--objects", str(DATA / "cluster.yaml"), "--forbid-cluster-list", "services")
    ran = perf(sim.kubeconfig, "audit", "-o", "json", "--show-pass")
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr  # findings, not "could not run"
    results = json.loads(ran.stdout)["results"]
    (proxy,) = [r for r in results if r["rule"] == "proxy-mode"]
    assert proxy["result"] == "skip" and proxy["resource"] is None
    assert proxy["message"].startswith("the service proxy's configuration cannot be read: services is forbidden"), proxy
    before = json.loads(perf(allowed.kubeconfig, "audit", "-o", "json", "--show-pass").stdout)["results"]
    assert {key(r) for r in results if r["rule"] != "proxy-mode"} == {key(r) for r in before if r["rule"] != "proxy-mode"}


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="chromium is not installed (./dev test installs it)")
def test_html_page_in_a_real_browser(fixture_cluster: Sim, tmp_path: Path) -> None:
    html = perf(fixture_cluster.kubeconfig, "audit", "-o", "html").stdout
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "<script" not in html, "self-contained"
    page = tmp_path / "audit.html"
    page.write_text(html)
    dom = browser(tmp_path, "--dump-dom", page.as_uri())
    rows = set(re.findall(r'<tr class="fail" data-rule="([^"]+)" data-result="fail" data-resource="([^"]+)"', dom))
    rows = {r for r in rows if r[0] != "metrics-pipeline"}
    assert rows == {
        ("node-padding", "Node/node-b"),
        ("requests", "Pod/ml/besteffort"),
        ("padding", "Pod/ml/besteffort"),
        ("padding", "Pod/shop/pending-big"),
        ("padding", "Pod/ml/trainer"),
    }
    assert re.search(r'data-outcome="fail">\d+ fail<', dom)


def test_help_needs_no_cluster() -> None:
    result = perf(None, "audit", "--help")
    assert result.returncode == 0 and "--apply" in result.stdout and "image-pull-always" in result.stdout
    assert "--fail-on {fail,warn,none}" in result.stdout and "3 the audit could not run" in result.stdout
    assert os.path.exists(BIN / "kubectl-perf-audit")


def test_an_unreachable_cluster_is_one_line_and_status_3(tmp_path: Path) -> None:
    result = perf(None, "audit", "--kubeconfig", str(tmp_path / "missing"), "--fail-on", "none")
    assert result.returncode == 3 and result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_apply_on_perf_sim(sim_factory: Any) -> None:
    """A generated cluster (controllers, kube-proxy ConfigMap, violations of each rule): --apply writes one report
    per namespace with results, and the ClusterPolicyReport, through perf-sim's CRD-backed resources."""
    sim = sim_factory("--nodes", "6", "--pods-per-node", "20", "--seed", "5")
    kubectl(sim, "apply", "-f", str(CRDS))
    result = perf(sim.kubeconfig, "audit", "--apply", "-o", "json", "--show-pass")  # the reports carry passes: list them too
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    doc = json.loads(result.stdout)
    namespaces = {r["resource"]["namespace"] for r in doc["results"] if r["resource"] and r["resource"].get("namespace")}
    namespaces -= {
        r["resource"].get("namespace") for r in doc["results"] if r["rule"] in ("proxy-mode", "metrics-pipeline") and r["resource"]
    }
    reports = json.loads(kubectl(sim, "get", "policyreports", "-A", "-o", "json").stdout)["items"]
    assert {r["metadata"]["namespace"] for r in reports} == namespaces
    total = sum(r["summary"][k] for r in reports for k in ("pass", "fail", "warn", "error", "skip"))
    cluster = json.loads(kubectl(sim, "get", "clusterpolicyreports", "kubectl-perf", "-o", "json").stdout)
    total += sum(cluster["summary"][k] for k in ("pass", "fail", "warn", "error", "skip"))
    assert total == len(doc["results"])  # every listed result is in exactly one report
