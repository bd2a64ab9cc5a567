"""Shared by the rightsize tests: a hand-written cluster (nodes, Deployments, their pods) in
perf-sim's objects format, with creation times relative to now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import yaml


def stamp(ago: timedelta) -> str:
    return (datetime.now(timezone.utc) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(name: str, pool: str, cpu: str, memory: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"node-pool": pool}},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def deployment(
    ns: str, name: str, age: timedelta, resources: dict[str, Any], pods: list[str], node_name: str, container: str = "app"
) -> list[dict[str, Any]]:
    """A Deployment, its ReplicaSet (hash abc12) and running pods NAME-abc12-<suffix>."""
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": container, "image": "x", "resources": resources}]}}
    created = stamp(age)
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": created},
            "spec": {"replicas": len(pods), "selector": {"matchLabels": {"app": name}}, "template": template},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name}-abc12",
                "namespace": ns,
                "creationTimestamp": created,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": f"u-{name}", "controller": True}],
            },
            "spec": {"replicas": len(pods), "selector": {"matchLabels": {"app": name}}, "template": template},
        },
    ]
    for suffix in pods:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{name}-abc12-{suffix}",
                    "namespace": ns,
                    "labels": {"app": name, "pod-template-hash": "abc12"},
                    "creationTimestamp": created,
                    "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-abc12", "uid": f"r-{name}", "controller": True}
                    ],
                },
                "spec": {"nodeName": node_name, **template["spec"]},
                "status": {"phase": "Running"},
            }
        )
    return out


def dump(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)
