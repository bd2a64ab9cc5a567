"""kubectl perf images through kubectl's plugin lookup (and the standalone console
script) against perf-sim. Expected figures come from the raw API objects and the
simulator's catalog (an oracle independent of imageref/compute), or by hand."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import inproc
import jsonschema
import pytest
import yaml
from conftest import BIN, Sim, env_for, kubectl
from inproc import Ran
from perf_sim import catalog
from test_images_compute import NODES, PODS

M = 1_000_000


def perf(sim: Sim | None, *args: str, kubeconfig: Path | None = None) -> Ran:
    """`kubectl perf images ARGS` in this process, against `sim` (or `kubeconfig`). --kubeconfig
    as well as KUBECONFIG: the kubernetes client reads KUBECONFIG once per process."""
    kc = kubeconfig or (sim.kubeconfig if sim is not None else None)
    return inproc.perf(kc, "images", *(("--kubeconfig", str(kc)) if kc else ()), *args)


def doc(sim: Sim, *args: str) -> dict[str, Any]:
    result = perf(sim, "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_image(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["image"]: i for i in d["images"]}


# -- the hand-worked cluster of test_images_compute, served by perf-sim -----------------------
@pytest.fixture(scope="module")
def hand_cluster(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    docs = [{"apiVersion": "v1", "kind": "Node", **copy.deepcopy(n)} for n in NODES]
    docs += [{"apiVersion": "v1", "kind": "Pod", **copy.deepcopy(p)} for p in PODS]
    path = tmp_path_factory.mktemp("images") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return sim_factory("--objects", str(path))


@pytest.fixture(scope="module")
def no_cluster_pods(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    docs = [{"apiVersion": "v1", "kind": "Node", **copy.deepcopy(n)} for n in NODES]
    docs += [{"apiVersion": "v1", "kind": "Pod", **copy.deepcopy(p)} for p in PODS]
    path = tmp_path_factory.mktemp("images") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return sim_factory("--objects", str(path), "--forbid-cluster-list", "pods")


def test_hand_worked_cluster(hand_cluster: Sim) -> None:
    d = doc(hand_cluster)
    images = by_image(d)
    py = images["docker.io/library/python:3.12"]
    # n1, n2 (containerd) and n3 (CRI-O) list it; the two containerd nodes' compressed size wins.
    assert (py["sizeBytes"], py["sizeFrom"], py["nodes"], py["pods"], py["containers"]) == (411 * M, "containerd", 3, 3, 3)
    # the fixture has no ReplicaSet objects: the Deployment is a guess from the pod-template-hash convention
    assert py["workloads"] == [
        {"kind": "Deployment", "namespace": "shop", "name": "web", "guessed": True},
        {"kind": "StatefulSet", "namespace": "shop", "name": "db"},
    ]
    assert py["pullPolicies"] == {"IfNotPresent": 3} and py["latestTag"] is False
    assert py["suggestion"]["image"] == "gcr.io/distroless/python3-debian13" and py["suggestion"]["savingBytes"] == (411 - 22) * M
    bb = images["docker.io/library/busybox:latest"]
    assert (bb["sizeBytes"], bb["nodes"], bb["latestTag"], bb["pullPolicies"], bb["suggestion"]) == (None, 0, True, {"Always": 2}, None)
    assert "docker.io/library/golang:1.23" not in images  # only a Succeeded pod ran it
    assert d["summary"]["images"] == 5
    assert d["summary"]["uniqueBytes"] == (411 + 409) * M
    assert d["summary"]["cachedBytes"] == (411 + 409) * M + 700_000 + 411 * M + 700_000 + 1020 * M
    assert [(p["image"], p["nodeSelector"], p["missingOn"]) for p in d["prePull"]] == [
        ("docker.io/library/node:22", {"node-pool": "a"}, 2),
        ("docker.io/library/python:3.12", {"node-pool": "a"}, 1),
    ]
    pools = {p["pool"]: p for p in d["summary"]["pools"]}
    assert (pools["a"]["freshNodeBytes"], pools["b"]["freshNodeBytes"], pools["b"]["runtime"]) == (820 * M, 1020 * M, "cri-o")


def test_yaml_and_csv_carry_the_same(hand_cluster: Sim) -> None:
    d = doc(hand_cluster)
    y = perf(hand_cluster, "-o", "yaml")
    assert y.returncode == 0 and yaml.safe_load(y.stdout) == d
    c = perf(hand_cluster, "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(c.stdout)))
    assert {r["IMAGE"]: r["SIZE"] for r in rows} == {i["image"]: str(i["sizeBytes"] or "") for i in d["images"]}
    assert {r["IMAGE"]: r["WORKLOADS"] for r in rows}["docker.io/library/python:3.12"] == "Deployment?/shop/web;StatefulSet/shop/db"


def test_sort_top_and_filters(hand_cluster: Sim) -> None:
    assert [i["image"] for i in doc(hand_cluster, "--sort", "pods")["images"]][0] == "docker.io/library/python:3.12"
    # -l: only the web pods (they carry pod-template-hash=abc)
    web = doc(hand_cluster, "-l", "pod-template-hash=abc")
    assert sorted(by_image(web)) == [
        "docker.io/envoyproxy/envoy:v1.31",
        "docker.io/library/busybox:latest",
        "docker.io/library/python:3.12",
    ]
    assert by_image(web)["docker.io/library/python:3.12"]["pods"] == 2
    # --node-selector: pool b holds only db-0
    b = doc(hand_cluster, "--node-selector", "node-pool=b")
    assert list(by_image(b)) == ["docker.io/library/python:3.12"] and b["summary"]["nodes"] == 1
    assert by_image(b)["docker.io/library/python:3.12"]["sizeBytes"] == 1020 * M  # n3 is the only node left: CRI-O's size
    table = perf(hand_cluster, "--top", "2")
    assert table.returncode == 0 and "showing 2 of 5 images" in table.stderr
    lines = table.stdout.split("\n\n")[0].splitlines()  # the data first, then the summary and the rest
    assert lines[0].split()[:3] == ["IMAGE", "SIZE", "NODES"] and [ln.split()[0] for ln in lines[1:]] == [
        "python:3.12",
        "python:3.12@sha256:11111111",  # pinned by digest: the tag kept, the digest cut to 8 hex digits
    ]


def test_the_console_script_prints_the_same(hand_cluster: Sim) -> None:
    via_kubectl = kubectl(hand_cluster, "perf", "images", "-o", "wide", check=False)  # the one run through kubectl's plugin lookup
    direct = subprocess.run(
        [str(BIN / "kubectl-perf-images"), "-o", "wide"], capture_output=True, text=True, env=env_for(hand_cluster), timeout=60
    )
    assert via_kubectl.returncode == direct.returncode == 0
    assert via_kubectl.stdout == direct.stdout and "SUGGESTION" in direct.stdout and "SIZE FROM" in direct.stdout
    suite = subprocess.run(
        [str(BIN / "kubectl-perf"), "images", "-o", "json"], capture_output=True, text=True, env=env_for(hand_cluster), timeout=60
    )
    assert json.loads(suite.stdout) == doc(hand_cluster)


# The fields kube-fledged's CRD (kubefledged.io v1alpha2, deploy/kubefledged-crd.yaml) and its
# validating webhook allow; anything else would be pruned or refused.
IMAGECACHE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "kubefledged.io/v1alpha2"},
        "kind": {"const": "ImageCache"},
        "metadata": {
            "type": "object",
            "required": ["name", "namespace"],
            "properties": {
                "name": {
                    "type": "string",
                    "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                    "maxLength": 253,
                },
                "namespace": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["cacheSpec"],
            "additionalProperties": False,
            "properties": {
                "cacheSpec": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["images"],
                        "additionalProperties": False,
                        "properties": {
                            # the webhook refuses an empty list and duplicates within one
                            "images": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "minLength": 1}},
                            "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
                        },
                    },
                },
                "imagePullSecrets": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            },
        },
    },
}


def test_imagecache_fits_the_crd(hand_cluster: Sim) -> None:
    out = perf(hand_cluster, "-o", "imagecache", "--namespace-for-cache", "cache-ns")
    assert out.returncode == 0, out.stderr
    cache = yaml.safe_load(out.stdout)
    jsonschema.validate(cache, IMAGECACHE_SCHEMA)
    assert cache["metadata"]["namespace"] == "cache-ns"
    assert cache["spec"]["cacheSpec"] == [
        {"images": ["docker.io/library/node:22", "docker.io/library/python:3.12"], "nodeSelector": {"node-pool": "a"}}
    ]
    # never a selector that matches no node (kube-fledged #91)
    nodes = hand_cluster.get("/api/v1/nodes")["items"]
    for entry in cache["spec"]["cacheSpec"]:
        assert any(all(n["metadata"]["labels"].get(k) == v for k, v in entry["nodeSelector"].items()) for n in nodes)
    none = perf(hand_cluster, "-o", "imagecache", "--min-size", "1GB")
    assert none.returncode == 0 and none.stdout == "" and "nothing to pre-pull" in none.stderr


def test_pods_forbidden_cluster_wide(no_cluster_pods: Sim) -> None:
    denied = perf(no_cluster_pods)
    assert denied.returncode == 1 and "try -n NAMESPACE" in denied.stderr and "Traceback" not in denied.stderr
    allowed = perf(no_cluster_pods, "-n", "shop", "-o", "json")
    assert allowed.returncode == 0 and by_image(json.loads(allowed.stdout))["docker.io/library/python:3.12"]["pods"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-size", "lots"], "invalid size 'lots'"),
        (["--sort", "colour"], "invalid choice: 'colour'"),
        (["-n", "shop", "-A"], "cannot be used together"),
        (["--top", "-1"], "must not be negative"),
        (["--registry-timeout", "0"], "above 0"),
        (["--pool-label", "bad key!"], "invalid label key"),
        (["--namespace-for-cache", "Kube_Fledged"], "invalid namespace"),
        (["-o", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_bad_flags_get_one_line(args: list[str], message: str) -> None:
    result = perf(None, *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 2


def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    result = perf(None, kubeconfig=kc)
    assert (
        result.returncode == 1
        and result.stderr.startswith("error: The connection to the server 127.0.0.1:9 was refused")
        and result.stderr.count("\n") == 1
    )


# -- the generated cluster, against an oracle built from raw objects and the catalog ----------
def test_generated_cluster_matches_the_oracle(generated: Sim) -> None:
    d = doc(generated, "--top", "0")
    nodes = generated.get("/api/v1/nodes")["items"]
    pods = [p for p in generated.get("/api/v1/pods")["items"] if p["status"]["phase"] not in ("Succeeded", "Failed")]
    listed: dict[str, set[str]] = {}
    size: dict[str, int] = {}
    for n in nodes:
        for image in n["status"]["images"]:
            tag_name = image["names"][1]  # perf-sim writes [repo@digest, repo:tag], as the kubelet does
            listed.setdefault(tag_name, set()).add(n["metadata"]["name"])
            size[tag_name] = image["sizeBytes"]
    pod_count: Counter[str] = Counter()
    containers: Counter[str] = Counter()
    policies: dict[str, Counter[str]] = {}
    workloads: dict[str, set[tuple[str, str, str]]] = {}
    # The owner references as served: a ReplicaSet's or Job's own owner is its workload, else it is one itself
    # (perf-sim's ml/trainer-2900... Jobs have no CronJob, as in issue 22).
    parents = {
        (kind, o["metadata"]["namespace"], o["metadata"]["name"]): (o["metadata"].get("ownerReferences") or [None])[0]
        for kind, path in (("ReplicaSet", "/apis/apps/v1/replicasets"), ("Job", "/apis/batch/v1/jobs"))
        for o in generated.get(path)["items"]
    }
    for p in pods:
        owner = p["metadata"]["ownerReferences"][0]
        ns = p["metadata"]["namespace"]
        parent = parents.get((owner["kind"], ns, owner["name"]))
        workload = (parent["kind"], ns, parent["name"]) if parent else (owner["kind"], ns, owner["name"])
        seen = set()
        for c in p["spec"].get("initContainers", []) + p["spec"]["containers"]:
            full = catalog.IMAGES[c["image"]][0]
            containers[full] += 1
            policies.setdefault(full, Counter())[c["imagePullPolicy"]] += 1
            workloads.setdefault(full, set()).add(workload)
            if full not in seen:
                seen.add(full)
                pod_count[full] += 1
    images = by_image(d)
    assert set(images) == set(pod_count)
    for name, item in images.items():
        assert item["sizeBytes"] == size.get(name), name
        assert item["nodes"] == len(listed.get(name, ())), name
        assert (item["pods"], item["containers"]) == (pod_count[name], containers[name]), name
        assert item["pullPolicies"] == dict(policies[name]), name
        assert {(w["kind"], w["namespace"], w["name"]) for w in item["workloads"]} == workloads[name], name
        assert item["latestTag"] == (name == "docker.io/library/busybox:latest"), name
    summary = d["summary"]
    assert summary["images"] == len(pod_count)
    assert summary["uniqueBytes"] == sum(size[n] for n in pod_count if n in size)
    assert summary["cachedBytes"] == sum(i["sizeBytes"] for n in nodes for i in n["status"]["images"])
    assert summary["nodesAtCap"] == sum(1 for n in nodes if len(n["status"]["images"]) == 50)
    assert summary["sizeUnknown"] == sum(1 for n in pod_count if n not in size)
    # Realistic data: the kubelet's cap is reached on some nodes, and some image in use is listed nowhere.
    assert 0 < summary["nodesAtCap"] < len(nodes) and summary["sizeUnknown"] >= 1
    assert images["docker.io/library/python:3.12"]["suggestion"]["savingBytes"] == 411 * M - 22 * M
    assert images["docker.io/library/golang:1.23"]["suggestion"]["image"] == "gcr.io/distroless/static-debian13"
    assert images["docker.io/library/node:22-alpine"]["suggestion"] is None
    assert images["gcr.io/distroless/static-debian12:nonroot"]["suggestion"] is None


def test_generated_node_images_look_like_the_kubelets(generated: Sim) -> None:
    for n in generated.get("/api/v1/nodes")["items"]:
        images = n["status"]["images"]
        sizes = [i["sizeBytes"] for i in images]
        assert sizes == sorted(sizes, reverse=True) and len(images) <= 50
        for i in images:
            repo_digest, repo_tag = i["names"]
            assert repo_digest.split("@sha256:")[0] == repo_tag.rsplit(":", 1)[0] and len(repo_digest.split("@sha256:")[1]) == 64
    pools = {}
    for n in generated.get("/api/v1/nodes")["items"]:
        pools.setdefault(n["metadata"]["labels"]["node-pool"], []).append({i["names"][1] for i in n["status"]["images"]})
    general = pools["general"]
    assert len(general) > 1 and any(a != b for a in general for b in general)  # nodes of one pool hold different sets


# -- the real kube-apiserver: its defaulting (pull policies), field selectors, HPAs and RBAC ----
def test_against_the_real_api_server(realk8s_factory: Any) -> None:
    server = realk8s_factory()
    pods = copy.deepcopy(PODS)
    for n, p in enumerate(pods):
        for ref in p["metadata"].get("ownerReferences", []):
            ref["apiVersion"] = "batch/v1" if ref["kind"] == "Job" else "apps/v1"
            ref["uid"] = f"00000000-0000-4000-8000-{n:012d}"
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}],
        },
    }
    server.load(
        [{"apiVersion": "v1", "kind": "Node", **copy.deepcopy(n)} for n in NODES]
        + [{"apiVersion": "v1", "kind": "Pod", **p} for p in pods]
        + [hpa]
    )
    result = perf(None, "-o", "json", kubeconfig=server.kubeconfig)
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    images = by_image(d)
    # The real server defaulted the policies: Always for busybox (no tag), as the plugin assumes where a pod says none.
    assert images["docker.io/library/busybox:latest"]["pullPolicies"] == {"Always": 2}
    assert "docker.io/library/golang:1.23" not in images  # the Succeeded pod is filtered out by the server's field selector
    assert (d["summary"]["images"], d["summary"]["uniqueBytes"]) == (5, (411 + 409) * M)
    # db is an HPA target now: a workload that scales out, though it runs one pod.
    plan = {p["image"]: p for p in d["prePull"]}
    # no ReplicaSet objects were loaded: web's Deployment is a guess from its pods' names
    assert plan["docker.io/library/python:3.12"]["why"] == ["Deployment?/shop/web x2", "StatefulSet/shop/db (HPA target)"]
    denied = perf(None, kubeconfig=server.user_kubeconfig)
    assert denied.returncode == 1 and "forbidden" in denied.stderr and "try -n NAMESPACE" in denied.stderr
    assert "Traceback" not in denied.stderr and denied.stderr.count("error: ") == 1
    # user1 may list pods in shop, and nothing else: images without sizes, with a note, exit 0.
    for obj in (
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "pod-reader", "namespace": "shop"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "pod-reader", "namespace": "shop"},
            "subjects": [{"kind": "User", "name": "user1", "apiGroup": "rbac.authorization.k8s.io"}],
            "roleRef": {"kind": "Role", "name": "pod-reader", "apiGroup": "rbac.authorization.k8s.io"},
        },
    ):
        server.create(obj)
    partial = perf(None, "-n", "shop", "-o", "json", kubeconfig=server.user_kubeconfig)
    assert partial.returncode == 0, partial.stderr
    assert "images are listed without sizes" in partial.stderr and "HorizontalPodAutoscalers (forbidden)" in partial.stderr
    images = by_image(json.loads(partial.stdout))
    assert len(images) == 5 and all(i["sizeBytes"] is None and i["nodes"] == 0 for i in images.values())
    assert images["docker.io/library/python:3.12"]["pods"] == 3


def test_html_top_list_follows_top(hand_cluster: Sim) -> None:
    # -o html ignored --top: --top 2 printed the same page as --top 25 (its first table fixed at ten rows)
    from inproc import perf as run

    doc = json.loads(run(hand_cluster.kubeconfig, "images", "-o", "json", "--top", "0").stdout)
    ranked = sorted((i for i in doc["images"] if i["sizeBytes"]), key=lambda i: (-i["sizeBytes"] * i["nodes"], i["image"]))
    assert len(ranked) > 2  # else --top 2 would cut nothing
    for top, want in (("2", ranked[:2]), ("25", ranked[:10]), ("0", ranked[:10])):  # the first screen keeps at most ten
        html = run(hand_cluster.kubeconfig, "images", "-o", "html", "--top", top).stdout
        assert re.findall(r'<tr data-top-image="([^"]+)"', html) == [i["image"] for i in want], top
