"""kubectl perf audit -f FILE|DIR|- (issue 21, Missing: offline manifests for CI), with --nodes-file, the live
cluster's nodes (perf-sim, the real API server) or no nodes at all.

The fixture is real: tests/data/manifests/ingress-nginx-cloud.yaml is ingress-nginx's published install manifest
(its chart's `helm template` output; origin and licence in the file's header). Its 19 documents: 1 Namespace,
2 ServiceAccount, 3 ServiceAccount, 4-5 Role, 6-7 ClusterRole, 8-9 RoleBinding, 10-11 ClusterRoleBinding,
12 ConfigMap, 13-14 Service, 15 Deployment ingress-nginx-controller, 16 Job ingress-nginx-admission-create,
17 Job ingress-nginx-admission-patch, 18 IngressClass, 19 ValidatingWebhookConfiguration: three judged, 16 not.

Worked out by hand from the manifests (default policy: requireRequests cpu and memory, padding 0.75):
- #15 Deployment (namespace ingress-nginx): container controller requests cpu 100m and memory 90Mi, no limit:
  requests pass, memory-limit warn; a secret volume only (no emptyDir): emptydir-size-limit and
  ephemeral-storage-requests pass; controller:v1.15.1@sha256:... IfNotPresent: image-latest-tag and
  image-pull-always pass. Its nodeSelector is kubernetes.io/os: linux.
- #16 and #17 Jobs: containers create and patch have no resources at all: requests fail (cpu and memory
  missing, missing=2), memory-limit warn, padding fail (unbounded: neither limit nor request) once there are
  nodes; certgen:v1.6.9@sha256:... IfNotPresent: the image and storage rules pass.
- Node and cluster checks (committed, node-padding, metrics-pipeline, proxy-mode) judge a running cluster: one
  skip each. Without nodes, padding and image-size are one skip each.
tests/data/manifests/nodes.json (hand-written, a `kubectl get nodes -o json` List): linux-1, 16Gi, budget 12Gi,
lists the controller image by digest at 600 MB; win-1 (kubernetes.io/os: windows, 2Gi) is no pod's here.
So with it: the Deployment's 90Mi fits 12Gi (padding pass), its image is 600 MB > 500 MB (image-size warn);
the Jobs' certgen image is listed by no node (image-size pass, size unknown).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import realk8s
import yaml
from conftest import DATA, KUBECTL, Sim, env_for, start_sim, stop_sim
from inproc import perf
from realk8s import RealK8s
from test_reports import install_crds

INGRESS = DATA / "manifests" / "ingress-nginx-cloud.yaml"
NODES = DATA / "manifests" / "nodes.json"
CLUSTER_FIXTURE = DATA / "audit-cluster.yaml"
DEPLOY = f"{INGRESS}#15 Deployment/ingress-nginx/ingress-nginx-controller"
CREATE = f"{INGRESS}#16 Job/ingress-nginx/ingress-nginx-admission-create"
PATCH = f"{INGRESS}#17 Job/ingress-nginx/ingress-nginx-admission-patch"
OUT_OF_SCOPE = {(rule, "skip", "-") for rule in ("committed", "node-padding", "metrics-pipeline", "proxy-mode")}
ALWAYS = {  # what every run on the fixture finds, nodes or not
    ("requests", "pass", DEPLOY),
    ("memory-limit", "warn", DEPLOY),
    *((rule, "pass", DEPLOY) for rule in ("emptydir-size-limit", "ephemeral-storage-requests", "image-latest-tag", "image-pull-always")),
    *((rule, result, job) for job in (CREATE, PATCH) for rule, result in (("requests", "fail"), ("memory-limit", "warn"))),
    *(
        (rule, "pass", job)
        for job in (CREATE, PATCH)
        for rule in ("emptydir-size-limit", "ephemeral-storage-requests", "image-latest-tag", "image-pull-always")
    ),
}
IGNORED = (
    "note: 16 other object(s) not judged (audit judges Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod): "
    "ClusterRole 2, ClusterRoleBinding 2, ConfigMap 1, IngressClass 1, Namespace 1, Role 2, RoleBinding 2, Service 2, "
    "ServiceAccount 2, ValidatingWebhookConfiguration 1"
)


def key(r: dict[str, Any]) -> tuple[str, str, str]:
    """(rule, result, where) with where as the table names it: FILE#N Kind/namespace/name, or - for the cluster."""
    ref, props = r["resource"], r["properties"]
    if ref is None:
        return r["rule"], r["result"], "-"
    return r["rule"], r["result"], f"{props['file']}#{props['document']} {ref['kind']}/{ref.get('namespace', '')}/{ref['name']}"


