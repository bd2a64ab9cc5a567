"""Live usage the simulated cluster reports: metrics.k8s.io objects and the
kubelet's cAdvisor, resource-metrics and stats/summary endpoints, all derived
from one per-container usage figure so every view agrees."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kubectl_perf.model import container_amounts, node_allocatable, parse_resource_list

from .generate import EPOCH, mix, name_hash, synth_usage, usage_basis
from .store import Store, dotted, not_found

NANO = 10**9
WINDOW = "20.035s"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


@dataclass
class PodUsage:
    namespace: str
    name: str
    uid: str
    node: str
    labels: dict[str, str]
    containers: list[tuple[str, int, int]]  # (name, cpu nanocores, memory bytes)
    pod: dict[str, Any] | None  # the object, when it was built anyway
    volumes: list[dict[str, Any]] = field(default_factory=list)  # spec.volumes, set with the node's figures
    annotations: dict[str, str] = field(default_factory=dict)


def usage_from_spec(pod: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Synthesised usage for a pod object: running app containers and sidecars."""
    meta = pod.get("metadata") or {}
    return [
        (name, *synth_usage(rc, rm, lm, name_hash(f"{meta.get('namespace')}/{meta.get('name')}/{name}"), lc))
        for name, rc, rm, lm, lc in usage_basis(pod.get("spec") or {})
    ]


# The kubelet's image_pull_duration_seconds: its buckets, and its size labels by lower bound (exclusive).
PULL_BUCKETS = (1, 5, 10, 20, 30, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600)
_MIB, _GIB = 1024**2, 1024**3
SIZE_BUCKETS = (
    (0, "0-10MB"),
    (10 * _MIB, "10MB-100MB"),
    (100 * _MIB, "100MB-500MB"),
    (500 * _MIB, "500MB-1GB"),
    (_GIB, "1GB-5GB"),
    (5 * _GIB, "5GB-10GB"),
    (10 * _GIB, "10GB-20GB"),
    (20 * _GIB, "20GB-30GB"),
    (30 * _GIB, "30GB-40GB"),
    (40 * _GIB, "40GB-60GB"),
    (60 * _GIB, "60GB-100GB"),
    (100 * _GIB, "GT100GB"),
)
_GO_DURATION = r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+"
_PULLED = re.compile(
    rf'^Successfully pulled image "[^"]+" in (?P<pull>{_GO_DURATION})(?: \((?P<waiting>{_GO_DURATION}) including waiting\))?'
    r"(?:\. Image size: (?P<size>\d+) bytes)?"
)
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _go_seconds(text: str) -> float:
    return sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text))


def image_size_bucket(size: int) -> str:
    """The kubelet's label for an image of `size` bytes: the last bucket whose lower bound it exceeds."""
    if size == 0:
        return "N/A"
    return next(label for bound, label in reversed(SIZE_BUCKETS) if size > bound)


