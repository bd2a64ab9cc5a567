"""API discovery (/api, /apis, resource lists) computed from what the store serves,
so a CustomResourceDefinition or the metrics APIService appears as it comes and goes."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .store import Kind, Store

VERSION = {  # the release perf-sim is proven against (tests/test_differential.py)
    "major": "1",
    "minor": "36",
    "emulationMajor": "1",
    "emulationMinor": "36",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "35",
    "gitVersion": "v1.36.2",
    "gitCommit": "98b35193b2ac7a23a673325f5e9b830ecd5ba406",
    "gitTreeState": "clean",
    "buildDate": "2026-11-01T00:00:00Z",
    "goVersion": "go1.26.10",
    "compiler": "gc",
    "platform": "linux/amd64",
}
# Subresources the suite's requests touch: kubectl's discovery lists them.
SUBRESOURCES = {
    "pods": (("pods/status", "Pod", ("get", "patch", "update")),),
    "nodes": (
        ("nodes/proxy", "NodeProxyOptions", ("create", "delete", "get", "patch", "update")),
        ("nodes/status", "Node", ("get", "patch", "update")),
    ),
    "persistentvolumes": (("persistentvolumes/status", "PersistentVolume", ("get", "patch", "update")),),
    "persistentvolumeclaims": (("persistentvolumeclaims/status", "PersistentVolumeClaim", ("get", "patch", "update")),),
    "deployments": (("deployments/status", "Deployment", ("get", "patch", "update")),),
    "statefulsets": (("statefulsets/status", "StatefulSet", ("get", "patch", "update")),),
    "daemonsets": (("daemonsets/status", "DaemonSet", ("get", "patch", "update")),),
    "replicasets": (("replicasets/status", "ReplicaSet", ("get", "patch", "update")),),
    "jobs": (("jobs/status", "Job", ("get", "patch", "update")),),
    "cronjobs": (("cronjobs/status", "CronJob", ("get", "patch", "update")),),
    "apiservices": (("apiservices/status", "APIService", ("get", "patch", "update")),),
    "customresourcedefinitions": (("customresourcedefinitions/status", "CustomResourceDefinition", ("get", "patch", "update")),),
}


def served(store: Store) -> dict[str, list[Kind]]:
    """Served kinds by group version, metrics.k8s.io only while its APIService is Available."""
    out: dict[str, list[Kind]] = {}
    metrics = store.metrics_state() == "available"
    for kind in store.kinds.values():
        if kind.group == "metrics.k8s.io" and not metrics:
            continue
        out.setdefault(kind.group_version, []).append(kind)
    return out


def resource_list(group_version: str, kinds: list[Kind]) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for k in sorted(kinds, key=lambda k: k.resource):
        entry: dict[str, Any] = {
            "name": k.resource,
            "singularName": k.kind.lower(),
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": list(k.verbs),
        }
        if k.short_names:
            entry["shortNames"] = list(k.short_names)
        if k.categories:
            entry["categories"] = list(k.categories)
        if not k.group.endswith("metrics.k8s.io"):  # served from storage: a hash of its storage version
            stored = (
                "v1beta1" if k.kind == "CustomResourceDefinition" else k.group_version.rpartition("/")[2]
            )  # still kept as v1beta1 in etcd
            digest = hashlib.sha256(f"{k.group}/{stored}/{k.kind}".encode()).digest()
            entry["storageVersionHash"] = base64.b64encode(digest[:8]).decode()
        resources.append(entry)
        for sub, kind, verbs in SUBRESOURCES.get(k.resource, ()) if not k.group.endswith("metrics.k8s.io") else ():
            resources.append({"name": sub, "singularName": "", "namespaced": k.namespaced, "kind": kind, "verbs": list(verbs)})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def groups(store: Store) -> dict[str, Any]:
    by_group: dict[str, list[str]] = {}
    for gv in served(store):
        if "/" in gv:
            g, _, v = gv.rpartition("/")
            by_group.setdefault(g, []).append(v)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group(g, vs) for g, vs in by_group.items()]}


def openapi_v3(store: Store, path: str) -> dict[str, Any] | None:
    """Just enough OpenAPI v3 for kubectl to see that every PATCH takes fieldValidation,
    so `kubectl apply` leaves validation to the server instead of needing schemas."""
    by_gv = served(store)
    if path == "/openapi/v3":
        return {
            "paths": {
                ("api/" if "/" not in gv else "apis/") + gv: {"serverRelativeURL": f"/openapi/v3/{'api' if '/' not in gv else 'apis'}/{gv}"}
                for gv in by_gv
            }
        }
    gv = path.removeprefix("/openapi/v3/").removeprefix("apis/").removeprefix("api/")
    if gv not in by_gv:
        return None
    paths = {}
    for k in by_gv[gv]:
        base = f"/api/{gv}" if "/" not in gv else f"/apis/{gv}"
        item = f"{base}/namespaces/{{namespace}}/{k.resource}/{{name}}" if k.namespaced else f"{base}/{k.resource}/{{name}}"
        gvk = {"group": k.group, "version": gv.rpartition("/")[2], "kind": k.kind}
        paths[item] = {
            "patch": {
                "operationId": f"patch{k.kind}",
                "parameters": [
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def static(store: Store, path: str, host: str) -> dict[str, Any] | None:
    """The discovery document at path, or None when path is not a discovery path."""
    if path.startswith("/openapi/v3"):
        return openapi_v3(store, path)
    if path == "/version":
        return VERSION
    if path == "/api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
        }
    if path == "/apis":
        return groups(store)
    by_gv = served(store)
    if path == "/api/v1":
        return resource_list("v1", by_gv["v1"])
    parts = path.split("/")
    if len(parts) == 3 and parts[1] == "apis":
        for g in groups(store)["groups"]:
            if g["name"] == parts[2]:
                return {"kind": "APIGroup", "apiVersion": "v1", **g}
    if len(parts) == 4 and parts[1] == "apis":
        gv = f"{parts[2]}/{parts[3]}"
        if gv in by_gv:
            return resource_list(gv, by_gv[gv])
    return None
