"""`perf-webhook vap`: the requests rule as a ValidatingAdmissionPolicy the API server enforces
itself, with no webhook registered (issue 27, beyond the anchors), on the real kube-apiserver v1.36.

The policy: requireRequests [cpu, memory], namespace `trial` in warn mode, `kube-system` exempt, group
`sre-oncall` exempt. Expected verdicts are worked out by hand per case (see CASES), and each is also
what the webhook's own requests rule says of the same spec (one rule, two enforcers)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BIN
from kubectl_perf.policy import requests_rule
from kubectl_perf.policy_file import parse_policy
from realk8s import RealK8s, start

POLICY = {
    "requireRequests": ["cpu", "memory"],
    "namespaceOverrides": {"trial": "warn"},
    "exemptSubjects": {"groups": ["sre-oncall"]},
}
VAP_DENIED = "ValidatingAdmissionPolicy 'kubectl-perf-requests' with binding 'kubectl-perf-requests-enforce' denied request"


def vap(tmp: Path, policy: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return subprocess.run([str(BIN / "perf-webhook"), "vap", "--policy", str(path), *extra], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    """A private server (a VAP is cluster-wide) with the generated policy applied, no webhook."""
    k8s = start(tmp_path_factory.mktemp("realk8s-vap"))
    try:
        for ns in ("shop", "trial"):
            k8s.kubectl("create", "namespace", ns)
        # from before the policy: no requests; its labels must stay editable
        k8s.create(pod("legacy", {}))
        made = vap(tmp_path_factory.mktemp("vap"), POLICY)
        assert made.returncode == 0, made.stderr
        k8s.kubectl("apply", "-f", "-", input=made.stdout)
        deadline_probe(k8s)
        yield k8s
    finally:
        k8s.stop()


def deadline_probe(k8s: RealK8s) -> None:
    """The API server picks up a new policy and binding within a second or so."""
    import time

    deadline = time.monotonic() + 30
    while VAP_DENIED not in create(k8s, pod("probe", {}))[1]:
        assert time.monotonic() < deadline, "the ValidatingAdmissionPolicy never took effect"
        time.sleep(0.3)


def pod(name: str, resources: dict[str, Any], namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "main", "image": "nginx", "resources": resources}], **spec},
    }


def create(k8s: RealK8s, obj: dict[str, Any], *flags: str) -> tuple[bool, str]:
    result = k8s.kubectl("create", "-f", "-", "--dry-run=server", *flags, input=json.dumps(obj), check=False)
    return result.returncode == 0, result.stderr


CPU, MEM = "100m", "256Mi"
# (resources of the one container, pod-level resources, admitted?), worked out by hand
CASES = [
    ({"requests": {"cpu": CPU, "memory": MEM}}, None, True),
    ({}, None, False),  # nothing
    ({"requests": {"cpu": CPU}}, None, False),  # no memory
    ({"requests": {"cpu": CPU}, "limits": {"memory": "1Gi"}}, None, True),  # the limit stands for the request
    ({"requests": {"cpu": CPU, "memory": "0"}}, None, False),  # "0" is no request (issue 27 bypass 1)
    ({"requests": {"cpu": "0", "memory": MEM}}, None, False),
    ({}, {"requests": {"cpu": CPU, "memory": MEM}}, True),  # pod-level requests cover the container
    ({"requests": {"cpu": CPU}}, {"limits": {"memory": "2Gi"}}, True),  # a pod-level limit too
]


@pytest.mark.parametrize(("resources", "pod_level", "admitted"), CASES)
def test_the_api_server_enforces_the_requests_rule_itself(
    server: RealK8s, resources: dict[str, Any], pod_level: dict[str, Any] | None, admitted: bool
) -> None:
    obj = pod("case", resources)
    if pod_level:
        obj["spec"]["resources"] = pod_level
    ok, err = create(server, obj)
    assert ok is admitted, err
    assert (not requests_rule(obj["spec"], parse_policy(POLICY))) is admitted  # the webhook's rule agrees
    if not admitted:
        assert VAP_DENIED in err and "kubectl-perf: no " in err and "request (0 counts as none) in container(s) 'main'" in err, err


def test_templates_warn_mode_exemptions_and_unchanged_updates(server: RealK8s) -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": pod("x", {"limits": {"memory": "1Gi"}})["spec"]}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
    }
    ok, err = create(server, deployment)  # no cpu request in the template
    assert not ok and "no cpu request (0 counts as none) in container(s) 'main'" in err, err
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "shop"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {**template["spec"], "restartPolicy": "Never"}}}}},
    }
    assert not create(server, cron)[0]
    warned_ok, warned = create(server, pod("tried", {}, namespace="trial"))  # warn mode: admitted, warned
    assert warned_ok and "Warning: Validation failed for ValidatingAdmissionPolicy 'kubectl-perf-requests'" in warned, warned
    assert create(server, pod("kube", {}, namespace="kube-system"))[0]  # exempt namespace
    assert create(server, pod("oncall", {}), "--as=carol", "--as-group=system:masters", "--as-group=sre-oncall")[0]
    assert not create(server, pod("other", {}), "--as=carol", "--as-group=system:masters")[0]
    labelled = server.kubectl("label", "pod", "legacy", "-n", "shop", "touched=yes", check=False)  # spec unchanged: passes
    assert labelled.returncode == 0, labelled.stderr


def test_a_bad_policy_file_is_one_line_and_status_2(tmp_path: Path) -> None:
    result = vap(tmp_path, {"requireRequests": "cpu"})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr


def test_bindings_per_mode_without_the_api_server() -> None:
    """One binding per mode in use; an override to the default mode is none; exempt namespaces are in no binding."""
    from perf_webhook.vap import policy_objects

    policy = parse_policy({"mode": "warn", "namespaceOverrides": {"a": "warn", "b": "enforce", "c": "enforce", "kube-system": "enforce"}})
    bindings = {o["metadata"]["name"]: o["spec"] for o in policy_objects(policy)[1:]}
    assert bindings == {
        "kubectl-perf-requests-warn": {
            "policyName": "kubectl-perf-requests",
            "validationActions": ["Warn"],
            "matchResources": {
                "namespaceSelector": {
                    "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["b", "c", "kube-system"]}]
                }
            },
        },
        "kubectl-perf-requests-enforce": {
            "policyName": "kubectl-perf-requests",
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["b", "c"]}]}
            },
        },
    }


@pytest.mark.parametrize("required", [[], ["memory"], ["cpu", "memory", "ephemeral-storage"]])
def test_whatever_vap_prints_the_api_server_accepts(server: RealK8s, tmp_path: Path, required: list[str]) -> None:
    """requireRequests: [] once printed `validations: []`, which the API server refuses; now nothing
    is printed (and a note says why). Checked with a server-side dry run: nothing is applied."""
    made = vap(tmp_path, {"requireRequests": required}, "--name", "accept-check")
    assert made.returncode == 0, made.stderr
    if not required:
        assert made.stdout == "" and made.stderr.count("\n") == 1 and "requireRequests: []" in made.stderr, made.stderr
        return
    applied = server.kubectl("apply", "--dry-run=server", "-f", "-", input=made.stdout, check=False)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("(server dry run)") == 2, applied.stdout  # the policy and its one binding
