"""The admission webhook over real HTTPS under gunicorn, node state from perf-sim.

Budgets in tests/data/cluster.yaml with POLICY: node-a 0.75 x 16Gi = 12Gi (no taints),
node-b 0.5 x 16Gi = 8Gi (workload=io, tainted dedicated=io), node-gpu 0.75 x 64Gi = 48Gi
(tainted nvidia.com/gpu). Committed memory limits: node-a 4608Mi, node-b 10Gi, node-gpu 20Gi.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, Sim, start_sim, stop_sim
from webhook_helpers import Webhook, controller, pod, review, start_webhook

POLICY: dict[str, Any] = {
    "mode": "enforce",
    "requireRequests": ["cpu", "memory"],
    "padding": {"memory": 0.75, "nodeTargets": [{"selector": {"matchLabels": {"workload": "io"}}, "memory": 0.5}]},
    "exemptNamespaces": ["kube-system"],
    "namespaceOverrides": {"dev": "warn", "legacy": "audit"},
}
IO_TOLERATION = [{"key": "dedicated", "operator": "Equal", "value": "io", "effect": "NoSchedule"}]
GPU_TOLERATION = [{"key": "nvidia.com/gpu", "operator": "Exists"}]


@pytest.fixture(scope="module")
def hook(fixture_cluster: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    w = start_webhook(tmp_path_factory.mktemp("webhook"), fixture_cluster, POLICY)
    yield w
    w.stop()


def answer(hook: Webhook, body: dict[str, Any]) -> dict[str, Any]:
    status, doc = hook.post(body)
    assert status == 200, doc
    assert doc["apiVersion"] == "admission.k8s.io/v1" and doc["kind"] == "AdmissionReview"
    assert doc["response"]["uid"] == body["request"]["uid"]
    return doc["response"]


def test_pod_without_requests_is_denied_naming_container_and_resource(hook: Webhook) -> None:
    r = answer(hook, review(pod(requests={"cpu": "100m"}, memory_limit=None)))
    assert r["allowed"] is False and r["status"]["code"] == 403
    assert "container 'main' has no memory request" in r["status"]["message"] and "cpu request" not in r["status"]["message"]


def test_limits_only_count_as_requests(hook: Webhook) -> None:
    p = pod(requests={}, memory_limit="1Gi")
    p["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "1"
    assert answer(hook, review(p))["allowed"] is True


def test_init_containers_and_sidecars_need_requests_too(hook: Webhook) -> None:
    p = pod()
    p["spec"]["initContainers"] = [
        {"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
        {"name": "setup", "image": "busybox", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
    ]
    p["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox"}]
    msg = answer(hook, review(p))["status"]["message"]
    assert "'proxy' has no cpu request" in msg and "'setup'" not in msg and "debug" not in msg


@pytest.mark.parametrize(
    ("limit", "extra", "allowed"),
    [
        ("10Gi", {}, True),  # node-a only (the others are tainted): 10Gi <= 12Gi
        ("13Gi", {}, False),  # 13Gi > 12Gi
        ("13Gi", {"tolerations": GPU_TOLERATION}, True),  # node-gpu's 48Gi is now within reach
        ("9Gi", {"nodeSelector": {"workload": "io"}, "tolerations": IO_TOLERATION}, False),  # node-b: 8Gi
        ("7Gi", {"nodeSelector": {"workload": "io"}, "tolerations": IO_TOLERATION}, True),
        (
            "40Gi",
            {
                "tolerations": GPU_TOLERATION,
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchExpressions": [{"key": "workload", "operator": "In", "values": ["gpu"]}]}]
                        }
                    }
                },
            },
            True,
        ),
        (
            "40Gi",
            {
                "tolerations": GPU_TOLERATION,
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchExpressions": [{"key": "workload", "operator": "NotIn", "values": ["gpu"]}]}]
                        }
                    }
                },
            },
            False,
        ),
    ],
)
def test_padding_against_the_nodes_a_pod_may_land_on(hook: Webhook, limit: str, extra: dict[str, Any], allowed: bool) -> None:
    r = answer(hook, review(pod(memory_limit=limit, **extra)))
    assert r["allowed"] is allowed, r
    if not allowed:
        assert "[padding]" in r["status"]["message"] and "largest" in r["status"]["message"]


def test_denial_names_the_largest_budget(hook: Webhook) -> None:
    msg = answer(hook, review(pod(memory_limit="13Gi")))["status"]["message"]
    assert "largest: 12Gi, 75% of 16Gi on node-a" in msg


def test_request_counts_when_no_limit(hook: Webhook) -> None:
    assert answer(hook, review(pod(memory_limit=None, requests={"cpu": "1", "memory": "13Gi"})))["allowed"] is False


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"])
def test_controllers_are_judged_by_their_pod_template(hook: Webhook, kind: str) -> None:
    r = answer(hook, review(controller(kind, pod(memory_limit="13Gi"))))
    assert r["allowed"] is False and f"denied {kind} shop/app" in r["status"]["message"]
    assert answer(hook, review(controller(kind, pod())))["allowed"] is True


def test_unchanged_update_passes_even_when_the_old_object_violates(hook: Webhook) -> None:
    old = pod(memory_limit="13Gi")
    new = json.loads(json.dumps(old))
    new["metadata"]["labels"]["extra"] = "yes"
    assert answer(hook, review(new, "UPDATE", old))["allowed"] is True
    new["spec"]["containers"][0]["resources"]["limits"]["memory"] = "14Gi"
    assert answer(hook, review(new, "UPDATE", old))["allowed"] is False


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
def test_delete_and_connect_are_allowed(hook: Webhook, operation: str) -> None:
    assert answer(hook, review(pod(memory_limit="99Gi"), operation))["allowed"] is True


def test_subresources_pass(hook: Webhook) -> None:
    assert answer(hook, review(pod(memory_limit="99Gi"), "UPDATE", sub_resource="status"))["allowed"] is True


def test_warn_mode_allows_with_short_warnings(hook: Webhook) -> None:
    r = answer(hook, review(pod(namespace="dev", memory_limit="13Gi", requests={"memory": "1Gi"})))
    assert r["allowed"] is True and len(r["warnings"]) == 2
    assert all(len(w) < 120 for w in r["warnings"])


def test_audit_mode_allows_and_counts(hook: Webhook) -> None:
    r = answer(hook, review(pod(namespace="legacy", memory_limit="13Gi")))
    assert r["allowed"] is True and "warnings" not in r
    status, text = hook.get("/metrics")
    assert status == 200 and "perf_webhook_requests_total" in text and "perf_webhook_node_cache_age_seconds" in text


def test_exempt_namespace(hook: Webhook) -> None:
    assert answer(hook, review(pod(namespace="kube-system", memory_limit="99Gi", requests={})))["allowed"] is True


def test_dry_run_gets_the_same_answer(hook: Webhook) -> None:
    r = answer(hook, review(pod(memory_limit="13Gi"), dry_run=True))
    assert r["allowed"] is False


@pytest.mark.parametrize(
    ("body", "ctype", "code"),
    [
        (b"not json", "application/json", 400),
        (b"[]", "application/json", 400),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}}).encode(),
            "application/json",
            400,
        ),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}).encode(), "application/json", 400),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), "application/json", 400),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}}).encode(),
            "application/json",
            400,
        ),
        (b"{}", "text/plain", 415),
        (b"{" + b" " * (3 * 1024 * 1024 + 10) + b"}", "application/json", 413),
    ],
)
def test_bad_input_is_a_4xx_never_a_5xx(hook: Webhook, body: bytes, ctype: str, code: int) -> None:
    status, doc = hook.post(body, ctype)
    assert status == code, doc


@pytest.mark.parametrize(
    "mangle",
    [
        lambda o: o["spec"].update(containers="nope"),
        lambda o: o["spec"]["containers"][0]["resources"]["limits"].update(memory="lots"),
        lambda o: o.update(spec=[]),
        lambda o: o["spec"]["containers"][0].update(resources=5),
    ],
)
def test_objects_of_unexpected_shape_get_an_answer(hook: Webhook, mangle: Any) -> None:
    obj = pod()
    mangle(obj)
    r = answer(hook, review(obj))
    assert r["allowed"] is False and r["status"]["code"] == 400 and "cannot read" in r["status"]["message"]


def test_keep_alive_serves_many_reviews_on_one_connection(hook: Webhook) -> None:
    conn = hook.connection()
    for i in range(50):
        status, doc = hook.post(review(pod(), uid=f"k{i}"), conn=conn)
        assert status == 200 and doc["response"]["uid"] == f"k{i}"
    conn.close()


def test_health_and_readiness(hook: Webhook) -> None:
    assert hook.get("/healthz") == (200, "ok\n")
    assert hook.get("/readyz")[0] == 200


def test_node_changes_reach_the_cache_through_the_watch(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory("--objects", str(DATA / "cluster.yaml"))
    hook = start_webhook(tmp_path, sim, POLICY, workers=1)
    try:
        big = pod(memory_limit="60Gi")
        assert answer(hook, review(big))["allowed"] is False
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node-big", "labels": {"workload": "general"}},
            "status": {"allocatable": {"cpu": "64", "memory": "128Gi", "pods": "110"}},
        }
        assert sim.request("/api/v1/nodes", "POST", node)[0] == 201
        deadline = time.monotonic() + 15
        while answer(hook, review(big))["allowed"] is False:
            assert time.monotonic() < deadline, "the new node never reached the webhook"
            time.sleep(0.2)
        assert sim.request("/api/v1/nodes/node-big", "DELETE")[0] == 200
        deadline = time.monotonic() + 15
        while answer(hook, review(big))["allowed"] is True:
            assert time.monotonic() < deadline, "the deleted node stayed in the cache"
            time.sleep(0.2)
    finally:
        hook.stop()


def test_committed_limits(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory("--objects", str(DATA / "cluster.yaml"))
    hook = start_webhook(tmp_path, sim, {**POLICY, "padding": {**POLICY["padding"], "committed": "deny"}}, workers=1)
    try:
        # node-a: 12Gi budget, 4608Mi committed: 7.5Gi of room. 8Gi fits the budget but not the room.
        r = answer(hook, review(pod(memory_limit="8Gi")))
        assert r["allowed"] is False and "[committed]" in r["status"]["message"] and "most room: 7.5Gi" in r["status"]["message"]
        assert answer(hook, review(pod(memory_limit="7Gi")))["allowed"] is True
    finally:
        hook.stop()


@pytest.mark.parametrize(("on_stale", "allowed"), [("deny", False), ("allow", True)])
def test_stale_cache_follows_on_stale_cache(tmp_path: Path, on_stale: str, allowed: bool) -> None:
    sim = start_sim(tmp_path / "sim", "--objects", str(DATA / "cluster.yaml"))
    hook = start_webhook(tmp_path / "hook", sim, {**POLICY, "onStaleCache": on_stale, "maxCacheAgeSeconds": 2}, workers=1)
    try:
        stop_sim(sim)
        time.sleep(3)
        r = answer(hook, review(pod(memory_limit="1Gi")))
        assert r["allowed"] is allowed
        if not allowed:
            assert "stale" in r["status"]["message"]
    finally:
        hook.stop()


def test_certificate_rotation_without_a_failed_request(fixture_cluster: Sim, tmp_path: Path) -> None:
    import ssl

    from perf_sim.cli import self_signed

    hook = start_webhook(tmp_path / "hook", fixture_cluster, POLICY, workers=1)
    try:
        first = ssl.get_server_certificate(("127.0.0.1", hook.port))
        failures: list[str] = []
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                try:
                    status, _ = hook.post(review(pod()))
                    if status != 200:
                        failures.append(str(status))
                except Exception as err:  # a failed handshake or a reset
                    failures.append(repr(err))

        thread = threading.Thread(target=hammer)
        thread.start()
        # rotate: a new CA and certificate, written over the files in place
        (tmp_path / "rotated").mkdir()
        new_cert, new_key, new_ca = self_signed(tmp_path / "rotated")
        hook.ca.write_bytes(hook.ca.read_bytes() + new_ca)  # clients trust both CAs while the certificate changes
        time.sleep(0.5)
        os.replace(new_key, hook.workdir / "tls.key.new")
        (hook.workdir / "tls.crt").write_bytes(new_cert.read_bytes())
        os.replace(hook.workdir / "tls.key.new", hook.workdir / "tls.key")
        deadline = time.monotonic() + 15
        while ssl.get_server_certificate(("127.0.0.1", hook.port)) == first:
            assert time.monotonic() < deadline, "the new certificate was never served"
            time.sleep(0.3)
        time.sleep(0.5)
        stop.set()
        thread.join()
        assert not failures, failures[:5]
    finally:
        hook.stop()


def test_bad_policy_stops_start_up(fixture_cluster: Sim, tmp_path: Path) -> None:
    hook = start_webhook(tmp_path, fixture_cluster, {"padding": {"memory": 2}}, wait_ready=False)
    assert hook.proc.wait(30) == 2
    text = hook.log.read_text()
    assert "padding.memory: 2 is greater than the maximum of 1" in text and "Traceback" not in text


def test_sigterm_stops_it(fixture_cluster: Sim, tmp_path: Path) -> None:
    hook = start_webhook(tmp_path, fixture_cluster, POLICY, workers=1)
    hook.proc.send_signal(signal.SIGTERM)
    assert hook.proc.wait(20) == 0
