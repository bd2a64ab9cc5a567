"""What the audit reads from the cluster: every call to the API is here.

Controllers are few and kept (ReplicaSets and Jobs only as owner references);
pods are folded into the Audit a page at a time and never held."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..api import ApiError, Cluster, path_for
from ..model import parse_resource_list
from ..owners import owner_index
from ..render import note
from ..running_pods import RUNNING_PODS
from ..usage import UsageSource, read_usage
from .check import METRICS_API, PROXY
from .cluster_checks import METRICS_APISERVICE, ClusterFacts, ProxyInputs
from .compute import Audit, Controller, top_controllers

KS = "/api/v1/namespaces/kube-system"


def get_or_none(cluster: Cluster, path: str) -> Any:
    """GET an object that may be absent (404), or whose API group is not served."""
    try:
        return cluster.get(path)
    except ApiError as err:
        if err.status == 404:
            return None
        raise


def _metadata_only(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"metadata": i.get("metadata") or {}} for i in items]


def list_all(cluster: Cluster, path: str, keep_metadata_only: bool = False, optional: bool = False) -> list[dict[str, Any]]:
    """Every item of a list; with `optional`, a resource the server does not serve lists as empty."""
    try:
        return cluster.fold(path, list, lambda acc, items: acc.extend(_metadata_only(items) if keep_metadata_only else items))
    except ApiError as err:
        if optional and err.status == 404:
            return []
        raise


@dataclass
class Controllers:
    owners: dict[tuple[str, str, str], Any]
    daemonsets: dict[tuple[str, str], dict[str, Any]]
    templates: list[Controller]  # the top-level controllers, judged from their pod templates


# kind -> (API group path, resource); each is listed once, its pod template kept only for top-level controllers
CONTROLLER_PATHS = {
    "Deployment": ("/apis/apps/v1", "deployments"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "Job": ("/apis/batch/v1", "jobs"),
    "CronJob": ("/apis/batch/v1", "cronjobs"),
}


def scoped_path(group: str, resource: str, namespace: str | None) -> str:
    """A namespaced resource's list path, in one namespace or across all (-n narrows every list)."""
    if group == "/api/v1":
        return path_for(resource, namespace)
    return f"{group}/namespaces/{quote(namespace, safe='')}/{resource}" if namespace else f"{group}/{resource}"


