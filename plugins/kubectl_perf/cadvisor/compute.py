"""Pure summary arithmetic: samples and pod specs in, container and node rows out.

A scrape of one node is folded into a Scrape (a few numbers per container, never
the dump); one or two scrapes, the pods' specs and the node object make the rows.
Which rows are containers follows kubernetes-mixin: `container!=""` and `image!=""`
(the pod cgroup has both empty; containerd's sandbox has an empty container and the
pause image; Docker and CRI-O name the sandbox `POD`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from ..model import container_amounts, node_allocatable, pod_resources
from ..padding import DEFAULT_LEVELS, STATES, Levels, Verdict, judge
from ..promtext import Sample

NANO = 10**9

# cAdvisor's names (/metrics/cadvisor) and the kubelet's resource metrics (/metrics/resource).
CPU = "container_cpu_usage_seconds_total"
PERIODS = "container_cpu_cfs_periods_total"
THROTTLED = "container_cpu_cfs_throttled_periods_total"
THROTTLED_SECONDS = "container_cpu_cfs_throttled_seconds_total"
WORKING_SET = "container_memory_working_set_bytes"
RSS = "container_memory_rss"
CACHE = "container_memory_cache"
OOM = "container_oom_events_total"
MEMORY_LIMIT = "container_spec_memory_limit_bytes"
QUOTA = "container_spec_cpu_quota"
PERIOD = "container_spec_cpu_period"
START = "container_start_time_seconds"
NODE_CPU = "node_cpu_usage_seconds_total"
NODE_WORKING_SET = "node_memory_working_set_bytes"
CPU_RATE = "rate:cpu"  # not a metric: /stats/summary's usageNanoCores, a rate already
# Pressure stall information (KEP-4205; cAdvisor on cgroup v2 with PSI on, the kubelet's
# KubeletPSI gate): seconds some task waited (`waiting`, PSI's "some") and all tasks stalled
# (`stalled`, "full") for CPU, memory and IO. Rated over the interval they are shares of it.
PSI: dict[tuple[str, str], str] = {
    (resource, kind): f"container_pressure_{resource}_{'waiting' if kind == 'some' else 'stalled'}_seconds_total"
    for resource in ("cpu", "memory", "io")
    for kind in ("some", "full")
}

CADVISOR_METRICS = frozenset(
    {CPU, PERIODS, THROTTLED, THROTTLED_SECONDS, WORKING_SET, RSS, CACHE, OOM, MEMORY_LIMIT, QUOTA, PERIOD, START, *PSI.values()}
)
RESOURCE_METRICS = frozenset({CPU, WORKING_SET, START, NODE_CPU, NODE_WORKING_SET})

Key = tuple[str, str, str]  # namespace, pod, container ("" for the pod cgroup)


def pod_labels(labels: Mapping[str, str]) -> Key:
    """namespace, pod, container of a series: the labels since Kubernetes 1.16, else the
    `pod_name`/`container_name` of older kubelets (still in saved dumps and vendors' fixtures;
    1.14 and 1.15 carry both, with the same values)."""
    pod = labels.get("pod") or labels.get("pod_name", "")
    container = labels.get("container") or labels.get("container_name", "")
    return labels.get("namespace", ""), pod, container


@dataclass
class Scrape:
    """One scrape of one node, folded: per container, metric -> (value, timestamp ms or None)."""

    containers: dict[Key, dict[str, tuple[float, int | None]]] = field(default_factory=dict)
    node: dict[str, tuple[float, int | None]] = field(default_factory=dict)
    taken: float = 0.0  # wall time of the scrape (unix seconds), when samples carry no timestamps
    samples: int = 0
    latest: int | None = None  # the newest sample timestamp (ms): when the scrape was taken
    source: str = ""  # the file it came from, for messages

    def add(self, samples: Iterable[Sample]) -> Scrape:
        containers, node = self.containers, self.node
        per_core: dict[Key, tuple[float, int | None]] = {}
        latest = self.latest
        for s in samples:
            self.samples += 1
            if s.timestamp is not None and (latest is None or s.timestamp > latest):
                latest = s.timestamp
            labels = s.labels
            key = pod_labels(labels)
            _ns, pod, container = key
            if not pod:
                if labels.get("id") == "/" or s.name.startswith("node_"):
                    node[s.name] = (s.value, s.timestamp)
                continue
            if container == "POD" or (not container and labels.get("image")):
                continue  # the pod sandbox (pause): counted by the pod cgroup, not a container
            if s.name == CPU and labels.get("cpu", "total") != "total":
                # per-core series: cAdvisor with --enable_metrics=percpu, or old kubelets that
                # had no cpu="total" series at all; summed below when no total came
                value, _ts = per_core.get(key, (0.0, None))
                per_core[key] = (value + s.value, s.timestamp)
                continue
            containers.setdefault(key, {})[s.name] = (s.value, s.timestamp)
        for key, summed in per_core.items():
            containers.setdefault(key, {}).setdefault(CPU, summed)
        self.latest = latest
        return self

    @property
    def when(self) -> float:
        """When it was taken (unix seconds): its newest sample's timestamp, else the wall time."""
        return self.latest / 1000 if self.latest is not None else self.taken

    def same_as(self, other: Scrape) -> bool:
        """The same scrape read twice (or kubelet's cached stats served twice): no interval between."""
        if self.latest is not None and self.latest == other.latest:
            return True
        return self.containers == other.containers


