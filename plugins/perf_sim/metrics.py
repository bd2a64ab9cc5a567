"""Live usage the simulated cluster reports: metrics.k8s.io objects and the
kubelet's cAdvisor, resource-metrics and stats/summary endpoints, all derived
from one per-container usage figure so every view agrees."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubectl_perf.model import container_amounts, node_allocatable

from .generate import EPOCH, mix, name_hash, synth_usage, usage_basis
from .store import Store, dotted, not_found

NANO = 10**9
WINDOW = "20.035s"


@dataclass
class PodUsage:
    namespace: str
    name: str
    uid: str
    node: str
    labels: dict[str, str]
    containers: list[tuple[str, int, int]]  # (name, cpu nanocores, memory bytes)
    pod: dict[str, Any] | None  # the object, when it was built anyway


def usage_from_spec(pod: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Synthesised usage for a pod object: running app containers and sidecars."""
    meta = pod.get("metadata") or {}
    return [
        (name, *synth_usage(rc, rm, lm, name_hash(f"{meta.get('namespace')}/{meta.get('name')}/{name}")))
        for name, rc, rm, lm in usage_basis(pod.get("spec") or {})
    ]


class Metrics:
    """Usage views over a Store; node totals cached until the store changes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._node_totals: tuple[int, dict[str, tuple[int, int]]] | None = None

    # -- per pod ----------------------------------------------------------
    def running_pods(self, node: str | None = None, namespace: str | None = None) -> Iterator[PodUsage]:
        store, g = self.store, self.store.generated
        pods = store.collections["pods"]
        given = store.collections["podmetrics"].extras
        fields = f"spec.nodeName={node}" if node else None
        if g and node is not None and g.node_index(node) is not None and not pods.overrides:
            k = g.node_index(node)
            assert k is not None
            for i in range(k * g.per_node, (k + 1) * g.per_node):
                f = g.pod_facts(i)
                if f.phase == "Running" and (not namespace or f.namespace == namespace):
                    yield PodUsage(f.namespace, f.name, g.uid(2, i), f.node, f.labels, g.pod_usage(i), None)
        else:
            for pos, obj in pods.select(namespace, None, fields):
                if isinstance(obj, str):
                    i = pos[1]
                    assert g is not None
                    f = g.pod_facts(i)
                    if f.phase == "Running":
                        yield PodUsage(f.namespace, f.name, g.uid(2, i), f.node, f.labels, g.pod_usage(i), None)
                    continue
                meta = obj.get("metadata") or {}
                if dotted(obj, "status.phase") != "Running" or not dotted(obj, "spec.nodeName"):
                    continue
                key = (meta.get("namespace", ""), meta.get("name", ""))
                if key in given:
                    containers = [
                        (c["name"], _nanos(c["usage"].get("cpu", "0")), _nanos(c["usage"].get("memory", "0")) // NANO)
                        for c in given[key].get("containers") or []
                    ]
                else:
                    containers = usage_from_spec(obj)
                yield PodUsage(key[0], key[1], meta.get("uid", ""), dotted(obj, "spec.nodeName"), meta.get("labels") or {}, containers, obj)

    def node_totals(self) -> dict[str, tuple[int, int]]:
        """node -> (cpu nanocores, memory bytes) used by its running pods."""
        with self._lock:
            rv = self.store.rv
            if self._node_totals and self._node_totals[0] == rv:
                return self._node_totals[1]
            totals: dict[str, tuple[int, int]] = {}
            for p in self.running_pods():
                cpu, mem = totals.get(p.node, (0, 0))
                totals[p.node] = (cpu + sum(c[1] for c in p.containers), mem + sum(c[2] for c in p.containers))
            self._node_totals = (rv, totals)
            return totals

    def node_usage(self, node: dict[str, Any]) -> tuple[int, int]:
        """Node usage: its pods plus what the kubelet, runtime and OS use."""
        name = node["metadata"]["name"]
        given = self.store.collections["nodemetrics"].extras.get(("", name))
        if given:
            return _nanos(given["usage"]["cpu"]), _nanos(given["usage"]["memory"]) // NANO
        alloc = node_allocatable(node)
        cpu, mem = self.node_totals().get(name, (0, 0))
        h = name_hash(name)
        system_cpu = alloc.get("cpu", 0) // 40 + (h % 50) * 10**6
        system_mem = alloc.get("memory", 0) // NANO // 25 + (h % 200) * 2**20
        return cpu + system_cpu, mem + system_mem

    # -- metrics.k8s.io ---------------------------------------------------
    def node_metrics(self, node: dict[str, Any]) -> dict[str, Any]:
        cpu, mem = self.node_usage(node)
        meta = node["metadata"]
        return {
            "kind": "NodeMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": meta["name"], "creationTimestamp": _now(), "labels": meta.get("labels") or {}},
            "timestamp": _now(-10),
            "window": WINDOW,
            "usage": {"cpu": f"{cpu}n", "memory": f"{mem // 1024}Ki"},
        }

    def pod_metrics(self, p: PodUsage) -> dict[str, Any]:
        return {
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": p.name, "namespace": p.namespace, "creationTimestamp": _now(), "labels": p.labels},
            "timestamp": _now(-10),
            "window": WINDOW,
            "containers": [{"name": c, "usage": {"cpu": f"{cpu}n", "memory": f"{mem // 1024}Ki"}} for c, cpu, mem in p.containers],
        }

    # -- kubelet endpoints ------------------------------------------------
    def cadvisor(self, node: dict[str, Any]) -> str:
        """The kubelet's /metrics/cadvisor for one node, in cAdvisor's exact format."""
        now_ms = int(time.time() * 1000)
        cap = node["status"].get("capacity") or {}
        families: dict[str, list[str]] = {name: [] for name in _CADVISOR}
        node_cpu, node_mem = self.node_usage(node)
        uptime = max(1.0, time.time() - EPOCH.timestamp())

        def add(metric: str, labels: dict[str, str], value: float) -> None:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            families[metric].append(f"{metric}{{{text}}} {_num(value)} {now_ms}")

        root = {"container": "", "id": "/", "image": "", "name": "", "namespace": "", "pod": ""}
        add("container_cpu_usage_seconds_total", {**root, "cpu": "total"}, node_cpu / NANO * uptime)
        add("container_memory_working_set_bytes", root, node_mem)
        add("container_memory_usage_bytes", root, int(node_mem * 1.3))
        for p in self.running_pods(node=node["metadata"]["name"]):
            pod_obj = p.pod or self._pod(p)
            qos = dotted(pod_obj, "status.qosClass").lower() or "burstable"
            pod_cg = f"/kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{p.uid.replace('-', '_')}.slice"
            base = {"namespace": p.namespace, "pod": p.name}
            add(
                "container_cpu_usage_seconds_total",
                {**base, "container": "", "cpu": "total", "id": pod_cg, "image": "", "name": ""},
                sum(c[1] for c in p.containers) / NANO * uptime,
            )
            add(
                "container_memory_working_set_bytes",
                {**base, "container": "", "id": pod_cg, "image": "", "name": ""},
                sum(c[2] for c in p.containers),
            )
            specs = {
                c.get("name"): c
                for c in (pod_obj.get("spec") or {}).get("containers", []) + (pod_obj.get("spec") or {}).get("initContainers", [])
            }
            for n, (cname, cpu, mem) in enumerate(p.containers):
                c = specs.get(cname) or {}
                cid = f"{mix(name_hash(p.uid), n):08x}" * 8
                labels = {
                    **base,
                    "container": cname,
                    "id": f"{pod_cg}/cri-containerd-{cid}.scope",
                    "image": c.get("image", ""),
                    "name": cid,
                }
                lim = container_amounts(c, "limits")
                req = container_amounts(c, "requests")
                add("container_cpu_usage_seconds_total", {**labels, "cpu": "total"}, cpu / NANO * uptime)
                add("container_memory_working_set_bytes", labels, mem)
                add("container_memory_rss", labels, int(mem * 0.8))
                add("container_memory_cache", labels, int(mem * 0.35))
                add("container_memory_usage_bytes", labels, int(mem * 1.15))
                add("container_spec_memory_limit_bytes", labels, lim.get("memory", 0) // NANO)
                add("container_spec_cpu_period", labels, 100000)
                if lim.get("cpu"):
                    add("container_spec_cpu_quota", labels, lim["cpu"] * 100000 // NANO)
                add("container_spec_cpu_shares", labels, max(2, req.get("cpu", 0) * 1024 // NANO))
                add("container_start_time_seconds", labels, EPOCH.timestamp())
                add("container_last_seen", labels, now_ms / 1000)
        machine = {
            "boot_id": node["status"].get("nodeInfo", {}).get("bootID", ""),
            "machine_id": node["status"].get("nodeInfo", {}).get("machineID", ""),
            "system_uuid": node["status"].get("nodeInfo", {}).get("systemUUID", ""),
        }
        add("machine_cpu_cores", machine, _nanos(cap.get("cpu", "0")) // NANO)
        add("machine_memory_bytes", machine, _nanos(cap.get("memory", "0")) // NANO)
        out = []
        for metric, lines in families.items():
            if lines:
                kind, help_text = _CADVISOR[metric]
                out.append(f"# HELP {metric} {help_text}\n# TYPE {metric} {kind}\n")
                out.append("\n".join(lines) + "\n")
        return "".join(out)

    def resource_metrics(self, node: dict[str, Any]) -> str:
        """The kubelet's /metrics/resource (what metrics-server scrapes)."""
        now_ms = int(time.time() * 1000)
        uptime = max(1.0, time.time() - EPOCH.timestamp())
        cpu, mem = self.node_usage(node)
        rows: dict[str, list[str]] = {m: [] for m in _RESOURCE}
        for p in self.running_pods(node=node["metadata"]["name"]):
            base = f'namespace="{p.namespace}",pod="{p.name}"'
            for cname, ccpu, cmem in p.containers:
                lbl = f'container="{cname}",{base}'
                rows["container_cpu_usage_seconds_total"].append(f"{{{lbl}}} {_num(ccpu / NANO * uptime)} {now_ms}")
                rows["container_memory_working_set_bytes"].append(f"{{{lbl}}} {cmem} {now_ms}")
                rows["container_start_time_seconds"].append(f"{{{lbl}}} {EPOCH.timestamp():.0f} {now_ms}")
            rows["pod_cpu_usage_seconds_total"].append(f"{{{base}}} {_num(sum(c[1] for c in p.containers) / NANO * uptime)} {now_ms}")
            rows["pod_memory_working_set_bytes"].append(f"{{{base}}} {sum(c[2] for c in p.containers)} {now_ms}")
        rows["node_cpu_usage_seconds_total"].append(f" {_num(cpu / NANO * uptime)} {now_ms}")
        rows["node_memory_working_set_bytes"].append(f" {mem} {now_ms}")
        rows["resource_scrape_error"].append(" 0")
        out = []
        for metric, lines in rows.items():
            kind, help_text = _RESOURCE[metric]
            out.append(f"# HELP {metric} [STABLE] {help_text}\n# TYPE {metric} {kind}\n")
            out.extend(f"{metric}{line}\n" for line in lines)
        return "".join(out)

    def stats_summary(self, node: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        uptime = max(1.0, time.time() - EPOCH.timestamp())
        cpu, mem = self.node_usage(node)
        alloc = node_allocatable(node)

        def cpu_stats(nanocores: int) -> dict[str, Any]:
            return {"time": now, "usageNanoCores": nanocores, "usageCoreNanoSeconds": int(nanocores * uptime)}

        def mem_stats(ws: int, limit: int = 0) -> dict[str, Any]:
            out = {
                "time": now,
                "workingSetBytes": ws,
                "usageBytes": int(ws * 1.15),
                "rssBytes": int(ws * 0.8),
                "pageFaults": 0,
                "majorPageFaults": 0,
            }
            if limit:
                out["availableBytes"] = max(0, limit - ws)
            return out

        pods = []
        for p in self.running_pods(node=node["metadata"]["name"]):
            pods.append(
                {
                    "podRef": {"name": p.name, "namespace": p.namespace, "uid": p.uid},
                    "startTime": EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "containers": [
                        {"name": c, "startTime": EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ"), "cpu": cpu_stats(cc), "memory": mem_stats(cm)}
                        for c, cc, cm in p.containers
                    ],
                    "cpu": cpu_stats(sum(c[1] for c in p.containers)),
                    "memory": mem_stats(sum(c[2] for c in p.containers)),
                }
            )
        return {
            "node": {
                "nodeName": node["metadata"]["name"],
                "startTime": EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "cpu": cpu_stats(cpu),
                "memory": mem_stats(mem, alloc.get("memory", 0) // NANO),
            },
            "pods": pods,
        }

    def _pod(self, p: PodUsage) -> dict[str, Any]:
        obj = self.store.collections["pods"].get((p.namespace, p.name))
        if obj is None:
            raise not_found("pods", p.name)
        return obj


def _nanos(text: str) -> int:
    from kubectl_perf.quantity import parse_quantity

    return parse_quantity(text)


def _now(offset: int = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def _num(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


# HELP texts and types exactly as cAdvisor prints them (see the golden files).
_CADVISOR = {
    "container_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed in seconds."),
    "container_memory_cache": ("gauge", "Number of bytes of page cache memory."),
    "container_memory_rss": ("gauge", "Size of RSS in bytes."),
    "container_memory_usage_bytes": ("gauge", "Current memory usage in bytes, including all memory regardless of when it was accessed"),
    "container_memory_working_set_bytes": ("gauge", "Current working set in bytes."),
    "container_last_seen": ("gauge", "Last time a container was seen by the exporter"),
    "container_spec_cpu_period": ("gauge", "CPU period of the container."),
    "container_spec_cpu_quota": ("gauge", "CPU quota of the container."),
    "container_spec_cpu_shares": ("gauge", "CPU share of the container."),
    "container_spec_memory_limit_bytes": ("gauge", "Memory limit for the container."),
    "container_start_time_seconds": ("gauge", "Start time of the container since unix epoch in seconds."),
    "machine_cpu_cores": ("gauge", "Number of logical CPU cores."),
    "machine_memory_bytes": ("gauge", "Amount of memory installed on the machine."),
}
_RESOURCE = {
    "container_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the container in core-seconds"),
    "container_memory_working_set_bytes": ("gauge", "Current working set of the container in bytes"),
    "container_start_time_seconds": ("gauge", "Start time of the container since unix epoch in seconds"),
    "node_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the node in core-seconds"),
    "node_memory_working_set_bytes": ("gauge", "Current working set of the node in bytes"),
    "pod_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the pod in core-seconds"),
    "pod_memory_working_set_bytes": ("gauge", "Current working set of the pod in bytes"),
    "resource_scrape_error": ("gauge", "1 if there was an error while getting container metrics, 0 otherwise"),
}
