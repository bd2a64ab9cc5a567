"""Server-side printing: the meta.k8s.io Table kubectl asks for by default,
with the columns the real API server prints for each resource."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .store import Collection, dotted

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
    "deployments": [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Up-to-date", "string", "", 0),
        ("Available", "string", "", 0),
        ("Age", "string", "", 0),
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ],
    "replicasets": [
        ("Name", "string", "name", 0),
        ("Desired", "integer", "", 0),
        ("Current", "integer", "", 0),
        ("Ready", "integer", "", 0),
        ("Age", "string", "", 0),
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ],
    "statefulsets": [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Age", "string", "", 0),
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
    ],
    "daemonsets": [
        ("Name", "string", "name", 0),
        ("Desired", "integer", "", 0),
        ("Current", "integer", "", 0),
        ("Ready", "integer", "", 0),
        ("Up-to-date", "integer", "", 0),
        ("Available", "integer", "", 0),
        ("Node Selector", "string", "", 0),
        ("Age", "string", "", 0),
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ],
    "jobs": [
        ("Name", "string", "name", 0),
        ("Status", "string", "", 0),
        ("Completions", "string", "", 0),
        ("Duration", "string", "", 0),
        ("Age", "string", "", 0),
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ],
    "cronjobs": [
        ("Name", "string", "name", 0),
        ("Schedule", "string", "", 0),
        ("Timezone", "string", "", 0),
        ("Suspend", "boolean", "", 0),
        ("Active", "integer", "", 0),
        ("Last Schedule", "string", "", 0),
        ("Age", "string", "", 0),
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ],
    "configmaps": [("Name", "string", "name", 0), ("Data", "string", "", 0), ("Age", "string", "", 0)],
    "services": [
        ("Name", "string", "name", 0),
        ("Type", "string", "", 0),
        ("Cluster-IP", "string", "", 0),
        ("External-IP", "string", "", 0),
        ("Port(s)", "string", "", 0),
        ("Age", "string", "", 0),
        ("Selector", "string", "", 1),
    ],
    "apiservices": [("Name", "string", "name", 0), ("Service", "string", "", 0), ("Available", "string", "", 0), ("Age", "string", "", 0)],
    # as the API server's printer for core v1 Events (kubectl get events)
    "events": [
        ("Last Seen", "string", "", 0),
        ("Type", "string", "", 0),
        ("Reason", "string", "", 0),
        ("Object", "string", "", 0),
        ("Subobject", "string", "", 1),
        ("Source", "string", "", 1),
        ("Message", "string", "", 0),
        ("First Seen", "string", "", 1),
        ("Count", "string", "", 1),
        ("Name", "string", "name", 1),
    ],
}
DEFAULT_COLUMNS = [("Name", "string", "name", 0), ("Created At", "date", "", 0)]


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


def _template_columns(spec: dict[str, Any]) -> list[str]:
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def _selector(spec: dict[str, Any]) -> str:
    labels = (spec.get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"


def workload_cells(resource: str, obj: dict[str, Any]) -> list[Any] | None:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    name, created = meta.get("name"), age(meta.get("creationTimestamp", ""))
    if resource == "deployments":
        return [
            name,
            f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0),
            created,
            *_template_columns(spec),
            _selector(spec),
        ]
    if resource == "replicasets":
        return [
            name,
            spec.get("replicas", 0),
            status.get("replicas", 0),
            status.get("readyReplicas", 0),
            created,
            *_template_columns(spec),
            _selector(spec),
        ]
    if resource == "statefulsets":
        return [name, f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", created, *_template_columns(spec)]
    if resource == "daemonsets":
        node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
        return [
            name,
            status.get("desiredNumberScheduled", 0),
            status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0),
            status.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in node_selector.items()) or "<none>",
            created,
            *_template_columns(spec),
            _selector(spec),
        ]
    if resource == "jobs":
        conditions = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
        state = "Complete" if "Complete" in conditions else "Failed" if "Failed" in conditions else "Running"
        return [
            name,
            state,
            f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}",
            "",
            created,
            *_template_columns(spec),
            _selector(spec),
        ]
    if resource == "cronjobs":
        template = (spec.get("jobTemplate") or {}).get("spec") or {}
        return [
            name,
            spec.get("schedule", ""),
            spec.get("timeZone", "<none>"),
            str(bool(spec.get("suspend"))),
            len(status.get("active") or []),
            age(status.get("lastScheduleTime", "")) if status.get("lastScheduleTime") else "<none>",
            created,
            *_template_columns(template),
            _selector(template),
        ]
    if resource == "configmaps":
        return [name, len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), created]
    if resource == "services":
        ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
        selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>"
        return [name, spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), "<none>", ports, created, selector]
    if resource == "events":
        involved = obj.get("involvedObject") or {}
        source = obj.get("source") or {}
        last = obj.get("lastTimestamp") or str(obj.get("eventTime") or "")[:19] + ("Z" if obj.get("eventTime") else "")
        return [
            age(last),
            obj.get("type", ""),
            obj.get("reason", ""),
            f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
            involved.get("fieldPath", ""),
            ", ".join(v for v in (source.get("component"), source.get("host")) if v),
            obj.get("message", ""),
            age(obj.get("firstTimestamp") or last),
            str(obj.get("count") or 1),
            name,
        ]
    if resource == "apiservices":
        svc = spec.get("service")
        available: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Available"), {})
        shown = "True" if available.get("status") == "True" else f"False ({available.get('reason', '')})"
        return [name, f"{svc['namespace']}/{svc['name']}" if svc else "Local", shown, created]
    return None


def printer_cells(columns: list[dict[str, Any]], obj: dict[str, Any]) -> list[Any]:
    """A custom resource's additionalPrinterColumns (simple JSON paths only)."""
    out: list[Any] = [(obj.get("metadata") or {}).get("name")]
    for col in columns:
        value = dotted_value(obj, col.get("jsonPath", "").lstrip("."))
        if col.get("jsonPath") == ".metadata.creationTimestamp":
            value = age(value or "")
        out.append(value)
    return out


def dotted_value(obj: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


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
            str(sum(int(s.get("restartCount", 0)) for s in statuses)),
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
            info.get("osImage") or "<unknown>",
            f"{info['kernelVersion']} ({info['architecture']})"
            if info.get("kernelVersion") and info.get("architecture")
            else info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>",
        ]
    if resource == "namespaces":
        return [meta.get("name"), status.get("phase", "Active"), age(meta.get("creationTimestamp", ""))]
    return workload_cells(resource, obj) or [meta.get("name"), meta.get("creationTimestamp", "")]


def table(coll: Collection, objects: list[dict[str, Any]], list_meta: dict[str, Any], include: str) -> dict[str, Any]:
    resource = coll.name
    if coll.printer_columns:
        columns = [("Name", "string", "name", 0)] + [
            (c.get("name", ""), c.get("type", "string"), c.get("format", ""), c.get("priority", 0)) for c in coll.printer_columns
        ]
    else:
        columns = COLUMNS.get(resource, DEFAULT_COLUMNS)
    rows = []
    for obj in objects:
        if include == "None":
            ref: Any = None
        elif include == "Object":
            ref = obj
        else:
            ref = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}
        row = printer_cells(coll.printer_columns, obj) if coll.printer_columns else cells(resource, obj)
        rows.append({"cells": row, "object": ref})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [{"name": n, "type": t, "format": f, "description": n, "priority": p} for n, t, f, p in columns],
        "rows": rows,
    }
