"""The Helm chart, rendered by the real Helm engine (helm-python-sdk) and checked
against the Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubectl_perf.policy_file import parse_policy, schema

helm = pytest.importorskip("helm_python")
CHART = Path(__file__).resolve().parents[1] / "charts" / "kubectl-perf-webhook"
# The oldest Kubernetes the default render targets (matchConditions GA) and the newest we test on.
KUBE_VERSIONS = ("1.30", "1.36")
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
    "minimal": {"networkPolicy": {"enabled": False}, "podDisruptionBudget": {"enabled": False}, "replicaCount": 3},
    "single": {"replicaCount": 1, "kubeVersion": "1.29.4"},
    "bring-your-own": {
        "tls": {"mode": "secret", "secret": {"name": "my-tls", "caBundle": "PLACEHOLDER"}},
        "webhook": {"url": "https://127.0.0.1:9443/validate"},
        "networkPolicy": {"enabled": True, "apiServer": {"cidrs": ["10.0.0.0/24", "fd00::/64"], "ports": [6443]}},
        "podDisruptionBudget": {"minAvailable": "50%", "maxUnavailable": None},
        "server": {"tlsMinVersion": "VersionTLS13", "bindAddress": "::"},
    },
}


def _ca_bundle() -> str:
    """A real CA certificate, base64 PEM, as a user would pass in tls.secret.caBundle."""
    from perf_sim.cli import self_signed

    with tempfile.TemporaryDirectory() as tmp:
        return base64.b64encode(self_signed(Path(tmp))[2]).decode()


CA_BUNDLE = _ca_bundle()
CASES["bring-your-own"]["tls"]["secret"]["caBundle"] = CA_BUNDLE


def render_files(values: dict[str, Any], namespace: str = "perf-system") -> dict[str, str]:
    chart = helm.Chart.load(str(CHART))
    return {path.rsplit("/", 1)[-1]: text for path, text in chart.render(values, name="perf", namespace=namespace).items()}


def render(values: dict[str, Any], namespace: str = "perf-system") -> list[dict[str, Any]]:
    out = render_files(values, namespace)
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
    # a case rendered for an older cluster is checked against that version's schemas
    versions = [".".join(CASES[case]["kubeVersion"].split(".")[:2])] if "kubeVersion" in CASES[case] else KUBE_VERSIONS
    checked = 0
    for doc in docs:
        if doc["apiVersion"].startswith("cert-manager.io/"):
            continue  # a CRD: no upstream schema to check against
        for version in versions:
            kubernetes_validate.validate(doc, version, strict=True)
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
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"


# 16: a budget that one replica cannot meet blocks every node drain.
def test_no_disruption_budget_below_two_replicas() -> None:
    assert by_kind(render({"replicaCount": 1}), "PodDisruptionBudget") == []
    assert len(by_kind(render({"replicaCount": 2}), "PodDisruptionBudget")) == 1
    assert by_kind(render({"podDisruptionBudget": {"enabled": False}}), "PodDisruptionBudget") == []
    assert by_kind(render({"podDisruptionBudget": None}), "PodDisruptionBudget") == []  # how chart 0.1.0 said "none"


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        ({}, {"maxUnavailable": 1}),
        ({"maxUnavailable": 2}, {"maxUnavailable": 2}),
        ({"maxUnavailable": "50%"}, {"maxUnavailable": "50%"}),
        ({"minAvailable": 2, "maxUnavailable": None}, {"minAvailable": 2}),
    ],
)
def test_disruption_budget_is_honoured_as_written(budget: dict[str, Any], expected: dict[str, Any]) -> None:
    pdb = by_kind(render({"replicaCount": 3, "podDisruptionBudget": budget}), "PodDisruptionBudget")[0]["spec"]
    assert {k: v for k, v in pdb.items() if k != "selector"} == expected


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": 2, "podDisruptionBudget": {"minAvailable": 2, "maxUnavailable": None}},  # no drain could ever evict
        {"podDisruptionBudget": {"minAvailable": 1}},  # both set: which one holds?
        {"podDisruptionBudget": {"maxUnavailable": -1}},
    ],
)
def test_disruption_budget_that_blocks_drains_is_refused(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError):
        render(values)


# 17: hard spread over nodes, a user's affinity kept beside it, priority, a preStop delay.
def test_replicas_are_spread_over_nodes_and_a_users_affinity_is_kept() -> None:
    node_affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["system"]}]}]
            }
        }
    }
    spec = by_kind(render({"affinity": node_affinity}), "Deployment")[0]["spec"]["template"]["spec"]
    assert spec["affinity"] == node_affinity
    by_key = {c["topologyKey"]: c for c in spec["topologySpreadConstraints"]}
    nodes = by_key["kubernetes.io/hostname"]
    assert nodes["whenUnsatisfiable"] == "DoNotSchedule" and nodes["maxSkew"] == 1
    # cordoned nodes are not domains, or a drain on two nodes would leave the new replica pending
    assert nodes["nodeTaintsPolicy"] == "Honor" and nodes["matchLabelKeys"] == ["pod-template-hash"]
    assert nodes["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "kubectl-perf-webhook", "app.kubernetes.io/instance": "perf"}
    assert by_key["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "ScheduleAnyway"
    extra = {"maxSkew": 2, "topologyKey": "rack", "whenUnsatisfiable": "ScheduleAnyway"}
    spec = by_kind(render({"topologySpreadConstraints": [extra]}), "Deployment")[0]["spec"]["template"]["spec"]
    assert [c["topologyKey"] for c in spec["topologySpreadConstraints"]] == [
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "rack",
    ]
    single = by_kind(render({"replicaCount": 1}), "Deployment")[0]["spec"]["template"]["spec"]
    assert "topologySpreadConstraints" not in single


def test_priority_and_a_pre_stop_delay_that_fits_the_grace_period() -> None:
    spec = by_kind(render({}), "Deployment")[0]["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert spec["containers"][0]["lifecycle"]["preStop"] == {"sleep": {"seconds": 10}}
    # gunicorn's graceful_timeout (10 s) must still fit after the delay
    assert spec["terminationGracePeriodSeconds"] >= 10 + 10
    assert "priorityClassName" not in by_kind(render({"priorityClassName": ""}), "Deployment")[0]["spec"]["template"]["spec"]
    # below 1.30 the sleep action is off by default: the image has python3 and no shell
    old = by_kind(render({"kubeVersion": "1.29.0", "preStopSeconds": 7}), "Deployment")[0]["spec"]["template"]["spec"]
    assert old["containers"][0]["lifecycle"]["preStop"] == {"exec": {"command": ["python3", "-c", "import time; time.sleep(7)"]}}
    assert old["terminationGracePeriodSeconds"] >= 7 + 10


def test_server_flags_are_passed_only_when_set() -> None:
    args = by_kind(render({}), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [a for a in args if a.startswith(("--tls-min-version", "--tls-cipher-suites", "--bind-address"))]
    server = {"tlsMinVersion": "VersionTLS13", "tlsCipherSuites": ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"], "bindAddress": "::"}
    args = by_kind(render({"server": server}), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {
        "--tls-min-version=VersionTLS13",
        "--tls-cipher-suites=TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384",
        "--bind-address=::",
    } <= set(args)


def test_the_webhook_judges_its_own_pods_like_any_other() -> None:
    """Practise what the suite preaches: the chart's own pod passes its own policy."""
    from kubectl_perf.policy import evaluate

    docs = render({})
    pod_spec = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]
    policy = parse_policy(yaml.safe_load(by_kind(docs, "ConfigMap")[0]["data"]["policy.yaml"]))
    # no nodes given: only the warning that padding could not be checked (padding.noEligibleNode)
    assert [(f.rule, f.deny) for f in evaluate(pod_spec, policy, [])] == [("padding", False)]


