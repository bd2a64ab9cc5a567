"""A deterministic, realistic cluster computed from (nodes, pods per node, seed).

Objects are never stored: object i is rebuilt from its index on demand, as JSON
text from a per-workload template, so a 150,000-pod cluster costs no memory and
a list page costs microseconds per pod. Node k holds pods k*M .. k*M+M-1;
pending pods come after the scheduled ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache, lru_cache
from typing import Any

from kubectl_perf.model import container_amounts, node_allocatable, pod_limits, pod_requests

from . import catalog, defaults
from .catalog import DAEMONSETS, FILLER, GPU_PLUGIN, IMAGES, METRICS_SERVER, POOL_PATTERN, POOLS, WORKLOADS, Workload

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of generated Kubernetes names
_SUFFIX_SPACE = len(_ALPHABET) ** 5
_MULT = 7919  # coprime with 27**5, so index -> suffix is a bijection
_MULT_INV = pow(_MULT, -1, _SUFFIX_SPACE)
EPOCH = datetime(2026, 11, 1, tzinfo=timezone.utc)
NANO = 10**9
# The pull-rate model of generated pods' Pulled events: a pull costs PULL_OVERHEAD_S (registry round
# trips: token, manifest, config) plus the image's size (as containerd reports it, compressed) at
# PULL_BYTES_PER_S (download and unpack together); a pull queued behind an earlier one on the same node
# (the kubelet pulls one image at a time by default) waits QUEUE_S more, which "including waiting" counts.
PULL_OVERHEAD_S = 1.0
PULL_BYTES_PER_S = 25_000_000
QUEUE_S = 1.5


def mix(*values: int) -> int:
    """A cheap deterministic 32-bit hash of small integers."""
    h = 2166136261
    for v in values:
        h = ((h ^ (v & 0xFFFFFFFF)) * 16777619) & 0xFFFFFFFF
        h ^= h >> 13
    return h


def name_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


def suffix(i: int) -> str:
    n = (i * _MULT) % _SUFFIX_SPACE
    out = []
    for _ in range(5):
        n, r = divmod(n, len(_ALPHABET))
        out.append(_ALPHABET[r])
    return "".join(out)


def unsuffix(text: str) -> int | None:
    if len(text) != 5 or any(c not in _ALPHABET for c in text):
        return None
    n = 0
    for c in reversed(text):
        n = n * len(_ALPHABET) + _ALPHABET.index(c)
    return (n * _MULT_INV) % _SUFFIX_SPACE


def timestamp(offset_s: int) -> str:
    return (EPOCH + timedelta(seconds=offset_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def digest(ref: str) -> str:
    return hashlib.sha256(ref.encode()).hexdigest()


def image_id(ref: str) -> str:
    """The runtime's repo@sha256 name for an image, as pod status and node status show it."""
    name = IMAGES[ref][0] if ref in IMAGES else ref
    return f"{name.rsplit(':', 1)[0]}@sha256:{digest(name)}"


def pull_seconds(size: int) -> float:
    """The pull-rate model: seconds to pull an image of `size` bytes, to the millisecond."""
    return round(PULL_OVERHEAD_S + size / PULL_BYTES_PER_S, 3)


