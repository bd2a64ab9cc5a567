"""Cluster-level checks: the service proxy and the metrics pipeline, judged from
objects the API serves (reference notes, section 9). Pure: fetched dicts in, results out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..reports import Ref
from .outcome import Outcome

Obj = Mapping[str, Any]
DEFAULT_PROXY_THRESHOLD = 1000  # Services; past this iptables rule sync time grows noticeably


@dataclass(frozen=True)
class ProxyInputs:
    """What the proxy check reads, all from kube-system unless said otherwise; None when absent."""

    kube_proxy_config: Obj | None = None  # ConfigMap kube-proxy (kubeadm), key config.conf
    eks_proxy_config: Obj | None = None  # ConfigMap kube-proxy-config (EKS), key config
    cilium_config: Obj | None = None  # ConfigMap cilium-config
    daemonsets: Sequence[Obj] = field(default_factory=tuple)  # kube-system DaemonSets
    felix_configuration: Obj | None = None  # crd.projectcalico.org FelixConfiguration "default"
    calico_installation: Obj | None = None  # operator.tigera.io Installation "default"
    services: int = 0  # Services in the cluster
    server_minor: int | None = None  # the API server's 1.x minor version
    kernels: Mapping[str, str] = field(default_factory=dict)  # Linux node -> status.nodeInfo.kernelVersion ("" unknown)


@dataclass(frozen=True)
class ClusterFacts:
    """What the cluster checks judge: the objects the plan's reads fetched (these defaults when not read)."""

    proxy: ProxyInputs = ProxyInputs()
    metrics_apiservice: Obj | None = None  # APIService v1beta1.metrics.k8s.io
    metrics_backend: Obj | None = None  # the Deployment behind its Service
    unavailable: Mapping[str, str] = field(default_factory=dict)  # a read RBAC refused (check.PROXY...) -> why


def _ref(obj: Obj, api_version: str, kind: str) -> Ref:
    meta = obj.get("metadata") or {}
    return Ref(api_version, kind, str(meta.get("name", "")), str(meta.get("namespace", "")), str(meta.get("uid", "")))


def _args(ds: Obj) -> list[str]:
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [str(a) for c in spec.get("containers") or () for a in [*(c.get("command") or ()), *(c.get("args") or ())]]


def _flag(args: Sequence[str], name: str) -> str | None:
    """The value of --name=value or --name value; '' for a bare --name."""
    for i, arg in enumerate(args):
        if arg == f"--{name}":
            nxt = args[i + 1] if i + 1 < len(args) else ""
            return "" if nxt.startswith("-") else nxt
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def _config_mode(cm: Obj, key: str) -> str | None:
    """`mode` of a KubeProxyConfiguration kept in a ConfigMap; None when it cannot be read."""
    text = (cm.get("data") or {}).get(key)
    if text is None:
        return None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict):
        return None
    return str(doc.get("mode") or "")


def _replacement(inp: ProxyInputs) -> tuple[str, Ref] | None:
    """An eBPF or IPVS replacement of kube-proxy: (mode, the object that says so)."""
    if inp.cilium_config is not None:
        value = str((inp.cilium_config.get("data") or {}).get("kube-proxy-replacement", "")).lower()
        if value in ("true", "strict"):
            return "cilium-ebpf", _ref(inp.cilium_config, "v1", "ConfigMap")
    felix = inp.felix_configuration
    if felix is not None and (felix.get("spec") or {}).get("bpfEnabled") is True:
        return "calico-ebpf", _ref(felix, "crd.projectcalico.org/v1", "FelixConfiguration")
    install = inp.calico_installation
    if install is not None and ((install.get("spec") or {}).get("calicoNetwork") or {}).get("linuxDataplane") == "BPF":
        return "calico-ebpf", _ref(install, "operator.tigera.io/v1", "Installation")
    for ds in inp.daemonsets:
        args = _args(ds)
        is_router = (ds.get("metadata") or {}).get("name") == "kube-router" or any(a.endswith("kube-router") for a in args)
        if is_router and _flag(args, "run-service-proxy") in (None, "", "true"):  # kube-router's default is true
            return "kube-router-ipvs", _ref(ds, "apps/v1", "DaemonSet")
    return None


