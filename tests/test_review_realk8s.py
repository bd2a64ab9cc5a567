"""In-place resize and ephemeral containers through the real kube-apiserver (issue 7 item 4):
the API server calls perf-webhook (under gunicorn, its node cache fed by the same server) for
`pods/resize` and `pods/ephemeralcontainers`, and `kubectl patch --subresource resize` shows
the webhook's refusal. The webhook is registered here by hand, for those subresources: what the
chart registers is the chart's own test."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from review_helpers import POLICY
from webhook_helpers import Webhook, start_webhook

NS = "shop"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Webhook]]:
    from realk8s import start

    server = start(tmp_path_factory.mktemp("realk8s"))
    hook: Webhook | None = None
    try:
        server.load(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": "node-a", "labels": {"workload": "general"}},
                    "status": {
                        "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                        "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}],
                    },
                },
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
                _pod("bounded", memory_limit="1Gi"),
                _pod("unbounded", memory_limit=None),
            ]
        )
        hook = start_webhook(tmp_path_factory.mktemp("hook"), server, POLICY, workers=1)  # type: ignore[arg-type]
        _register(server, hook)
        yield server, hook
    finally:
        if hook is not None:
            hook.stop()
        server.stop()


def _pod(name: str, memory_limit: str | None) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": {"cpu": "100m", "memory": "256Mi"}}
    if memory_limit:
        resources["limits"] = {"memory": memory_limit}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "nginx", "resources": resources}]},
        "status": {"phase": "Running"},
    }


def _register(server: Any, hook: Webhook) -> None:
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "perf-test"},
        "webhooks": [
            {
                "name": "pods.perf.test",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "timeoutSeconds": 10,
                "clientConfig": {
                    "url": f"https://127.0.0.1:{hook.port}/validate",
                    "caBundle": base64.b64encode(hook.ca.read_bytes()).decode(),
                },
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NS}},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["pods", "pods/resize", "pods/ephemeralcontainers"],
                    }
                ],
            }
        ],
    }
    server.kubectl("apply", "-f", "-", input=json.dumps(config))
    # the API server reads webhook configurations from its informer: wait until ours is in force
    deadline = time.monotonic() + 30
    while "[requests]" not in server.kubectl("run", "probe", "-n", NS, "--image=busybox", "--dry-run=server", check=False).stderr:
        assert time.monotonic() < deadline, "the webhook configuration never took effect"
        time.sleep(0.3)


def _resize(server: Any, name: str, memory: str) -> Any:
    patch = {"spec": {"containers": [{"name": "main", "resources": {"limits": {"memory": memory}}}]}}
    return server.kubectl("patch", "pod", name, "-n", NS, "--subresource", "resize", "--patch", json.dumps(patch), check=False)


def test_a_resize_past_every_budget_is_refused(cluster: tuple[Any, Webhook]) -> None:
    server, _ = cluster
    result = _resize(server, "bounded", "13Gi")
    assert result.returncode != 0, result.stdout
    assert "kubectl-perf denied Pod shop/bounded" in result.stderr and "[padding]" in result.stderr, result.stderr
    assert "largest: 12Gi" in result.stderr
    pod = json.loads(server.kubectl("get", "pod", "bounded", "-n", NS, "-o", "json").stdout)
    assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == "1Gi"


def test_a_resize_within_budget_goes_through(cluster: tuple[Any, Webhook]) -> None:
    server, _ = cluster
    result = _resize(server, "bounded", "2Gi")
    assert result.returncode == 0, result.stderr
    pod = json.loads(server.kubectl("get", "pod", "bounded", "-n", NS, "-o", "json").stdout)
    assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == "2Gi"


def _debug(server: Any, name: str) -> Any:
    patch = {"spec": {"ephemeralContainers": [{"name": "debugger", "image": "busybox", "targetContainerName": "main"}]}}
    return server.kubectl("patch", "pod", name, "-n", NS, "--subresource", "ephemeralcontainers", "--patch", json.dumps(patch), check=False)


def test_an_ephemeral_container_in_a_pod_without_a_memory_limit_is_a_warning(cluster: tuple[Any, Webhook]) -> None:
    """Issue 27 operations 11: it was refused, so pods without limits could not be debugged."""
    server, _ = cluster
    result = _debug(server, "unbounded")
    assert result.returncode == 0, result.stderr
    assert "ephemeral container 'debugger' has no memory limit" in result.stderr, result.stderr


def test_an_ephemeral_container_in_a_bounded_pod_goes_through(cluster: tuple[Any, Webhook], tmp_path: Path) -> None:
    server, _ = cluster
    result = _debug(server, "bounded")
    assert result.returncode == 0, result.stderr