def controllers(cluster: Cluster, namespace: str | None = None, selector: str = "") -> Controllers:
    """Every controller of the scope (a group the server does not serve lists as empty; -l selects by the
    controllers' own labels, as kubectl get -l). ReplicaSets and Jobs also index owners (without them
    owners.py falls back on the controllers' naming conventions); the top-level ones keep their pod
    template, so workloads with no pod now are judged too. In one namespace, a kind the user's Role does
    not let them list is left out with a note: their pods are still judged, resolved by naming conventions."""
    listed: dict[str, list[dict[str, Any]]] = {}
    templates: list[Controller] = []
    query = {"labelSelector": selector} if selector else None
    for kind, (group, resource) in CONTROLLER_PATHS.items():
        path = scoped_path(group, resource, namespace)
        try:
            items: list[dict[str, Any]] = cluster.fold(path, list, lambda acc, page: acc.extend(page), query)
        except ApiError as err:
            if err.status == 404:
                items = []  # the group is not served
            elif err.status == 403 and namespace:
                note(f"note: {resource} are not listed ({err}): their pods are judged without them")
                items = []
            else:
                raise
        templates.extend(top_controllers(kind, items))
        if kind in ("ReplicaSet", "Job", "DaemonSet"):
            listed[kind] = items if kind == "DaemonSet" else _metadata_only(items)
    daemonsets = {(d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in listed["DaemonSet"]}
    return Controllers(owner_index(listed["ReplicaSet"], listed["Job"]), daemonsets, templates)


def nodes(cluster: Cluster, namespace: str | None) -> tuple[list[dict[str, Any]], str]:
    """Every node, and "" ; in one namespace a user whose Role does not cover nodes gets none and the
    reason (padding and image-size then skip with it); across all namespaces a 403 stops the audit."""
    try:
        return list_all(cluster, "/api/v1/nodes"), ""
    except ApiError as err:
        if err.status == 403 and namespace:
            return [], f"the nodes cannot be listed ({err}): padding budgets and node image lists are unknown"
        raise


def node_usage(cluster: Cluster, names: Sequence[str], source: UsageSource) -> tuple[dict[str, int] | None, str, list[str]]:
    """Memory in use per node (nanos of bytes, as model amounts), or None and why; and the notes
    of the usage source (the kubelets read in metrics-server's stead, nodes they could not read,
    metrics-server's figures stale): usage.read_usage, as capacity reads it."""
    got = read_usage(cluster, names, source)
    if got.nodes is None:
        return None, got.unavailable, got.notes
    return {i["metadata"]["name"]: parse_resource_list(i.get("usage") or {}).get("memory", 0) for i in got.nodes}, "", got.notes


def proxy_inputs(cluster: Cluster, daemonsets: Mapping[tuple[str, str], Any], kernels: Mapping[str, str]) -> ProxyInputs:
    services = len(list_all(cluster, "/api/v1/services", keep_metadata_only=True, optional=True))
    version = get_or_none(cluster, "/version") or {}
    try:
        minor: int | None = int(str(version.get("minor", "")).rstrip("+"))
    except ValueError:
        minor = None
    return ProxyInputs(
        kube_proxy_config=get_or_none(cluster, f"{KS}/configmaps/kube-proxy"),
        eks_proxy_config=get_or_none(cluster, f"{KS}/configmaps/kube-proxy-config"),
        cilium_config=get_or_none(cluster, f"{KS}/configmaps/cilium-config"),
        daemonsets=[d for (ns, _n), d in daemonsets.items() if ns == "kube-system"],
        felix_configuration=get_or_none(cluster, "/apis/crd.projectcalico.org/v1/felixconfigurations/default"),
        calico_installation=get_or_none(cluster, "/apis/operator.tigera.io/v1/installations/default"),
        services=services,
        server_minor=minor,
        kernels=kernels,
    )


def metrics_objects(cluster: Cluster) -> tuple[Any, Any]:
    """The metrics APIService and the Deployment behind its Service (same name, same namespace)."""
    apiservice = get_or_none(cluster, f"/apis/apiregistration.k8s.io/v1/apiservices/{METRICS_APISERVICE}")
    service = ((apiservice or {}).get("spec") or {}).get("service") or {}
    backend = None
    if service.get("name") and service.get("namespace"):
        backend = get_or_none(cluster, f"/apis/apps/v1/namespaces/{service['namespace']}/deployments/{service['name']}")
    return apiservice, backend


def cluster_facts(
    cluster: Cluster, reads: frozenset[str], daemonsets: Mapping[tuple[str, str], Any], kernels: Mapping[str, str]
) -> ClusterFacts:
    """The objects the cluster checks of this run judge; only the reads in the plan are made.
    A read RBAC refuses (403) feeds one check only: that check is skipped with the server's reason,
    and the rest of the audit runs (any other error still stops it)."""
    unavailable: dict[str, str] = {}
    proxy, apiservice, backend = ProxyInputs(), None, None
    if PROXY in reads:
        try:
            proxy = proxy_inputs(cluster, daemonsets, kernels)
        except ApiError as err:
            if err.status != 403:
                raise
            unavailable[PROXY] = f"the service proxy's configuration cannot be read: {err}"
    if METRICS_API in reads:
        try:
            apiservice, backend = metrics_objects(cluster)
        except ApiError as err:
            if err.status != 403:
                raise
            unavailable[METRICS_API] = f"the metrics pipeline cannot be read: {err}"
    return ClusterFacts(proxy, apiservice, backend, unavailable)


def fold_pods(cluster: Cluster, audit: Audit, chunk_size: int, namespace: str | None = None, selector: str = "") -> None:
    """Every pod of the scope not finished (the server leaves Succeeded and Failed out, as for capacity), into the Audit."""
    query = {"fieldSelector": RUNNING_PODS, **({"labelSelector": selector} if selector else {})}
    cluster.fold(path_for("pods", namespace), lambda: audit.reset_pods(), lambda acc, items: acc.add_pods(items), query, limit=chunk_size)