def webhook_of(values: dict[str, Any], namespace: str = "perf-system") -> dict[str, Any]:
    webhook: dict[str, Any] = by_kind(render(values, namespace), "ValidatingWebhookConfiguration")[0]["webhooks"][0]
    return webhook


def test_webhook_configuration() -> None:
    docs = render(CASES["strict"], namespace="perf-system")
    vwc = by_kind(docs, "ValidatingWebhookConfiguration")[0]["webhooks"][0]
    assert vwc["sideEffects"] == "None" and vwc["admissionReviewVersions"] == ["v1"]
    assert vwc["timeoutSeconds"] == 3 and vwc["failurePolicy"] == "Ignore"
    excluded = vwc["namespaceSelector"]["matchExpressions"][0]
    assert excluded["operator"] == "NotIn" and set(excluded["values"]) == {"kube-system", "perf-system", "monitoring"}
    assert vwc["namespaceSelector"]["matchLabels"] == {"perf": "on"}
    operations = {(g, r): set(rule["operations"]) for rule in vwc["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    both = {"CREATE", "UPDATE"}
    assert operations == {
        ("", "pods"): both,
        ("", "replicationcontrollers"): both,
        # 4: in-place resize and ephemeral containers change a running pod's resources
        ("", "pods/resize"): {"UPDATE"},
        ("", "pods/ephemeralcontainers"): {"UPDATE"},
        ("apps", "deployments"): both,
        ("apps", "statefulsets"): both,
        ("apps", "daemonsets"): both,
        ("apps", "replicasets"): both,
        ("batch", "jobs"): both,
        ("batch", "cronjobs"): both,
    }


# 18: the webhook's own dependencies are never judged.
def test_cert_managers_namespace_is_never_judged_in_cert_manager_mode() -> None:
    def excluded(values: dict[str, Any]) -> set[str]:
        return set(webhook_of(values)["namespaceSelector"]["matchExpressions"][0]["values"])

    assert excluded({}) == {"kube-system", "perf-system"}
    assert excluded({"tls": {"mode": "certManager"}}) == {"kube-system", "perf-system", "cert-manager"}
    custom = {"tls": {"mode": "certManager", "certManager": {"namespace": "certs"}}, "webhook": {"excludeNamespaces": ["flux-system"]}}
    assert excluded(custom) == {"kube-system", "perf-system", "certs", "flux-system"}


def test_metadata_only_updates_never_reach_the_webhook_from_1_30() -> None:
    """The CEL itself is exercised by the real API server (test_webhook_realk8s.py)."""
    conditions = webhook_of({})["matchConditions"]
    assert len(conditions) == 1 and "oldObject.spec" in conditions[0]["expression"] and "'UPDATE'" in conditions[0]["expression"]
    assert webhook_of({"kubeVersion": "v1.30.0"})["matchConditions"] == conditions
    assert "matchConditions" not in webhook_of({"kubeVersion": "1.29.9"})  # the webhook itself lets them through there
    assert "matchConditions" not in webhook_of({"webhook": {"skipMetadataOnlyUpdates": False}})


def test_failure_policy_and_its_consequences_are_documented() -> None:
    notes = render_files({"webhook": {"failurePolicy": "Fail"}})["NOTES.txt"]
    assert "failurePolicy: Fail" in notes and "refused" in notes
    notes = render_files({"webhook": {"failurePolicy": "Ignore"}})["NOTES.txt"]
    assert "failurePolicy: Ignore" in notes and "unjudged" in notes
    readme = (CHART.parents[1] / "README.md").read_text()
    assert "failurePolicy: Fail" in readme and "failurePolicy: Ignore" in readme


def test_url_client_config_for_out_of_cluster_use() -> None:
    hook = webhook_of(CASES["bring-your-own"])
    assert hook["clientConfig"] == {"url": "https://127.0.0.1:9443/validate", "caBundle": CA_BUNDLE}
    assert webhook_of({})["clientConfig"]["service"]["path"] == "/validate"


# 19: the cache lists and watches; pods only when committed limits are weighed.
@pytest.mark.parametrize("committed", ["off", "warn", "deny"])
def test_rbac_is_least_privilege(committed: str) -> None:
    role = by_kind(render({"policy": {"padding": {"committed": committed}}}), "ClusterRole")[0]
    nodes = {"apiGroups": [""], "resources": ["nodes", "limitranges"], "verbs": ["list", "watch"]}
    runtime_classes = {
        "apiGroups": ["node.k8s.io"],
        "resources": ["runtimeclasses"],
        "verbs": ["list", "watch"],
    }  # templates (issue 27 bypass 4)
    pods = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}
    assert role["rules"] == ([nodes, runtime_classes] if committed == "off" else [nodes, runtime_classes, pods])


# 20: in from the API server and Prometheus, out to DNS and the API server, nothing else.
API_CIDRS = {"enabled": True, "apiServer": {"cidrs": ["10.0.0.0/24"]}}


def test_network_policy_rules() -> None:
    np = by_kind(render({"networkPolicy": API_CIDRS}), "NetworkPolicy")[0]["spec"]
    assert all(rule.get("ports") for rule in np["ingress"] + np["egress"])  # no rule opens every port
    api_in, prometheus = np["ingress"]
    assert api_in == {"ports": [{"port": 8443, "protocol": "TCP"}], "from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}
    assert prometheus["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
    api_out, dns = np["egress"]
    assert api_out == {
        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
        "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
    }
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]


def test_network_policy_with_the_api_servers_addresses() -> None:
    vcluster = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "vc"}},
        "podSelector": {"matchLabels": {"app": "vcluster"}},
    }
    api = {"cidrs": ["10.0.0.0/24"], "peers": [vcluster], "ports": [6443]}
    np = by_kind(render({"networkPolicy": {"enabled": True, "apiServer": api, "prometheus": None}}), "NetworkPolicy")[0]["spec"]
    peers = [{"ipBlock": {"cidr": "10.0.0.0/24"}}, vcluster]
    assert np["ingress"] == [{"ports": [{"port": 8443, "protocol": "TCP"}], "from": peers}]
    assert np["egress"][0] == {"ports": [{"port": 6443, "protocol": "TCP"}], "to": peers}
    assert "networkPolicy.apiServer.cidrs" not in render_files({"networkPolicy": {"enabled": True, "apiServer": api}})["NOTES.txt"]
    assert "networkPolicy.apiServer.cidrs" in render_files({})["NOTES.txt"]  # off by default, and NOTES says how to turn it on


