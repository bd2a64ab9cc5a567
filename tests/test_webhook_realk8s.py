"""perf-webhook behind a real kube-apiserver (v1.36, ../shared/kube-apiserver), registered by the
chart's own ValidatingWebhookConfiguration and driven by the real kubectl.

The webhook runs under gunicorn over TLS on loopback with the real server's kubeconfig, so its
node cache reads the Nodes made here. The chart's template is rendered by the real Helm engine
with the test's CA (tls.mode secret) and a URL (webhook.url) instead of the in-cluster Service.
Budgets below are worked by hand: small-1 has 8Gi allocatable x 0.75 = 6Gi; big-1 has 16Gi x 0.75
= 12Gi and a taint that only tolerating pods pass.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from perf_sim.cli import self_signed
from realk8s import RealK8s, start
from webhook_helpers import Webhook, start_webhook

helm = pytest.importorskip("helm_python")
CHART = Path(__file__).resolve().parents[1] / "charts" / "kubectl-perf-webhook"
NS = "shop"
WARN_NS = "shop-trial"  # a namespace the policy only warns in
RELEASE_NS = "perf-system"  # the chart's release namespace: never judged
POLICY = {
    "mode": "enforce",
    "requireRequests": ["cpu", "memory"],
    "padding": {"memory": 0.75},
    "namespaceOverrides": {WARN_NS: "warn"},
    "messages": "detailed",  # node names in denials, which these tests read (test_webhook_defaults_realk8s: pools)
}
DENIED = 'admission webhook "pods.perf.kubectl.dev" denied the request'
UNREACHABLE = 'failed calling webhook "pods.perf.kubectl.dev"'


def node(name: str, memory: str, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    resources = {"cpu": "8", "memory": memory, "pods": "110"}
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
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"taints": taints or []},
        "status": {"capacity": resources, "allocatable": resources, "conditions": [ready]},
    }


def pod(name: str, limit: str | None = "1Gi", requests: bool = True, namespace: str = NS, **spec: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = {"cpu": "100m", "memory": "256Mi"}
    if limit:
        resources["limits"] = {"memory": limit}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": "nginx", "resources": resources}], **spec},
    }


def deployment(name: str, limit: str) -> dict[str, Any]:
    template = pod(name, limit)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": template["spec"]},
        },
    }


def webhook_configuration(ca: bytes, port: int, failure_policy: str) -> dict[str, Any]:
    """The chart's ValidatingWebhookConfiguration, pointed at a webhook on loopback."""
    values = {
        "tls": {"mode": "secret", "secret": {"name": "unused-here", "caBundle": base64.b64encode(ca).decode()}},
        "webhook": {"url": f"https://127.0.0.1:{port}/validate", "failurePolicy": failure_policy},
    }
    out = helm.Chart.load(str(CHART)).render(values, name="perf", namespace=RELEASE_NS)
    docs = [d for path, text in out.items() if path.endswith("webhook.yaml") for d in yaml.safe_load_all(text) if d]
    (vwc,) = [d for d in docs if d["kind"] == "ValidatingWebhookConfiguration"]
    return vwc