def in_scrape_order(scrapes: list[Scrape]) -> list[Scrape]:
    """Oldest first by the samples' own timestamps (file order and mtimes say nothing)."""
    return sorted(scrapes, key=lambda s: s.when)


def scrape_from_stats_summary(doc: Mapping[str, Any], taken: float) -> tuple[Scrape, list[PodStats], NodeStats]:
    """The kubelet's /stats/summary JSON as a Scrape (usage rates come ready-made), plus
    per-pod network and ephemeral storage and the node's filesystem and network."""
    snap = Scrape(taken=taken)
    pods: list[PodStats] = []
    for pod in doc.get("pods") or []:
        ref = pod.get("podRef") or {}
        ns, name = ref.get("namespace", ""), ref.get("name", "")
        for c in pod.get("containers") or []:
            cpu, mem = c.get("cpu") or {}, c.get("memory") or {}
            row: dict[str, tuple[float, int | None]] = {}
            if "usageNanoCores" in cpu:
                row[CPU_RATE] = (cpu["usageNanoCores"] / NANO, None)
            for metric, key in ((WORKING_SET, "workingSetBytes"), (RSS, "rssBytes")):
                if key in mem:
                    row[metric] = (float(mem[key]), None)
            snap.containers[(ns, name, c.get("name", ""))] = row
            snap.samples += 1
        net, eph = pod.get("network") or {}, pod.get("ephemeral-storage") or {}
        pods.append(PodStats(ns, name, net.get("rxBytes"), net.get("txBytes"), eph.get("usedBytes")))
    node = doc.get("node") or {}
    mem, fs, net = node.get("memory") or {}, node.get("fs") or {}, node.get("network") or {}
    if "workingSetBytes" in mem:
        snap.node[NODE_WORKING_SET] = (float(mem["workingSetBytes"]), None)
    stats = NodeStats(net.get("rxBytes"), net.get("txBytes"), fs.get("usedBytes"), fs.get("capacityBytes"))
    return snap, pods, stats


@dataclass
class PodStats:
    namespace: str
    pod: str
    network_rx_bytes: int | None
    network_tx_bytes: int | None
    ephemeral_storage_bytes: int | None


@dataclass
class NodeStats:
    network_rx_bytes: int | None
    network_tx_bytes: int | None
    fs_used_bytes: int | None
    fs_capacity_bytes: int | None


@dataclass
class Spec:
    """A container's requests and limits (nanos), from the pod spec through the shared model."""

    cpu_request: int | None = None
    cpu_limit: int | None = None
    memory_request: int | None = None
    memory_limit: int | None = None
    restarts: int | None = None  # status.containerStatuses[].restartCount
    last_oom_killed_at: str | None = None  # when it was last OOM-killed (lastState or state terminated)


