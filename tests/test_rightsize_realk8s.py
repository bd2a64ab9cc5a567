"""Issue 25, item 5: rightsize's admission verdicts equal the webhook's through the real
kube-apiserver. Usage history is backfilled into a real Prometheus; rightsize reads the real API
server's workloads and nodes; then each recommendation is written into its Deployment and sent with
`kubectl apply --dry-run=server` through perf-webhook, registered by the chart's own
ValidatingWebhookConfiguration, and the admitted patches go through `kubectl patch --patch-file`.

By hand: one node of 8Gi, padding 75%: a budget of 6Gi = 6144Mi. Working sets (constant): web
1000Mi -> +15% = 1150Mi (fits); edge-in 5340Mi -> 6141Mi (fits, 3Mi to spare); edge-out 5343Mi ->
6144.45Mi, rounded up to 6145Mi (1Mi over: denied); huge 6000Mi -> 6900Mi (denied). CPU 0.25 core
throughout: 250m."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from inproc import perf
from realk8s import RealK8s, start
from rightsize_helpers import NO_PROMETHEUS, PROMETHEUS, PROMTOOL, deployment, openmetrics, prometheus_serving
from test_webhook_realk8s import DENIED, Cluster, eventually, pod
from webhook_helpers import start_webhook

pytestmark = pytest.mark.skipif(not (PROMETHEUS and PROMTOOL), reason=NO_PROMETHEUS)

NS = "shop"
Mi = 2**20
POLICY = {"mode": "enforce", "requireRequests": ["cpu", "memory"], "padding": {"memory": 0.75}}
WORKING_SET = {"web": 1000, "edge-in": 5340, "edge-out": 5343, "huge": 6000}  # MiB
EXPECTED = {"web": True, "edge-in": True, "edge-out": False, "huge": False}  # by hand, above


def node() -> dict[str, Any]:
    resources = {"cpu": "8", "memory": "8Gi", "pods": "110"}
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "ready",
        "lastHeartbeatTime": "2026-01-01T00:00:00Z",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "small-1", "labels": {"kubernetes.io/hostname": "small-1", "node-pool": "small"}},
        "status": {"capacity": resources, "allocatable": resources, "conditions": [ready]},
    }


def objects() -> list[dict[str, Any]]:
    res = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}
    out: list[dict[str, Any]] = [node(), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}]
    for name in WORKING_SET:
        for obj in deployment(NS, name, timedelta(0), res, ["p1"], "small-1"):
            obj["metadata"].pop("creationTimestamp", None)
            if obj["kind"] == "ReplicaSet":
                continue  # a real server would make its own; the pods' names say whose they are
            if obj["kind"] == "Pod":
                obj["metadata"]["ownerReferences"][0]["uid"] = "00000000-0000-0000-0000-000000000001"
            out.append(obj)
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    k8s = start(tmp_path_factory.mktemp("realk8s"))
    hook = None
    try:
        k8s.load(objects())
        workdir = tmp_path_factory.mktemp("webhook")
        hook = start_webhook(workdir / "main", k8s, POLICY, workers=1)  # type: ignore[arg-type]  # has .kubeconfig, as Sim
        c = Cluster(k8s, hook, workdir)
        c.register(hook)
        eventually(lambda: DENIED in c.create(pod("probe", requests=False), "--dry-run=server").stderr, "the webhook judges pods")
        yield c
    finally:
        if hook:
            hook.stop()
        k8s.stop()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    now = int(time.time())
    series = {(NS, f"{name}-abc12-p1", "app"): ((lambda t: 0.25), (lambda t, mib=mib: mib * Mi)) for name, mib in WORKING_SET.items()}
    with prometheus_serving(tmp_path_factory.mktemp("prom"), openmetrics(series, now - 7200, now + 900, every=15)) as url:
        yield url


def test_verdicts_equal_the_webhooks_through_the_real_api_server(cluster: Cluster, prometheus: str, tmp_path: Path) -> None:
    k8s: RealK8s = cluster.k8s
    argv = ["rightsize", "-n", NS, "--prometheus", prometheus, "--history", "1h", "--step", "1m", "--min-age", "1s"]
    ran = perf(k8s.kubeconfig, *argv, "-o", "json")
    assert ran.returncode == 0, ran.stderr
    doc = json.loads(ran.stdout)
    got = {w["name"]: w["containers"][0] for w in doc["workloads"]}
    assert {name: c["admission"]["allowed"] for name, c in got.items()} == EXPECTED
    for name, mib in WORKING_SET.items():
        want = -(-mib * 115 // 100)  # + 15%, rounded up to whole MiB
        assert got[name]["recommended"]["requests"] == {"cpu": "250m", "memory": f"{want}Mi"}
    assert got["huge"]["admission"]["message"].startswith("pool small budget 6Gi: [padding] ")
    # The same templates through the API server and the webhook: each Deployment with its
    # recommendation written in, applied with --dry-run=server.
    for name, c in got.items():
        live = json.loads(cluster.kubectl("get", "deployment", name, "-n", NS, "-o", "json").stdout)
        container = live["spec"]["template"]["spec"]["containers"][0]
        container["resources"] = {"requests": c["recommended"]["requests"], "limits": c["recommended"]["limits"]}
        for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            live["metadata"].pop(key, None)
        live.pop("status", None)
        applied = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=live)
        assert (applied.returncode == 0) == c["admission"]["allowed"], (name, applied.stderr)
        if applied.returncode:
            assert DENIED in applied.stderr and "[padding]" in applied.stderr
    # -o patch: only the admitted ones, each usable with kubectl patch --patch-file.
    patches = perf(k8s.kubeconfig, *argv, "-o", "patch").stdout
    docs = patches.split("---\n")
    assert len(docs) == 2
    for text in docs:
        target = text.splitlines()[0].split()  # "# kubectl patch deployment NAME -n shop --patch-file FILE"
        name = target[4]
        assert EXPECTED[name]
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        patched = cluster.kubectl("patch", "deployment", name, "-n", NS, "--patch-file", str(path), "--dry-run=server", "-o", "json")
        assert patched.returncode == 0, patched.stderr
        resources = json.loads(patched.stdout)["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert resources == yaml.safe_load(text)["spec"]["template"]["spec"]["containers"][0]["resources"]