def eventually(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    """The API server picks up a changed webhook configuration within a second or so."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s: {what}")
        time.sleep(0.2)


class Cluster:
    def __init__(self, k8s: RealK8s, hook: Webhook, workdir: Path) -> None:
        self.k8s, self.hook, self.workdir = k8s, hook, workdir

    def kubectl(self, *args: str, input: Any = None) -> Any:
        text = json.dumps(input) if isinstance(input, dict) else input
        return self.k8s.kubectl(*args, input=text, check=False)

    def create(self, obj: dict[str, Any], *flags: str) -> Any:
        return self.kubectl("create", "-f", "-", *flags, input=obj)

    def register(self, hook: Webhook, failure_policy: str = "Fail", ca: bytes | None = None) -> None:
        vwc = webhook_configuration(ca or hook.ca.read_bytes(), hook.port, failure_policy)
        result = self.kubectl("apply", "-f", "-", input=vwc)
        assert result.returncode == 0, result.stderr

    def exists(self, kind: str, name: str, namespace: str = NS) -> bool:
        return self.kubectl("get", kind, name, "-n", namespace).returncode == 0

    def delete(self, kind: str, name: str, namespace: str = NS) -> None:
        self.kubectl("delete", kind, name, "-n", namespace, "--ignore-not-found", "--wait=false")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A private API server (these tests register a webhook with failurePolicy Fail) with two nodes
    and a running perf-webhook registered through the chart's template."""
    k8s = start(tmp_path_factory.mktemp("realk8s"))
    hook: Webhook | None = None
    try:
        k8s.load(
            [
                node("small-1", "8Gi"),
                node("big-1", "16Gi", [{"key": "dedicated", "value": "big", "effect": "NoSchedule"}]),
                *({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in (NS, WARN_NS, RELEASE_NS)),
            ]
        )
        # A pod from before the webhook: no requests, which the webhook would refuse today.
        k8s.create(pod("legacy", requests=False, nodeName="small-1"))
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


@pytest.fixture
def live(cluster: Cluster) -> Cluster:
    """The module's webhook registered with Fail (a test before may have changed that)."""
    cluster.register(cluster.hook)
    eventually(lambda: DENIED in cluster.create(pod("probe", requests=False), "--dry-run=server").stderr, "the webhook judges pods")
    return cluster


def test_create_is_refused_with_the_webhooks_message(live: Cluster) -> None:
    result = live.create(pod("no-requests", requests=False))
    assert result.returncode != 0
    assert DENIED in result.stderr and "kubectl-perf denied Pod shop/no-requests" in result.stderr
    assert "[requests]" in result.stderr and "has no cpu request" in result.stderr
    # the API server defaulted the memory request from the 1Gi limit before asking
    assert "memory request" not in result.stderr
    assert not live.exists("pod", "no-requests")


def test_padding_budget_comes_from_the_real_nodes(live: Cluster) -> None:
    """7Gi fits no node this pod may use (small-1: 6Gi); with big-1's taint tolerated and a
    nodeSelector for big-1 (else small-1 stays eligible: padding.eligibleNodes every) it fits 12Gi."""
    result = live.create(pod("too-big", "7Gi"))
    assert result.returncode != 0 and DENIED in result.stderr
    assert "[padding]" in result.stderr and "6Gi" in result.stderr and "small-1" in result.stderr
    tolerating = pod(
        "tolerates-big",
        "7Gi",
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "big", "effect": "NoSchedule"}],
        nodeSelector={"kubernetes.io/hostname": "big-1"},
    )
    made = live.create(tolerating)
    assert made.returncode == 0, made.stderr
    live.delete("pod", "tolerates-big")


def test_kubectl_apply_of_a_controller(live: Cluster) -> None:
    refused = live.kubectl("apply", "-f", "-", input=deployment("web-huge", "13Gi"))
    assert refused.returncode != 0 and DENIED in refused.stderr and "Deployment shop/web-huge" in refused.stderr
    assert "[padding]" in refused.stderr
    applied = live.kubectl("apply", "-f", "-", input=deployment("web", "2Gi"))
    assert applied.returncode == 0 and "deployment.apps/web created" in applied.stdout, applied.stderr
    # raising the template's limit past every budget is an UPDATE the webhook refuses
    raised = live.kubectl("apply", "-f", "-", input=deployment("web", "7Gi"))
    assert raised.returncode != 0 and DENIED in raised.stderr
    live.delete("deployment", "web")


def test_server_side_dry_run(live: Cluster) -> None:
    refused = live.create(pod("dry-bad", "7Gi"), "--dry-run=server")
    assert refused.returncode != 0 and DENIED in refused.stderr
    admitted = live.create(pod("dry-good", "1Gi"), "--dry-run=server")
    assert admitted.returncode == 0 and "created (server dry run)" in admitted.stdout, admitted.stderr
    assert not live.exists("pod", "dry-good")


def test_label_and_annotation_updates_pass(live: Cluster) -> None:
    """legacy has no requests: judged as a new pod it would be refused."""
    assert live.kubectl("label", "pod", "legacy", "-n", NS, "team=shop", "--overwrite").returncode == 0
    assert live.kubectl("annotate", "pod", "legacy", "-n", NS, "note=relabelled", "--overwrite").returncode == 0
    labels = json.loads(live.kubectl("get", "pod", "legacy", "-n", NS, "-o", "json").stdout)["metadata"]["labels"]
    assert labels["team"] == "shop"


def resize(cluster: Cluster, name: str, memory: str) -> Any:
    patch = {"spec": {"containers": [{"name": "main", "resources": {"limits": {"memory": memory}}}]}}
    return cluster.kubectl("patch", "pod", name, "-n", NS, "--subresource", "resize", "--patch", json.dumps(patch))


def memory_limit(cluster: Cluster, name: str) -> str:
    got = json.loads(cluster.kubectl("get", "pod", name, "-n", NS, "-o", "json").stdout)
    return str(got["spec"]["containers"][0]["resources"]["limits"]["memory"])


