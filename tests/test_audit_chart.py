"""The chart's audit CronJob (audit.enabled): rendered by the real Helm engine, checked
against the Kubernetes schemas, hardened like the webhook, and its RBAC shown to be
enough, and only what is needed, on the real kube-apiserver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import realk8s
import yaml
from conftest import DATA
from test_audit import NON_PASS, key
from test_chart import CHART, KUBE_VERSIONS, by_kind, render
from test_reports import install_crds

helm = pytest.importorskip("helm_python")
ON = {"audit": {"enabled": True, "schedule": "*/30 * * * *", "extraArgs": ["--proxy-threshold=2000"]}}


def audit_docs(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in render(values) if "audit" in d["metadata"]["name"]]


def test_off_by_default() -> None:
    assert audit_docs({}) == []
    assert not by_kind(render({}), "CronJob")


def test_lint_and_kubernetes_schemas() -> None:
    report = helm.lint(str(CHART), ON, strict=True)
    assert report["errors"] == [] and all(m["severity"] < 2 for m in report["messages"]), report
    docs = audit_docs(ON)
    for doc in docs:
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "CronJob", "Role", "RoleBinding", "ServiceAccount"]


def test_cronjob_runs_the_audit_with_apply_hardened_like_the_webhook() -> None:
    (cron,) = by_kind(render(ON), "CronJob")
    assert cron["spec"]["schedule"] == "*/30 * * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "perf-kubectl-perf-webhook-audit" and pod["restartPolicy"] == "Never"
    (c,) = pod["containers"]
    assert c["command"] == ["python3", "-m", "kubectl_perf.audit"]
    assert c["args"] == [
        "--apply",
        "--fail-on=none",  # findings are what the reports are for: they do not fail the Job
        "--policy=/etc/perf-webhook/policy/policy.yaml",
        "--output=json",
        "--proxy-threshold=2000",
    ]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"]["drop"] == ["ALL"] and sc["allowPrivilegeEscalation"] is False
    # the same image as the webhook, and the same policy ConfigMap
    (dep,) = by_kind(render(ON), "Deployment")
    assert c["image"] == dep["spec"]["template"]["spec"]["containers"][0]["image"]
    assert pod["volumes"][0]["configMap"]["name"] == "perf-kubectl-perf-webhook-policy"
    # the webhook's PodDisruptionBudget and NetworkPolicy do not select the audit's pods
    labels = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for doc in by_kind(render(ON), kind):
            selector = doc["spec"].get("selector", doc["spec"].get("podSelector"))["matchLabels"]
            assert not selector.items() <= labels.items(), kind


def test_the_audit_pod_passes_the_audit() -> None:
    """The suite's own CronJob passes the spec checks it runs."""
    from kubectl_perf.audit.compute import Audit, Settings
    from kubectl_perf.policy import Policy

    (cron,) = by_kind(render(ON), "CronJob")
    template = cron["spec"]["jobTemplate"]["spec"]["template"]
    pod = {"metadata": {"name": "audit-x", "namespace": "perf-system", **template["metadata"]}, "spec": template["spec"]}
    node = {"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "4", "memory": "16Gi"}}}  # padding needs a node to weigh
    audit = Audit(Policy(), Settings(), [node])
    audit.add_pods([pod])
    outcomes = {r.rule: r.result for r in audit.workload_results()}
    # image-latest-tag and image-pull-always pass: the image carries the chart's appVersion tag
    assert set(outcomes.values()) == {"pass"}, outcomes


def test_reports_are_the_only_writes_and_nothing_is_wildcarded() -> None:
    docs = audit_docs(ON)
    (cluster_role,) = by_kind(docs, "ClusterRole")
    (role,) = by_kind(docs, "Role")
    writes = {"create", "patch", "delete", "update", "deletecollection", "*"}
    for rule in [*cluster_role["rules"], *role["rules"]]:
        assert "*" not in rule["resources"] and "*" not in rule["apiGroups"] and "watch" not in rule["verbs"]
        if set(rule["verbs"]) & writes:
            assert rule["apiGroups"] == ["wgpolicyk8s.io"] and set(rule["resources"]) == {"policyreports", "clusterpolicyreports"}
            assert set(rule["verbs"]) == {"create", "patch", "delete"}
    assert role["metadata"]["namespace"] == "kube-system" and role["rules"][0]["resourceNames"]
    assert not any("secrets" in r["resources"] for r in cluster_role["rules"])


def chart_command(docs: list[dict[str, Any]], policy_dir: Path) -> list[str]:
    """The CronJob container's own command and args, run here: python3 is this venv's, and the policy
    path is a copy of the rendered policy ConfigMap (the volume the Job mounts)."""
    (cron,) = by_kind(docs, "CronJob")
    (c,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    (mount,) = c["volumeMounts"]
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-policy")]
    for name, text in cm["data"].items():
        (policy_dir / name).write_text(text)
    assert c["command"][0] == "python3"
    return [sys.executable, *c["command"][1:], *(a.replace(mount["mountPath"], str(policy_dir)) for a in c["args"])]


def test_the_rbac_is_enough_on_the_real_api_server(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Bind the rendered roles to an unprivileged user (user1) instead of the ServiceAccount, and run
    the CronJob's rendered command as that user: same results as the admin gets, reports written, stale
    ones found without listing reports (the roles do not allow it), and exit 0 although results fail
    (--fail-on none: the Job is not failed, retried and alerted on for what it found)."""
    server = realk8s.start(tmp_path_factory.mktemp("realk8s-audit-rbac"))
    try:
        server.load(yaml.safe_load_all((DATA / "audit-cluster.yaml").read_text()))
        install_crds(server)
        env = {"KUBECONFIG": str(server.user_kubeconfig), "HOME": str(tmp_path_factory.mktemp("home")), "PATH": "/usr/bin:/bin"}
        command = chart_command(render(ON), tmp_path_factory.mktemp("policy"))
        # before the roles are bound the run cannot read the cluster: 3 fails the Job, whatever --fail-on says
        refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert refused.returncode == 3 and refused.stderr.startswith("error: ") and "Traceback" not in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        for doc in audit_docs(ON):
            if doc["kind"] in ("ClusterRoleBinding", "RoleBinding"):
                doc["subjects"] = [{"kind": "User", "name": "user1", "apiGroup": "rbac.authorization.k8s.io"}]
            if doc["kind"] in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
                server.kubectl("apply", "-f", "-", input=json.dumps(doc))
        # a report for `default` (no workload there) left from an earlier run: the sweep must delete it by name
        stale = {
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": "PolicyReport",
            "metadata": {"name": "kubectl-perf", "namespace": "default"},
        }
        server.kubectl("apply", "-f", "-", input=json.dumps(stale))
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        # the cluster's report and clean, ops, shop (reports carry passes: clean's seven make its report)
        assert run.returncode == 0 and "applied 4 report(s), deleted 1 stale report(s)" in run.stderr, run.stderr
        assert {key(r) for r in json.loads(run.stdout)["results"]} == NON_PASS
        left = json.loads(server.kubectl("get", "policyreports", "-A", "-o", "json").stdout)["items"]
        assert sorted(r["metadata"]["namespace"] for r in left) == ["clean", "ops", "shop"]
        # RBAC without the Calico probe (felixconfigurations): 403 on it skips proxy-mode with the reason, the rest runs
        (role,) = by_kind(audit_docs(ON), "ClusterRole")
        role["rules"] = [r for r in role["rules"] if r["resources"] != ["felixconfigurations"]]
        server.kubectl("apply", "-f", "-", input=json.dumps(role))
        narrowed = subprocess.run([*command, "--show-pass"], capture_output=True, text=True, env=env, timeout=120)
        # --show-pass lists the passes; the reports are the same four
        assert narrowed.returncode == 0 and "applied 4 report(s)" in narrowed.stderr, narrowed.stderr
        results = json.loads(narrowed.stdout)["results"]
        (proxy,) = [r for r in results if r["rule"] == "proxy-mode"]
        assert proxy["result"] == "skip" and "felixconfigurations.crd.projectcalico.org" in proxy["message"], proxy
        assert "forbidden" in proxy["message"]
        assert {key(r) for r in results if r["result"] != "pass"} == NON_PASS | {("proxy-mode", "skip", "-")}
        # and the user can do nothing else with reports, or with secrets
        assert server.kubectl("get", "policyreports", "-A", user=True, check=False).returncode != 0
        assert server.kubectl("get", "secrets", "-n", "kube-system", user=True, check=False).returncode != 0
    finally:
        server.stop()
