"""kubectl perf images --pulls and --imagecache against a real kube-apiserver (../shared/kube-apiserver):
Events created there in a current kubelet's exact `Pulled` words (and the two older shapes), read back
with fieldSelector=reason=Pulled; kube-fledged's ImageCache CRD (tests/data, written from its documented
schema) applied there with two caches. The figures are test_images_pulls's, worked out by hand there."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import inproc
import pytest
import yaml
from realk8s import RealK8s, loaded
from test_images_pulls import CACHES, CRD, EVENT_HEADER, EVENTS, NGINX, NODE22, NODES, PODS, PY


def _caches(server: RealK8s) -> None:
    """The CRD is served once Established; then the caches (custom resources need it)."""
    server.kubectl("wait", "--for=condition=Established", "crd/imagecaches.kubefledged.io", "--timeout=60s")
    server.load(copy.deepcopy(CACHES))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    docs = [yaml.safe_load(CRD.read_text()), *copy.deepcopy(NODES + PODS + [NGINX] + EVENTS)]
    with loaded(tmp_path_factory.mktemp("realk8s-pulls"), docs, _caches) as real:
        yield real


def doc(server: RealK8s, *args: str) -> dict[str, Any]:
    ran = inproc.perf(server.kubeconfig, "images", "--kubeconfig", str(server.kubeconfig), "-o", "json", *args)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def test_the_api_server_keeps_the_kubelets_words(server: RealK8s) -> None:
    status, body = server.request("/api/v1/events?fieldSelector=reason%3DPulled")
    assert status == 200
    assert sorted(e["message"] for e in json.loads(body)["items"]) == sorted(e["message"] for e in EVENTS)
    # events.k8s.io/v1 serves the same objects, the message as `note`
    status, body = server.request("/apis/events.k8s.io/v1/events?fieldSelector=reason%3DPulled")
    assert status == 200 and sorted(e["note"] for e in json.loads(body)["items"]) == sorted(e["message"] for e in EVENTS)


def test_pulls_read_from_the_real_events_api(server: RealK8s) -> None:
    d = doc(server, "--pulls", "--since", "1h")
    pulls = {(p["image"], p["pool"]): p for p in d["pulls"]}
    assert set(pulls) == {(PY, "a"), (NODE22, "a")}
    py = pulls[(PY, "a")]
    assert (py["pulls"], py["medianSeconds"], py["maxSeconds"], py["medianIncludingWaiting"], py["sizeBytes"], py["alreadyPresent"]) == (
        2,
        25.75,
        31.5,
        28.25,
        411_000_000,
        1,
    )
    plan = [(p["image"], p["nodeSelector"], p["rankBasis"], p["secondsSaved"]) for p in d["prePull"]]
    assert plan == [
        (PY, {"node-pool": "a"}, "seconds", 56.5),
        (NODE22, {"node-pool": "a"}, "seconds", 12.0),
        (PY, {"node-pool": "b"}, "size", None),
        (NODE22, {"node-pool": "b"}, "size", None),
    ]


def test_imagecache_coverage_on_the_real_crd(server: RealK8s) -> None:
    caches = {c["name"]: c for c in doc(server, "--imagecache")["imageCaches"]}
    web = caches["web-cache"]
    assert [(i["image"], i["presentOn"], i["missingOn"], i["runs"]) for i in web["images"]] == [
        ("python:3.12", ["n1", "n2"], ["n4"], True),
        ("redis:7.4", [], ["n1", "n2", "n4"], False),
        ("node:22", ["n1"], ["n2", "n3", "n4"], True),
    ]
    assert web["missing"] == [{"image": "docker.io/library/nginx:1.27", "sizeBytes": None, "nodes": 1}]
    assert caches["tools"]["unused"] == ["busybox:1.36"]


def test_kubectl_get_events_columns_match_the_sims(server: RealK8s) -> None:
    out = server.kubectl("get", "events", "-A", "--field-selector", "reason=Pulled").stdout.splitlines()
    assert out[0].split() == EVENT_HEADER and len(out) == 1 + len(EVENTS)
