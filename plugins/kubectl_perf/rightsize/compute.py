"""Recommendations from usage samples, judged by the padding policy. Pure: workloads,
samples, node views and the policy in; recommendations, verdicts and totals out.

The strategy (README, "rightsize"): CPU request = a percentile of usage (nearest rank) with a
floor; no CPU limit unless a ratio is asked for; memory request = limit = the peak working set
plus a buffer, never below the peak, with a floor. Each workload's template is patched with its
recommendations and judged by policy.evaluate, the rules the webhook runs, against the node
views: a recommendation the webhook would deny is flagged, never emitted as a patch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import NodeView, container_amounts, group_nodes, pod_requests, pool_of
from ..owners import Workload
from ..policy import Policy, evaluate, memory_need
from ..quantity import format_bytes
from ..render import human_age
from ..scheduling import node_matches, referenced_keys

NANO = 10**9
MILLI = 10**6  # nanos in a millicore
MEBI = 2**20 * NANO  # nanos in a MiB

Obj = Mapping[str, Any]
Point = tuple[float, int]  # (unix seconds, amount in nanos)


@dataclass
class Samples:
    """One container's usage: CPU in cores and memory working set in bytes, both as nanos."""

    cpu: list[Point] = field(default_factory=list)
    memory: list[Point] = field(default_factory=list)
    pods: set[str] = field(default_factory=set)  # the pods they came from
    cpu_from: str = ""  # how the CPU samples were made, when not one per memory sample (the kubelet source)


SampleKey = tuple[Workload, str]  # (workload, container): every pod's samples together


@dataclass(frozen=True)
class Strategy:
    cpu_percentile: float = 0.95
    cpu_min: int = 10 * MILLI
    cpu_limit_ratio: float | None = None  # None: no CPU limit
    memory_buffer: float = 0.15
    memory_min: int = 32 * MEBI
    min_samples: int = 10
    history: float = 14 * 86400.0  # seconds of history asked for
    allow_hpa: bool = False
    min_age: float | None = None  # seconds; None: the history

    @property
    def youngest(self) -> float:
        """A workload younger than this has too little history to judge."""
        return self.history if self.min_age is None else self.min_age

    def as_dict(self) -> dict[str, Any]:
        return {
            "cpuRequest": f"p{self.cpu_percentile * 100:g}",
            "cpuMin": _cpu_text(self.cpu_min),
            "cpuLimit": "none" if self.cpu_limit_ratio is None else f"{self.cpu_limit_ratio:g}x request",
            "memory": f"max + {self.memory_buffer * 100:g}%",
            "memoryMin": _mem_text(self.memory_min),
            "minSamples": self.min_samples,
            "allowHpa": self.allow_hpa,
        }


@dataclass(frozen=True)
class WorkloadInput:
    """A workload as fetch found it: its pod template and running pods."""

    workload: Workload
    template: Obj  # the pod template's spec
    age: float | None  # seconds since the controller was created; None: unknown
    pods: tuple[Obj, ...]  # its running pods (objects)
    hpa: str = ""  # why an HPA makes its requests a target: "HPA web scales on cpu"


@dataclass(frozen=True)
class Amounts:
    cpu_request: int | None = None
    cpu_limit: int | None = None
    memory_request: int | None = None
    memory_limit: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": {k: v for k, v in (("cpu", _cpu_text(self.cpu_request)), ("memory", _mem_text(self.memory_request))) if v},
            "limits": {k: v for k, v in (("cpu", _cpu_text(self.cpu_limit)), ("memory", _mem_text(self.memory_limit))) if v},
        }


@dataclass(frozen=True)
class Basis:
    samples: int
    span: float  # seconds between the first and last sample
    pods: int
    percentile: float
    cpu_samples: int = 0
    memory_samples: int = 0
    cpu_from: str = ""  # set when CPU and memory samples differ in number by design (kubelet counters)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "samples": self.samples,
            "spanSeconds": round(self.span, 3),
            "pods": self.pods,
            "cpuPercentile": self.percentile,
        }
        if self.cpu_from:  # the counts apart, and why
            out |= {"cpuSamples": self.cpu_samples, "memorySamples": self.memory_samples, "cpuFrom": self.cpu_from}
        return out


