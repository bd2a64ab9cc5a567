"""The admission webhook: admission cases in-process through create_app(...).test_client()
over a node cache fed tests/data/cluster.yaml; gunicorn over real HTTPS for keep-alive,
the watch, committed limits from the pod feed, stale caches, certificates and signals.

Budgets in tests/data/cluster.yaml with POLICY: node-a 0.75 x 16Gi = 12Gi (no taints),
node-b 0.5 x 16Gi = 8Gi (workload=io, tainted dedicated=io), node-gpu 0.75 x 64Gi = 48Gi
(tainted nvidia.com/gpu). Committed memory limits: node-a 4608Mi, node-b 10Gi, node-gpu 20Gi.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DATA, Sim, start_sim, stop_sim
from kubectl_perf.policy_file import parse_policy
from perf_webhook.app import create_app
from perf_webhook.cache import NodeViewCache
from review_helpers import GPU_TOLERATION, IO_TOLERATION, POLICY
from webhook_helpers import Webhook, controller, pod, review, start_webhook


def fixture_objects(kind: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all((DATA / "cluster.yaml").read_text()):
        out.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    return [o for o in out if o.get("kind") == kind]


def no_api() -> Any:
    raise AssertionError("in-process tests feed the cache themselves")


class InProcess:
    """The app through Flask's test client, with Webhook's post/get."""

    def __init__(self, policy: dict[str, Any], synced: bool = True) -> None:
        parsed = parse_policy(policy)
        self.cache = NodeViewCache(no_api, parsed, clock=lambda: 1000.0)  # a clock that stands still: never stale
        if synced:
            self.cache.nodes.replace(fixture_objects("Node"))
            if self.cache.pods:
                self.cache.pods.replace(fixture_objects("Pod"))
        self.client = create_app(parsed, self.cache).test_client()

    def post(self, body: Any, content_type: str = "application/json") -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        resp = self.client.post("/validate", data=data, content_type=content_type)
        try:
            return resp.status_code, json.loads(resp.data)
        except ValueError:
            return resp.status_code, resp.data

    def get(self, path: str) -> tuple[int, str]:
        resp = self.client.get(path)
        return resp.status_code, resp.get_data(as_text=True)


@pytest.fixture(scope="module")
def hook() -> InProcess:
    return InProcess(POLICY)


def answer(hook: Webhook | InProcess, body: dict[str, Any]) -> dict[str, Any]:
    status, doc = hook.post(body)
    assert status == 200, doc
    assert doc["apiVersion"] == "admission.k8s.io/v1" and doc["kind"] == "AdmissionReview"
    assert doc["response"]["uid"] == body["request"]["uid"]
    return doc["response"]


def test_pod_without_requests_is_denied_naming_container_and_resource(hook: InProcess) -> None:
    r = answer(hook, review(pod(requests={"cpu": "100m"}, memory_limit=None)))
    assert r["allowed"] is False and r["status"]["code"] == 403
    assert "container 'main' has no memory request" in r["status"]["message"] and "cpu request" not in r["status"]["message"]


def test_limits_only_count_as_requests(hook: InProcess) -> None:
    p = pod(requests={}, memory_limit="1Gi")
    p["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "1"
    assert answer(hook, review(p))["allowed"] is True


def test_init_containers_and_sidecars_need_requests_too(hook: InProcess) -> None:
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
        # node-gpu's 48Gi is within reach, but so is node-a's 12Gi, where the scheduler may put it
        # (padding.eligibleNodes: every, issue 27); a nodeSelector for the gpu pool admits it
        ("13Gi", {"tolerations": GPU_TOLERATION}, False),
        ("13Gi", {"tolerations": GPU_TOLERATION, "nodeSelector": {"workload": "gpu"}}, True),
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
def test_padding_against_the_nodes_a_pod_may_land_on(hook: InProcess, limit: str, extra: dict[str, Any], allowed: bool) -> None:
    r = answer(hook, review(pod(memory_limit=limit, **extra)))
    assert r["allowed"] is allowed, r
    if not allowed:
        assert "[padding]" in r["status"]["message"] and "exceeds the padding budget" in r["status"]["message"]


def test_denial_names_the_largest_budget(hook: InProcess) -> None:
    msg = answer(hook, review(pod(memory_limit="13Gi")))["status"]["message"]
    assert "largest: 12Gi, 75% of 16Gi on node-a" in msg


def test_request_counts_when_no_limit(hook: InProcess) -> None:
    assert answer(hook, review(pod(memory_limit=None, requests={"cpu": "1", "memory": "13Gi"})))["allowed"] is False


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"])
def test_controllers_are_judged_by_their_pod_template(hook: InProcess, kind: str) -> None:
    r = answer(hook, review(controller(kind, pod(memory_limit="13Gi"))))
    assert r["allowed"] is False and f"denied {kind} shop/app" in r["status"]["message"]
    assert answer(hook, review(controller(kind, pod())))["allowed"] is True


def test_unchanged_update_passes_even_when_the_old_object_violates(hook: InProcess) -> None:
    old = pod(memory_limit="13Gi")
    new = json.loads(json.dumps(old))
    new["metadata"]["labels"]["extra"] = "yes"
    assert answer(hook, review(new, "UPDATE", old))["allowed"] is True
    new["spec"]["containers"][0]["resources"]["limits"]["memory"] = "14Gi"
    assert answer(hook, review(new, "UPDATE", old))["allowed"] is False


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
def test_delete_and_connect_are_allowed(hook: InProcess, operation: str) -> None:
    assert answer(hook, review(pod(memory_limit="99Gi"), operation))["allowed"] is True


def test_subresources_pass(hook: InProcess) -> None:
    assert answer(hook, review(pod(memory_limit="99Gi"), "UPDATE", sub_resource="status"))["allowed"] is True


def test_warn_mode_allows_with_short_warnings(hook: InProcess) -> None:
    r = answer(hook, review(pod(namespace="dev", memory_limit="13Gi", requests={"memory": "1Gi"})))
    assert r["allowed"] is True and len(r["warnings"]) == 2
    assert all(len(w) < 120 for w in r["warnings"])


def test_audit_mode_allows_and_counts(hook: InProcess) -> None:
    r = answer(hook, review(pod(namespace="legacy", memory_limit="13Gi")))
    assert r["allowed"] is True and "warnings" not in r
    status, text = hook.get("/metrics")
    assert status == 200 and "perf_webhook_requests_total" in text and "perf_webhook_node_cache_age_seconds" in text


def test_exempt_namespace(hook: InProcess) -> None:
    assert answer(hook, review(pod(namespace="kube-system", memory_limit="99Gi", requests={})))["allowed"] is True


def test_dry_run_gets_the_same_answer(hook: InProcess) -> None:
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
        (b"{" + b" " * (20 * 1024 * 1024 + 10) + b"}", "application/json", 413),
    ],
)
def test_bad_input_is_a_4xx_never_a_5xx(hook: InProcess, body: bytes, ctype: str, code: int) -> None:
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
def test_objects_of_unexpected_shape_get_an_answer(hook: InProcess, mangle: Any) -> None:
    obj = pod()
    mangle(obj)
    r = answer(hook, review(obj))
    assert r["allowed"] is False and r["status"]["code"] == 400 and "cannot read" in r["status"]["message"]


@pytest.fixture(scope="module")
def served(fixture_cluster: Sim, tmp_path_factory: pytest.TempPathFactory) -> Any:
    w = start_webhook(tmp_path_factory.mktemp("webhook"), fixture_cluster, POLICY)
    yield w
    w.stop()


def test_keep_alive_serves_many_reviews_on_one_connection(served: Webhook) -> None:
    conn = served.connection()
    for i in range(50):
        status, doc = served.post(review(pod(), uid=f"k{i}"), conn=conn)
        assert status == 200 and doc["response"]["uid"] == f"k{i}"
    conn.close()


def test_served_decisions_judge_and_log_one_json_line(served: Webhook) -> None:
    r = answer(served, review(pod(memory_limit="13Gi"), uid="logged-1"))
    assert r["allowed"] is False
    deadline = time.monotonic() + 5
    while "logged-1" not in served.log.read_text():
        assert time.monotonic() < deadline, "the denial was never logged"
        time.sleep(0.1)
    line = next(x for x in served.log.read_text().splitlines() if "logged-1" in x)
    doc = json.loads(line)  # the whole line is JSON
    assert doc["uid"] == "logged-1" and doc["rules"] == ["padding"] and doc["kind"] == "Pod" and doc["name"] == "app"
    assert doc["user"] == "tester" and doc["namespace"] == "shop" and "13Gi" in doc["message"] and "spec" not in line


def test_health_and_readiness(served: Webhook) -> None:
    assert served.get("/healthz") == (200, "ok\n")
    assert served.get("/readyz") == (200, "ok (node cache synced)\n")
    status, text = served.get("/healthz?verbose")
    assert status == 200 and "node-cache synced: 3 nodes" in text


def test_node_changes_reach_the_cache_through_the_watch(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory("--objects", str(DATA / "cluster.yaml"))
    # eligibleNodes: any, so that one new node large enough admits the pod beside node-a's 12Gi
    hook = start_webhook(tmp_path, sim, {**POLICY, "padding": {**POLICY["padding"], "eligibleNodes": "any"}}, workers=1)
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


# -- decisions in the log (issue 7 item 12) ------------------------------------------------------
def test_each_denial_and_warning_is_one_json_line_without_the_object(caplog: pytest.LogCaptureFixture) -> None:
    app = InProcess(POLICY)
    obj = pod(name="big", memory_limit="13Gi")
    obj["metadata"]["annotations"] = {"secret-ish": "do-not-log-me"}
    with caplog.at_level(logging.INFO, logger="perf_webhook.decisions"):
        answer(app, review(obj, uid="d-1"))
        answer(app, review(pod(name="w", namespace="dev", memory_limit="13Gi"), uid="w-1"))
        answer(app, review(pod(name="fine"), uid="ok-1"))
    lines = [r.getMessage() for r in caplog.records if r.name == "perf_webhook.decisions"]
    assert len(lines) == 2  # the allowed pod without findings is not logged
    denied, warned = (json.loads(x) for x in lines)
    assert denied["uid"] == "d-1" and denied["allowed"] is False and denied["rules"] == ["padding"]
    assert (denied["namespace"], denied["kind"], denied["name"], denied["user"]) == ("shop", "Pod", "big", "tester")
    assert denied["message"].startswith("kubectl-perf denied Pod shop/big: [padding] memory 13Gi")
    assert warned["uid"] == "w-1" and warned["allowed"] is True and warned["mode"] == "warn" and "13Gi" in warned["message"]
    assert not any("do-not-log-me" in x or "containers" in x for x in lines)


# -- metrics (item 11) ---------------------------------------------------------------------------
def metric(text: str, name: str) -> float:
    """A sample's value from the exposition text, 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_metrics_count_denials_by_rule_and_skipped_padding_checks() -> None:
    app = InProcess(POLICY)
    answer(app, review(pod(memory_limit="13Gi", requests={"memory": "1Gi"})))  # padding and requests (no cpu)
    answer(app, review(pod(memory_limit="13Gi")))  # padding
    answer(app, review(pod(memory_limit="1Gi", nodeSelector={"workload": "none-such"})))  # no node may take it
    text = app.get("/metrics")[1]
    assert metric(text, 'perf_webhook_denials_total{rule="padding"}') == 2
    assert metric(text, 'perf_webhook_denials_total{rule="requests"}') == 1
    assert metric(text, 'perf_webhook_padding_skipped_total{reason="no_eligible_node"}') == 1
    assert metric(text, "perf_webhook_request_duration_seconds_count") == 3
    assert metric(text, "perf_webhook_node_cache_synced") == 1 and metric(text, "perf_webhook_node_cache_nodes") == 3