def test_in_place_resize_within_the_budget_is_admitted(live: Cluster) -> None:
    made = live.create(pod("resize-ok", "1Gi", nodeName="small-1"))
    assert made.returncode == 0, made.stderr
    try:
        within = resize(live, "resize-ok", "2Gi")  # 2Gi < small-1's 6Gi budget
        assert within.returncode == 0 and "patched" in within.stdout, within.stderr
        assert memory_limit(live, "resize-ok") == "2Gi"
    finally:
        live.delete("pod", "resize-ok")


def test_in_place_resize_past_the_budget_is_refused(live: Cluster) -> None:
    """The chart registers pods/resize (proven in test_webhook_down_under_fail_and_ignore);
    the webhook must judge the resized pod: 7Gi fits no node it runs on (small-1: 6Gi)."""
    made = live.create(pod("resize-big", "1Gi", nodeName="small-1"))
    assert made.returncode == 0, made.stderr
    try:
        breach = resize(live, "resize-big", "7Gi")
        assert breach.returncode != 0 and DENIED in breach.stderr, breach.stderr
        assert "[padding]" in breach.stderr and "6Gi" in breach.stderr
        assert memory_limit(live, "resize-big") == "1Gi"
    finally:
        live.delete("pod", "resize-big")


def test_warn_mode_admits_with_kubectl_warnings(live: Cluster) -> None:
    made = live.create(pod("trial", requests=False, namespace=WARN_NS))
    assert made.returncode == 0, made.stderr
    assert "Warning: [requests] container 'main' has no cpu request" in made.stderr
    live.delete("pod", "trial", WARN_NS)


def test_webhook_down_under_fail_and_ignore(cluster: Cluster) -> None:
    """A webhook of its own, stopped: Fail refuses what it would judge (but metadata-only updates
    never reach it); Ignore admits even what it would have refused."""
    hook = start_webhook(cluster.workdir / "down", cluster.k8s, POLICY, workers=1)  # type: ignore[arg-type]
    try:
        cluster.register(hook, "Fail")
        eventually(
            lambda: DENIED in cluster.create(pod("down-probe", requests=False), "--dry-run=server").stderr, "the second webhook judges"
        )
    finally:
        hook.stop()
    # nothing listens there now
    refused = cluster.create(pod("down-good", "1Gi"))
    assert refused.returncode != 0 and UNREACHABLE in refused.stderr, refused.stderr
    assert not cluster.exists("pod", "down-good")
    # matchConditions: the API server does not call the webhook for a label-only update...
    assert cluster.kubectl("label", "pod", "legacy", "-n", NS, "while-down=yes").returncode == 0
    # ...but a change of spec needs it, and it is not there
    changed = cluster.kubectl("set", "image", "pod/legacy", "-n", NS, "main=nginx:1.27")
    assert changed.returncode != 0 and UNREACHABLE in changed.stderr, changed.stderr
    # the chart registers the subresources that change a running pod: the API server asks for them too
    resized = resize(cluster, "legacy", "2Gi")
    assert resized.returncode != 0 and UNREACHABLE in resized.stderr, resized.stderr
    debugged = cluster.kubectl("debug", "pod/legacy", "-n", NS, "--image=busybox", "--profile=general", "--", "true")
    assert debugged.returncode != 0 and UNREACHABLE in debugged.stderr, debugged.stderr
    # the release's namespace is never judged, so the webhook can always be brought back
    own = cluster.create(pod("perf-webhook-0", requests=False, namespace=RELEASE_NS))
    assert own.returncode == 0, own.stderr
    cluster.delete("pod", "perf-webhook-0", RELEASE_NS)

    cluster.register(hook, "Ignore")
    eventually(lambda: cluster.create(pod("down-bad", requests=False)).returncode == 0, "Ignore admits while the webhook is down")
    assert cluster.exists("pod", "down-bad")  # no requests, yet admitted: nobody judged it
    cluster.delete("pod", "down-bad")


def test_a_caBundle_that_does_not_match_is_a_failed_call(cluster: Cluster) -> None:
    """The caBundle in the chart's template is what the API server trusts: another CA fails the call."""
    (cluster.workdir / "other-ca").mkdir()
    cluster.register(cluster.hook, "Fail", ca=self_signed(cluster.workdir / "other-ca")[2])
    eventually(lambda: UNREACHABLE in cluster.create(pod("wrong-ca", "1Gi"), "--dry-run=server").stderr, "a caBundle of another CA fails")
    assert "x509" in cluster.create(pod("wrong-ca", "1Gi"), "--dry-run=server").stderr