def _kube_proxy_mode(inp: ProxyInputs) -> tuple[str, Ref] | None:
    """kube-proxy's mode: its config file first (the flag is ignored when --config is given), then the flag."""
    for cm, key in ((inp.kube_proxy_config, "config.conf"), (inp.eks_proxy_config, "config")):
        if cm is not None:
            mode = _config_mode(cm, key)
            if mode is not None:
                return mode or "iptables", _ref(cm, "v1", "ConfigMap")
    for ds in inp.daemonsets:
        args = _args(ds)
        if (ds.get("metadata") or {}).get("name") == "kube-proxy" or any(a.endswith("kube-proxy") for a in args):
            if _flag(args, "config") is not None:
                return None  # the mode is in a config file the API does not show us
            return _flag(args, "proxy-mode") or "iptables", _ref(ds, "apps/v1", "DaemonSet")
    return None


NFTABLES_SINCE = 31  # kube-proxy's nftables mode: beta in 1.31, GA in 1.33
IPVS_DEPRECATED_SINCE = 35  # kube-proxy's IPVS mode is deprecated from 1.35 (KEP-5495)
NFTABLES_KERNEL = (5, 13)  # the kernel kube-proxy's nftables mode needs
NAMED_NODES = 10  # nodes named in a message; the rest are counted


def node_kernels(nodes: Sequence[Obj]) -> dict[str, str]:
    """Linux node name -> its kernelVersion as the kubelet reports it ("" when it does not)."""
    out: dict[str, str] = {}
    for n in nodes:
        info = (n.get("status") or {}).get("nodeInfo") or {}
        if info.get("operatingSystem", "linux") in ("linux", ""):  # Windows nodes' kube-proxy has its own mode
            out[str((n.get("metadata") or {}).get("name", ""))] = str(info.get("kernelVersion") or "")
    return out


def _kernel(version: str) -> tuple[int, int] | None:
    """(major, minor) from "5.15.0-1057-aws", "6.1.112-124.190.amzn2023.x86_64"; None when it does not say."""
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m[1]), int(m[2])) if m else None


def _listed(names: Sequence[str]) -> str:
    more = f" and {len(names) - NAMED_NODES} more" if len(names) > NAMED_NODES else ""
    return ", ".join(names[:NAMED_NODES]) + more


def kernel_note(kernels: Mapping[str, str]) -> tuple[str, dict[str, object]]:
    """What the nodes' kernels say about nftables mode (kernel 5.13 or later on every node): text, properties."""
    old = sorted(n for n, v in kernels.items() if (k := _kernel(v)) is not None and k < NFTABLES_KERNEL)
    unknown = sorted(n for n, v in kernels.items() if _kernel(v) is None)
    parts: list[str] = []
    props: dict[str, object] = {}
    if old:
        shown = [f"{n} ({kernels[n]})" for n in old]
        parts.append(f"nftables needs kernel 5.13 or later, which {len(old)} node(s) do not run: {_listed(shown)}")
        props["oldKernelNodes"] = ",".join(old)
    if unknown:
        parts.append(f"{len(unknown)} node(s) do not report their kernel: {_listed(unknown)}")
    if not parts and kernels:
        parts.append("every node runs kernel 5.13 or later")
    return "; ".join(parts), props