class Metrics:
    """Usage views over a Store; node totals cached until the store changes."""

    def __init__(self, store: Store, age: float = 10.0) -> None:
        self.store = store
        self.age = age  # how far metrics-server's timestamps lag the kubelets' clock (seconds)
        self._lock = threading.Lock()
        self._node_totals: tuple[int, dict[str, tuple[int, int]]] | None = None
        self._containers: OrderedDict[str, tuple[int, list[tuple[PodUsage, float, str, list[Figures]]]]] = OrderedDict()
        # Usage that changes between reads, for sampling tests (kubectl perf rightsize): a given
        # PodMetrics with `usageSeries` per container serves its k-th entry on its k-th read; with
        # usage_period (perf-sim --usage-period) every other pod's usage moves each period.
        self.usage_period = 0.0
        self.started = float(int(time.time()))
        self._reads: dict[tuple[str, str], int] = {}

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
                        (c["name"], _nanos(_first_usage(c).get("cpu", "0")), _nanos(_first_usage(c).get("memory", "0")) // NANO)
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
            "timestamp": _now(-self.age),
            "window": WINDOW,
            "usage": {"cpu": f"{cpu}n", "memory": f"{mem // 1024}Ki"},
        }

    def pod_metrics(self, p: PodUsage) -> dict[str, Any]:
        stamp = _now(-self.age)
        containers = [{"name": c, "usage": {"cpu": f"{cpu}n", "memory": f"{mem // 1024}Ki"}} for c, cpu, mem in p.containers]
        given = self.store.collections["podmetrics"].extras.get((p.namespace, p.name))
        if given and any(c.get("usageSeries") for c in given.get("containers") or ()):
            with self._lock:
                k = self._reads.get((p.namespace, p.name), 0)
                self._reads[(p.namespace, p.name)] = k + 1
            containers = [{"name": c["name"], "usage": _nth_usage(c, k)} for c in given.get("containers") or ()]
            stamp = _stamp(self.started + 15 * k)  # one metrics-server window (15 s) per read
        elif self.usage_period and not given:
            # A deterministic wave: each container's usage times 0.5 .. 1.5, a new factor per period
            # (from the container's name and the period's number), stamped with the period's start.
            n = int(time.time() // self.usage_period)
            containers = []
            for i, (c, cpu, mem) in enumerate(p.containers):
                f = 0.5 + (mix(name_hash(f"{p.uid}/{c}"), n + i * 7919) & 0xFFFF) / 0xFFFF
                containers.append({"name": c, "usage": {"cpu": f"{int(cpu * f)}n", "memory": f"{int(mem * f) // 1024}Ki"}})
            stamp = _stamp(n * self.usage_period)
        return {
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": p.name, "namespace": p.namespace, "creationTimestamp": _now(), "labels": p.labels},
            "timestamp": stamp,
            "window": WINDOW,
            "containers": containers,
        }

    # -- kubelet endpoints ------------------------------------------------
    def node_containers(self, node: dict[str, Any], now: float) -> list[tuple[PodUsage, float, str, list[Figures]]]:
        """(pod, pod start, QoS class, figures per running container) for a node's running
        pods; kept per node until the store changes, as building pods is the slow part."""
        name = node["metadata"]["name"]
        with self._lock:
            cached = self._containers.get(name)
            if cached and cached[0] == self.store.rv:
                self._containers.move_to_end(name)
                return cached[1]
        out = []
        for p in self.running_pods(node=name):
            pod_obj = p.pod or self._pod(p)
            spec = pod_obj.get("spec") or {}
            specs = {c.get("name"): c for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}
            start = _started(pod_obj, now)
            p.volumes = list(spec.get("volumes") or [])
            p.annotations = dict((pod_obj.get("metadata") or {}).get("annotations") or {})
            h = name_hash(p.uid)
            containers = [
                figures(cname, cpu, mem, specs.get(cname) or {}, mix(h, n), start) for n, (cname, cpu, mem) in enumerate(p.containers)
            ]
            out.append((p, start, dotted(pod_obj, "status.qosClass"), containers))
        with self._lock:
            self._containers[name] = (self.store.rv, out)
            while len(self._containers) > 512:
                self._containers.popitem(last=False)
        return out

    def cadvisor(self, node: dict[str, Any]) -> str:
        """The kubelet's /metrics/cadvisor for one node, in cAdvisor's format: families
        sorted by name, labels sorted, Go's float formatting, millisecond timestamps on
        usage series and none on spec series.

        Counters are rate x time since the container started, with the rates that
        metrics.k8s.io reports, so two scrapes give back what `kubectl top` shows."""
        now = time.time()
        ts = f" {int(now * 1000)}"
        rows: dict[str, list[str]] = {name: [] for name in _CADVISOR}
        node_cpu, node_mem = self.node_usage(node)
        boot = EPOCH.timestamp()
        info = node["status"].get("nodeInfo", {})

        def cgroup(labels: str, f: Figures, pod_level: bool = False) -> None:
            """Every series of one cgroup; `labels` is (container, id+image, name+namespace+pod)."""
            c, mid, tail = labels.split("\x00")
            base = f"{c},{mid},{tail}"
            elapsed = now - f.start

            def add(metric: str, value: float, label_text: str = base, stamp: str = ts) -> None:
                rows[metric].append(f"{metric}{{{label_text}}} {go_float(value)}{stamp}")

            cpu_seconds = f.cpu * elapsed
            add("container_cpu_load_average_10s", 0)
            add("container_cpu_system_seconds_total", cpu_seconds * 0.2)
            add("container_cpu_usage_seconds_total", cpu_seconds, f'{c},cpu="total",{mid},{tail}')
            add("container_cpu_user_seconds_total", cpu_seconds * 0.8)
            if f.cpu_limit:
                periods = int(elapsed * 10 * f.runnable)
                throttled = int(periods * f.throttled)
                add("container_cpu_cfs_periods_total", periods)
                add("container_cpu_cfs_throttled_periods_total", throttled)
                add("container_cpu_cfs_throttled_seconds_total", round(throttled * f.throttle_length, 6))
            add("container_file_descriptors", f.threads * 3)
            if not pod_level:
                dev = f'{c},device="/dev/nvme0n1p1",{mid},{tail}'
                add("container_fs_inodes_free", 6_400_000, dev)
                add("container_fs_inodes_total", 6_553_600, dev)
                add("container_fs_io_current", 0, dev)
                add("container_fs_io_time_seconds_total", round(elapsed * 0.001, 3), dev)
                add("container_fs_limit_bytes", 107_321_753_600, dev)
                add("container_fs_reads_bytes_total", int(f.io * elapsed), dev)
                add("container_fs_reads_total", int(f.io * elapsed / 16384), dev)
                add("container_fs_usage_bytes", f.fs_usage, dev)
                add("container_fs_writes_bytes_total", int(f.io * elapsed * 0.4), dev)
                add("container_fs_writes_total", int(f.io * elapsed * 0.4 / 8192), dev)
            add("container_last_seen", int(now))
            add("container_memory_cache", f.cache)
            add("container_memory_failcnt", 0)
            for kind, scope, value in (
                ("pgfault", "container", f.faults * elapsed),
                ("pgfault", "hierarchy", f.faults * elapsed),
                ("pgmajfault", "container", f.faults * elapsed / 1000),
                ("pgmajfault", "hierarchy", f.faults * elapsed / 1000),
            ):
                add("container_memory_failures_total", int(value), f'{c},failure_type="{kind}",{mid},{tail},scope="{scope}"')
            add("container_memory_mapped_file", f.cache // 8)
            add("container_memory_max_usage_bytes", f.usage + f.usage // 10)
            add("container_memory_rss", f.rss)
            add("container_memory_swap", 0)
            add("container_memory_usage_bytes", f.usage)
            add("container_memory_working_set_bytes", f.working_set)
            add("container_oom_events_total", f.oom)
            for resource, some in (("cpu", f.cpu_pressure), ("memory", f.memory_pressure), ("io", f.io_pressure)):
                # PSI counters: the share of time some task waited (full: every task, half of it here)
                add(f"container_pressure_{resource}_waiting_seconds_total", round(some * elapsed, 6))
                add(f"container_pressure_{resource}_stalled_seconds_total", round(some * elapsed / 2, 6))
            add("container_processes", max(1, f.threads // 4))
            add("container_sockets", f.threads // 2)
            add("container_spec_cpu_period", 100000, stamp="")
            if f.cpu_limit:
                add("container_spec_cpu_quota", f.cpu_limit * 100000 // NANO, stamp="")
            add("container_spec_cpu_shares", max(2, f.cpu_request * 1024 // NANO), stamp="")
            add("container_spec_memory_limit_bytes", f.memory_limit, stamp="")
            add("container_spec_memory_reservation_limit_bytes", 0, stamp="")
            add("container_spec_memory_swap_limit_bytes", f.memory_limit, stamp="")
            add("container_start_time_seconds", int(f.start), stamp="")
            for state in ("iowait", "running", "sleeping", "stopped", "uninterruptible"):
                add("container_tasks_state", f.threads - 1 if state == "sleeping" else int(state == "running"), f'{base},state="{state}"')
            add("container_threads", f.threads)
            add("container_threads_max", 0 if pod_level else 4194304)
            add("container_ulimits_soft", 1048576, f'{base},ulimit="max_open_files"')

        def network(labels: str, elapsed: float, h: int) -> None:
            c, mid, tail = labels.split("\x00")
            text = f'{c},{mid},interface="eth0",{tail}'
            rate = 2000 + h % 500_000  # bytes per second
            for direction, factor in (("receive", 1.0), ("transmit", 0.6)):
                octets = int(rate * factor * elapsed)
                for what, value in (("bytes", octets), ("errors", 0), ("packets_dropped", octets // 10**7), ("packets", octets // 900)):
                    metric = f"container_network_{direction}_{what}_total"
                    rows[metric].append(f"{metric}{{{text}}} {go_float(value)}{ts}")

        def labels(container: str, cg: str, image: str, name: str, ns: str, pod: str) -> str:
            return f'container="{container}"\x00id="{cg}",image="{_escape(image)}"\x00name="{name}",namespace="{ns}",pod="{pod}"'

        system = figures("", node_cpu // 25, node_mem // 12, {}, name_hash(node["metadata"]["name"]), boot)
        root = figures("", node_cpu, node_mem, {}, name_hash(node["metadata"]["name"]), boot)
        cgroup(labels("", "/", "", "", "", ""), root, pod_level=True)
        for path in ("/kubepods.slice", "/system.slice", "/system.slice/containerd.service", "/system.slice/kubelet.service"):
            cgroup(labels("", path, "", "", "", ""), system, pod_level=True)
        for p, start, qos_class, containers in self.node_containers(node, now):
            # Guaranteed pods sit directly under kubepods.slice; the others under their QoS slice.
            qos = {"Guaranteed": "", "BestEffort": "besteffort"}.get(qos_class, "burstable")
            parent = f"/kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-" if qos else "/kubepods.slice/kubepods-"
            pod_cg = f"{parent}pod{p.uid.replace('-', '_')}.slice"
            h = name_hash(p.uid)
            total = figures("", sum(f.cpu_nanos for f in containers), sum(f.working_set for f in containers), {}, h, start)
            total.cache, total.rss, total.usage = (sum(getattr(f, a) for f in containers) for a in ("cache", "rss", "usage"))
            cgroup(labels("", pod_cg, "", "", p.namespace, p.name), total, pod_level=True)
            # containerd's sandbox: container="" with the pause image; it holds the pod's network.
            sandbox = f"{mix(h, 99):08x}" * 8
            pause = labels("", f"{pod_cg}/cri-containerd-{sandbox}.scope", PAUSE_IMAGE, sandbox, p.namespace, p.name)
            cgroup(pause, figures("", 10**5, 450 * 1024, {}, h, start), pod_level=True)
            network(pause, now - start, h)
            for n, f in enumerate(containers):
                cid = f"{mix(h, n):08x}" * 8
                cgroup(labels(f.name, f"{pod_cg}/cri-containerd-{cid}.scope", f.image, cid, p.namespace, p.name), f)
        machine = f'boot_id="{info.get("bootID", "")}",machine_id="{info.get("machineID", "")}",system_uuid="{info.get("systemUUID", "")}"'
        cap = node["status"].get("capacity") or {}
        rows["machine_cpu_cores"].append(f"machine_cpu_cores{{{machine}}} {go_float(_nanos(cap.get('cpu', '0')) // NANO)}")
        rows["machine_memory_bytes"].append(f"machine_memory_bytes{{{machine}}} {go_float(_nanos(cap.get('memory', '0')) // NANO)}")
        out = []
        for metric in sorted(rows):
            if rows[metric]:
                kind, help_text = _CADVISOR[metric]
                out.append(f"# HELP {metric} {help_text}\n# TYPE {metric} {kind}\n")
                out.append("\n".join(rows[metric]) + "\n")
        return "".join(out)

    def kubelet_metrics(self, node: dict[str, Any]) -> str:
        """The kubelet's own /metrics, as far as the suite reads it: kubelet_image_pull_duration_seconds,
        one observation (seconds including waiting) per pull the node's Pulled events report, labelled
        by the kubelet's image size bucket (pkg/kubelet/metrics: GetImageSizeBucket, binary units)."""
        name = node["metadata"]["name"]
        g = self.store.generated
        pulls: list[tuple[int, float]] = []  # (size bytes, seconds including waiting)
        k = g.node_index(name) if g else None
        if g is not None and k is not None:
            for slot, (_secs, waiting) in sorted(g._node_pulls(k).items()):
                pull = g.pod_pull(k * g.per_node + slot)
                assert pull is not None
                pulls.append((pull.size, waiting))
        for obj in self.store.collections["events"].extras.values():
            if obj.get("reason") == "Pulled" and (obj.get("source") or {}).get("host") == name:
                m = _PULLED.match(str(obj.get("message") or ""))
                if m and m["size"]:
                    pulls.extend([(int(m["size"]), _go_seconds(m["waiting"] or m["pull"]))] * int(obj.get("count") or 1))
        by_bucket: dict[str, list[float]] = {}
        for size, secs in pulls:
            by_bucket.setdefault(image_size_bucket(size), []).append(secs)
        out = [
            "# HELP kubelet_image_pull_duration_seconds [ALPHA] Duration in seconds to pull an image.",
            "# TYPE kubelet_image_pull_duration_seconds histogram",
        ]
        for bucket, values in sorted(by_bucket.items()):
            for le in PULL_BUCKETS:
                n = sum(1 for v in values if v <= le)
                out.append(f'kubelet_image_pull_duration_seconds_bucket{{image_size_in_bytes="{bucket}",le="{go_float(le)}"}} {n}')
            out.append(f'kubelet_image_pull_duration_seconds_bucket{{image_size_in_bytes="{bucket}",le="+Inf"}} {len(values)}')
            out.append(f'kubelet_image_pull_duration_seconds_sum{{image_size_in_bytes="{bucket}"}} {go_float(sum(values))}')
            out.append(f'kubelet_image_pull_duration_seconds_count{{image_size_in_bytes="{bucket}"}} {len(values)}')
        return "\n".join(out) + "\n"

    def resource_metrics(self, node: dict[str, Any]) -> str:
        """The kubelet's /metrics/resource (what metrics-server scrapes): the same counters."""
        now_ms = int(time.time() * 1000)
        now = now_ms / 1000  # the counters at the instant they are stamped with: rates between reads come out exact
        cpu, mem = self.node_usage(node)
        rows: dict[str, list[str]] = {m: [] for m in _RESOURCE}
        for p, start, _qos, containers in self.node_containers(node, now):
            base = f'namespace="{p.namespace}",pod="{p.name}"'
            for f in containers:
                lbl = f'container="{f.name}",{base}'
                rows["container_cpu_usage_seconds_total"].append(f"{{{lbl}}} {go_float(f.cpu * (now - start))} {now_ms}")
                rows["container_memory_working_set_bytes"].append(f"{{{lbl}}} {go_float(f.working_set)} {now_ms}")
                rows["container_start_time_seconds"].append(f"{{{lbl}}} {go_float(start)} {now_ms}")
            pod_cpu = sum(f.cpu for f in containers) * (now - start)
            rows["pod_cpu_usage_seconds_total"].append(f"{{{base}}} {go_float(pod_cpu)} {now_ms}")
            rows["pod_memory_working_set_bytes"].append(f"{{{base}}} {go_float(sum(f.working_set for f in containers))} {now_ms}")
        rows["node_cpu_usage_seconds_total"].append(f" {go_float(cpu / NANO * (now - EPOCH.timestamp()))} {now_ms}")
        rows["node_memory_working_set_bytes"].append(f" {go_float(mem)} {now_ms}")
        rows["resource_scrape_error"].append(" 0")
        out = []
        for metric, lines in rows.items():
            kind, help_text = _RESOURCE[metric]
            out.append(f"# HELP {metric} [STABLE] {help_text}\n# TYPE {metric} {kind}\n")
            out.extend(f"{metric}{line}\n" for line in lines)
        return "".join(out)

    def stats_summary(self, node: dict[str, Any]) -> dict[str, Any]:
        """The kubelet's /stats/summary: the same figures as JSON, plus network and filesystems."""
        now = time.time()
        stamp = _now()
        boot = EPOCH.timestamp()
        cpu, mem = self.node_usage(node)
        alloc = node_allocatable(node)
        cap = parse_resource_list(node["status"].get("capacity"))

        def cpu_stats(nanocores: int, start: float) -> dict[str, Any]:
            return {"time": stamp, "usageNanoCores": nanocores, "usageCoreNanoSeconds": int(nanocores * (now - start))}

        def mem_stats(ws: int, rss: int, usage: int, limit: int = 0) -> dict[str, Any]:
            out = {"time": stamp, "workingSetBytes": ws, "usageBytes": usage, "rssBytes": rss, "pageFaults": 0, "majorPageFaults": 0}
            if limit:
                out["availableBytes"] = max(0, limit - ws)
            return out

        def fs_stats(used: int, capacity: int = 107_321_753_600) -> dict[str, Any]:
            return {
                "time": stamp,
                "availableBytes": capacity - used,
                "capacityBytes": capacity,
                "usedBytes": used,
                "inodesUsed": used // 65536,
            }

        node_fs_capacity = parse_resource_list(node["status"].get("capacity")).get("ephemeral-storage", 107_321_753_600 * NANO) // NANO

        def net_stats(h: int, elapsed: float) -> dict[str, Any]:
            rate = 2000 + h % 500_000
            eth0 = {"name": "eth0", "rxBytes": int(rate * elapsed), "rxErrors": 0, "txBytes": int(rate * 0.6 * elapsed), "txErrors": 0}
            return {"time": stamp, **eth0, "interfaces": [eth0]}

        pods = []
        node_rx = node_tx = node_rootfs = 0
        node_volumes = 0
        for p, start, _qos, containers in self.node_containers(node, now):
            started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
            rootfs = sum(f.fs_usage for f in containers)
            logs = 4096 * len(containers) + name_hash(p.uid) % (64 * 2**20)
            volumes, on_disk = self.volume_stats(p, node_fs_capacity, alloc.get("memory", 0) // NANO, stamp)
            node_volumes += on_disk
            # writable layers and logs: the pod annotation perf-sim/ephemeral-used, else the containers' figures
            given_own = p.annotations.get("perf-sim/ephemeral-used")
            own = _nanos(given_own) // NANO if given_own else rootfs + logs
            net = net_stats(name_hash(p.uid), now - start)
            node_rx += net["rxBytes"]
            node_tx += net["txBytes"]
            node_rootfs += rootfs
            pods.append(
                {
                    "podRef": {"name": p.name, "namespace": p.namespace, "uid": p.uid},
                    "startTime": started,
                    "containers": [
                        {
                            "name": f.name,
                            "startTime": started,
                            "cpu": cpu_stats(f.cpu_nanos, start),
                            "memory": mem_stats(f.working_set, f.rss, f.usage, f.memory_limit),
                            "rootfs": fs_stats(f.fs_usage),
                            "logs": fs_stats(4096),
                        }
                        for f in containers
                    ],
                    "cpu": cpu_stats(sum(f.cpu_nanos for f in containers), start),
                    "memory": mem_stats(*(sum(getattr(f, a) for f in containers) for a in ("working_set", "rss", "usage"))),
                    "network": net,
                    # the kubelet's pod ephemeral storage: writable layers, logs and disk-backed emptyDirs
                    "ephemeral-storage": fs_stats(own + on_disk, node_fs_capacity),
                    **({"volume": volumes} if volumes else {}),
                }
            )
        eth0 = {"name": "eth0", "rxBytes": node_rx, "rxErrors": 0, "txBytes": node_tx, "txErrors": 0}
        capacity = cap.get("ephemeral-storage", 107_321_753_600 * NANO) // NANO
        nodefs = node_filesystem(node, "nodefs", with_inodes(fs_stats(capacity // 5 + node_rootfs + node_volumes, capacity)), stamp)
        return {
            "node": {
                "nodeName": node["metadata"]["name"],
                "startTime": EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "cpu": cpu_stats(cpu, boot),
                "memory": mem_stats(mem, int(mem * 0.8), int(mem * 1.15), alloc.get("memory", 0) // NANO),
                "network": {"time": stamp, **eth0, "interfaces": [eth0]},
                "fs": nodefs,
                "runtime": {"imageFs": node_filesystem(node, "imagefs", nodefs, stamp)},
            },
            "pods": pods,
        }

    def volume_stats(self, p: PodUsage, fs_capacity: int, memory: int, stamp: str) -> tuple[list[dict[str, Any]], int]:
        """The kubelet's pods[].volume[] for a pod's PVC and emptyDir volumes, and the bytes its
        disk-backed emptyDirs use (part of the pod's ephemeral storage).

        The model, documented so tests can work figures out by hand:
        - a PVC volume (persistentVolumeClaim, or a generic ephemeral volume's claim <pod>-<volume>):
          its filesystem is the bound PV's spec.capacity.storage (else the claim's status.capacity,
          else its request); used bytes are the claim's annotation perf-sim/used (a quantity), else
          (5 + h % 90)% of it; inodes one per 16 KiB, inodesUsed perf-sim/inodes-used, else used // 32768.
          Every pod mounting the claim sees the same figures.
        - an emptyDir: used bytes from the pod annotation perf-sim/volume-used ("cache=100Mi,tmp=2Gi"),
          else 4 KiB x (h % 25600); a Memory one sizes as its sizeLimit (else the node's allocatable
          memory), a disk one as the node filesystem (whose use it adds to)."""
        out: list[dict[str, Any]] = []
        on_disk = 0
        given = dict(part.split("=", 1) for part in (p.annotations.get("perf-sim/volume-used") or "").split(",") if "=" in part)
        for vol in p.volumes:
            name = vol.get("name", "")
            claim_name = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim_name is None and "ephemeral" in vol:
                claim_name = f"{p.name}-{name}"
            if claim_name:
                claim = self.store.collections["persistentvolumeclaims"].get((p.namespace, claim_name))
                if claim is None or dotted(claim, "status.phase") != "Bound":
                    continue  # the kubelet has not mounted it: no stats
                size = _claim_size(claim, self.store)
                notes = (claim.get("metadata") or {}).get("annotations") or {}
                h = name_hash(f"{p.namespace}/{claim_name}")
                used = _nanos(notes["perf-sim/used"]) // NANO if "perf-sim/used" in notes else size * (5 + h % 90) // 100
                inodes = size // 16384
                inodes_used = int(notes.get("perf-sim/inodes-used") or used // 32768)
                stats = _fs(stamp, size, used, inodes, inodes_used)
                stats["pvcRef"] = {"name": claim_name, "namespace": p.namespace}
            elif "emptyDir" in vol:
                empty = vol.get("emptyDir") or {}
                h = name_hash(f"{p.uid}/{name}")
                used = _nanos(given[name]) // NANO if name in given else 4096 * (h % 25600)
                if empty.get("medium") == "Memory":
                    size = _nanos(str(empty["sizeLimit"])) // NANO if empty.get("sizeLimit") else memory
                else:
                    size = fs_capacity
                    on_disk += used
                stats = _fs(stamp, size, used, size // 16384, max(1, used // 32768))
            else:
                continue
            out.append({"name": name, **stats})
        return out, on_disk

    def configz(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """The kubelet's /configz: its effective configuration, of which the suite reads
        evictionHard (the node annotation perf-sim/eviction-hard, JSON, else the kubelet's
        Linux defaults). None when the node's annotation perf-sim/configz is "absent" (a
        kubelet that does not serve it)."""
        notes = node["metadata"].get("annotations") or {}
        if notes.get("perf-sim/configz") == "absent":
            return None
        hard = json.loads(notes["perf-sim/eviction-hard"]) if "perf-sim/eviction-hard" in notes else dict(EVICTION_HARD)
        return {"kubeletconfig": {"enableServer": True, "evictionHard": hard, "evictionPressureTransitionPeriod": "5m0s"}}

    def _pod(self, p: PodUsage) -> dict[str, Any]:
        obj = self.store.collections["pods"].get((p.namespace, p.name))
        if obj is None:
            raise not_found("pods", p.name)
        return obj


@dataclass
class Figures:
    """What the kubelet would measure of one cgroup, derived from its usage and spec."""

    name: str
    image: str
    start: float  # unix seconds
    cpu_nanos: int  # usage rate, nanocores: the figure metrics.k8s.io reports
    working_set: int
    rss: int
    cache: int
    usage: int
    cpu_request: int  # nanocores
    cpu_limit: int  # nanocores, 0 without a limit
    memory_limit: int  # bytes, 0 without a limit
    runnable: float  # share of CFS periods with runnable tasks
    throttled: float  # share of those periods throttled
    throttle_length: float  # seconds throttled per throttled period
    oom: int
    threads: int
    io: int  # bytes read per second
    fs_usage: int
    faults: int  # page faults per second

    @property
    def cpu(self) -> float:
        return self.cpu_nanos / NANO

    @property
    def cpu_pressure(self) -> float:
        """PSI cpu some: the share of runnable time spent throttled, which a task waits out."""
        return self.runnable * self.throttled

    @property
    def memory_pressure(self) -> float:
        """PSI memory some: reclaim stalls once the working set nears its limit (over 90%)."""
        if self.memory_limit and self.working_set > 0.9 * self.memory_limit:
            return 0.2
        return 0.001

    @property
    def io_pressure(self) -> float:
        """PSI io some: grows with the bytes read, up to 5%."""
        return min(0.05, self.io / 4_000_000)


def figures(name: str, cpu_nanos: int, memory: int, container: dict[str, Any], h: int, start: float) -> Figures:
    """Deterministic figures for a cgroup from its usage, its container spec and a hash.

    Containers running at 60% of their CPU limit or more, and one in five others, are
    throttled in 30-75% of their periods; one container with a memory limit in 13 has
    OOM events. Working sets near the limit come from the usage itself (up to 97%)."""
    limits, requests = container_amounts(container, "limits"), container_amounts(container, "requests")
    cpu_limit = limits.get("cpu", 0)
    use = cpu_nanos / cpu_limit if cpu_limit else 0.0
    spread = ((h >> 8) & 0xFF) / 255
    hot = use >= 0.6 or h % 5 == 0
    memory_limit = limits.get("memory", 0) // NANO
    rss = int(memory * 0.8)
    cache = int(memory * 0.35)
    return Figures(
        name=name,
        image=container.get("image", ""),
        start=start,
        cpu_nanos=cpu_nanos,
        working_set=memory,
        rss=rss,
        cache=cache,
        usage=rss + cache,
        cpu_request=requests.get("cpu", cpu_limit),
        cpu_limit=cpu_limit,
        memory_limit=memory_limit,
        runnable=min(1.0, 0.25 + use),
        throttled=0.3 + spread * 0.45 if hot else spread * 0.08,
        throttle_length=0.005 + (h % 40) / 1000,
        oom=1 + (h >> 4) % 3 if memory_limit and h % 13 == 0 else 0,
        threads=4 + h % 60,
        io=h % 200_000,
        fs_usage=4096 * (10 + h % 50_000),
        faults=50 + h % 1000,
    )


# The kubelet's Linux defaults (kubernetes pkg/kubelet/eviction/defaults_linux.go, DefaultEvictionHard).
EVICTION_HARD = {
    "imagefs.available": "15%",
    "imagefs.inodesFree": "5%",
    "memory.available": "100Mi",
    "nodefs.available": "10%",
    "nodefs.inodesFree": "5%",
}


def _fs(stamp: str, capacity: int, used: int, inodes: int, inodes_used: int) -> dict[str, Any]:
    return {
        "time": stamp,
        "availableBytes": max(0, capacity - used),
        "capacityBytes": capacity,
        "usedBytes": used,
        "inodesFree": max(0, inodes - inodes_used),
        "inodes": inodes,
        "inodesUsed": inodes_used,
    }


def with_inodes(stats: dict[str, Any]) -> dict[str, Any]:
    """A filesystem's figures with its inode count (one per 16 KiB, as mkfs.ext4's default)."""
    inodes = stats["capacityBytes"] // 16384
    return {**stats, "inodes": inodes, "inodesFree": max(0, inodes - stats["inodesUsed"])}


def node_filesystem(node: dict[str, Any], which: str, nodefs: dict[str, Any], stamp: str) -> dict[str, Any]:
    """nodefs or imagefs as the node annotation perf-sim/<which> sets it
    ("capacity=100Gi,available=8Gi,inodes=6553600,inodesFree=300000"), else `nodefs`'s figures
    (no separate image filesystem: the kubelet then reports the node filesystem for both)."""
    text = (node["metadata"].get("annotations") or {}).get(f"perf-sim/{which}")
    if not text:
        return dict(nodefs)
    given = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    capacity = _nanos(given["capacity"]) // NANO
    available = _nanos(given["available"]) // NANO
    inodes = int(given.get("inodes") or capacity // 16384)
    free = int(given.get("inodesFree") or inodes)
    return _fs(stamp, capacity, capacity - available, inodes, inodes - free)


def _claim_size(claim: dict[str, Any], store: Store) -> int:
    """A bound claim's filesystem size: its PV's capacity, else the claim's own figures."""
    pv = store.collections["persistentvolumes"].get(("", dotted(claim, "spec.volumeName")))
    for text in (
        ((pv or {}).get("spec") or {}).get("capacity", {}).get("storage"),
        ((claim.get("status") or {}).get("capacity") or {}).get("storage"),
        (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"),
    ):
        if text:
            return _nanos(str(text)) // NANO
    return 0


def go_float(value: float) -> str:
    """A number as Prometheus' Go client writes it: strconv 'g' with the shortest
    digits, so 1048576 is 1.048576e+06 and 0.5 stays 0.5."""
    if type(value) is int or (value == value and value not in (math.inf, -math.inf) and value.is_integer()):
        number = int(value)
        if -1_000_000 < number < 1_000_000:
            return str(number)
        if abs(number) < 2**53:  # exact as a float: the digits are the integer's own
            text = str(abs(number))
            digits = text.rstrip("0")
            mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
            return f"{'-' if number < 0 else ''}{mant}e+{len(text) - 1:02d}"
    if 1e-4 <= abs(value) < 1e6:  # neither Go nor repr writes an exponent here, and both write the shortest digits
        return repr(float(value))
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    sign = "-" if text[0] == "-" else ""
    text = text.lstrip("-")
    mantissa, _, exp_text = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + int(exp_text or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    exp = point - 1
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _started(pod: dict[str, Any], now: float) -> float:
    """The pod's start (status.startTime), at least a minute ago; the epoch when unknown."""
    text = dotted(pod, "status.startTime")
    try:
        start = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        start = EPOCH.timestamp()
    return min(start, now - 60)


def _nanos(text: str) -> int:
    from kubectl_perf.quantity import parse_quantity

    return parse_quantity(text)


def _now(offset: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def _stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _first_usage(container: dict[str, Any]) -> dict[str, Any]:
    """A given container's usage, or the first of its usageSeries (node totals use it)."""
    return container.get("usage") or (container.get("usageSeries") or [{}])[0]


def _nth_usage(container: dict[str, Any], k: int) -> dict[str, Any]:
    """The k-th of a container's usageSeries, the last one once they run out."""
    series = container.get("usageSeries") or [container.get("usage") or {}]
    return series[min(k, len(series) - 1)]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


# HELP texts and types exactly as cAdvisor prints them (see the golden files).
_CADVISOR = {
    "container_cpu_cfs_periods_total": ("counter", "Number of elapsed enforcement period intervals."),
    "container_cpu_cfs_throttled_periods_total": ("counter", "Number of throttled period intervals."),
    "container_cpu_cfs_throttled_seconds_total": ("counter", "Total time duration the container has been throttled."),
    "container_cpu_load_average_10s": ("gauge", "Value of container cpu load average over the last 10 seconds."),
    "container_cpu_system_seconds_total": ("counter", "Cumulative system cpu time consumed in seconds."),
    "container_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed in seconds."),
    "container_cpu_user_seconds_total": ("counter", "Cumulative user cpu time consumed in seconds."),
    "container_file_descriptors": ("gauge", "Number of open file descriptors for the container."),
    "container_fs_inodes_free": ("gauge", "Number of available Inodes"),
    "container_fs_inodes_total": ("gauge", "Number of Inodes"),
    "container_fs_io_current": ("gauge", "Number of I/Os currently in progress"),
    "container_fs_io_time_seconds_total": ("counter", "Cumulative count of seconds spent doing I/Os"),
    "container_fs_limit_bytes": ("gauge", "Number of bytes that can be consumed by the container on this filesystem."),
    "container_fs_reads_bytes_total": ("counter", "Cumulative count of bytes read"),
    "container_fs_reads_total": ("counter", "Cumulative count of reads completed"),
    "container_fs_usage_bytes": ("gauge", "Number of bytes that are consumed by the container on this filesystem."),
    "container_fs_writes_bytes_total": ("counter", "Cumulative count of bytes written"),
    "container_fs_writes_total": ("counter", "Cumulative count of writes completed"),
    "container_last_seen": ("gauge", "Last time a container was seen by the exporter"),
    "container_memory_cache": ("gauge", "Number of bytes of page cache memory."),
    "container_memory_failcnt": ("counter", "Number of memory usage hits limits"),
    "container_memory_failures_total": ("counter", "Cumulative count of memory allocation failures."),
    "container_memory_mapped_file": ("gauge", "Size of memory mapped files in bytes."),
    "container_memory_max_usage_bytes": ("gauge", "Maximum memory usage recorded in bytes"),
    "container_memory_rss": ("gauge", "Size of RSS in bytes."),
    "container_memory_swap": ("gauge", "Container swap usage in bytes."),
    "container_memory_usage_bytes": ("gauge", "Current memory usage in bytes, including all memory regardless of when it was accessed"),
    "container_memory_working_set_bytes": ("gauge", "Current working set in bytes."),
    "container_network_receive_bytes_total": ("counter", "Cumulative count of bytes received"),
    "container_network_receive_errors_total": ("counter", "Cumulative count of errors encountered while receiving"),
    "container_network_receive_packets_dropped_total": ("counter", "Cumulative count of packets dropped while receiving"),
    "container_network_receive_packets_total": ("counter", "Cumulative count of packets received"),
    "container_network_transmit_bytes_total": ("counter", "Cumulative count of bytes transmitted"),
    "container_network_transmit_errors_total": ("counter", "Cumulative count of errors encountered while transmitting"),
    "container_network_transmit_packets_dropped_total": ("counter", "Cumulative count of packets dropped while transmitting"),
    "container_network_transmit_packets_total": ("counter", "Cumulative count of packets transmitted"),
    "container_oom_events_total": ("counter", "Count of out of memory events observed for the container"),
    # PSI (KEP-4205), cAdvisor's names and help as a 1.35 kubelet serves them (tests/data/cadvisor-real)
    "container_pressure_cpu_stalled_seconds_total": (
        "counter",
        "Total time duration no tasks in the container could make progress due to CPU congestion.",
    ),
    "container_pressure_cpu_waiting_seconds_total": (
        "counter",
        "Total time duration tasks in the container have waited due to CPU congestion.",
    ),
    "container_pressure_io_stalled_seconds_total": (
        "counter",
        "Total time duration no tasks in the container could make progress due to IO congestion.",
    ),
    "container_pressure_io_waiting_seconds_total": (
        "counter",
        "Total time duration tasks in the container have waited due to IO congestion.",
    ),
    "container_pressure_memory_stalled_seconds_total": (
        "counter",
        "Total time duration no tasks in the container could make progress due to memory congestion.",
    ),
    "container_pressure_memory_waiting_seconds_total": (
        "counter",
        "Total time duration tasks in the container have waited due to memory congestion.",
    ),
    "container_processes": ("gauge", "Number of processes running inside the container."),
    "container_sockets": ("gauge", "Number of open sockets for the container."),
    "container_spec_cpu_period": ("gauge", "CPU period of the container."),
    "container_spec_cpu_quota": ("gauge", "CPU quota of the container."),
    "container_spec_cpu_shares": ("gauge", "CPU share of the container."),
    "container_spec_memory_limit_bytes": ("gauge", "Memory limit for the container."),
    "container_spec_memory_reservation_limit_bytes": ("gauge", "Memory reservation limit for the container."),
    "container_spec_memory_swap_limit_bytes": ("gauge", "Memory swap limit for the container."),
    "container_start_time_seconds": ("gauge", "Start time of the container since unix epoch in seconds."),
    "container_tasks_state": ("gauge", "Number of tasks in given state"),
    "container_threads": ("gauge", "Number of threads running inside the container"),
    "container_threads_max": ("gauge", "Maximum number of threads allowed inside the container, infinity if value is zero"),
    "container_ulimits_soft": ("gauge", "Soft ulimit values for the container root process. Unlimited if -1, except priority and nice"),
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