def go_duration_text(seconds: float) -> str:
    """A duration truncated to milliseconds as Go's time.Duration prints it: 512ms, 17.44s, 1m5.2s."""
    ms = int(round(seconds * 1000))
    if ms < 1000:
        return f"{ms}ms"
    minutes, rest = divmod(ms, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


@dataclass(frozen=True)
class PodPull:
    """The Pulled event of a scheduled pod's first app container."""

    image: str  # as the pod writes it
    container: str
    seconds: float | None  # None: "already present on machine"
    waiting: float | None
    size: int


def synth_usage(request_cpu: int, request_mem: int, limit_mem: int, h: int, limit_cpu: int = 0) -> tuple[int, int]:
    """Plausible live usage (cpu nanos per second, memory bytes) for one container;
    CFS quota keeps cpu at or under a cpu limit."""
    f_cpu = 0.05 + ((h & 0xFFFF) / 0xFFFF) * 1.15  # 5% .. 120% of the request
    f_mem = 0.35 + (((h >> 16) & 0xFFFF) / 0xFFFF) * 0.7  # 35% .. 105% of the request
    cpu = int(request_cpu * f_cpu) if request_cpu else (5 + h % 45) * 10**6
    if limit_cpu:
        cpu = min(cpu, int(limit_cpu * 0.98))
    mem = int(request_mem * f_mem) if request_mem else (20 + h % 180) * 2**20
    if limit_mem:
        # One container in eight with a tight limit (at most twice its request) runs close to it
        # (90-97%), as leaky caches do; a limit sized to the machine is headroom, not a target.
        tight = limit_mem <= 2 * request_mem
        near = 0.90 + ((h >> 8) & 0xFF) / 0xFF * 0.07 if tight and (h >> 3) % 8 == 0 else 0.0
        mem = max(int(limit_mem * near), min(mem, int(limit_mem * 0.97)))
    return max(cpu, 10**5), max(mem, 1 << 20)


@dataclass(frozen=True)
class PodFacts:
    index: int
    namespace: str
    name: str
    node: str  # "" when pending
    phase: str
    workload: Workload
    labels: dict[str, str]


class Generated:
    """Nodes and pods of a generated cluster, addressed by index."""

    def __init__(self, nodes: int, pods_per_node: int, seed: int, metrics_server: bool = True) -> None:
        self.nodes = nodes
        self.per_node = pods_per_node
        self.seed = seed
        scheduled = nodes * pods_per_node
        self.pending = max(1, scheduled // 200) if scheduled else 0
        self.pod_count = scheduled + self.pending
        self._templates: dict[tuple[str, str, str], str] = {}
        self._usage_cache: dict[str, list[tuple[str, int, int]]] = {}
        self.workloads_by_pool = {pool: [w for w in WORKLOADS if pool in w.pools for _ in range(w.weight)] for pool in POOLS}
        self.any_workloads = [w for w in WORKLOADS for _ in range(w.weight)]
        self.namespaces = sorted({w.namespace for w in WORKLOADS + DAEMONSETS + (GPU_PLUGIN, FILLER)} | {"kube-public", "kube-node-lease"})
        # metrics-server: one replica (a single point of failure) or two, by seed, on untainted nodes
        self.metrics_replicas = (1 + seed % 2) if metrics_server else 0
        untainted = (k for k in range(nodes) if not POOLS[self.pool_of(k)].taints)
        self.metrics_nodes = [k for _, k in zip(range(self.metrics_replicas), untainted, strict=False)]
        # Hot nodes: one container without a memory limit leaks until its node is past any
        # padding target. Node seed % nodes and about a quarter of the others.
        self.hot = lambda k: k >= 0 and (k == seed % max(nodes, 1) or mix(seed, k, 31) % 4 == 0)

    # -- nodes ------------------------------------------------------------
    def pool_of(self, k: int) -> str:
        return POOL_PATTERN[(k + self.seed) % len(POOL_PATTERN)]

    def node_name(self, k: int) -> str:
        return f"{self.pool_of(k)}-{k:05d}"

    def node_index(self, name: str) -> int | None:
        pool, _, num = name.rpartition("-")
        if not num.isdigit() or len(num) != 5:
            return None
        k = int(num)
        return k if k < self.nodes and self.pool_of(k) == pool else None

    def node_labels(self, k: int) -> dict[str, str]:
        pool = POOLS[self.pool_of(k)]
        name = self.node_name(k)
        return {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": pool.instance_type,
            "topology.kubernetes.io/zone": catalog.ZONES[k % len(catalog.ZONES)],
            "topology.kubernetes.io/region": "us-east-1",
            "node-pool": pool.name,
            **pool.labels,
        }

    @lru_cache(maxsize=8192)
    def node_json(self, k: int) -> str:
        return json.dumps(self.node(k), separators=(",", ":"))

    def node(self, k: int, images: bool = True) -> dict[str, Any]:
        pool = POOLS[self.pool_of(k)]
        name = self.node_name(k)
        mem = pool.memory_gi * catalog.GI
        capacity = {
            "cpu": str(pool.cpu),
            "memory": f"{mem // 1024}Ki",
            "pods": str(pool.pods),
            "ephemeral-storage": "101430960Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            **{r: str(n) for r, n in pool.extended.items()},
        }
        # kube-reserved and system-reserved as GKE sizes them, plus a 100Mi eviction threshold.
        reserved_cpu_m = 60 + 10 * min(pool.cpu, 2) + 5 * max(0, min(pool.cpu, 4) - 2) + int(2.5 * max(0, pool.cpu - 4))
        reserved_mem = int(mem * 0.06) + 100 * catalog.MI
        allocatable = dict(capacity)
        allocatable["cpu"] = f"{pool.cpu * 1000 - reserved_cpu_m}m"
        allocatable["memory"] = f"{(mem - reserved_mem) // 1024}Ki"
        allocatable["ephemeral-storage"] = "93478772582"
        ip = f"10.0.{k // 250}.{k % 250 + 1}"
        created = timestamp(k * 7 % 3600)
        return {
            "kind": "Node",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": self.uid(1, k),
                "resourceVersion": "1",
                "creationTimestamp": created,
                "labels": self.node_labels(k),
                "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
            },
            "spec": {
                "podCIDR": f"10.{64 + k // 256}.{k % 256}.0/24",
                "providerID": f"aws:///us-east-1a/i-{mix(self.seed, k):08x}",
                **({"taints": [dict(t) for t in pool.taints]} if pool.taints else {}),
            },
            "status": {
                "capacity": capacity,
                "allocatable": allocatable,
                "conditions": [
                    {
                        "type": t,
                        "status": "False",
                        "reason": f"KubeletHas{r}",
                        "message": m,
                        "lastHeartbeatTime": created,
                        "lastTransitionTime": created,
                    }
                    for t, r, m in (
                        ("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory available"),
                        ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
                        ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"),
                    )
                ]
                + [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": created,
                        "lastTransitionTime": created,
                    }
                ],
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": f"{mix(k, 1):08x}{mix(k, 2):08x}{mix(k, 3):08x}{mix(k, 4):08x}",
                    "systemUUID": self.uid(9, k),
                    "bootID": self.uid(8, k),
                    "kernelVersion": "6.1.112-124.190.amzn2023.x86_64",
                    "osImage": "Amazon Linux 2023.6.20241031",
                    "containerRuntimeVersion": "containerd://1.7.23",
                    "kubeletVersion": "v1.32.4",
                    "kubeProxyVersion": "v1.32.4",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
                "images": self.node_images(k) if images else [],
            },
        }

    def node_images(self, k: int) -> list[dict[str, Any]]:
        """Node status images as the kubelet writes them: the images of the pods node k
        runs (finished ones too) and, by chance per node, of pods that ran there before
        (its pool's other workloads, older tags); largest first, cut to the cap."""
        pool = self.pool_of(k)
        sizes = {IMAGES[c["image"]][0]: IMAGES[c["image"]][1] for w in self._node_plan(k) for c in _containers(w.spec)}
        sizes.update({IMAGES[r][0]: IMAGES[r][1] for r in catalog.SYSTEM_IMAGES})
        before = {IMAGES[c["image"]][0]: IMAGES[c["image"]][1] for w in self._node_workloads(pool) for c in _containers(w.spec)}
        before.update(catalog.LEFTOVERS.get(pool, {}))
        for name, size in before.items():
            if name not in sizes and mix(self.seed, k, name_hash(name)) % 100 < catalog.LEFTOVER_PERCENT:
                sizes[name] = size
        largest_first = sorted(sizes, key=lambda n: (-sizes[n], n))[: catalog.MAX_NODE_IMAGES]
        return [{"names": [image_id(n), n], "sizeBytes": sizes[n]} for n in largest_first]

    def _node_workloads(self, pool: str) -> list[Workload]:
        return self.daemonsets(pool) + sorted(set(self.workloads_by_pool[pool]), key=lambda w: w.name)

    def daemonsets(self, pool: str) -> list[Workload]:
        return list(DAEMONSETS) + ([GPU_PLUGIN] if pool == "gpu" else [])

    def owner_uid(self, kind: str, namespace: str, name: str) -> str:
        """The uid of a generated controller (or Service, ConfigMap): what pods' ownerReferences name."""
        return self.uid(3, name_hash(f"{kind}/{namespace}/{name}"))

    def uid(self, kind: int, i: int) -> str:
        return f"{mix(self.seed, kind):08x}-{kind:04x}-4{(i >> 36) & 0xFFF:03x}-a{(i >> 24) & 0xFFF:03x}-{i & 0xFFFFFF:06x}{mix(kind, i) & 0xFFFFFF:06x}"

    # -- pods -------------------------------------------------------------
    def pod_node(self, i: int) -> int:
        """Index of the node pod i runs on, or -1 when pending."""
        return i // self.per_node if i < self.nodes * self.per_node else -1

    def pods_on_node(self, name: str) -> range:
        """The indices of the pods bound to the node `name` (pod_node's inverse)."""
        k = self.node_index(name)
        return range(k * self.per_node, (k + 1) * self.per_node) if k is not None else range(0)

    def workload(self, i: int) -> Workload:
        k = self.pod_node(i)
        if k < 0:
            return self.any_workloads[mix(self.seed, i, 7) % len(self.any_workloads)]
        return self._node_plan(k)[i - k * self.per_node]

    @cache
    def _node_plan(self, k: int) -> tuple[Workload, ...]:
        """The workloads of node k's pods: what a scheduler could have placed there.

        Daemon pods first, then picks by hash that still fit the node's
        allocatable (finished Job pods hold nothing), then best-effort filler.
        """
        pool = self.pool_of(k)
        free = dict(self._allocatable(k))
        plan: list[Workload] = []
        choices = self.workloads_by_pool[pool]
        ds = self.daemonsets(pool) + ([METRICS_SERVER] if k in self.metrics_nodes else [])
        for slot in range(self.per_node):
            i = k * self.per_node + slot
            if slot < len(ds):
                candidates: list[Workload] = [ds[slot]]
            else:
                start = mix(self.seed, i, 3)
                candidates = choices[start % len(choices) :] + choices[: start % len(choices)] + [FILLER]
            for w in candidates:
                need = {} if self._finishes(i, w) else self._requests(w)
                if all(free.get(r, 0) >= v for r, v in need.items()):
                    break
            for r, v in need.items():
                free[r] -= v
            plan.append(w)
        return tuple(plan)

    def _finishes(self, i: int, w: Workload) -> bool:
        return w.outcome == "Job" and mix(self.seed, i, 11) % 10 < 8

    @lru_cache(maxsize=64)
    def _requests(self, w: Workload) -> dict[str, int]:
        return pod_requests(w.spec)

    def _allocatable(self, k: int) -> dict[str, int]:
        return node_allocatable(self.node(k, images=False))  # images follow from the plan this serves

    def pod_name(self, i: int, w: Workload) -> str:
        if w.owner_kind == "StatefulSet":
            return f"{w.name}-{i}"
        if w.owner_kind == "ReplicaSet":
            return f"{w.name}-{self.template_hash(w)}-{suffix(i)}"
        if w.owner_kind == "Job":
            return f"{w.name}-{29000000 + i % 1440}-{suffix(i)}"
        return f"{w.name}-{suffix(i)}"

    def pod_index(self, namespace: str, name: str) -> int | None:
        tail = name.rpartition("-")[2]
        # A StatefulSet ordinal is all digits, and so is the odd random suffix (its alphabet has digits): try both.
        candidates: list[int | None] = [int(tail)] if tail.isdigit() and not name.startswith("nightly-report") else []
        candidates.append(unsuffix(tail))
        for i in candidates:
            if i is not None and i < self.pod_count:
                w = self.workload(i)
                if w.namespace == namespace and self.pod_name(i, w) == name:
                    return i
        return None

    @staticmethod
    def template_hash(w: Workload) -> str:
        return suffix(name_hash(w.name) % 1000003)[:5] + "f" + suffix(name_hash(w.namespace) % 99991)[:4]

    def phase(self, i: int, w: Workload) -> str:
        if self.pod_node(i) < 0:
            return "Pending"
        if self._finishes(i, w):
            return "Succeeded" if mix(self.seed, i, 11) % 10 < 7 else "Failed"
        return "Running"

    @lru_cache(maxsize=4096)  # a list asks for a pod's fields, labels and JSON in turn
    def pod_facts(self, i: int) -> PodFacts:
        w = self.workload(i)
        k = self.pod_node(i)
        name = self.pod_name(i, w)
        return PodFacts(i, w.namespace, name, self.node_name(k) if k >= 0 else "", self.phase(i, w), w, self.pod_labels(w, name))

    def pod_labels(self, w: Workload, name: str) -> dict[str, str]:
        labels = {"app.kubernetes.io/name": w.name, "team": w.namespace}
        if w.owner_kind == "ReplicaSet":
            labels["pod-template-hash"] = self.template_hash(w)
        elif w.owner_kind == "StatefulSet":
            labels["statefulset.kubernetes.io/pod-name"] = name
        elif w.owner_kind == "DaemonSet":
            labels["controller-revision-hash"] = self.template_hash(w)[:10]
        elif w.owner_kind == "Job":
            labels["batch.kubernetes.io/job-name"] = name.rsplit("-", 1)[0]
        return labels

    # -- pulls -------------------------------------------------------------
    @lru_cache(maxsize=4096)
    def _node_pulls(self, k: int) -> dict[int, tuple[float, float]]:
        """Slot -> (pull seconds, including waiting) of node k's pods that pulled their first app
        container's image: the first pod on the node to use it; the pulls after the node's first queue."""
        seen: set[str] = set()
        out: dict[int, tuple[float, float]] = {}
        for slot, w in enumerate(self._node_plan(k)):
            image = w.spec["containers"][0]["image"]
            if image in seen:
                continue
            seen.add(image)
            secs = pull_seconds(IMAGES[image][1])
            out[slot] = (secs, round(secs + (QUEUE_S if out else 0.0), 3))
        return out

    def pod_pull(self, i: int) -> PodPull | None:
        """Pod i's Pulled event, or None for a pending pod (no node, no pull)."""
        k = self.pod_node(i)
        if k < 0:
            return None
        c = self.workload(i).spec["containers"][0]
        pulled = self._node_pulls(k).get(i - k * self.per_node)
        return PodPull(c["image"], c["name"], pulled[0] if pulled else None, pulled[1] if pulled else None, IMAGES[c["image"]][1])

    def pod_times(self, i: int) -> tuple[int, int, int, int, int]:
        """Seconds from EPOCH: created, scheduled, pulled (its image is there), started, ready."""
        created = (i * 37) % 600000
        scheduled = created + 1
        pull = self.pod_pull(i)
        pulled = scheduled + (int(-(-(pull.waiting or 0.0) // 1)) if pull else 0)  # whole seconds, as the API writes them
        return created, scheduled, pulled, pulled + 1, pulled + 3

    def event_count(self) -> int:
        return self.nodes * self.per_node  # one Pulled event per scheduled pod

    def event_name(self, i: int) -> str:
        return f"{self.pod_facts(i).name}.{mix(self.seed, i, 21):08x}"

    def event_index(self, namespace: str, name: str) -> int | None:
        pod, _, tail = name.rpartition(".")
        i = self.pod_index(namespace, pod)
        return i if i is not None and i < self.event_count() and self.event_name(i) == name else None

    def event_json(self, i: int) -> str:
        return json.dumps(self.event(i), separators=(",", ":"))

    def event(self, i: int) -> dict[str, Any]:
        """The kubelet's Pulled event for pod i's first app container, in a current kubelet's words."""
        f = self.pod_facts(i)
        pull = self.pod_pull(i)
        assert pull is not None
        when = timestamp(self.pod_times(i)[2])
        if pull.seconds is None:
            message = f'Container image "{pull.image}" already present on machine'
        else:
            message = (
                f'Successfully pulled image "{pull.image}" in {go_duration_text(pull.seconds)} '
                f"({go_duration_text(pull.waiting or 0.0)} including waiting). Image size: {pull.size} bytes."
            )
        return {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": self.event_name(i),
                "namespace": f.namespace,
                "uid": self.uid(4, i),
                "resourceVersion": "1",
                "creationTimestamp": when,
            },
            "involvedObject": {
                "kind": "Pod",
                "namespace": f.namespace,
                "name": f.name,
                "uid": self.uid(2, i),
                "apiVersion": "v1",
                "fieldPath": f"spec.containers{{{pull.container}}}",
            },
            "reason": "Pulled",
            "message": message,
            "source": {"component": "kubelet", "host": f.node},
            "firstTimestamp": when,
            "lastTimestamp": when,
            "count": 1,
            "type": "Normal",
            "eventTime": None,
            "reportingComponent": "kubelet",
            "reportingInstance": f.node,
        }

    def pod_json(self, i: int, resource_version: str = "1") -> str:
        f = self.pod_facts(i)
        k = self.pod_node(i)
        template = self._template(f.workload, f.phase)
        created, scheduled, _pulled, started, ready = self.pod_times(i)
        return template % {
            "name": f.name,
            "uid": self.uid(2, i),
            "rv": resource_version,
            "created": timestamp(created),
            "scheduled": timestamp(scheduled),
            "started": timestamp(started),
            "ready": timestamp(ready),
            "node": f.node,
            "hostip": f"10.0.{k // 250}.{k % 250 + 1}" if k >= 0 else "",
            "podip": f"10.{64 + k // 256}.{k % 256}.{(i - k * self.per_node) % 250 + 2}" if k >= 0 else "",
            "cid": f"{mix(i, 5):08x}{mix(i, 6):08x}",
            "stsname": f.name,
            "jobname": f.labels.get("batch.kubernetes.io/job-name", ""),
            "jobuid": self.owner_uid("Job", f.namespace, f.labels["batch.kubernetes.io/job-name"])
            if f.workload.owner_kind == "Job"
            else "",
        }

    def pod(self, i: int) -> dict[str, Any]:
        return json.loads(self.pod_json(i))

    def _template(self, w: Workload, phase: str) -> str:
        key = (w.namespace, w.name, phase)
        if key not in self._templates:
            self._templates[key] = self._build_template(w, phase)
        return self._templates[key]

    def owner_name(self, w: Workload) -> str:
        """The controller that owns w's pods (a Job's name varies per pod: see pod_name)."""
        return {"ReplicaSet": f"{w.name}-{self.template_hash(w)}", "StatefulSet": w.name, "DaemonSet": w.name, "Job": "@jobname@"}[
            w.owner_kind
        ]

    def _build_template(self, w: Workload, phase: str) -> str:
        spec = json.loads(json.dumps(w.spec))
        defaults.pod_spec(spec)
        pending = phase == "Pending"
        spec["serviceAccountName"] = "default"
        if not pending:
            spec["nodeName"] = "@node@"
        owner_name = self.owner_name(w)
        labels = self.pod_labels(w, "@stsname@")
        if "batch.kubernetes.io/job-name" in labels:
            labels["batch.kubernetes.io/job-name"] = "@jobname@"
        obj: dict[str, Any] = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": "@name@",
                "namespace": w.namespace,
                "uid": "@uid@",
                "resourceVersion": "@rv@",
                "generation": 1,
                "creationTimestamp": "@created@",
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1" if w.owner_kind == "Job" else "apps/v1",
                        "kind": w.owner_kind,
                        "name": owner_name,
                        "uid": "@jobuid@" if w.owner_kind == "Job" else self.owner_uid(w.owner_kind, w.namespace, owner_name),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
            "status": self._status(spec, phase),
        }
        text = json.dumps(obj, separators=(",", ":")).replace("%", "%%")
        for field in (
            "name",
            "uid",
            "rv",
            "created",
            "scheduled",
            "started",
            "ready",
            "node",
            "hostip",
            "podip",
            "cid",
            "stsname",
            "jobname",
            "jobuid",
        ):
            text = text.replace(f"@{field}@", f"%({field})s")
        return text

    def _status(self, spec: dict[str, Any], phase: str) -> dict[str, Any]:
        qos = defaults.qos_class(spec)
        if phase == "Pending":
            return {
                "phase": "Pending",
                "qosClass": qos,
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "lastTransitionTime": "@created@",
                        "message": f"0/{self.nodes} nodes are available: insufficient cpu, insufficient memory.",
                    }
                ],
            }
        done = phase in ("Succeeded", "Failed")
        ready = "False" if done else "True"
        # scheduled -> (images pulled) -> containers started -> ready: see pod_times and the pull-rate model
        conds = [
            {"type": t, "status": s, "lastTransitionTime": at}
            for t, s, at in (
                ("PodReadyToStartContainers", "False" if done else "True", "@scheduled@"),
                ("Initialized", "True", "@scheduled@"),
                ("Ready", ready, "@ready@"),
                ("ContainersReady", ready, "@ready@"),
                ("PodScheduled", "True", "@scheduled@"),
            )
        ]
        exit_code = 0 if phase != "Failed" else 1

        def status_of(c: dict[str, Any], n: int, init: bool) -> dict[str, Any]:
            running = not done and (not init or c.get("restartPolicy") == "Always")
            state = (
                {"running": {"startedAt": "@started@"}}
                if running
                else {
                    "terminated": {
                        "exitCode": 0 if init else exit_code,
                        "reason": "Completed" if (init or exit_code == 0) else "Error",
                        "startedAt": "@started@",
                        "finishedAt": "@started@",
                        "containerID": f"containerd://@cid@{n:02d}",
                    }
                }
            )
            return {
                "name": c["name"],
                "image": c["image"],
                "imageID": image_id(c["image"]),
                "containerID": f"containerd://@cid@{n:02d}",
                "ready": running,
                "restartCount": 0,
                "started": running,
                "state": state,
            }

        status: dict[str, Any] = {
            "phase": phase,
            "conditions": conds,
            "hostIP": "@hostip@",
            "hostIPs": [{"ip": "@hostip@"}],
            "podIP": "@podip@",
            "podIPs": [{"ip": "@podip@"}],
            "startTime": "@scheduled@",
            "qosClass": qos,
            "containerStatuses": [status_of(c, n, False) for n, c in enumerate(spec.get("containers") or [])],
        }
        if spec.get("initContainers"):
            status["initContainerStatuses"] = [status_of(c, 50 + n, True) for n, c in enumerate(spec["initContainers"])]
        return status

    # -- usage ------------------------------------------------------------
    def pod_usage(self, i: int) -> list[tuple[str, int, int]]:
        """(container, cpu nanos/s, memory bytes) for a running pod; [] otherwise."""
        w = self.workload(i)
        if self.phase(i, w) != "Running":
            return []
        out = []
        leaker, leak = self._leak(self.pod_node(i))
        for n, (cname, rc, rm, lm, lc) in enumerate(self._container_requests(w)):
            cpu, mem = synth_usage(rc, rm, lm, mix(self.seed, i, n, 17), lc)
            if i == leaker and not lm:
                mem, leak = mem + leak, 0
            out.append((cname, cpu, mem))
        return out

    def _base_usage(self, i: int) -> int:
        w = self.workload(i)
        if self.phase(i, w) != "Running":
            return 0
        return sum(
            synth_usage(rc, rm, lm, mix(self.seed, i, n, 17), lc)[1] for n, (_c, rc, rm, lm, lc) in enumerate(self._container_requests(w))
        )

    @lru_cache(maxsize=4096)
    def _leak(self, k: int) -> tuple[int, int]:
        """(pod index, extra bytes) of the leaking container on hot node k, or (-1, 0):
        its pods' working sets then add up to 82% of the node's allocatable memory."""
        if not self.hot(k):
            return -1, 0
        first = k * self.per_node
        pods = range(first, first + self.per_node)
        leaky = [
            i
            for i in pods
            if self.phase(i, self.workload(i)) == "Running"
            and any(not lm for _c, _rc, _rm, lm, _lc in self._container_requests(self.workload(i)))
        ]
        if not leaky:
            return -1, 0
        apps = [i for i in leaky if self.workload(i).owner_kind != "DaemonSet"] or leaky
        target = self._allocatable(k).get("memory", 0) // NANO * 82 // 100
        return apps[0], max(0, target - sum(self._base_usage(i) for i in pods))

    @lru_cache(maxsize=64)
    def _container_requests(self, w: Workload) -> list[tuple[str, int, int, int, int]]:
        return usage_basis(w.spec)


def usage_basis(spec: dict[str, Any]) -> list[tuple[str, int, int, int, int]]:
    """(container, cpu request nanocores, memory request bytes, memory limit bytes, cpu limit nanocores) for
    each running container (app and sidecars): what synthesised usage scales from."""
    share = pod_requests(spec) if spec.get("resources") else None
    running = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"] + list(spec.get("containers") or [])
    rows = []
    for c in running:
        req, lim = container_amounts(c, "requests"), container_amounts(c, "limits")
        rc, rm = req.get("cpu", lim.get("cpu", 0)), req.get("memory", lim.get("memory", 0))
        if share is not None:  # pod-level resources: containers share the pod's budget
            rc, rm = share.get("cpu", 0) // len(running), share.get("memory", 0) // len(running)
        limit_mem = lim.get("memory", 0) or pod_limits(spec).get("memory", 0)
        # cpu nanos of a core are nanocores already; memory nanos become bytes
        rows.append((c.get("name", ""), rc, rm // NANO, limit_mem // NANO, lim.get("cpu", 0)))
    return rows


def template_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of a pod spec with what the API server defaults in every pod template."""
    out = json.loads(json.dumps(spec))
    defaults.template_spec(out)
    return out


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
