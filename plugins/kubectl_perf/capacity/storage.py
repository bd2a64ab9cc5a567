"""ephemeral-storage usage for `capacity --util`: metrics.k8s.io reports cpu and memory only,
so each shown node's /stats/summary is read from its kubelet through the API server's node
proxy, many nodes at once with a bound, each read with its own timeout.

A node whose summary cannot be read is a note, not a failure; a 403 (nodes/proxy is a
separate RBAC grant from nodes) stops the reads with one note."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..kubelet import CONCURRENCY, NODE_TIMEOUT, each_node, proxy_path

STORAGE = "ephemeral-storage"


@dataclass
class StorageUsage:
    """Bytes used, per node (its node filesystem) and per pod; and what could not be read."""

    nodes: dict[str, int] = field(default_factory=dict)
    pods: dict[tuple[str, str], int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # node -> why its summary is missing
    forbidden: str = ""  # nodes/proxy is not granted: nothing was read
    asked: int = 0  # nodes whose summary was asked for

    def notes(self) -> list[str]:
        if self.forbidden:
            return [f"no {STORAGE} usage: reading the kubelet's /stats/summary needs get on nodes/proxy: {self.forbidden}"]
        if not self.failed:
            return []
        first = sorted(self.failed)[0]
        more = f" (and {len(self.failed) - 1} more)" if len(self.failed) > 1 else ""
        return [f"{STORAGE} usage unavailable on {len(self.failed)} of {self.asked} nodes: {self.failed[first]}{more}"]


def node_used(summary: Mapping[str, Any]) -> int | None:
    """The node filesystem's use as the kubelet's eviction manager counts it: capacity minus
    available (its nodefs.available signal), which includes blocks reserved for root that
    usedBytes leaves out; usedBytes when the kubelet gives no capacity."""
    fs = (summary.get("node") or {}).get("fs") or {}
    if isinstance(fs.get("capacityBytes"), int) and isinstance(fs.get("availableBytes"), int):
        return int(fs["capacityBytes"] - fs["availableBytes"])
    used = fs.get("usedBytes")
    return used if isinstance(used, int) else None


def fold(summary: Mapping[str, Any], node: str, into: StorageUsage) -> None:
    """One node's summary: its filesystem use, and each pod's ephemeral-storage usedBytes (the
    figure the eviction manager holds against a pod's ephemeral-storage limit: its containers'
    writable layers and logs, and its emptyDir volumes)."""
    used = node_used(summary)
    if used is not None:
        into.nodes[node] = used
    else:
        into.failed[node] = f"node {node}: /stats/summary gives no node filesystem figures"
    for pod in summary.get("pods") or ():
        ref = pod.get("podRef") or {}
        pod_used = (pod.get(STORAGE) or {}).get("usedBytes")
        if isinstance(pod_used, int):
            into.pods[(ref.get("namespace", ""), ref.get("name", ""))] = pod_used


def read(cluster: Any, nodes: Sequence[str], concurrency: int = CONCURRENCY, timeout: float = NODE_TIMEOUT) -> StorageUsage:
    """The summaries of `nodes`, at most `concurrency` at a time, folded as they arrive."""
    usage = StorageUsage(asked=len(nodes))
    lock = threading.Lock()

    def one(node: str) -> None:
        summary = cluster.get(proxy_path(node, "summary"), timeout=timeout)
        with lock:  # folded as it arrives: no node's whole summary is kept
            fold(summary if isinstance(summary, dict) else {}, node, usage)

    reads = each_node(nodes, one, concurrency)
    usage.failed, usage.forbidden = reads.failed, reads.forbidden
    return usage