def _oom_status(status: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """restartCount, and when the container was last OOM-killed: container_oom_events_total
    starts again at zero with the restarted container, the pod status remembers."""
    killed = None
    for state in (status.get("state") or {}, status.get("lastState") or {}):
        term = state.get("terminated") or {}
        if term.get("reason") == "OOMKilled":
            killed = term.get("finishedAt") or term.get("startedAt") or "?"
            break
    restarts = status.get("restartCount")
    return (restarts if isinstance(restarts, int) else None), killed


def pod_hosts(pods: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(namespace, pod) -> the node it runs on (spec.nodeName), for dumps that do not say."""
    out = {}
    for pod in pods:
        meta, host = pod.get("metadata") or {}, (pod.get("spec") or {}).get("nodeName")
        if host:
            out[(meta.get("namespace", ""), meta.get("name", ""))] = host
    return out


def dump_node(snap: Scrape, hosts: Mapping[tuple[str, str], str]) -> str | None:
    """The node a dump was taken on, by where its pods run: the one node they share, else None."""
    found = {hosts.get((ns, pod)) for ns, pod, _c in snap.containers} - {None}
    return found.pop() if len(found) == 1 else None


def pod_specs(pods: Iterable[Mapping[str, Any]]) -> dict[Key, Spec]:
    """(namespace, pod, container) -> Spec for every container and, under container "",
    the pod's effective values (pod-level resources, sidecars, init containers, overhead)."""
    out: dict[Key, Spec] = {}
    for pod in pods:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        status = pod.get("status") or {}
        statuses = {
            st.get("name", ""): _oom_status(st)
            for st in list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
        }
        for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            req, lim = container_amounts(c, "requests"), container_amounts(c, "limits")
            # the API server defaults a missing request to the limit
            restarts, killed = statuses.get(c.get("name", ""), (None, None))
            out[(ns, name, c.get("name", ""))] = Spec(
                req.get("cpu", lim.get("cpu")),
                lim.get("cpu"),
                req.get("memory", lim.get("memory")),
                lim.get("memory"),
                restarts,
                killed,
            )
        req, lim = pod_resources(spec)
        out[(ns, name, "")] = Spec(req.get("cpu"), lim.get("cpu"), req.get("memory"), lim.get("memory"))
    return out


@dataclass(frozen=True)
class Thresholds:
    """What the summary flags, and whether pod cgroups get rows of their own."""

    throttle_threshold: float = 0.25  # kubernetes-mixin's CPUThrottlingHigh
    memory_threshold: float = 0.90
    pod_rows: bool = False
    pressure_threshold: float = 0.10  # a PSI "some" share of the interval that counts as pressure


@dataclass(frozen=True)
class Pressure:
    """PSI as shares of the interval (0..1; with one scrape, of the time since the cgroup
    started): `some` a task waited, `full` every task stalled. None: not in the dump."""

    cpu_some: float | None = None
    cpu_full: float | None = None
    memory_some: float | None = None
    memory_full: float | None = None
    io_some: float | None = None
    io_full: float | None = None

    @property
    def most(self) -> float:
        """The largest `some` share, for --sort pressure."""
        return max((x for x in (self.cpu_some, self.memory_some, self.io_some) if x is not None), default=-1.0)


def pressure(
    before: Mapping[str, tuple[float, int | None]] | None, now: Mapping[str, tuple[float, int | None]], seconds: float | None
) -> Pressure | None:
    """The PSI counters' increase over `seconds` (two scrapes), or their totals over `seconds` since
    the cgroup started (one scrape, `before` None). None when the series are absent (older kubelets,
    cgroup v1, PSI off) or no time is known."""
    if not seconds or seconds <= 0 or not any(m in now for m in PSI.values()):
        return None
    shares: dict[str, float | None] = {}
    for (resource, kind), metric in PSI.items():
        got = _increase(before, now, metric) if before is not None else _value(now, metric)
        shares[f"{resource}_{kind}"] = None if got is None else got / seconds
    return Pressure(**shares)


# The contention column: why a container waits (issue 24 section 3).
OWN_LIMIT, NEIGHBOURS, MEMORY_PRESSURE, NO_CONTENTION = "own-limit", "neighbours", "memory-pressure", "ok"


def classify(rows: Iterable[ContainerUsage], node: NodeMemory, thresholds: Thresholds) -> None:
    """Each row's contention, from its PSI joined with its throttling and memory:
    - own-limit: CPU pressure and throttled (CFS throttling over --throttle-threshold): the
      container waits on its own CPU limit;
    - neighbours: CPU pressure, not throttled, on a busy node (the node's own CPU pressure at
      or over --pressure-threshold): it waits for CPU others hold;
    - memory-pressure: memory stalls with the working set near its limit (over
      --memory-threshold) or on a node whose padding verdict is a breach (reclaim);
    - ok: none of these (CPU pressure without throttling on a quiet node included: the
      container's own threads queue for the CPUs it is given).
    Rows without PSI keep None ("-"). CPU comes first: throttling is the one cause a spec
    change removes at once."""
    limit = thresholds.pressure_threshold
    node_cpu = node.pressure.cpu_some if node.pressure is not None else None
    busy = node_cpu is not None and node_cpu >= limit
    padding_breach = bool(node.padding_breach)
    for r in rows:
        p = r.pressure
        if p is None:
            continue
        cpu = p.cpu_some is not None and p.cpu_some >= limit
        memory = p.memory_some is not None and p.memory_some >= limit
        if cpu and "throttling" in r.flags:
            r.contention = OWN_LIMIT
        elif cpu and busy:
            r.contention = NEIGHBOURS
        elif memory and ((r.memory_limit_ratio or 0.0) > thresholds.memory_threshold or padding_breach):
            r.contention = MEMORY_PRESSURE
        else:
            r.contention = NO_CONTENTION


@dataclass(frozen=True)
class Filters:
    """--metric, -n, --pod, --container, --drop-pod-cgroups: which samples the dump keeps
    (by metric name and labels) and which rows the summary keeps."""

    metric: re.Pattern[str] | None = None
    namespace: str | None = None
    pod: re.Pattern[str] | None = None
    container: re.Pattern[str] | None = None
    drop_pod_cgroups: bool = False

    @property
    def by_labels(self) -> bool:
        return bool(self.namespace or self.pod or self.container or self.drop_pod_cgroups)

    def keeps(self, labels: Mapping[str, str]) -> bool:
        """A dump sample, by its labels (either generation of label names)."""
        namespace, pod, container = pod_labels(labels)
        if self.drop_pod_cgroups and pod and container in ("", "POD"):
            return False
        if self.namespace and namespace != self.namespace:
            return False
        if self.pod and not self.pod.search(pod):
            return False
        return not (self.container and not self.container.search(container))

    def keeps_row(self, row: ContainerUsage, chosen: AbstractSet[tuple[str, str]] | None) -> bool:
        """A summary row; `chosen`: the (namespace, pod) that -n/-l matched, None without them."""
        if self.namespace and row.namespace != self.namespace:
            return False
        if chosen is not None and (row.namespace, row.pod) not in chosen:
            return False
        if self.pod and not self.pod.search(row.pod):
            return False
        return not (self.container and not self.container.search(row.container))


@dataclass
class Notes:
    """What the user should know beyond the report (stderr, one line each), and whether
    some node could not be read (exit status 1, the report still printed). Worker threads
    append to it: list.append is atomic."""

    lines: list[str] = field(default_factory=list)
    failed: bool = False

    def add(self, text: str, failed: bool = False) -> None:
        self.lines.append(text)
        self.failed = self.failed or failed


@dataclass
class ContainerUsage:
    node: str
    namespace: str
    pod: str
    container: str  # "" for a pod row
    cpu_cores: float | None = None
    cpu_request_cores: float | None = None
    cpu_limit_cores: float | None = None
    throttled_ratio: float | None = None  # between two scrapes
    throttled_seconds: float | None = None
    # one scrape: the counters' totals since the container started (kernel CFS counters), kept
    # apart from the interval figures so nobody reads a lifetime average as the last minutes
    throttled_ratio_since_start: float | None = None
    throttled_seconds_since_start: float | None = None
    memory_working_set_bytes: float | None = None
    memory_rss_bytes: float | None = None
    memory_cache_bytes: float | None = None
    memory_request_bytes: float | None = None
    memory_limit_bytes: float | None = None
    memory_limit_ratio: float | None = None
    memory_request_ratio: float | None = None
    oom_events: int | None = None
    restarts: int | None = None  # from the pod status (live pods or --pods-file)
    last_oom_killed_at: str | None = None
    flags: list[str] = field(default_factory=list)
    pressure: Pressure | None = None  # PSI shares; None: the dump has no PSI series for it
    contention: str | None = None  # classify(): own-limit, neighbours, memory-pressure, ok


@dataclass(frozen=True)
class Committed:
    """The memory a node's pods commit (nanos), summed as capacity sums them (model.pod_resources)."""

    requests: int = 0
    limits: int = 0

    def plus(self, spec: Mapping[str, Any]) -> Committed:
        requests, limits = pod_resources(spec)
        return Committed(self.requests + requests.get("memory", 0), self.limits + limits.get("memory", 0))


# Where a node row's working set comes from: the node's own figure (the root cgroup, as
# metrics-server and the kubelet's resource endpoint report it), else the sum of its containers'.
NODE_FIGURE, CONTAINERS_SUM = "node", "containers"

# The labels that name a node's pool (the html page groups flagged containers by it), first found
# wins: perf-sim's and common setups' `node-pool`, then GKE's, EKS managed node groups', Karpenter's
# and AKS's; the instance type is the last resort (a pool is usually one type).
POOL_LABELS = (
    "node-pool",
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "karpenter.sh/nodepool",
    "kubernetes.azure.com/agentpool",
    "node.kubernetes.io/instance-type",
)


def pool_of(labels: Mapping[str, str]) -> str:
    """A node's pool: the first of POOL_LABELS it carries; "" when none."""
    return next((labels[k] for k in POOL_LABELS if labels.get(k)), "")


@dataclass
class NodeMemory:
    name: str
    working_set_bytes: float = 0.0
    allocatable_memory_bytes: float | None = None
    padding_target: float | None = None
    verdict: Verdict | None = None  # padding.judge; None without the node object (dump files)
    working_set_source: str = CONTAINERS_SUM  # NODE_FIGURE or CONTAINERS_SUM
    committed: Committed | None = None  # None: pods could not be listed (the verdict weighs usage only)
    containers: int = 0
    stats: NodeStats | None = None
    cpu_cores: float | None = None  # CPU of its containers (whatever the filters), for --sort cpu
    throttling: int = 0  # its containers flagged "throttling", for --sort throttling
    pressure: Pressure | None = None  # the root cgroup's PSI (node_pressure); None: not in the dump
    pool: str = ""  # its node pool (pool_of its labels); "" without the node object (dump files)

    @property
    def working_set_ratio(self) -> float | None:
        return self.working_set_bytes / self.allocatable_memory_bytes if self.allocatable_memory_bytes else None

    @property
    def padding_breach(self) -> bool | None:
        """Whether the node's padding verdict is a breach; None when it was not judged."""
        return None if self.verdict is None else bool(self.verdict.breaches)


def _value(row: Mapping[str, tuple[float, int | None]], metric: str) -> float | None:
    got = row.get(metric)
    return got[0] if got else None


def _increase(first: Mapping[str, tuple[float, int | None]], last: Mapping[str, tuple[float, int | None]], metric: str) -> float | None:
    """A counter's increase between two scrapes; a reset (restart) counts from zero, as PromQL does."""
    a, b = first.get(metric), last.get(metric)
    if a is None or b is None:
        return None
    return b[0] - a[0] if b[0] >= a[0] else b[0]


def _elapsed(first: Scrape, last: Scrape, a: tuple[float, int | None] | None, b: tuple[float, int | None] | None) -> float:
    """Seconds between two samples: their own timestamps (cAdvisor's collection times), else the scrapes'."""
    if a and b and a[1] is not None and b[1] is not None:
        return (b[1] - a[1]) / 1000
    return last.taken - first.taken


def _since_start(now: Mapping[str, tuple[float, int | None]], snap: Scrape) -> float | None:
    """Seconds from a cgroup's start to its PSI sample (one scrape's interval)."""
    psi = next((now[m] for m in PSI.values() if m in now), None)
    start = _value(now, START)
    if psi is None or not start:
        return None
    stamp = psi[1] / 1000 if psi[1] is not None else snap.taken
    return stamp - start if stamp > start else None


def node_pressure(snaps: list[Scrape]) -> Pressure | None:
    """The node's PSI: its root cgroup's (cAdvisor's id="/" series), between the first and last
    scrape, or since the root cgroup started (one scrape)."""
    last = snaps[-1]
    if len(snaps) > 1:
        first = snaps[0]
        psi = next((m for m in PSI.values() if m in last.node), None)
        seconds = _elapsed(first, last, first.node.get(psi), last.node.get(psi)) if psi else None
        return pressure(first.node, last.node, seconds)
    return pressure(None, last.node, _since_start(last.node, last))


def container_rows(node: str, snaps: list[Scrape], specs: Mapping[Key, Spec], thresholds: Thresholds) -> list[ContainerUsage]:
    """Rows for one node from one scrape (averages since each container started) or two (rates between)."""
    last = snaps[-1]
    first = snaps[0] if len(snaps) > 1 else None
    rows: list[ContainerUsage] = []
    for key, now in last.containers.items():
        ns, pod, container = key
        if not container and not thresholds.pod_rows:
            continue
        row = ContainerUsage(node, ns, pod, container)
        before = first.containers.get(key) if first else None
        if CPU_RATE in now:
            row.cpu_cores = now[CPU_RATE][0]
        elif before is not None and first is not None:
            seconds = _elapsed(first, last, before.get(CPU), now.get(CPU))
            cpu = _increase(before, now, CPU)
            if cpu is not None and seconds > 0:
                row.cpu_cores = cpu / seconds
            periods, throttled = _increase(before, now, PERIODS), _increase(before, now, THROTTLED)
            if periods and throttled is not None:
                row.throttled_ratio = throttled / periods
            row.throttled_seconds = _increase(before, now, THROTTLED_SECONDS)
            psi = next((m for m in PSI.values() if m in now), None)
            row.pressure = pressure(before, now, _elapsed(first, last, before.get(psi), now.get(psi)) if psi else None)
        else:
            counter, start = now.get(CPU), _value(now, START)
            stamp = counter[1] / 1000 if counter and counter[1] is not None else last.taken
            if counter and start and stamp > start:
                row.cpu_cores = counter[0] / (stamp - start)
            periods, throttled = _value(now, PERIODS), _value(now, THROTTLED)
            if periods and throttled is not None:
                row.throttled_ratio_since_start = throttled / periods
            row.throttled_seconds_since_start = _value(now, THROTTLED_SECONDS)
            row.pressure = pressure(None, now, _since_start(now, last))
        row.memory_working_set_bytes = _value(now, WORKING_SET)
        row.memory_rss_bytes = _value(now, RSS)
        row.memory_cache_bytes = _value(now, CACHE)
        oom = _value(now, OOM)
        row.oom_events = int(oom) if oom is not None else None
        _limits(row, now, specs.get(key))
        if row.cpu_limit_cores is None:
            row.throttled_ratio = row.throttled_ratio_since_start = None  # CFS series exist only with a CPU limit
        ratio = row.throttled_ratio if row.throttled_ratio is not None else row.throttled_ratio_since_start
        if ratio is not None and ratio > thresholds.throttle_threshold:
            row.flags.append("throttling")
        if row.memory_limit_ratio is not None and row.memory_limit_ratio > thresholds.memory_threshold:
            row.flags.append("memory")
        if row.last_oom_killed_at is not None:
            row.flags.append("oom-killed")  # restarted after an OOM kill: the counter above forgot it
        rows.append(row)
    return rows


def _limits(row: ContainerUsage, now: Mapping[str, tuple[float, int | None]], spec: Spec | None) -> None:
    """Requests and limits from the pod spec; without one, the limits the cgroup says (CPU quota,
    memory limit), which are exact. No CPU request from cgroup shares: on cgroup v2 the runtime
    writes cpu.weight (containerd 2.x's runc on a curve of its own) and cAdvisor converts it back
    to shares linearly, so 100m reads as 411m there and 7-32% low on older nodes."""
    if spec is not None:
        row.restarts, row.last_oom_killed_at = spec.restarts, spec.last_oom_killed_at
        row.cpu_request_cores = spec.cpu_request / NANO if spec.cpu_request is not None else None
        row.cpu_limit_cores = spec.cpu_limit / NANO if spec.cpu_limit else None
        row.memory_request_bytes = spec.memory_request // NANO if spec.memory_request is not None else None
        row.memory_limit_bytes = spec.memory_limit // NANO if spec.memory_limit else None
    else:
        quota, period = _value(now, QUOTA), _value(now, PERIOD)
        if quota and quota > 0 and period:
            row.cpu_limit_cores = quota / period
        limit = _value(now, MEMORY_LIMIT)
        # cAdvisor reports "no limit" as 0, or as a huge number on cgroup v1
        row.memory_limit_bytes = limit if limit and limit < 2**62 else None
    ws = row.memory_working_set_bytes
    if ws is not None and row.memory_limit_bytes:
        row.memory_limit_ratio = ws / row.memory_limit_bytes
    if ws is not None and row.memory_request_bytes:
        row.memory_request_ratio = ws / row.memory_request_bytes


def node_row(
    name: str,
    snap: Scrape,
    node: Mapping[str, Any] | None,
    padding_target: float | None,
    containers: Iterable[ContainerUsage] = (),
    committed: Committed | None = None,
    levels: Levels = DEFAULT_LEVELS,
) -> NodeMemory:
    """The node's own working set (the root cgroup's, what metrics-server reports: the kubelet,
    runtime and system slices count, page cache it cannot drop too), else the sum of its
    containers' (kubernetes-mixin's selection, whatever the filters), marked as such; against
    allocatable and the node's padding target, judged by padding.judge with what its pods commit.
    With the node's container rows (before the filters): their CPU and how many are throttled,
    which --sort ranks nodes by."""
    row = NodeMemory(name)
    for c in containers:
        if c.container:  # not a pod row (--pod-rows): its containers are counted already
            if c.cpu_cores is not None:
                row.cpu_cores = (row.cpu_cores or 0.0) + c.cpu_cores
            row.throttling += "throttling" in c.flags
    summed = 0.0
    for (_ns, _pod, container), values in snap.containers.items():
        if container:
            summed += _value(values, WORKING_SET) or 0
            row.containers += 1
    own = _value(snap.node, WORKING_SET)  # cAdvisor's id="/" series
    if own is None:
        own = _value(snap.node, NODE_WORKING_SET)  # /metrics/resource, /stats/summary
    row.working_set_bytes, row.working_set_source = (summed, CONTAINERS_SUM) if own is None else (own, NODE_FIGURE)
    row.committed = committed
    if node is not None:
        row.pool = pool_of((node.get("metadata") or {}).get("labels") or {})
        alloc = node_allocatable(node).get("memory")
        row.allocatable_memory_bytes = alloc // NANO if alloc else None
        row.padding_target = padding_target
        if alloc and padding_target is not None:
            # the suite's one verdict: capacity, audit and the webhook's budget agree node for node
            held = committed or Committed()
            row.verdict = judge(alloc, padding_target, round(row.working_set_bytes) * NANO, held.limits, held.requests, levels)
    return row


def breach_order(n: NodeMemory) -> tuple[int, float, str]:
    """--sort breach: breaching nodes first, then overcommitted, then the rest, each by working set
    as a share of allocatable (largest first), then by name."""
    rank = len(STATES) if n.verdict is None else STATES.index(n.verdict.state)  # no verdict (a dump file): last
    return (rank, -(n.working_set_ratio if n.working_set_ratio is not None else -1.0), n.name)


NODE_SORTS = {
    "throttling": lambda n: (n.throttling, n.cpu_cores if n.cpu_cores is not None else -1.0),
    # against allocatable when it is known (live nodes), else the working set itself (dump files)
    "memory": lambda n: (n.working_set_ratio if n.working_set_ratio is not None else -1.0, n.working_set_bytes),
    "cpu": lambda n: (n.cpu_cores if n.cpu_cores is not None else -1.0, 0.0),
    "pressure": lambda n: (n.pressure.most if n.pressure is not None else -1.0, 0.0),
}

SORTS = {
    "throttling": lambda r: next((x for x in (r.throttled_ratio, r.throttled_ratio_since_start) if x is not None), -1.0),
    "memory": lambda r: r.memory_limit_ratio if r.memory_limit_ratio is not None else -1.0,
    "cpu": lambda r: r.cpu_cores if r.cpu_cores is not None else -1.0,
    "pressure": lambda r: r.pressure.most if r.pressure is not None else -1.0,
}


@dataclass
class SummaryReport:
    """What the summary prints: container rows in their order, nodes by name, and (from
    /stats/summary only) per-pod network and ephemeral storage by node, namespace and pod."""

    containers: list[ContainerUsage]
    nodes: list[NodeMemory]
    pods: list[tuple[str, PodStats]] | None  # (node, stats); None unless the endpoint is summary
    host: str  # the API server, "" for dump files
    thresholds: Thresholds
    notes: Notes
    since_start: bool = False  # one scrape: throttling is shown as totals since each container started
    pools: dict[str, str] = field(default_factory=dict)  # node name -> pool, for every node read (before --top)
    sort: str | None = None  # --sort; None: by name
    flag_counts: dict[str, int] = field(default_factory=dict)  # containers per flag (throttling...), before --top
    containers_total: int = 0  # container rows before --top
    flagged_total: int = 0  # of them, those with some flag


def summary_report(
    rows: list[ContainerUsage],
    nodes: list[NodeMemory],
    pods: list[tuple[str, PodStats]] | None,
    host: str,
    thresholds: Thresholds,
    sort: str | None,
    top: int | None,
    notes: Notes,
    since_start: bool = False,
    only_breaching: bool = False,
    page: bool = False,
) -> SummaryReport:
    """--only-breaching keeps the nodes whose padding verdict is a breach and the containers on
    them; --sort breach ranks the nodes by verdict and their containers follow in that order.
    `page` (-o html) without --sort: the page's own order, nodes by verdict and flagged containers
    first, is the one --top keeps the first of (else it kept the first by name, often none flagged)."""
    ordered_pods = sorted(pods, key=lambda x: (x[0], x[1].namespace, x[1].pod)) if pods is not None else None
    nodes = sorted(nodes, key=lambda n: n.name)
    if only_breaching:
        nodes = [n for n in nodes if n.padding_breach]
        kept = {n.name for n in nodes}
        rows = [r for r in rows if r.node in kept]
    if sort == "breach" or (page and not sort):
        nodes.sort(key=breach_order)
    elif sort:
        nodes.sort(key=NODE_SORTS[sort], reverse=True)
    # the containers' order: a node's rank under --sort breach (every node, before --top cuts the table)
    rank = {n.name: i for i, n in enumerate(nodes)}
    pools = {n.name: n.pool for n in nodes}
    nodes = nodes[:top] if top else nodes
    counts: dict[str, int] = {}
    for r in rows:
        for flag in r.flags:
            counts[flag] = counts.get(flag, 0) + 1
    flagged = sum(1 for r in rows if r.flags)
    shown = order(rows, sort, top, rank, flagged_first=page)
    return SummaryReport(shown, nodes, ordered_pods, host, thresholds, notes, since_start, pools, sort, counts, len(rows), flagged)


def order(
    rows: list[ContainerUsage],
    sort: str | None,
    top: int | None,
    node_rank: Mapping[str, int] | None = None,
    flagged_first: bool = False,
) -> list[ContainerUsage]:
    """By node, namespace, pod and container (flagged ones first with `flagged_first`); or the largest
    first by `sort` (breach: by their node's rank, then memory against the limit); cut to `top`."""
    rows = sorted(rows, key=lambda r: (r.node, r.namespace, r.pod, r.container))
    if flagged_first and not sort:
        rows.sort(key=lambda r: not r.flags)
    elif sort == "breach":
        ranks = node_rank or {}
        rows.sort(key=lambda r: (ranks.get(r.node, len(ranks)), -SORTS["memory"](r)))
    elif sort:
        rows.sort(key=SORTS[sort], reverse=True)
    return rows[:top] if top else rows