def _advice(minor: int | None, kernels: Mapping[str, str]) -> tuple[str, dict[str, object]]:
    """What to switch an iptables or IPVS kube-proxy to on this server: nftables from 1.31 (IPVS is
    deprecated from 1.35), IPVS only before 1.31 where nftables is not available."""
    if minor is not None and minor < NFTABLES_SINCE:
        return "switch kube-proxy to IPVS (nftables needs 1.31 or later) or to an eBPF replacement (Cilium, Calico eBPF)", {}
    note, props = kernel_note(kernels)
    advice = (
        "switch kube-proxy to nftables (beta in 1.31, GA in 1.33; kernel 5.13 or later) or to an eBPF replacement (Cilium, Calico eBPF)"
    )
    return f"{advice}{f' ({note})' if note else ''}", props


def proxy_mode(inp: ProxyInputs, threshold: int = DEFAULT_PROXY_THRESHOLD) -> Outcome:
    """Which service proxy the cluster runs; iptables past `threshold` Services warns."""
    props: dict[str, object] = {"services": inp.services, "threshold": threshold}
    found = _replacement(inp)
    if found:
        mode, ref = found
        return Outcome("pass", f"services are proxied by {mode} (kube-proxy replacement)", {"mode": mode, **props}, ref)
    found = _kube_proxy_mode(inp)
    if not found:
        why = "cannot tell the service proxy from the API: no kube-proxy ConfigMap or DaemonSet, no Cilium, Calico eBPF or kube-router"
        return Outcome("skip", why, props)
    mode, ref = found
    props = {"mode": mode, **props}
    if mode == "iptables" and inp.services > threshold:
        advice, extra = _advice(inp.server_minor, inp.kernels)
        message = (
            f"kube-proxy runs in iptables mode with {inp.services} Services (more than {threshold}): "
            f"rule updates slow down as Services grow; {advice}"
        )
        return Outcome("warn", message, {**props, **extra}, ref)
    if mode == "ipvs" and inp.server_minor is not None and inp.server_minor >= IPVS_DEPRECATED_SINCE:
        advice, extra = _advice(inp.server_minor, inp.kernels)
        message = f"kube-proxy runs in IPVS mode, deprecated from Kubernetes 1.35 (KEP-5495; this server is 1.{inp.server_minor}): {advice}"
        return Outcome("warn", message, {**props, **extra}, ref)
    return Outcome("pass", f"kube-proxy runs in {mode} mode ({inp.services} Services)", props, ref)


METRICS_APISERVICE = "v1beta1.metrics.k8s.io"
DEFAULT_METRICS_REPLICAS = 2


def metrics_pipeline(apiservice: Obj | None, backend: Obj | None, min_replicas: int = DEFAULT_METRICS_REPLICAS) -> Outcome:
    """The resource metrics pipeline: APIService v1beta1.metrics.k8s.io Available, and its
    backing Deployment (the APIService's service name in its namespace) with at least `min_replicas`."""
    if apiservice is None:
        message = (
            f"metrics.k8s.io is not served (no APIService {METRICS_APISERVICE}): kubectl top, HPA and the node-padding check "
            "need metrics-server"
        )
        return Outcome("fail", message)
    ref = _ref(apiservice, "apiregistration.k8s.io/v1", "APIService")
    available = next((c for c in (apiservice.get("status") or {}).get("conditions") or () if c.get("type") == "Available"), None)
    if not available or available.get("status") != "True":
        why = f"{available.get('reason', '')}: {available.get('message', '')}".strip(": ") if available else "no Available condition"
        return Outcome("fail", f"APIService {METRICS_APISERVICE} is not Available ({why})", {}, ref)
    if backend is not None:
        replicas = (backend.get("spec") or {}).get("replicas", 1)
        dref = _ref(backend, "apps/v1", "Deployment")
        if replicas is not None and int(replicas) < min_replicas:
            message = (
                f"{dref.namespace}/{dref.name} serves metrics.k8s.io with {replicas} replica(s): HPA and kubectl top stop "
                f"during its restarts; run {min_replicas} or more with a PodDisruptionBudget"
            )
            return Outcome("warn", message, {"replicas": replicas}, dref)
    return Outcome("pass", f"APIService {METRICS_APISERVICE} is Available", {}, ref)
