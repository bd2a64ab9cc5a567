"""The audit's cluster and spec checks as pure functions: a violating and a clean
hand-written fixture for each rule, outcomes read off the fixtures by hand."""

from __future__ import annotations

from typing import Any

import pytest
from kubectl_perf.audit.cluster_checks import DEFAULT_METRICS_REPLICAS, DEFAULT_PROXY_THRESHOLD, ClusterFacts, ProxyInputs
from kubectl_perf.audit.compute import Audit, Settings
from kubectl_perf.audit.rules import THRESHOLDS
from kubectl_perf.audit.spec_checks import emptydir_size_limit, ephemeral_storage_requests, memory_limit
from kubectl_perf.policy import Policy
from kubectl_perf.reports import Result


def cluster_result(check: str, facts: ClusterFacts, thresholds: dict[str, int]) -> Result:
    """A cluster check as the audit reports it: run by the engine from its record in the registry."""
    audit = Audit(Policy(), Settings(thresholds={**THRESHOLDS, **thresholds}), [])
    (found,) = [r for r in audit.cluster_results(facts) if r.rule == check]
    return found


def proxy_mode(inputs: ProxyInputs, threshold: int = DEFAULT_PROXY_THRESHOLD) -> Result:
    return cluster_result("proxy-mode", ClusterFacts(proxy=inputs), {"proxyThreshold": threshold})


def metrics_pipeline(apiservice: Any, backend: Any, min_replicas: int = DEFAULT_METRICS_REPLICAS) -> Result:
    return cluster_result(
        "metrics-pipeline", ClusterFacts(metrics_apiservice=apiservice, metrics_backend=backend), {"metricsServerReplicas": min_replicas}
    )


def cm(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "kube-system", "uid": f"uid-{name}"}, "data": data}


def ds(name: str, args: list[str], command: list[str] | None = None) -> dict[str, Any]:
    container = {"name": name, "image": f"registry.k8s.io/{name}:v1", "args": args, "command": command or [f"/usr/local/bin/{name}"]}
    return {"metadata": {"name": name, "namespace": "kube-system"}, "spec": {"template": {"spec": {"containers": [container]}}}}


KUBEADM_IPTABLES = cm(
    "kube-proxy", {"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ''\n"}
)
KUBEADM_IPVS = cm("kube-proxy", {"config.conf": "kind: KubeProxyConfiguration\nmode: ipvs\n"})
EKS_NFT = cm("kube-proxy-config", {"config": 'kind: KubeProxyConfiguration\nmode: "nftables"\n'})


# -- proxy-mode ---------------------------------------------------------------------------------------------
def test_iptables_past_the_threshold_warns_with_the_advice_for_the_version() -> None:
    r = proxy_mode(ProxyInputs(kube_proxy_config=KUBEADM_IPTABLES, services=1001, server_minor=33), threshold=1000)
    assert (r.rule, r.result, r.category, r.severity) == ("proxy-mode", "warn", "Networking", "low")
    assert r.properties == {"mode": "iptables", "services": "1001", "threshold": "1000"}  # empty mode = iptables
    assert "nftables" in r.message and "IPVS" not in r.message and r.cluster  # IPVS is deprecated from 1.35: not advised
    assert r.resource is not None and (r.resource.kind, r.resource.namespace, r.resource.name) == ("ConfigMap", "kube-system", "kube-proxy")
    old = proxy_mode(ProxyInputs(kube_proxy_config=KUBEADM_IPTABLES, services=5000, server_minor=29))
    assert old.result == "warn" and "nftables needs 1.31" in old.message


def test_ipvs_warns_from_1_35_with_nftables_advice_naming_old_kernels() -> None:
    kernels = {"a": "6.1.112-124.190.amzn2023.x86_64", "b": "5.10.226-214.879.amzn2.x86_64", "c": "5.13.0", "d": ""}
    r = proxy_mode(ProxyInputs(kube_proxy_config=KUBEADM_IPVS, services=10, server_minor=35, kernels=kernels))
    assert r.result == "warn" and "deprecated from Kubernetes 1.35 (KEP-5495; this server is 1.35)" in r.message
    # 5.10 < 5.13: b is named; 5.13.0 and 6.1 are enough; d reports no kernel
    assert "1 node(s) do not run: b (5.10.226-214.879.amzn2.x86_64)" in r.message and "1 node(s) do not report their kernel: d" in r.message
    assert r.properties == {"mode": "ipvs", "services": "10", "threshold": "1000", "oldKernelNodes": "b"}
    before = proxy_mode(ProxyInputs(kube_proxy_config=KUBEADM_IPVS, services=10, server_minor=34, kernels=kernels))
    assert before.result == "pass"
    fine = proxy_mode(ProxyInputs(kube_proxy_config=KUBEADM_IPVS, server_minor=36, kernels={"a": "6.8.0-1015-gcp"}))
    assert fine.result == "warn" and fine.message.endswith("(every node runs kernel 5.13 or later)")


