"""The Helm chart, rendered by the real Helm engine (helm-python-sdk) and checked
against the Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubectl_perf.policy_file import parse_policy, schema

helm = pytest.importorskip("helm_python")
CHART = Path(__file__).resolve().parents[1] / "charts" / "kubectl-perf-webhook"
KUBE_VERSION = "1.32"
CASES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "cert-manager": {"tls": {"mode": "certManager"}},
    "strict": {
        "policy": {
            "mode": "enforce",
            "padding": {
                "memory": 0.7,
                "committed": "deny",
                "nodeTargets": [{"selector": {"matchLabels": {"workload": "io"}}, "memory": 0.5}],
            },
            "onStaleCache": "deny",
        },
        "webhook": {
            "failurePolicy": "Ignore",
            "timeoutSeconds": 3,
            "excludeNamespaces": ["monitoring"],
            "namespaceSelector": {"matchLabels": {"perf": "on"}},
        },
    },
    "minimal": {"networkPolicy": {"enabled": False}, "podDisruptionBudget": None, "replicaCount": 3},
}


def render(values: dict[str, Any], namespace: str = "perf-system") -> list[dict[str, Any]]:
    chart = helm.Chart.load(str(CHART))
    out = chart.render(values, name="perf", namespace=namespace)
    return [d for path, text in sorted(out.items()) if path.endswith(".yaml") for d in yaml.safe_load_all(text) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("case", list(CASES))
def test_lint_has_no_errors(case: str) -> None:
    report = helm.lint(str(CHART), CASES[case], strict=True)
    assert report["errors"] == [] and all(m["severity"] < 2 for m in report["messages"]), report


@pytest.mark.parametrize("case", list(CASES))
def test_manifests_meet_the_kubernetes_schemas(case: str) -> None:
    docs = render(CASES[case])
    checked = 0
    for doc in docs:
        if doc["apiVersion"].startswith("cert-manager.io/"):
            continue  # a CRD: no upstream schema to check against
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        checked += 1
    assert checked >= 8  # Deployment, Service, ServiceAccount, RBAC (2), ConfigMap, webhook configuration, TLS or PDB/NetworkPolicy


def test_deployment_is_hardened_and_spread() -> None:
    dep = by_kind(render({}), "Deployment")[0]
    spec = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] >= 2
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    c = spec["containers"][0]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"]["drop"] == ["ALL"] and sc["allowPrivilegeEscalation"] is False
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"]
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert by_kind(render({}), "PodDisruptionBudget")[0]["spec"]["minAvailable"] == 1


def test_the_webhook_judges_its_own_pods_like_any_other() -> None:
    """Practise what the suite preaches: the chart's own pod passes its own policy."""
    from kubectl_perf.policy import evaluate

    docs = render({})
    pod_spec = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]
    policy = parse_policy(yaml.safe_load(by_kind(docs, "ConfigMap")[0]["data"]["policy.yaml"]))
    # no nodes given: only the warning that padding could not be checked (padding.noEligibleNode)
    assert [(f.rule, f.deny) for f in evaluate(pod_spec, policy, [])] == [("padding", False)]


def test_webhook_configuration() -> None:
    docs = render(CASES["strict"], namespace="perf-system")
    vwc = by_kind(docs, "ValidatingWebhookConfiguration")[0]["webhooks"][0]
    assert vwc["sideEffects"] == "None" and vwc["admissionReviewVersions"] == ["v1"]
    assert vwc["timeoutSeconds"] == 3 and vwc["failurePolicy"] == "Ignore"
    excluded = vwc["namespaceSelector"]["matchExpressions"][0]
    assert excluded["operator"] == "NotIn" and set(excluded["values"]) == {"kube-system", "perf-system", "monitoring"}
    assert vwc["namespaceSelector"]["matchLabels"] == {"perf": "on"}
    resources = {(g, r) for rule in vwc["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert resources == {
        ("", "pods"),
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "replicasets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
    }
    assert all(set(rule["operations"]) == {"CREATE", "UPDATE"} for rule in vwc["rules"])


def test_rbac_is_least_privilege() -> None:
    role = by_kind(render({}), "ClusterRole")[0]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["get", "list", "watch"]}]


def test_policy_configmap_is_a_valid_policy() -> None:
    docs = render(CASES["strict"])
    policy = parse_policy(yaml.safe_load(by_kind(docs, "ConfigMap")[0]["data"]["policy.yaml"]))
    assert policy.committed == "deny" and policy.padding_target({"workload": "io"}) == 0.5 and policy.on_stale_cache == "deny"


def test_self_signed_certificate_has_the_service_sans_and_matches_the_ca_bundle() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding

    docs = render({}, namespace="perf-system")
    secret = by_kind(docs, "Secret")[0]
    bundle = by_kind(docs, "ValidatingWebhookConfiguration")[0]["webhooks"][0]["clientConfig"]["caBundle"]
    assert bundle == secret["data"]["ca.crt"]
    ca = x509.load_pem_x509_certificate(base64.b64decode(bundle))
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    sans = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    svc = "perf-kubectl-perf-webhook"
    assert {svc, f"{svc}.perf-system", f"{svc}.perf-system.svc"} <= sans
    ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)


def test_cert_manager_mode() -> None:
    docs = render({"tls": {"mode": "certManager"}}, namespace="perf-system")
    assert not by_kind(docs, "Secret")
    certs = {d["metadata"]["name"]: d for d in by_kind(docs, "Certificate")}
    serving = certs["perf-kubectl-perf-webhook-serving"]
    assert (
        serving["spec"]["secretName"] == "perf-kubectl-perf-webhook-tls"
        and "perf-kubectl-perf-webhook.perf-system.svc" in serving["spec"]["dnsNames"]
    )
    assert certs["perf-kubectl-perf-webhook-ca"]["spec"]["isCA"] is True
    vwc = by_kind(docs, "ValidatingWebhookConfiguration")[0]
    assert vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "perf-system/perf-kubectl-perf-webhook-serving"
    assert "caBundle" not in vwc["webhooks"][0]["clientConfig"]


@pytest.mark.parametrize(
    "values",
    [
        {"policy": {"padding": {"memory": 2}}},
        {"webhook": {"timeoutSeconds": 60}},
        {"tls": {"mode": "byo"}},
        {"policy": {"mode": "strict"}},
        {"replicaCount": 0},
    ],
)
def test_schema_rejects_bad_values(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError):
        render(values)


def test_chart_schema_carries_the_policy_schema_unchanged() -> None:
    """One source of truth: the chart's policy values are the package's policy schema."""
    chart = json.loads((CHART / "values.schema.json").read_text())
    package = schema()
    assert chart["properties"]["policy"] == {k: v for k, v in package.items() if k not in ("$schema", "$id", "$defs")}
    assert chart["$defs"] == package["$defs"]