def audit(kubeconfig: Path | None, *args: str, stdin: str | None = None) -> tuple[int, dict[str, Any], str]:
    ran = perf(kubeconfig, "audit", "-o", "json", "--show-pass", *args, stdin=stdin)
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran.returncode, json.loads(ran.stdout), ran.stderr


def test_no_cluster_and_no_nodes_file_skips_what_needs_nodes() -> None:
    status, doc, stderr = audit(None, "-f", str(INGRESS))
    assert status == 1  # the Jobs' requests fail: a CI step gates on it
    assert {key(r) for r in doc["results"]} == ALWAYS | OUT_OF_SCOPE | {("padding", "skip", "-"), ("image-size", "skip", "-")}
    assert doc["summary"] == {"pass": 13, "fail": 2, "warn": 3, "error": 0, "skip": 6}
    (padding,) = [r for r in doc["results"] if r["rule"] == "padding"]
    assert padding["message"].startswith("no nodes to judge against: no --nodes-file, and the cluster cannot be read")
    assert IGNORED in stderr.splitlines()
    (proxy,) = [r for r in doc["results"] if r["rule"] == "proxy-mode"]
    assert proxy["message"] == "not judged with -f: node and cluster checks judge a running cluster, not manifests"


def test_nodes_file_judges_padding_and_image_sizes() -> None:
    status, doc, _ = audit(None, "-f", str(INGRESS), "--nodes-file", str(NODES))
    assert status == 1
    with_nodes = {("padding", "pass", DEPLOY), ("padding", "fail", CREATE), ("padding", "fail", PATCH)}
    images = {("image-size", "warn", DEPLOY), ("image-size", "pass", CREATE), ("image-size", "pass", PATCH)}
    assert {key(r) for r in doc["results"]} == ALWAYS | OUT_OF_SCOPE | with_nodes | images
    assert doc["summary"] == {"pass": 16, "fail": 4, "warn": 4, "error": 0, "skip": 4}
    (size,) = [r for r in doc["results"] if key(r) == ("image-size", "warn", DEPLOY)]
    assert size["properties"]["sizeBytes"] == "600000000" and size["properties"]["document"] == "15"
    assert "pods" not in size["properties"]  # manifests have no pods to count
    assert perf(None, "audit", "-f", str(INGRESS), "--nodes-file", str(NODES), "--fail-on", "none").returncode == 0


def test_the_table_names_file_and_document() -> None:
    ran = perf(None, "audit", "-f", str(INGRESS), "--nodes-file", str(NODES))
    rows = [line.split() for line in ran.stdout.splitlines()]
    assert ["Resources", "fail", "high", "padding", f"{INGRESS}#16", "Job/ingress-nginx/ingress-nginx-admission-create"] in [
        r[:6] for r in rows
    ]


def test_stdin_as_helm_template_pipes_it() -> None:
    """`helm template ... | kubectl perf audit -f -` through kubectl's plugin lookup: a real process reading a pipe."""
    ran = subprocess.run(
        [KUBECTL, "perf", "audit", "-f", "-", "--nodes-file", str(NODES), "-o", "json"],
        input=INGRESS.read_text(),
        capture_output=True,
        text=True,
        env=env_for(None),
        timeout=120,
    )
    assert ran.returncode == 1, ran.stderr
    found = {key(r) for r in json.loads(ran.stdout)["results"]}
    assert ("requests", "fail", "stdin#16 Job/ingress-nginx/ingress-nginx-admission-create") in found


LISTS_YAML = """\
apiVersion: v1
kind: List
items:
  - apiVersion: batch/v1
    kind: CronJob
    metadata: {name: nightly}
    spec:
      schedule: "0 2 * * *"
      jobTemplate:
        spec:
          template:
            spec:
              restartPolicy: OnFailure
              containers: [{name: backup, image: busybox}]
  - apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec: {ports: [{port: 80}]}
---
# a document with nothing in it still counts in the index
---
apiVersion: v1
kind: Pod
metadata: {name: tidy, namespace: other}
spec:
  containers: [{name: app, image: registry.example.com/tidy:1.2, resources: {requests: {cpu: 100m, memory: 1Gi}, limits: {memory: 1Gi}}}]
"""
DEPLOYMENT_LIST = {
    "apiVersion": "apps/v1",
    "kind": "DeploymentList",
    "items": [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "1"}}}]}}},
        }
        for name in ("d1", "d2")
    ],
}