@dataclass
class ContainerRec:
    name: str
    current: Amounts
    recommended: Amounts | None  # None: no recommendation (see status)
    basis: Basis
    status: str = ""  # "" when recommended; else "insufficient data: ..." or "skipped: ..."
    allowed: bool = True
    message: str = ""  # the admission verdict's reasons

    @property
    def verdict(self) -> str:
        if self.recommended is None:
            return self.status
        if not self.allowed:
            return f"would be denied: {self.message}"
        return f"ok ({self.message})" if self.message else "ok"


@dataclass
class WorkloadRec:
    workload: Workload
    replicas: int
    containers: list[ContainerRec]
    allowed: bool = True

    @property
    def admitted(self) -> list[ContainerRec]:
        """The recommendations a patch may carry: there are some, and the webhook admits them."""
        return [c for c in self.containers if c.recommended is not None] if self.allowed else []

    def savings(self) -> tuple[int, int]:
        """(memory, cpu) requests freed over all replicas, nanos; negative when they grow."""
        mem = cpu = 0
        for c in self.containers:
            if c.recommended is None:
                continue
            mem += ((c.current.memory_request or 0) - (c.recommended.memory_request or 0)) * self.replicas
            cpu += ((c.current.cpu_request or 0) - (c.recommended.cpu_request or 0)) * self.replicas
        return mem, cpu


@dataclass
class PoolTotals:
    name: str
    nodes: int
    cpu_before: int = 0
    cpu_after: int = 0
    memory_before: int = 0
    memory_after: int = 0
    nodes_before: int = 0  # nodes a first-fit-decreasing packing of the requests needs
    nodes_after: int = 0


@dataclass
class Report:
    workloads: list[WorkloadRec]
    by_namespace: dict[str, list[int]]  # namespace -> [cpu before, after, memory before, after]
    by_pool: list[PoolTotals]
    totals: list[int]  # [cpu before, after, memory before, after]


# -- the strategy --------------------------------------------------------------------
def percentile(values: Sequence[int], p: float) -> int:
    """Nearest rank: the smallest value with at least p of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p * len(ordered)) - 1, 0)]


def _ceil(nanos: int, unit: int) -> int:
    return -(-nanos // unit) * unit


def recommend(samples: Samples, strategy: Strategy) -> Amounts:
    """The recommendation for one container's samples (the caller checks there are enough)."""
    cpu = max(_ceil(percentile([v for _t, v in samples.cpu], strategy.cpu_percentile), MILLI), strategy.cpu_min)
    peak = max(v for _t, v in samples.memory)
    # The buffer is worked out in whole bytes and rounded up to whole MiB: a buffer may round up, never down.
    memory = max(_ceil(peak + _ceil(int(peak * strategy.memory_buffer), NANO), MEBI), strategy.memory_min, _ceil(peak, MEBI))
    limit = None if strategy.cpu_limit_ratio is None else _ceil(int(cpu * strategy.cpu_limit_ratio), MILLI)
    return Amounts(cpu, limit, memory, memory)


def current_amounts(container: Obj) -> Amounts:
    req, lim = container_amounts(container, "requests"), container_amounts(container, "limits")
    return Amounts(req.get("cpu"), lim.get("cpu"), req.get("memory"), lim.get("memory"))


def _basis(samples: Samples, pods: int, strategy: Strategy) -> Basis:
    times = [t for t, _v in samples.cpu] + [t for t, _v in samples.memory]
    span = (max(times) - min(times)) if times else 0.0
    cpu, memory = len(samples.cpu), len(samples.memory)
    return Basis(min(cpu, memory), span, pods, strategy.cpu_percentile, cpu, memory, samples.cpu_from)


def patched(spec: Obj, recs: Mapping[str, Amounts]) -> dict[str, Any]:
    """A copy of a pod spec with each named container's resources set to its recommendation:
    requests and memory limit replaced, the CPU limit replaced or removed."""
    out = copy.deepcopy(dict(spec))
    for container in out.get("containers") or ():
        rec = recs.get(container.get("name", ""))
        if rec is None:
            continue
        resources = container.setdefault("resources", {})
        requests = resources.setdefault("requests", {})
        limits = resources.setdefault("limits", {})
        requests["cpu"] = _cpu_text(rec.cpu_request)
        requests["memory"] = _mem_text(rec.memory_request)
        limits["memory"] = _mem_text(rec.memory_limit)
        if rec.cpu_limit is None:
            limits.pop("cpu", None)
        else:
            limits["cpu"] = _cpu_text(rec.cpu_limit)
    return out