def test_kubectl_debug_adds_an_ephemeral_container_through_the_webhook(live: Cluster) -> None:
    """Ephemeral containers cannot set resources (the API server refuses them): the webhook judges
    the pod they join, and a pod that meets the policy can still be debugged."""
    made = live.create(pod("debuggable", "1Gi", nodeName="small-1"))
    assert made.returncode == 0, made.stderr
    try:
        debugged = live.kubectl("debug", "pod/debuggable", "-n", NS, "--image=busybox", "--profile=general", "--", "true")
        assert debugged.returncode == 0, debugged.stderr
        got = json.loads(live.kubectl("get", "pod", "debuggable", "-n", NS, "-o", "json").stdout)
        assert [c["image"] for c in got["spec"]["ephemeralContainers"]] == ["busybox"]
    finally:
        live.delete("pod", "debuggable")


def zero_memory_pod(name: str, **spec: Any) -> dict[str, Any]:
    """A pod whose memory request and limit are both "0" (the API server refuses a request above
    the limit, so a zero limit comes with a zero request): the kubelet reads it as no limit."""
    made = pod(name, "0", **spec)
    made["spec"]["containers"][0]["resources"]["requests"]["memory"] = "0"
    return made


def test_a_zero_memory_amount_is_no_amount(live: Cluster) -> None:
    """Issue 27 bypass 1: "0" passed both rules (present for requireRequests, a need of 0 for
    padding), on create, resize and a template change."""
    refused = live.create(zero_memory_pod("zero"))
    assert refused.returncode != 0 and DENIED in refused.stderr, refused.stderr
    assert "[requests] container 'main' has no memory request (0 counts as none)" in refused.stderr
    assert "[padding] container 'main' has neither a memory limit nor a request" in refused.stderr
    assert not live.exists("pod", "zero")
    # a resize to "0" is a resize to no limit
    made = live.create(pod("resize-zero", "1Gi", nodeName="small-1"))
    assert made.returncode == 0, made.stderr
    try:
        patch = {"spec": {"containers": [{"name": "main", "resources": {"limits": {"memory": "0"}, "requests": {"memory": "0"}}}]}}
        zeroed = live.kubectl("patch", "pod", "resize-zero", "-n", NS, "--subresource", "resize", "--patch", json.dumps(patch))
        assert zeroed.returncode != 0 and DENIED in zeroed.stderr, zeroed.stderr
        assert "unbounded" in zeroed.stderr
        assert memory_limit(live, "resize-zero") == "1Gi"
    finally:
        live.delete("pod", "resize-zero")
    # a workload whose template is patched to "0"
    applied = live.kubectl("apply", "-f", "-", input=deployment("web-zero", "1Gi"))
    assert applied.returncode == 0, applied.stderr
    try:
        zero = {"limits": {"memory": "0"}, "requests": {"memory": "0"}}
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "resources": zero}]}}}}
        patched = live.kubectl("patch", "deployment", "web-zero", "-n", NS, "--patch", json.dumps(patch))
        assert patched.returncode != 0 and DENIED in patched.stderr and "unbounded" in patched.stderr, patched.stderr
    finally:
        live.delete("deployment", "web-zero")


def test_node_name_on_a_tainted_node_is_judged_by_the_kubelets_rules(live: Cluster) -> None:
    """Issue 27 bypass 2: big-1 is tainted NoSchedule, which the kubelet ignores for a pod bound by
    nodeName; its budget (16Gi x 0.75 = 12Gi) applies. Before, 13Gi was "no eligible node": allowed."""
    refused = live.create(pod("bound-big", "13Gi", nodeName="big-1"), "--dry-run=server")
    assert refused.returncode != 0 and DENIED in refused.stderr, refused.stderr
    assert "[padding]" in refused.stderr and "largest: 12Gi, 75% of 16Gi on big-1" in refused.stderr
    admitted = live.create(pod("bound-fits", "10Gi", nodeName="big-1"), "--dry-run=server")
    assert admitted.returncode == 0 and "Warning" not in admitted.stderr, admitted.stderr
    # a node nobody knows: padding.noEligibleNode (warn) decides
    ghost = live.create(pod("bound-ghost", "13Gi", nodeName="ghost-1"), "--dry-run=server")
    assert ghost.returncode == 0 and "Warning: [padding] no node matches" in ghost.stderr, ghost.stderr