def test_iptables_at_the_threshold_and_ipvs_pass() -> None:
    assert proxy_mode(ProxyInputs(kube_proxy_config=KUBEADM_IPTABLES, services=1000), threshold=1000).result == "pass"
    ipvs = proxy_mode(ProxyInputs(kube_proxy_config=KUBEADM_IPVS, services=50_000))
    assert (ipvs.result, ipvs.properties["mode"]) == ("pass", "ipvs")
    eks = proxy_mode(ProxyInputs(eks_proxy_config=EKS_NFT, services=50_000))
    assert (eks.result, eks.properties["mode"]) == ("pass", "nftables")


def test_the_daemonset_flag_counts_only_without_a_config_file() -> None:
    flag = proxy_mode(ProxyInputs(daemonsets=[ds("kube-proxy", ["--proxy-mode=ipvs"])], services=2000))
    assert (flag.result, flag.properties["mode"]) == ("pass", "ipvs")
    default = proxy_mode(ProxyInputs(daemonsets=[ds("kube-proxy", ["--v=2"])], services=2000))
    assert (default.result, default.properties["mode"]) == ("warn", "iptables")
    hidden = proxy_mode(ProxyInputs(daemonsets=[ds("kube-proxy", ["--config=/var/lib/kube-proxy/config.conf", "--proxy-mode=ipvs"])]))
    assert hidden.result == "skip"


@pytest.mark.parametrize(
    "inputs, mode",
    [
        (ProxyInputs(cilium_config=cm("cilium-config", {"kube-proxy-replacement": "true"})), "cilium-ebpf"),
        (ProxyInputs(cilium_config=cm("cilium-config", {"kube-proxy-replacement": "strict"})), "cilium-ebpf"),
        (ProxyInputs(felix_configuration={"metadata": {"name": "default"}, "spec": {"bpfEnabled": True}}), "calico-ebpf"),
        (
            ProxyInputs(calico_installation={"metadata": {"name": "default"}, "spec": {"calicoNetwork": {"linuxDataplane": "BPF"}}}),
            "calico-ebpf",
        ),
        (ProxyInputs(daemonsets=[ds("kube-router", ["--run-router=true", "--run-service-proxy=true"])]), "kube-router-ipvs"),
    ],
)
def test_replacements_pass_with_their_mode(inputs: ProxyInputs, mode: str) -> None:
    # a kube-proxy ConfigMap left behind in iptables mode does not matter once a replacement proxies services
    inputs = ProxyInputs(**{**inputs.__dict__, "kube_proxy_config": KUBEADM_IPTABLES, "services": 9999})
    r = proxy_mode(inputs)
    assert (r.result, r.properties["mode"]) == ("pass", mode)


def test_cilium_without_replacement_falls_back_to_kube_proxy_and_nothing_known_skips() -> None:
    partial = ProxyInputs(
        cilium_config=cm("cilium-config", {"kube-proxy-replacement": "false"}), kube_proxy_config=KUBEADM_IPTABLES, services=1
    )
    assert proxy_mode(partial).properties["mode"] == "iptables"
    router_off = ProxyInputs(daemonsets=[ds("kube-router", ["--run-service-proxy=false"])])
    nothing = proxy_mode(router_off)
    assert nothing.result == "skip" and nothing.resource is None


# -- metrics-pipeline ---------------------------------------------------------------------------------------
def apiservice(status: str, reason: str = "Passed") -> dict[str, Any]:
    return {
        "metadata": {"name": "v1beta1.metrics.k8s.io", "uid": "u-api"},
        "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
        "status": {"conditions": [{"type": "Available", "status": status, "reason": reason, "message": "all checks passed"}]},
    }


def deployment(replicas: int) -> dict[str, Any]:
    return {"metadata": {"name": "metrics-server", "namespace": "kube-system"}, "spec": {"replicas": replicas}}


def test_metrics_pipeline_absent_or_unavailable_fails() -> None:
    absent = metrics_pipeline(None, None)
    assert (absent.result, absent.severity, absent.category, absent.resource) == ("fail", "medium", "Metrics", None)
    down = metrics_pipeline(apiservice("False", "MissingEndpoints"), deployment(2))
    assert down.result == "fail" and "MissingEndpoints" in down.message
    assert down.resource is not None and down.resource.kind == "APIService"


def test_metrics_server_with_one_replica_warns_and_two_pass() -> None:
    one = metrics_pipeline(apiservice("True"), deployment(1))
    assert (one.result, one.properties) == ("warn", {"replicas": "1"})
    assert one.resource is not None and (one.resource.kind, one.resource.name) == ("Deployment", "metrics-server")
    assert metrics_pipeline(apiservice("True"), deployment(2)).result == "pass"
    # served by something else (prometheus-adapter) whose Deployment we did not find: nothing to count
    assert metrics_pipeline(apiservice("True"), None).result == "pass"