class NodeGroups:
    """The node views as a template's placement tells them apart (model.group_nodes), cached by the
    label keys it reads, as the webhook's cache and audit do: 5,000 workloads over 5,000 nodes of a
    few pools are judged against a few views each, with the same verdicts."""

    def __init__(self, views: Sequence[NodeView]) -> None:
        self.views = sorted(views, key=lambda v: -v.budget)
        self._groups: dict[frozenset[str], list[NodeView]] = {}

    def for_spec(self, spec: Obj) -> Sequence[NodeView]:
        keys = referenced_keys(spec)
        if keys is None:
            return self.views
        if keys not in self._groups:
            self._groups[keys] = group_nodes(self.views, keys)
        return self._groups[keys]


def verdict(spec: Obj, workload: Workload, policy: Policy, views: Sequence[NodeView]) -> tuple[bool, str]:
    """What the webhook would answer for this template: policy.evaluate, the rules its review
    runs, in the namespace's mode (exempt namespaces are not judged; warn and audit admit)."""
    if workload.namespace in policy.exempt_namespaces:
        return True, "namespace exempt from the policy"
    findings = evaluate(spec, policy, views, workload.kind)
    mode = policy.mode_for(workload.namespace)
    denying = [f"[{f.rule}] {f.message}" for f in findings if f.deny]
    others = [f"[{f.rule}] {f.message}" for f in findings if not f.deny]
    if mode == "enforce" and denying:
        pools = _breached_pools(spec, views) if any(f.rule == "padding" and f.deny for f in findings) else ""
        return False, pools + "; ".join(denying)
    return True, "; ".join(others + (denying if mode != "enforce" else []))


def _breached_pools(spec: Obj, views: Sequence[NodeView]) -> str:
    """'pool general budget 3Gi: ', the pools the template may land on whose padding budget its
    memory passes (the smallest budget of each), ahead of the rule's own words."""
    need = memory_need(spec).nanos
    low: dict[str, int] = {}
    for v in views:
        if need > v.budget and node_matches(spec, v.name, v.labels, v.taints):
            pool = pool_of(v)
            low[pool] = min(low.get(pool, v.budget), v.budget)
    if not low:
        return ""
    listed = sorted(low.items())
    text = ", ".join(f"{name} budget {format_bytes(budget)}" for name, budget in listed[:5])
    more = f" and {len(listed) - 5} more" if len(listed) > 5 else ""
    return f"pool{'s' if len(listed) > 1 else ''} {text}{more}: "


def recommend_workload(
    w: WorkloadInput, usage: Mapping[SampleKey, Samples], strategy: Strategy, policy: Policy, nodes: NodeGroups
) -> WorkloadRec:
    containers: list[ContainerRec] = []
    recs: dict[str, Amounts] = {}
    young = w.age is not None and w.age < strategy.youngest
    for container in w.template.get("containers") or ():
        name = str(container.get("name", ""))
        merged = usage.get((w.workload, name)) or Samples()
        basis = _basis(merged, len(merged.pods), strategy)
        rec = ContainerRec(name, current_amounts(container), None, basis)
        if w.hpa and not strategy.allow_hpa:
            rec.status = f"skipped: {w.hpa} (--allow-hpa to include)"
        elif basis.samples < strategy.min_samples:
            rec.status = f"insufficient data: {basis.samples} samples, fewer than {strategy.min_samples}"
        elif young:
            rec.status = (
                f"insufficient data: the workload is younger than the history ({human_age(w.age or 0)} < {_duration(strategy.youngest)})"
            )
        else:
            rec.recommended = recs[name] = recommend(merged, strategy)
        containers.append(rec)
    out = WorkloadRec(w.workload, len(w.pods), containers)
    if recs:
        spec = patched(w.template, recs)
        allowed, message = verdict(spec, w.workload, policy, nodes.for_spec(spec))
        out.allowed = allowed
        for c in containers:
            if c.recommended is not None:
                c.allowed, c.message = allowed, message
    return out


