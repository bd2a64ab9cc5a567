"""Which pods kubectl perf audit judges, on the real kube-apiserver (tests/data/audit-finished.yaml):
finished pods (Succeeded, Failed) are not judged and hold nothing; a Terminating pod (deletionTimestamp
set) is not judged, so it keeps no namespace's report alive, yet its memory limit counts on its node
until it is gone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml
from conftest import DATA
from inproc import perf
from realk8s import RealK8s
from test_audit import key

FIXTURE = DATA / "audit-finished.yaml"
MINE = ("audit-finished", "audit-leaving")


@pytest.fixture(scope="module")
def terminating(realk8s: RealK8s) -> Iterator[RealK8s]:
    """The fixture on the session's server, audit-leaving/going deleted while its finalizer holds it (Terminating)."""
    realk8s.load(yaml.safe_load_all(FIXTURE.read_text()))
    realk8s.kubectl("delete", "pod", "-n", "audit-leaving", "going", "--wait=false")
    pod = json.loads(realk8s.kubectl("get", "pod", "-n", "audit-leaving", "going", "-o", "json").stdout)
    assert pod["metadata"]["deletionTimestamp"]  # Terminating, as a kubelet would leave it until the containers stop
    try:
        yield realk8s
    finally:
        realk8s.kubectl("patch", "pod", "-n", "audit-leaving", "going", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        realk8s.kubectl("delete", "pods", "-n", "audit-finished", "--all", "--grace-period=0", "--force")
        realk8s.kubectl("delete", "node", "n-defects")


def test_finished_and_terminating_pods_are_not_judged(terminating: RealK8s) -> None:
    ran = perf(terminating.kubeconfig, "audit", "-o", "json", "--show-pass")
    assert ran.returncode in (0, 1), ran.stderr
    results = json.loads(ran.stdout)["results"]
    judged = [r for r in results if r["resource"] and r["resource"].get("namespace") in MINE]
    assert judged == []
    # n-defects: 4Gi allocatable, budget 3Gi. going's 4Gi limit counts (4Gi > 3Gi: warn); crashed's 2Gi does not.
    (committed,) = [r for r in results if r["rule"] == "committed" and r["resource"]["name"] == "n-defects"]
    assert committed["result"] == "warn" and "committed on the node, 4Gi, exceed" in committed["message"], committed


def test_a_terminating_pod_keeps_no_report_alive(terminating: RealK8s) -> None:
    reports = yaml.safe_load(perf(terminating.kubeconfig, "audit", "-o", "policyreport").stdout)["items"]
    assert not {r["metadata"].get("namespace") for r in reports} & set(MINE)


IDLE = DATA / "audit-idle.yaml"
# Read off tests/data/audit-idle.yaml by hand: each workload's one violation (parked's unbounded memory is three).
IDLE_NON_PASS = {
    ("image-latest-tag", "warn", "CronJob/audit-idle/nightly"),
    ("requests", "fail", "Deployment/audit-idle/parked"),
    ("padding", "fail", "Deployment/audit-idle/parked"),
    ("memory-limit", "warn", "Deployment/audit-idle/parked"),
    ("emptydir-size-limit", "fail", "StatefulSet/audit-idle/db"),
    ("image-latest-tag", "warn", "Job/audit-idle/oneoff"),
    ("memory-limit", "warn", "ReplicaSet/audit-idle/lonely"),
}


@pytest.fixture(scope="module")
def idle(realk8s: RealK8s) -> Iterator[RealK8s]:
    """The fixture on the session's server; no controller runs there, so none of its workloads has a pod."""
    realk8s.load(yaml.safe_load_all(IDLE.read_text()))
    try:
        yield realk8s
    finally:
        realk8s.kubectl("delete", "namespace", "audit-idle", "--wait=false")
        realk8s.kubectl("delete", "node", "n-idle")


def test_workloads_with_no_pod_are_judged_from_their_templates(idle: RealK8s) -> None:
    assert idle.kubectl("get", "pods", "-n", "audit-idle", "-o", "name").stdout == ""  # nothing runs
    ran = perf(idle.kubeconfig, "audit", "-o", "json", "--show-pass")
    results = [r for r in json.loads(ran.stdout)["results"] if r["resource"] and r["resource"].get("namespace") == "audit-idle"]
    assert {key(r) for r in results if r["result"] != "pass"} == IDLE_NON_PASS
    assert {r["properties"]["pods"] for r in results} == {"0"}
    # each is named by its own controller, uid included (kubectl as the oracle)
    (cron,) = [r for r in results if r["rule"] == "image-latest-tag" and r["resource"]["kind"] == "CronJob"]
    uid = idle.kubectl("get", "cronjob", "-n", "audit-idle", "nightly", "-o", "jsonpath={.metadata.uid}").stdout
    assert cron["resource"] == {"apiVersion": "batch/v1", "kind": "CronJob", "namespace": "audit-idle", "name": "nightly", "uid": uid}
    reports = yaml.safe_load(perf(idle.kubeconfig, "audit", "-o", "policyreport").stdout)["items"]
    (report,) = [r for r in reports if r["metadata"].get("namespace") == "audit-idle"]
    # the report carries the passes too: as many as the --show-pass listing above has in audit-idle
    passes = sum(1 for r in results if r["result"] == "pass")
    assert passes > 0 and report["summary"] == {"pass": passes, "fail": 3, "warn": 4, "error": 0, "skip": 0}