def test_a_network_policy_open_to_every_source_is_refused() -> None:
    """Issue 27 chart: enabled with neither API-server CIDRs nor peers rendered an ingress rule
    from anywhere, which looks like protection and is none; now off by default and refused."""
    assert not by_kind(render({}), "NetworkPolicy")
    with pytest.raises(helm.HelmError, match="networkPolicy.enabled needs the API server's addresses"):
        render({"networkPolicy": {"enabled": True}})


def test_no_api_server_ports_is_refused_not_an_allow_all_rule() -> None:
    with pytest.raises(helm.HelmError):
        render({"networkPolicy": {**API_CIDRS, "apiServer": {"cidrs": ["10.0.0.0/24"], "ports": []}}})


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


# 21: durations, renewBefore and a CA rollover that keeps trust.
def test_cert_manager_durations_and_a_ca_that_keeps_its_key() -> None:
    tls = {
        "mode": "certManager",
        "certManager": {"ca": {"duration": "17520h", "renewBefore": "4380h"}, "serving": {"duration": "720h", "renewBefore": "240h"}},
    }
    certs = {d["metadata"]["name"].rsplit("-", 1)[-1]: d["spec"] for d in by_kind(render({"tls": tls}), "Certificate")}
    assert (certs["ca"]["duration"], certs["ca"]["renewBefore"]) == ("17520h", "4380h")
    assert (certs["serving"]["duration"], certs["serving"]["renewBefore"]) == ("720h", "240h")
    # a renewed CA with the same key verifies serving certificates signed before and after it
    assert certs["ca"]["privateKey"]["rotationPolicy"] == "Never"