def test_directories_lists_and_document_indices(tmp_path: Path) -> None:
    """A directory is searched recursively for .yaml/.yml/.json (other files are not read); a List's items are
    FILE#N.M; an empty document counts in the index; objects without a namespace are in -n's (kubectl apply's
    default). requests, by hand: nightly's busybox requests nothing (fail); tidy requests cpu and memory (pass);
    d1 and d2 request cpu only (fail)."""
    manifests = tmp_path / "k8s"
    (manifests / "sub").mkdir(parents=True)
    (manifests / "sub" / "jobs.yml").write_text(LISTS_YAML)
    (manifests / "deployments.json").write_text(json.dumps(DEPLOYMENT_LIST))
    (manifests / "README.txt").write_text("not: [valid yaml")  # not a manifest: never read
    status, doc, stderr = audit(None, "-f", str(manifests), "-n", "shop")
    assert status == 1
    found = {key(r) for r in doc["results"] if r["rule"] == "requests"}
    assert found == {
        ("requests", "fail", f"{manifests}/sub/jobs.yml#1.1 CronJob/shop/nightly"),
        ("requests", "pass", f"{manifests}/sub/jobs.yml#3 Pod/other/tidy"),
        ("requests", "fail", f"{manifests}/deployments.json#1.1 Deployment/shop/d1"),
        ("requests", "fail", f"{manifests}/deployments.json#1.2 Deployment/shop/d2"),
    }
    assert "note: 1 other object(s) not judged" in stderr and "Service 1" in stderr
    # -f is repeatable: a file and the same directory again judge each object (the first document names it)
    _, both, _ = audit(None, "-f", str(manifests / "deployments.json"), "-f", str(manifests), "-n", "shop")
    assert {key(r) for r in both["results"] if r["rule"] == "requests"} == found


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("-f", "missing.yaml"), "error: cannot read -f missing.yaml: No such file or directory"),
        (("-f", "BAD"), "neither YAML nor JSON (line 3)"),  # the flow opened on line 2 is still open at the end
        (("-f", "EMPTY_DIR"), "no .yaml, .yml, .json file in this directory or below"),
        (("-f", str(INGRESS), "--nodes-file", str(INGRESS)), "expected `kubectl get nodes -o json` (or -o yaml) output"),
        (("--nodes-file", str(NODES)), "--nodes-file goes with -f"),
        (("-f", str(INGRESS), "--apply"), "-f judges manifests, not what runs"),
        (("-f", str(INGRESS), "-l", "app=x"), "-l selects what runs in the cluster"),
        (("-f", "-", "-f", "-"), "-f - (stdin) can be given once"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Deployment\nmetadata: {name: [\n")
    (tmp_path / "empty").mkdir()
    argv = [str(bad) if a == "BAD" else str(tmp_path / "empty") if a == "EMPTY_DIR" else a for a in args]
    ran = perf(None, "audit", *argv)
    assert ran.returncode == 2 and says in ran.stderr and "Traceback" not in ran.stderr, ran.stderr


# -- nodes from a live cluster ----------------------------------------------------------------------------------
# tests/data/audit-cluster.yaml's nodes n-big and n-small carry no kubernetes.io/os label: the Deployment's
# nodeSelector (kubernetes.io/os: linux) matches neither -> padding warn (no eligible node, padding.noEligibleNode
# warn); the Jobs are unbounded -> fail. No node lists images -> image-size skips with that reason.
LIVE = {("padding", "warn", DEPLOY), ("padding", "fail", CREATE), ("padding", "fail", PATCH), ("image-size", "skip", "-")}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    started = start_sim(tmp_path_factory.mktemp("sim-offline"), "--objects", str(CLUSTER_FIXTURE))
    yield started
    stop_sim(started)


CONTAINER = "spec.template.spec.containers[0]"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"resources": {"requests": ["cpu"]}}, f"{CONTAINER}.resources.requests must be an object"),
        ({"resources": {"requests": {"cpu": [1]}}}, f"{CONTAINER}.resources.requests.cpu must be a quantity"),
        ({"resources": {"limits": {"memory": "lots"}}}, "invalid quantity 'lots'"),
        ({"resources": "small"}, f"{CONTAINER}.resources must be an object"),
        ({"image": 5}, f"{CONTAINER}.image must be a string"),
        ({"volumeMounts": [{"name": "tmp", "readOnly": "yes"}]}, f"{CONTAINER}.volumeMounts[0].readOnly must be true or false"),
    ],
)
def test_a_wrongly_typed_manifest_is_bad_input_not_a_traceback(change: dict[str, Any], says: str, tmp_path: Path) -> None:
    """What the API server would refuse to decode (a list of requests, a number for an image) stops the audit with
    one line naming the file, the document, the object and the field, and status 2 (bad -f input), through kubectl."""
    docs = list(yaml.safe_load_all(INGRESS.read_text()))
    deployment = docs[14]
    deployment["spec"]["template"]["spec"]["containers"][0].update(change)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    ran = subprocess.run([KUBECTL, "perf", "audit", "-f", str(bad)], capture_output=True, text=True, timeout=120, env=env_for(None))
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    errors = [line for line in ran.stderr.splitlines() if not line.startswith("note: ")]  # the note on the kinds left out
    assert len(errors) == 1 and errors[0].startswith(f"error: -f {bad}#15: Deployment ingress-nginx-controller: "), ran.stderr
    assert errors[0].endswith(says) or f": {says}:" in errors[0], errors[0]


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda n: n["status"]["allocatable"].update(memory="lots"), "invalid quantity 'lots'"),
        (lambda n: n["status"].update(allocatable=["memory"]), "status.allocatable must be an object"),
        (lambda n: n.update(status="Ready"), "status must be an object"),
        (lambda n: n["metadata"]["labels"].update(gpu=True), "metadata.labels.gpu must be a string"),
    ],
)
def test_a_nodes_file_edited_wrong_is_bad_input(edit: Any, says: str, tmp_path: Path) -> None:
    """--nodes-file is `kubectl get nodes -o json` output, maybe edited: a wrongly typed field the checks read
    names the node and the field, exit 2 (it said "unexpected data from the cluster", exit 3, or raised)."""
    listed = json.loads(NODES.read_text())
    edit(listed["items"][0])
    bad = tmp_path / "nodes.json"
    bad.write_text(json.dumps(listed))
    ran = perf(None, "audit", "-f", str(INGRESS), "--nodes-file", str(bad))
    first = listed["items"][0]["metadata"]["name"]
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr
    assert f"error: --nodes-file {bad}: node {first}: {says}" in ran.stderr, ran.stderr