# -- before the cache syncs (item 13) -------------------------------------------------------------
@pytest.mark.parametrize(("on_stale", "allowed"), [("allow", True), ("deny", False)])
def test_before_the_cache_syncs_requests_are_judged_and_padding_follows_on_stale_cache(on_stale: str, allowed: bool) -> None:
    app = InProcess({**POLICY, "onStaleCache": on_stale}, synced=False)
    assert app.get("/readyz") == (200, "ok (node cache not synced: padding follows onStaleCache)\n")
    assert "node-cache not synced" in app.get("/healthz?verbose")[1]
    no_cpu = answer(app, review(pod(requests={"memory": "1Gi"})))
    assert no_cpu["allowed"] is False and "has no cpu request" in no_cpu["status"]["message"]
    r = answer(app, review(pod(memory_limit="1Gi")))
    assert r["allowed"] is allowed
    if allowed:
        assert r["warnings"] == ["[padding] not checked: the webhook's view of the nodes is stale (onStaleCache: allow)"]
    else:
        assert "stale" in r["status"]["message"]
    text = app.get("/metrics")[1]
    assert metric(text, "perf_webhook_node_cache_synced") == 0 and metric(text, "perf_webhook_node_cache_age_seconds") == -1
    assert metric(text, 'perf_webhook_padding_skipped_total{reason="stale_cache"}') == 2


def test_ready_and_judging_while_the_api_server_is_unreachable(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9", "insecure-skip-tls-verify": True}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    hook = start_webhook(tmp_path / "hook", None, POLICY, wait_ready=False, kubeconfig=kubeconfig)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if hook.get("/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert hook.proc.poll() is None and time.monotonic() < deadline, "never ready"
            time.sleep(0.1)
        r = answer(hook, review(pod(memory_limit="1Gi")))
        assert r["allowed"] is True and "stale" in r["warnings"][0]
        assert answer(hook, review(pod(requests={"memory": "1Gi"})))["allowed"] is False
        assert "connect" in hook.get("/healthz?verbose")[1].lower() or "not synced" in hook.get("/healthz?verbose")[1]
    finally:
        hook.stop()