@pytest.mark.parametrize(
    "certmanager",
    [
        {"serving": {"duration": "720h", "renewBefore": "721h"}},
        {"serving": {"duration": "720h", "renewBefore": "720h"}},
        {"ca": {"duration": "8760h", "renewBefore": "9000h"}},
        # the CA must renew at least one serving lifetime before it expires (1000h < 2160h)
        {"ca": {"duration": "8760h", "renewBefore": "1000h"}},
        {"serving": {"duration": "90d", "renewBefore": "30d"}},  # cert-manager takes Go durations: no days
    ],
)
def test_cert_manager_durations_that_cannot_work_are_refused(certmanager: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError):
        render({"tls": {"mode": "certManager", "certManager": certmanager}})


def test_bring_your_own_secret() -> None:
    docs = render(CASES["bring-your-own"])
    assert not by_kind(docs, "Secret") and not by_kind(docs, "Certificate")
    volumes = {v["name"]: v for v in by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "my-tls"
    assert by_kind(docs, "ValidatingWebhookConfiguration")[0]["webhooks"][0]["clientConfig"]["caBundle"] == CA_BUNDLE


@pytest.mark.parametrize(
    "secret",
    [{}, {"name": "my-tls"}, {"caBundle": CA_BUNDLE}, {"name": "my-tls", "caBundle": base64.b64encode(b"not a certificate").decode()}],
)
def test_bring_your_own_secret_needs_a_name_and_a_ca_bundle(secret: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError):
        render({"tls": {"mode": "secret", "secret": secret}})


def test_self_signed_mode_warns_that_offline_renders_mint_a_new_ca() -> None:
    assert "helm template" in render_files({})["NOTES.txt"]
    assert "helm template" not in render_files({"tls": {"mode": "certManager"}})["NOTES.txt"]


@pytest.mark.parametrize(
    "values",
    [
        {"policy": {"padding": {"memory": 2}}},
        {"webhook": {"timeoutSeconds": 60}},
        {"tls": {"mode": "byo"}},
        {"policy": {"mode": "strict"}},
        {"replicaCount": 0},
        # 22
        {"tls": {"mode": "certManager", "certManager": {"serving": {"duration": "24h", "renewBefore": "48h"}}}},
        {"webhook": {"excludeNamespaces": ["Bad_Namespace"]}},
        {"webhook": {"excludeNamespaces": ["x" * 64]}},
        {"tls": {"certManager": {"namespace": "-cert-manager"}}},
        {"priorityClassName": "Bad Name"},
        {"image": {"tag": "v1 latest"}},
        {"image": {"repository": "ghcr.io/x/perf webhook"}},
        {"image": {"digest": "sha256:nothex"}},
        {"podLabels": {"app.kubernetes.io/name": "other"}},
        {"podLabels": {"app.kubernetes.io/instance": "other"}},
        {"podLabels": {"team": "has spaces"}},
        # Helm merges maps into the defaults: null is how a user empties them
        {"resources": None},
        {"resources": {"requests": None, "limits": None}},
        {"resources": {"requests": {"memory": None}}},
        {"resources": {"limits": {"memory": None}}},
        {"resources": {"requests": {"cpu": "100m", "memory": "lots"}, "limits": {"memory": "256Mi"}}},
        {"webhook": {"url": "http://127.0.0.1:9443/validate"}},
        {"networkPolicy": {"apiServer": {"cidrs": ["10.0.0.0"]}}},
        {"kubeVersion": "latest"},
        # padding targets: a fraction or a percentage above 0 and at most 100% (issue 20)
        {"policy": {"padding": {"memory": "150%"}}},
        {"policy": {"padding": {"memory": "0%"}}},
        {"policy": {"padding": {"limits": "deny"}}},
    ],
)
def test_schema_rejects_bad_values(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError):
        render(values)


def test_schema_accepts_the_values_it_should() -> None:
    for values in [
        {"image": {"tag": "1.2.3-rc.1_build"}},
        {"image": {"repository": "localhost:5000/team/perf-webhook", "digest": "sha256:" + "a" * 64}},
        {"podLabels": {"team": "platform", "example.com/tier": "system"}},
        {"priorityClassName": "platform.critical-1"},
        {"resources": {"requests": {"cpu": 0.5, "memory": "1.5Gi"}, "limits": {"memory": "2Gi", "cpu": "1"}}},
        {"policy": {"padding": {"memory": "75%", "limits": "breach", "requests": "warn"}}},  # as --padding-target takes it
    ]:
        assert by_kind(render(values), "Deployment")


def test_chart_schema_carries_the_policy_schema_unchanged() -> None:
    """One source of truth: the chart's policy values are the package's policy schema."""
    chart = json.loads((CHART / "values.schema.json").read_text())
    package = schema()
    assert chart["properties"]["policy"] == {k: v for k, v in package.items() if k not in ("$schema", "$id", "$defs")}
    assert {k: chart["$defs"].get(k) for k in package["$defs"]} == package["$defs"]


def test_chart_policy_values_are_the_package_defaults() -> None:
    """The chart's policy values restate policy.DEFAULTS, the one table of defaults (they once said
    maxCacheAgeSeconds 120 where the code said 60): every key they set has the package's default."""
    from kubectl_perf.policy import DEFAULTS

    def flat(doc: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(doc, dict):
            return {k: v for key, value in doc.items() for k, v in flat(value, f"{prefix}{key}.").items()}
        return {prefix.rstrip("."): list(doc) if isinstance(doc, (list, tuple)) else doc}

    values = flat(yaml.safe_load((CHART / "values.yaml").read_text())["policy"])
    defaults = flat(DEFAULTS)
    assert values and {k: defaults.get(k, "(no default)") for k in values} == values


# -- issue 27, chart section ---------------------------------------------------------------------
def container(values: dict[str, Any]) -> dict[str, Any]:
    return by_kind(render(values), "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]


def test_a_startup_probe_covers_the_first_sync_and_probe_timeouts_exceed_a_reviews_budget() -> None:
    c = container({})
    startup, ready, live = c["startupProbe"], c["readinessProbe"], c["livenessProbe"]
    assert startup["httpGet"] == {"path": "/startupz", "port": "https", "scheme": "HTTPS"}
    assert startup["periodSeconds"] * startup["failureThreshold"] == 300  # startupSeconds: 5 s x 60
    assert (ready["httpGet"]["path"], live["httpGet"]["path"]) == ("/readyz", "/healthz")
    # webhook.timeoutSeconds 5 is a review's budget: every probe waits 6 s
    assert {p["timeoutSeconds"] for p in (startup, ready, live)} == {6}
    c = container({"webhook": {"timeoutSeconds": 10}, "startupSeconds": 62})
    assert {p["timeoutSeconds"] for p in (c["startupProbe"], c["readinessProbe"], c["livenessProbe"])} == {11}
    assert c["startupProbe"]["failureThreshold"] == 13  # 62 s rounded up to whole 5 s periods


def test_resources_hold_the_measured_peak_and_the_default_connections() -> None:
    """The measured peak is 172 MB RSS at 5,000 nodes / 150,000 pods (docs/performance.md): the
    request, 192Mi = 201 MB, holds it. The limit, 256Mi, gives --max-connections its default of
    (256 - 192) MiB / 32 KiB = 2,048 connections (server.default_max_connections, worked by hand)."""
    from perf_webhook.server import default_max_connections

    c = container({})
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "192Mi"}, "limits": {"memory": "256Mi"}}
    assert 192 * 1024**2 > 172 * 10**6
    assert default_max_connections(256 * 1024**2) == 2048
    assert not [a for a in c["args"] if a.startswith("--max-connections")]  # derived from the limit in the pod
    c = container({"server": {"maxConnections": 4000, "maxConnectionsPerSource": 500}})
    assert {"--max-connections=4000", "--max-connections-per-source=500"} <= set(c["args"])


def test_three_replicas_and_a_disruption_budget_by_default() -> None:
    docs = render({})
    assert by_kind(docs, "Deployment")[0]["spec"]["replicas"] == 3
    assert by_kind(docs, "PodDisruptionBudget")[0]["spec"]["maxUnavailable"] == 1


def test_drain_fits_the_grace_period() -> None:
    spec = by_kind(render({"server": {"drainSeconds": 20}}), "Deployment")[0]["spec"]["template"]["spec"]
    assert "--drain-timeout=20" in spec["containers"][0]["args"]
    assert spec["terminationGracePeriodSeconds"] >= 10 + 20 + 1  # preStop, drain, gunicorn's second


def test_installing_into_default_is_refused_it_would_be_exempt() -> None:
    chart = helm.Chart.load(str(CHART))
    with pytest.raises(helm.HelmError, match="namespace of its own"):
        chart.render({}, name="perf", namespace="default", is_install=True)
    out = chart.render({"allowDefaultNamespace": True}, name="perf", namespace="default", is_install=True)
    assert "WARNING: installed into `default`" in next(t for p, t in out.items() if p.endswith("NOTES.txt"))
    assert chart.render({}, name="perf", namespace="perf-system", is_install=True)
    report = helm.lint(str(CHART), {}, strict=True)  # helm lint renders in default, but installs nothing
    assert report["errors"] == [], report


def test_server_values_are_checked_against_the_names_server_py_accepts() -> None:
    """One source: the schema's enums are server.py's lists."""
    from perf_webhook.server import TLS12_SUITES, TLS13_SUITES, TLS_VERSIONS

    server = json.loads((CHART / "values.schema.json").read_text())["properties"]["server"]["properties"]
    assert server["tlsMinVersion"]["enum"] == ["", *TLS_VERSIONS]
    assert server["tlsCipherSuites"]["items"]["enum"] == [*TLS12_SUITES, *TLS13_SUITES]
    for bad in (
        {"tlsMinVersion": "VersionTLS11"},
        {"tlsMinVersion": "TLS1.3"},
        {"tlsCipherSuites": ["TLS_RSA_WITH_RC4_128_SHA"]},
        {"bindAddress": "localhost"},
        {"bindAddress": "10.0.0.256"},
        {"bindAddress": "0.0.0.0 "},
        {"maxConnections": 0},
    ):
        with pytest.raises(helm.HelmError):
            render({"server": bad})
    for good in ("::", "0.0.0.0", "[::1]", "fd00::1", "10.1.2.3", ""):
        assert by_kind(render({"server": {"bindAddress": good}}), "Deployment")


def test_service_monitor_and_prometheus_rule_are_optional_and_name_real_metrics() -> None:
    import re

    from review_helpers import client

    assert not [d for d in render({}) if d["apiVersion"].startswith("monitoring.coreos.com/")]
    on = {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}, "prometheusRule": {"enabled": True}}}
    docs = render(on)
    (monitor,) = by_kind(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == by_kind(docs, "Service")[0]["spec"]["ports"][0]["name"] == "https"
    assert endpoint["tlsConfig"] == {
        "serverName": "perf-kubectl-perf-webhook.perf-system.svc",
        "ca": {"secret": {"name": "perf-kubectl-perf-webhook-tls", "key": "ca.crt"}},
    }
    (rule,) = by_kind(docs, "PrometheusRule")
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {"PerfWebhookStaleNodeCache", "PerfWebhookPaddingSkippedStale", "PerfWebhookDenials", "PerfWebhookOverBudget"}
    assert alerts["PerfWebhookStaleNodeCache"].endswith("> 60")  # policy.maxCacheAgeSeconds
    # Every metric an alert reads is one the webhook exports (its HELP line is in /metrics).
    exported = client().get("/metrics").text
    for expr in alerts.values():
        for name in re.findall(r"perf_webhook_[a-z_]+", expr):
            assert f"# HELP {name} " in exported, f"{name} is not exported"


def test_the_rendered_chart_is_accepted_by_the_real_api_server(realk8s: Any) -> None:
    """Server-side dry run of every object the default render makes (3 replicas, probes with the
    startupProbe, the PDB) and of one with the NetworkPolicy, in a namespace of its own. The
    Prometheus Operator's kinds need its CRDs, which this server does not have: those are checked
    by render above."""
    namespace = "chart-dryrun"
    realk8s.kubectl("create", "namespace", namespace, check=False)
    for values in ({}, {"networkPolicy": API_CIDRS, "server": {"maxConnections": 3000, "bindAddress": "::"}}):
        docs = [d for d in render(values, namespace=namespace) if not d["apiVersion"].startswith(("cert-manager.io/", "monitoring."))]
        result = realk8s.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(docs), check=False)
        assert result.returncode == 0, result.stderr
        assert "deployment.apps/perf-kubectl-perf-webhook created (server dry run)" in result.stdout