def build_report(
    workloads: Iterable[WorkloadInput],
    usage: Mapping[SampleKey, Samples],
    strategy: Strategy,
    policy: Policy,
    views: Sequence[NodeView],
    nodes: Sequence[Obj],
    other_pods: Iterable[Obj] = (),
) -> Report:
    """Every workload's recommendations, then totals: before and after per namespace and per
    pool (the requests of running pods; only admitted recommendations change them) and the
    nodes each pool's requests would need. `other_pods`: running pods of no workload judged here."""
    inputs = list(workloads)
    groups = NodeGroups(views)
    views = groups.views
    recs = [recommend_workload(w, usage, strategy, policy, groups) for w in inputs]
    recs.sort(key=lambda r: (tuple(-s for s in r.savings()), r.workload.text()))
    pool_of_node = {v.name: pool_of(v) for v in views}
    pools: dict[str, PoolTotals] = {}
    for v in views:
        pools.setdefault(pool_of(v), PoolTotals(pool_of(v), 0)).nodes += 1
    by_ns: dict[str, list[int]] = {}
    totals = [0, 0, 0, 0]
    packed: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}

    def count(pod: Obj, namespace: str, after_spec: Obj) -> None:
        spec = pod.get("spec") or {}
        before, after = pod_requests(spec), pod_requests(after_spec)
        row = (before.get("cpu", 0), after.get("cpu", 0), before.get("memory", 0), after.get("memory", 0))
        for acc in (by_ns.setdefault(namespace, [0, 0, 0, 0]), totals):
            for i, value in enumerate(row):
                acc[i] += value
        pool = pool_of_node.get(str(spec.get("nodeName") or ""))
        if pool is None:
            return
        p = pools[pool]
        p.cpu_before, p.cpu_after = p.cpu_before + row[0], p.cpu_after + row[1]
        p.memory_before, p.memory_after = p.memory_before + row[2], p.memory_after + row[3]
        items = packed.setdefault(pool, ([], []))
        items[0].append((row[0], row[2]))
        items[1].append((row[1], row[3]))

    by_workload = {r.workload: r for r in recs}
    for w in inputs:
        chosen = {c.name: c.recommended for c in by_workload[w.workload].admitted if c.recommended is not None}
        for pod in w.pods:
            spec = pod.get("spec") or {}
            count(pod, w.workload.namespace, patched(spec, chosen) if chosen else spec)
    for pod in other_pods:
        count(pod, str((pod.get("metadata") or {}).get("namespace", "")), pod.get("spec") or {})
    bins = _pool_bins(nodes, views)
    for name, (before, after) in packed.items():
        size = bins.get(name)
        if size is not None:
            pools[name].nodes_before = first_fit_decreasing(before, size)
            pools[name].nodes_after = first_fit_decreasing(after, size)
    return Report(recs, dict(sorted(by_ns.items())), sorted(pools.values(), key=lambda p: p.name), totals)


def _pool_bins(nodes: Sequence[Obj], views: Sequence[NodeView]) -> dict[str, tuple[int, int]]:
    """pool -> (allocatable CPU, memory padding budget) of its largest node: the size of one bin."""
    from ..model import node_allocatable

    cpu_of = {str((n.get("metadata") or {}).get("name", "")): node_allocatable(n).get("cpu", 0) for n in nodes}
    out: dict[str, tuple[int, int]] = {}
    for v in views:
        size = (cpu_of.get(v.name, 0), v.budget)
        pool = pool_of(v)
        if pool not in out or size[1] > out[pool][1]:
            out[pool] = size
    return out


def first_fit_decreasing(items: Iterable[tuple[int, int]], size: tuple[int, int]) -> int:
    """Bins of `size` (cpu, memory) that first-fit-decreasing (largest memory first) fills with
    `items`: an estimate of nodes needed, not the scheduler's answer. An item larger than a bin
    takes a bin of its own."""
    bins: list[list[int]] = []
    for cpu, mem in sorted(items, key=lambda i: (-i[1], -i[0])):
        for b in bins:
            if b[0] + cpu <= size[0] and b[1] + mem <= size[1]:
                b[0] += cpu
                b[1] += mem
                break
        else:
            bins.append([cpu, mem])
    return len(bins)


# -- words and units -------------------------------------------------------------------
def _cpu_text(nanos: int | None) -> str:
    if nanos is None:
        return ""
    millis = -(-nanos // MILLI)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _mem_text(nanos: int | None) -> str:
    """Whole MiB (recommendations are rounded so), Gi when whole, else the exact bytes."""
    if nanos is None:
        return ""
    if nanos % MEBI == 0:
        mib = nanos // MEBI
        return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"
    return str(-(-nanos // NANO))


cpu_text, mem_text = _cpu_text, _mem_text


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s >= 86400 and s % 86400 == 0:
        return f"{s // 86400}d"
    if s >= 3600 and s % 3600 == 0:
        return f"{s // 3600}h"
    if s >= 60 and s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"


duration_text = _duration