# -- spec checks --------------------------------------------------------------------------------------------
def container(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "app:1", "resources": {"requests": requests or {}, "limits": limits or {}}, **extra}


def test_memory_limit_warns_for_each_container_without_one_sidecars_included() -> None:
    spec = {
        "initContainers": [container("proxy", limits={"memory": "64Mi"}, restartPolicy="Always"), container("migrate")],
        "containers": [container("app", {"memory": "1Gi"}), container("log", limits={"memory": "32Mi"})],
    }
    r = memory_limit(spec)
    assert (r.result, r.properties) == ("warn", {"containers": "migrate,app"})
    assert memory_limit({"containers": [container("app", limits={"memory": "1Gi"})]}).result == "pass"
    # a pod-level memory limit bounds them all
    assert memory_limit({**spec, "resources": {"limits": {"memory": "4Gi"}}}).result == "pass"


def test_emptydir_without_size_limit_fails_in_memory_and_warns_on_disk() -> None:
    vols = [
        {"name": "cache", "emptyDir": {}},
        {"name": "shm", "emptyDir": {"medium": "Memory"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "cfg", "configMap": {"name": "x"}},
    ]
    both = emptydir_size_limit({"containers": [container("a")], "volumes": vols})
    assert (both.result, both.properties) == ("fail", {"volumes": "cache,shm"})
    disk = emptydir_size_limit({"containers": [container("a")], "volumes": [vols[0], vols[2]]})
    assert (disk.result, disk.properties) == ("warn", {"volumes": "cache"})
    assert emptydir_size_limit({"containers": [container("a")], "volumes": vols[2:]}).result == "pass"


def test_ephemeral_storage_requests_for_disk_emptydir_writers_only() -> None:
    ro = {"readOnlyRootFilesystem": True}
    spec = {
        "volumes": [{"name": "scratch", "emptyDir": {}}, {"name": "shm", "emptyDir": {"medium": "Memory"}}],
        "containers": [
            container("writable-root"),  # writes its root filesystem
            container("scratch-writer", securityContext=ro, volumeMounts=[{"name": "scratch", "mountPath": "/s"}]),
            container("scratch-reader", securityContext=ro, volumeMounts=[{"name": "scratch", "mountPath": "/s", "readOnly": True}]),
            container("shm-only", securityContext=ro, volumeMounts=[{"name": "shm", "mountPath": "/dev/shm"}]),
            container("requested", {"ephemeral-storage": "1Gi"}),
            container("limited", limits={"ephemeral-storage": "1Gi"}),
        ],
    }
    r = ephemeral_storage_requests(spec)
    # a writable root alone does not warn (README: nearly every container has one); the read-write disk emptyDir does
    assert (r.result, r.properties) == ("warn", {"containers": "scratch-writer"})
    clean = {"containers": [container("root-writer"), container("req", {"ephemeral-storage": "500Mi"})]}
    assert ephemeral_storage_requests(clean).result == "pass"


def test_the_replica_threshold_comes_from_the_policy() -> None:
    assert metrics_pipeline(apiservice("True"), deployment(2), min_replicas=3).result == "warn"
    assert metrics_pipeline(apiservice("True"), deployment(3), min_replicas=3).result == "pass"


def test_the_policy_schema_names_every_rule_and_only_those() -> None:
    from kubectl_perf.audit.rules import CHECKS
    from kubectl_perf.policy_file import schema

    assert schema()["properties"]["audit"]["properties"]["disable"]["items"]["enum"] == [c.id for c in CHECKS]


def test_the_readme_rule_table_lists_the_registry() -> None:
    """The README's audit rule table: exactly the registry's checks, in its order, with their category and severity."""
    from pathlib import Path

    from kubectl_perf.audit.rules import CHECKS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("| rule | category | severity |")
    rows = readme[start:].split("\n\n", 1)[0].splitlines()[2:]
    table = [tuple(cell.strip().strip("`") for cell in row.strip("|").split("|")[:3]) for row in rows]
    assert table == [(c.id, c.category, c.severity) for c in CHECKS]


def test_every_check_default_is_a_policy_key_and_the_plan_follows_enablement() -> None:
    """A check's defaults are keys under the policy's audit: (the schema knows them); a disabled check's read is not planned."""
    from kubectl_perf.audit.check import METRICS_API, NODE_USAGE
    from kubectl_perf.audit.rules import CHECKS
    from kubectl_perf.policy_file import schema

    keys = schema()["properties"]["audit"]["properties"]
    assert all(k in keys for c in CHECKS for k in c.defaults)
    assert {NODE_USAGE, METRICS_API} <= Settings().reads
    assert NODE_USAGE not in Settings(disabled=frozenset({"node-padding"})).reads
