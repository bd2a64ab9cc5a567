"""The chart's rightsize CronJob (rightsize.enabled, issue 25): rendered by the real Helm engine,
checked against the Kubernetes schemas, hardened like the audit's, read-only RBAC that is enough on
the real kube-apiserver, and a history file that one run writes and the next reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import realk8s
import yaml
from conftest import Sim
from inproc import perf
from rightsize_helpers import dump
from test_chart import CHART, KUBE_VERSIONS, by_kind, render

helm = pytest.importorskip("helm_python")
ON: dict[str, Any] = {"rightsize": {"enabled": True}}
KUBELET: dict[str, Any] = {"rightsize": {"enabled": True, "usageSource": "kubelet"}}
HISTORY_DIR = "/var/lib/kubectl-perf/rightsize"


def rightsize_docs(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in render(values) if "rightsize" in d["metadata"]["name"]]


def pod_of(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (cron,) = by_kind(docs, "CronJob")
    spec: dict[str, Any] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def test_off_by_default() -> None:
    assert rightsize_docs({}) == []
    assert not by_kind(render({}), "PersistentVolumeClaim")


@pytest.mark.parametrize("values", [ON, KUBELET, {"rightsize": {"enabled": True, "persistence": {"existingClaim": "mine"}}}])
def test_lint_and_kubernetes_schemas(values: dict[str, Any]) -> None:
    report = helm.lint(str(CHART), values, strict=True)
    assert report["errors"] == [] and all(m["severity"] < 2 for m in report["messages"]), report
    docs = rightsize_docs(values)
    for doc in docs:
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    kinds = sorted(d["kind"] for d in docs)
    pvc = [] if values["rightsize"].get("persistence") else ["PersistentVolumeClaim"]
    assert kinds == sorted(["ClusterRole", "ClusterRoleBinding", "CronJob", "ServiceAccount", *pvc])


def test_bad_values_are_refused_by_the_schema() -> None:
    for bad in ({"usageSource": "auto"}, {"duration": "soon"}, {"extraArgs": ["-o"]}, {"persistence": {"size": "lots"}}):
        with pytest.raises(Exception, match="rightsize"):
            render({"rightsize": {"enabled": True, **bad}})


def test_cronjob_appends_to_the_history_volume_hardened_like_the_audit() -> None:
    both = render({**ON, "audit": {"enabled": True}})
    (cron,) = [d for d in by_kind(both, "CronJob") if d["metadata"]["name"].endswith("-rightsize")]
    (audit,) = [d for d in by_kind(both, "CronJob") if d["metadata"]["name"].endswith("-audit")]
    # two runs appending to one file would interleave their lines
    assert cron["spec"]["concurrencyPolicy"] == "Forbid" and cron["spec"]["schedule"] == "43 * * * *"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    audit_pod = audit["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    (a,) = audit_pod["containers"]
    assert c["command"] == ["python3", "-m", "kubectl_perf.rightsize"]
    assert c["args"] == [
        "--all-namespaces",
        "--usage-source=metrics-server",
        "--duration=10m",
        "--interval=30s",
        "--history=14d",
        f"--history-file={HISTORY_DIR}/history.jsonl",
        "--policy=/etc/perf-webhook/policy/policy.yaml",
        "--output=json",
    ]
    # the audit's image, pod and container security contexts
    assert c["image"] == a["image"] and c["imagePullPolicy"] == a["imagePullPolicy"]
    assert c["securityContext"] == a["securityContext"] and pod["securityContext"] == audit_pod["securityContext"]
    assert pod["serviceAccountName"] == "perf-kubectl-perf-webhook-rightsize" and pod["restartPolicy"] == "Never"
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    # the history file lies on the claim's volume; the root filesystem stays read-only
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["history"]["mountPath"] == HISTORY_DIR and not mounts["history"].get("readOnly")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["history"]["persistentVolumeClaim"]["claimName"] == "perf-kubectl-perf-webhook-rightsize"
    assert volumes["policy"] == audit_pod["volumes"][0]
    (pvc,) = by_kind(both, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "perf-kubectl-perf-webhook-rightsize"
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    # the webhook's PodDisruptionBudget and NetworkPolicy do not select its pods
    labels = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for doc in by_kind(both, kind):
            selector = doc["spec"].get("selector", doc["spec"].get("podSelector"))["matchLabels"]
            assert not selector.items() <= labels.items(), kind


def test_values_reach_the_args_and_the_claim() -> None:
    values = {
        "rightsize": {
            "enabled": True,
            "namespace": "shop",
            "usageSource": "kubelet",
            "duration": "5m",
            "interval": "15s",
            "history": "7d",
            "output": "yaml",
            "extraArgs": ["--cpu-percentile=99"],
            "persistence": {"size": "5Gi", "storageClass": "fast"},
        }
    }
    docs = render(values)
    (c,) = pod_of(docs)["containers"]
    assert c["args"][:5] == ["--namespace=shop", "--usage-source=kubelet", "--duration=5m", "--interval=15s", "--history=7d"]
    assert c["args"][-2:] == ["--output=yaml", "--cpu-percentile=99"]
    (pvc,) = by_kind(docs, "PersistentVolumeClaim")
    assert pvc["spec"]["storageClassName"] == "fast" and pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    mine = render({"rightsize": {"enabled": True, "persistence": {"existingClaim": "mine"}}})
    assert not by_kind(mine, "PersistentVolumeClaim")
    assert {v["name"]: v for v in pod_of(mine)["volumes"]}["history"]["persistentVolumeClaim"]["claimName"] == "mine"


def test_rbac_is_read_only_and_nodes_proxy_only_for_the_kubelet_source() -> None:
    def rules(values: dict[str, Any]) -> list[dict[str, Any]]:
        (role,) = by_kind(rightsize_docs(values), "ClusterRole")
        out: list[dict[str, Any]] = role["rules"]
        return out

    for values in (ON, KUBELET):
        for rule in rules(values):
            assert set(rule["verbs"]) <= {"get", "list"}, rule
            assert "*" not in rule["resources"] and "*" not in rule["apiGroups"]
            assert not {"secrets", "configmaps"} & set(rule["resources"])
    granted = {(g, r) for rule in rules(ON) for g in rule["apiGroups"] for r in rule["resources"]}
    assert ("", "nodes/proxy") not in granted and ("metrics.k8s.io", "pods") in granted
    granted = {(g, r) for rule in rules(KUBELET) for g in rule["apiGroups"] for r in rule["resources"]}
    assert ("", "nodes/proxy") in granted and ("metrics.k8s.io", "pods") not in granted


def chart_argv(docs: list[dict[str, Any]], work: Path) -> list[str]:
    """The CronJob container's args, for `kubectl perf rightsize` in-process: the policy path is a
    copy of the rendered policy ConfigMap, the history directory one of `work`."""
    pod = pod_of(docs)
    (c,) = pod["containers"]
    (cm,) = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-policy")]
    (work / "policy").mkdir(exist_ok=True)
    (work / "history").mkdir(exist_ok=True)
    for name, text in cm["data"].items():
        (work / "policy" / name).write_text(text)
    args = [a.replace("/etc/perf-webhook/policy", str(work / "policy")).replace(HISTORY_DIR, str(work / "history")) for a in c["args"]]
    return ["rightsize", *args]


def test_a_second_run_reads_the_history_the_first_wrote(sim_factory: Any, tmp_path: Path) -> None:
    """The chart's own args (usageSource kubelet, a short duration) against perf-sim without
    metrics-server, twice, in-process, the history directory standing in for the volume. By hand
    (test_rightsize_kubelet's cluster): 5 reads a run, so api has 8 CPU and 10 memory samples after
    the first run and 16 and 20 after the second, whose basis counts those of the file too."""
    from test_rightsize_kubelet import OBJECTS

    path = tmp_path / "objects.yaml"
    path.write_text(dump(OBJECTS))
    sim: Sim = sim_factory("--objects", str(path), "--no-metrics-server")
    values = {"rightsize": {**KUBELET["rightsize"], "duration": "1s", "interval": "0.25s", "extraArgs": ["--min-samples=8"]}}
    argv = chart_argv(render(values), tmp_path)
    history = tmp_path / "history" / "history.jsonl"
    counts = []
    for _run in range(2):
        ran = perf(sim.kubeconfig, *argv)
        assert ran.returncode == 0, ran.stderr
        doc = json.loads(ran.stdout)  # output json: one document per run in the Job's log
        (api,) = [w["containers"][0] for w in doc["workloads"] if w["name"] == "api"]
        counts.append((api["basis"]["cpuSamples"], api["basis"]["memorySamples"]))
        assert api["recommended"]["requests"] == {"cpu": "300m", "memory": "460Mi"}
    assert counts == [(8, 10), (16, 20)]
    assert len([line for line in history.read_text().splitlines() if '"workload":"api"' in line]) == 20


def test_dry_run_apply_and_the_rbac_is_enough_on_the_real_api_server(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every rendered document goes through `kubectl apply --dry-run=server`. Then the rendered
    ClusterRole is bound to user1 (no other rights) and the CronJob's own args run as user1: before
    the binding the pods cannot be listed (exit 1); after it every read the run makes is allowed.
    The real server serves no metrics.k8s.io and runs no kubelet, so the usage itself cannot be had:
    exit 3 with the one reason first (not a 403), every workload insufficient data."""
    from test_rightsize_kubelet import realk8s_objects

    server = realk8s.start(tmp_path_factory.mktemp("realk8s-rightsize-chart"))
    try:
        server.load([o for o in realk8s_objects() if o["kind"] in ("Node", "Namespace", "Deployment", "Pod")])
        server.kubectl("create", "namespace", "perf-system")
        for values in (ON, KUBELET):
            for doc in render(values):
                if "rightsize" in doc["metadata"]["name"] or doc["kind"] == "ConfigMap":
                    applied = server.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(doc), check=False)
                    assert applied.returncode == 0, (doc["kind"], applied.stderr)
        for values, reason in (
            (ON, "note: metrics API unavailable"),
            (KUBELET, "note: --usage-source kubelet; no usage from the kubelets either: no node's /metrics/resource could be read"),
        ):
            short = {"rightsize": {**values["rightsize"], "duration": "0.2s", "interval": "0.1s", "extraArgs": ["--min-age=1s"]}}
            docs = render(short)
            argv = chart_argv(docs, tmp_path_factory.mktemp("work"))
            refused = perf(server.user_kubeconfig, *argv)
            assert refused.returncode == 1 and "forbidden" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
            for doc in rightsize_docs(short):
                if doc["kind"] == "ClusterRoleBinding":
                    doc["subjects"] = [{"kind": "User", "name": "user1", "apiGroup": "rbac.authorization.k8s.io"}]
                if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                    server.kubectl("apply", "-f", "-", input=json.dumps(doc))
            ran = perf(server.user_kubeconfig, *argv)
            assert ran.returncode == 3, ran.stderr
            assert ran.stderr.startswith(reason) and "403" not in ran.stderr and "not readable" not in ran.stderr, ran.stderr
            doc = json.loads(ran.stdout)
            statuses = {w["name"]: w["containers"][0]["status"] for w in doc["workloads"]}
            assert statuses == dict.fromkeys(("edge-in", "web"), "insufficient data: 0 samples, fewer than 10"), statuses
            server.kubectl("delete", "clusterrolebinding", "perf-kubectl-perf-webhook-rightsize")
    finally:
        server.stop()


def test_values_yaml_documents_every_rightsize_key() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["rightsize"]
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]["rightsize"]["properties"]
    assert set(values) == set(schema) and set(values["persistence"]) == set(schema["persistence"]["properties"])