def test_a_manifest_of_other_shapes_than_typed_ones_is_judged(tmp_path: Path) -> None:
    """Fields left out, and fields no check reads, are not an error: the same manifest without its containers'
    resources (and with an unknown field) is judged as before: requests fail."""
    docs = list(yaml.safe_load_all(INGRESS.read_text()))
    container = docs[14]["spec"]["template"]["spec"]["containers"][0]
    del container["resources"]
    container["somethingNew"] = [1, 2]
    bad = tmp_path / "fine.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    ran = perf(None, "audit", "-f", str(bad), "-o", "json")
    found = {(r["rule"], r["result"]) for r in json.loads(ran.stdout)["results"] if (r.get("resource") or {}).get("kind") == "Deployment"}
    assert ("requests", "fail") in found, ran.stdout[:500]


def test_the_live_clusters_nodes_on_perf_sim(sim: Sim) -> None:
    status, doc, _ = audit(sim.kubeconfig, "-f", str(INGRESS))
    assert status == 1
    assert {key(r) for r in doc["results"]} == ALWAYS | OUT_OF_SCOPE | LIVE
    (padding,) = [r for r in doc["results"] if key(r) == ("padding", "warn", DEPLOY)]
    assert padding["message"].startswith("no node matches its nodeSelector"), padding


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    """The audit fixture as tests/test_audit.py loads it (so the two modules share one server)."""
    docs = yaml.safe_load_all(CLUSTER_FIXTURE.read_text())
    with realk8s.loaded(tmp_path_factory.mktemp("realk8s-audit"), docs, install_crds) as k8s:
        yield k8s


def test_the_live_clusters_nodes_on_the_real_api_server(server: RealK8s) -> None:
    status, doc, _ = audit(server.kubeconfig, "-f", str(INGRESS))
    assert status == 1
    assert {key(r) for r in doc["results"]} == ALWAYS | OUT_OF_SCOPE | LIVE


def test_a_user_who_cannot_list_nodes_still_gets_the_manifest_results(server: RealK8s) -> None:
    """user1 has no RBAC at all: the nodes list is 403, which is not an error for -f, only padding's skip reason."""
    status, doc, _ = audit(server.user_kubeconfig, "-f", str(INGRESS))
    assert status == 1
    assert {key(r) for r in doc["results"]} == ALWAYS | OUT_OF_SCOPE | {("padding", "skip", "-"), ("image-size", "skip", "-")}
    (padding,) = [r for r in doc["results"] if r["rule"] == "padding"]
    assert 'nodes is forbidden: User "user1"' in padding["message"], padding