def test_a_pod_must_fit_every_node_the_scheduler_may_place_it_on(live: Cluster) -> None:
    """Issue 27 bypass 3: `tolerations: [{operator: Exists}]` makes big-1 (12Gi) eligible, and 10Gi
    fits it; but the scheduler places by requests (256Mi), so the pod may land on small-1 (6Gi).
    Before, "fits at least one eligible node" admitted it."""
    everywhere = [{"operator": "Exists"}]
    refused = live.create(pod("tolerates-all", "10Gi", tolerations=everywhere), "--dry-run=server")
    assert refused.returncode != 0 and DENIED in refused.stderr, refused.stderr
    assert "node pools the scheduler may place it on" in refused.stderr and "small-1 (1 node, budget 6Gi: 75% of 8Gi)" in refused.stderr
    assert "big-1" not in refused.stderr
    # kept to big-1, it fits
    kept = pod("kept-to-big", "10Gi", tolerations=everywhere, nodeSelector={"kubernetes.io/hostname": "big-1"})
    admitted = live.create(kept, "--dry-run=server")
    assert admitted.returncode == 0, admitted.stderr


def test_a_denial_through_the_api_server_is_bounded(live: Cluster) -> None:
    """Issue 27 operations 13: 120 containers (within limits.containers) with a 1Gi limit and no cpu
    request: 120 [requests] findings (the API server defaults the memory request from the limit),
    and 120Gi over small-1's 6Gi: one [padding]. 121: ten listed, then "... and 111 more"."""
    many = pod("many", "1Gi", requests=False)
    many["spec"]["containers"] = [{"name": f"c{i}", "image": "nginx", "resources": {"limits": {"memory": "1Gi"}}} for i in range(120)]
    refused = live.create(many, "--dry-run=server")
    assert refused.returncode != 0 and DENIED in refused.stderr, refused.stderr[:500]
    assert refused.stderr.count("[requests]") == 10 and "; ... and 111 more" in refused.stderr, refused.stderr[-300:]
    assert len(refused.stderr) < 2000


def test_the_tolerations_admission_adds_do_not_count_against_the_limit(live: Cluster) -> None:
    """A pod listing 128 tolerations (limits.tolerations) reaches the webhook with 130: the API
    server's DefaultTolerationSeconds plugin adds not-ready and unreachable (NoExecute, 300 s). Those
    two are not counted, so 128 is judged (and fits small-1); 129 of its own is one past the limit."""
    own = [{"key": f"t{i}", "operator": "Exists", "effect": "NoSchedule"} for i in range(128)]
    at_limit = live.create(pod("tolerant", "1Gi", tolerations=own), "--dry-run=server", "-o", "json")
    assert at_limit.returncode == 0, at_limit.stderr[:500]
    keys = [t["key"] for t in json.loads(at_limit.stdout)["spec"]["tolerations"]]
    assert len(keys) == 130 and keys[-2:] == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"], keys[-3:]
    past = live.create(pod("tolerant", "1Gi", tolerations=[*own, {"key": "t128", "operator": "Exists"}]), "--dry-run=server")
    assert past.returncode != 0 and "129 tolerations, past the limit of 128 (limits.tolerations)" in past.stderr, past.stderr[:500]


def test_a_large_escaped_pod_is_judged_not_refused_for_its_size(live: Cluster) -> None:
    """Issue 27 availability 9: a 0.45 MB pod of `<>&` (an env value; annotations stop at 256 KiB)
    is written by Go as 6-byte escapes: 2.7 MB in the review of its create, and twice that in the
    review of an UPDATE (object and old object), past the old 3 MiB cap: a 413, so under Fail the
    resize failed whatever it asked, and under Ignore any resize passed unjudged."""
    heavy = pod("heavy", "1Gi", nodeName="small-1")
    heavy["spec"]["containers"][0]["env"] = [{"name": "PAYLOAD", "value": "<>&" * 150_000}]
    made = live.create(heavy)
    assert made.returncode == 0, made.stderr[:500]
    try:
        within = resize(live, "heavy", "2Gi")  # judged: 2Gi fits small-1's 6Gi
        assert within.returncode == 0, within.stderr[:500]
        past = resize(live, "heavy", "7Gi")  # judged: past small-1's 6Gi
        assert past.returncode != 0 and DENIED in past.stderr and "[padding]" in past.stderr, past.stderr[:500]
        assert memory_limit(live, "heavy") == "2Gi"
    finally:
        live.delete("pod", "heavy")
