"""Server-side printing: the meta.k8s.io Table kubectl asks for by default,
with the columns the real API server prints for each resource."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .store import dotted

COLUMNS = {
    "pods": [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Status", "string", "", 0),
        ("Restarts", "string", "", 0),
        ("Age", "string", "", 0),
        ("IP", "string", "", 1),
        ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1),
        ("Readiness Gates", "string", "", 1),
    ],
    "nodes": [
        ("Name", "string", "name", 0),
        ("Status", "string", "", 0),
        ("Roles", "string", "", 0),
        ("Age", "string", "", 0),
        ("Version", "string", "", 0),
        ("Internal-IP", "string", "", 1),
        ("External-IP", "string", "", 1),
        ("OS-Image", "string", "", 1),
        ("Kernel-Version", "string", "", 1),
        ("Container-Runtime", "string", "", 1),
    ],
    "namespaces": [("Name", "string", "name", 0), ("Status", "string", "", 0), ("Age", "string", "", 0)],
}


def age(created: str) -> str:
    if not created:
        return "<unknown>"
    then = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    secs = int((datetime.now(timezone.utc) - then).total_seconds())
    if secs < 120:
        return f"{secs}s"
    if secs < 3600 * 3:
        return f"{secs // 60}m"
    if secs < 86400 * 2:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


def cells(resource: str, obj: dict[str, Any]) -> list[Any]:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    if resource == "pods":
        statuses = status.get("containerStatuses") or []
        spec = obj.get("spec") or {}
        # Sidecars (restartable init containers) count towards READY, as kubectl prints since 1.29.
        sidecars = {c.get("name") for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"}
        sidecar_statuses = [s for s in status.get("initContainerStatuses") or [] if s.get("name") in sidecars]
        ready = sum(1 for s in statuses + sidecar_statuses if s.get("ready"))
        total = len(spec.get("containers") or []) + len(sidecars)
        phase = status.get("phase", "")
        reason = phase
        for s in statuses:
            term = (s.get("state") or {}).get("terminated")
            if term and phase in ("Succeeded", "Failed"):
                reason = term.get("reason") or phase
        return [
            meta.get("name"),
            f"{ready}/{total}",
            reason,
            sum(int(s.get("restartCount", 0)) for s in statuses),
            age(meta.get("creationTimestamp", "")),
            status.get("podIP") or "<none>",
            dotted(obj, "spec.nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>",
            "<none>",
        ]
    if resource == "nodes":
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        state = "Ready" if ready else "NotReady"
        if (obj.get("spec") or {}).get("unschedulable"):
            state += ",SchedulingDisabled"
        roles = sorted(k.split("/", 1)[1] for k in (meta.get("labels") or {}) if k.startswith("node-role.kubernetes.io/"))
        addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        info = status.get("nodeInfo") or {}
        return [
            meta.get("name"),
            state,
            ",".join(roles) or "<none>",
            age(meta.get("creationTimestamp", "")),
            info.get("kubeletVersion", ""),
            addrs.get("InternalIP", "<none>"),
            addrs.get("ExternalIP", "<none>"),
            info.get("osImage", ""),
            info.get("kernelVersion", ""),
            info.get("containerRuntimeVersion", ""),
        ]
    return [meta.get("name"), status.get("phase", "Active"), age(meta.get("creationTimestamp", ""))]


def table(resource: str, objects: list[dict[str, Any]], list_meta: dict[str, Any], include: str) -> dict[str, Any]:
    rows = []
    for obj in objects:
        if include == "None":
            ref: Any = None
        elif include == "Object":
            ref = obj
        else:
            ref = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}
        rows.append({"cells": cells(resource, obj), "object": ref})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [{"name": n, "type": t, "format": f, "description": n, "priority": p} for n, t, f, p in COLUMNS[resource]],
        "rows": rows,
    }
