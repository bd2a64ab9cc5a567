"""Live usage of nodes and their pods, from metrics-server or, where metrics.k8s.io is not
served, from the kubelets themselves (issue 24 section 2).

metrics-server is a scraper of the kubelet's /metrics/resource: two samples of the CPU
counters a resolution apart (15 s), the working set as it is. Many dev and edge clusters
do without it, and the suite already reads the kubelet through the API server's node proxy
(nodes/NAME/proxy), so this module does what metrics-server does for the nodes shown: reads
each one's /metrics/resource twice, a window apart, at most CONCURRENCY nodes at once, and
hands back NodeMetrics and PodMetrics shaped items, so the callers (capacity --util,
audit's node-padding) weigh them exactly as they weigh metrics-server's.

`read_usage` is the one entry both call. The source is a choice (--usage-source):
auto (metrics-server, the kubelets when metrics.k8s.io is not served), metrics-server,
kubelet. A node whose kubelet cannot be read is a note, not a failure; nodes/proxy
forbidden (a separate RBAC grant from nodes) is one note and no kubelet usage."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .api import ApiError, MetricsUnavailable, node_metrics_path, pod_metrics_path
from .kubelet import CONCURRENCY, NODE_TIMEOUT, each_node, proxy_path
from .promtext import Parser

Obj = dict[str, Any]

AUTO, METRICS_SERVER, KUBELET = "auto", "metrics-server", "kubelet"
SOURCES = (AUTO, METRICS_SERVER, KUBELET)
DEFAULT_WINDOW = 15.0  # seconds: metrics-server's default resolution
STALE_WINDOWS = 2  # metrics-server's figures older than this many windows are stale

# The kubelet's resource metrics (/metrics/resource, stable since 1.29): what metrics-server reads.
NODE_CPU = "node_cpu_usage_seconds_total"
NODE_MEMORY = "node_memory_working_set_bytes"
CPU = "container_cpu_usage_seconds_total"
MEMORY = "container_memory_working_set_bytes"
START = "container_start_time_seconds"
METRICS = frozenset({NODE_CPU, NODE_MEMORY, CPU, MEMORY, START})
NODE_METRICS = frozenset({NODE_CPU, NODE_MEMORY})


@dataclass(frozen=True)
class UsageSource:
    """--usage-source and --usage-window, as the options carry them."""

    source: str = AUTO
    window: float = DEFAULT_WINDOW  # seconds between the two kubelet samples; 0: one sample


@dataclass
class Usage:
    """NodeMetrics and PodMetrics shaped items, where they came from, and what to tell the user."""

    nodes: list[Obj] | None = None  # None: node usage not known
    pods: list[Obj] | None = None  # None: not asked for, or not known
    via: str = ""  # METRICS_SERVER or KUBELET; "" when neither gave usage
    unavailable: str = ""  # why there is no usage at all, in one line
    status: int = 0  # the metrics API's status when it was the reason (403 forbidden, 404, 503)
    notes: list[str] = field(default_factory=list)


# -- one node's /metrics/resource ---------------------------------------------------------------
@dataclass
class Sample:
    """One read of one node's /metrics/resource, folded: a few numbers per container."""

    at: float  # when (unix seconds): the newest sample's own timestamp, else the wall clock
    node_cpu: float | None = None  # CPU seconds since the node's boot
    node_memory: float | None = None  # working set bytes
    cpu: dict[tuple[str, str, str], float] = field(default_factory=dict)  # CPU seconds since the container started
    memory: dict[tuple[str, str, str], float] = field(default_factory=dict)
    start: dict[tuple[str, str, str], float] = field(default_factory=dict)  # container start (unix seconds)


def fold(lines: Iterable[bytes], taken: float, pods: bool = True) -> Sample:
    """The lines of one /metrics/resource read as a Sample; without `pods`, the node's two series
    alone (the container series, most of the read, are skipped by name, not parsed: node rows)."""
    parser = Parser(METRICS if pods else NODE_METRICS)
    sample = Sample(at=taken)
    newest: int | None = None
    for s in parser.checked(lines):
        if not math.isfinite(s.value):  # NaN or +Inf (the text format allows them; 1e999 reads as one): no figure
            continue
        if s.timestamp is not None and (newest is None or s.timestamp > newest):
            newest = s.timestamp
        if s.name == NODE_CPU:
            sample.node_cpu = s.value
        elif s.name == NODE_MEMORY:
            sample.node_memory = s.value
        else:
            labels = s.labels
            key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
            if key[1] and key[2]:
                {CPU: sample.cpu, MEMORY: sample.memory, START: sample.start}[s.name][key] = s.value
    if newest is not None:
        sample.at = newest / 1000
    return sample


def _rate(before: float | None, after: float | None, seconds: float) -> float | None:
    """A counter's rate between two samples; None when it went back (a restart) or no time passed."""
    if before is None or after is None or seconds <= 0 or after < before:
        return None
    return (after - before) / seconds


def items(node: str, first: Sample, second: Sample | None, namespace: str | None) -> tuple[Obj | None, list[Obj]]:
    """NodeMetrics and PodMetrics items from one or two samples of a node, as metrics-server makes
    them: CPU the counters' rate between the samples, memory the newer working set. A container
    without a rate (started between the samples, restarted) leaves its pod out, as metrics-server
    does. With one sample (window 0) a container's CPU is its counter over the time since it
    started, and the node's CPU is not known (its counter runs from a boot /metrics/resource does
    not give)."""
    last = second or first
    seconds = last.at - first.at
    node_cpu = _rate(first.node_cpu, last.node_cpu, seconds) if second else None
    window = f"{seconds:g}s" if second else "0s"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last.at))
    usage: Obj = {}
    if node_cpu is not None:
        usage["cpu"] = f"{round(node_cpu * 1e9)}n"
    if last.node_memory is not None:
        usage["memory"] = str(int(last.node_memory))
    node_item = {"metadata": {"name": node}, "timestamp": stamp, "window": window, "usage": usage} if usage else None
    pods: dict[tuple[str, str], list[Obj] | None] = {}
    for key, memory in last.memory.items():
        ns, pod, container = key
        if namespace and ns != namespace:
            continue
        if second is not None:
            cpu = _rate(first.cpu.get(key), last.cpu.get(key), seconds)
        else:
            started = last.start.get(key)
            cpu = _rate(0.0, last.cpu.get(key), last.at - started) if started is not None else None
        containers = pods.setdefault((ns, pod), [])
        if cpu is None or containers is None:
            pods[(ns, pod)] = None
            continue
        containers.append({"name": container, "usage": {"cpu": f"{round(cpu * 1e9)}n", "memory": str(int(memory))}})
    pod_items = [
        {"metadata": {"name": pod, "namespace": ns}, "timestamp": stamp, "window": window, "containers": containers}
        for (ns, pod), containers in pods.items()
        if containers
    ]
    return node_item, pod_items


# -- many nodes, through the node proxy ------------------------------------------------------------
@dataclass
class KubeletReads:
    nodes: list[Obj] = field(default_factory=list)
    pods: list[Obj] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # node -> why it was not read
    forbidden: str = ""


def read_kubelets(
    cluster: Any,
    names: Sequence[str],
    window: float,
    namespace: str | None = None,
    concurrency: int = CONCURRENCY,
    sleep: Callable[[float], None] = time.sleep,
    pods: bool = True,
) -> KubeletReads:
    """Every named node's /metrics/resource, twice `window` seconds apart (once with 0)."""
    out = KubeletReads()

    def round_of(nodes: Sequence[str]) -> dict[str, Sample]:
        reads = read_round(cluster, nodes, concurrency, pods)
        out.failed.update(reads.failed)
        out.forbidden = out.forbidden or reads.forbidden
        return reads.samples

    started = time.monotonic()
    firsts = round_of(names)
    seconds: dict[str, Sample | None] = dict.fromkeys(firsts)
    if window > 0 and firsts and not out.forbidden:
        sleep(max(0.0, window - (time.monotonic() - started)))
        seconds.update(round_of(list(firsts)))
        for node in list(firsts):  # read once but not twice: no rate
            if seconds[node] is None and node not in out.failed:
                out.failed[node] = f"node {node}: the second sample was not read"
    if out.forbidden:
        return KubeletReads(forbidden=out.forbidden)
    for node in names:
        first = firsts.get(node)
        second = seconds.get(node)
        if first is None or (window > 0 and second is None):
            continue
        node_item, pod_items = items(node, first, second, namespace)
        if node_item is not None:
            out.nodes.append(node_item)
        out.pods.extend(pod_items)
    return out


@dataclass
class Round:
    """One read of each named node's /metrics/resource (read_round)."""

    samples: dict[str, Sample] = field(default_factory=dict)  # node -> its read
    failed: dict[str, str] = field(default_factory=dict)  # node -> why it was not read
    forbidden: str = ""  # nodes/proxy refused: no node can be read


def read_round(cluster: Any, names: Sequence[str], concurrency: int = CONCURRENCY, pods: bool = True) -> Round:
    """Each named node's /metrics/resource read once, at most `concurrency` at once, with no window
    logic: for a caller that samples over many rounds and works out rates itself (rightsize). The
    first 403 (nodes/proxy not granted: no node can be read) stops the round."""

    def one(node: str) -> Sample:
        taken = time.time()
        return fold(cluster.stream_lines(proxy_path(node, "resource"), timeout=NODE_TIMEOUT), taken, pods)

    reads = each_node(names, one, concurrency)
    if reads.forbidden:
        return Round(forbidden=reads.forbidden)
    return Round(reads.got, reads.failed)


def kubelet_notes(reads: KubeletReads, asked: int, window: float, why: str) -> list[str]:
    """What the user is told about the kubelet source: where usage came from, and what failed."""
    failed = ""
    if reads.failed:
        first = sorted(reads.failed)[0]
        more = f" (and {len(reads.failed) - 1} more)" if len(reads.failed) > 1 else ""
        failed = f"{reads.failed[first]}{more}"
    if reads.forbidden:
        return [f"{why}; no usage from the kubelets either: reading /metrics/resource needs get on nodes/proxy: {reads.forbidden}"]
    if asked and not reads.nodes and not reads.pods:
        return [f"{why}; no usage from the kubelets either: no node's /metrics/resource could be read: {failed or 'no figures'}"]
    how = f"two samples {window:g}s apart" if window > 0 else "one sample: CPU averaged since each container started, node CPU unknown"
    notes = [f"{why}; usage read from the kubelets' /metrics/resource ({how})"]
    if failed:
        notes.append(f"no usage on {len(reads.failed)} of {asked} nodes: {failed}")
    return notes


# -- the cross-check: metrics-server's figures against the kubelets' clock ---------------------------
def _seconds(text: Any) -> float | None:
    """metrics.k8s.io's window ("15s", "20.035s", "1m0s") in seconds; None when unreadable."""
    if not isinstance(text, str) or not text:
        return None
    total, number = 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
            continue
        scale = {"h": 3600.0, "m": 60.0, "s": 1.0}.get(ch)
        if scale is None or not number:
            return None
        total, number = total + float(number) * scale, ""
    return total if not number else None


def _when(text: Any) -> float | None:
    """An RFC 3339 timestamp ("2024-05-01T10:00:00Z") in unix seconds; None when unreadable. fromisoformat,
    not strptime: importing _strptime alone cost capacity 20 ms, and each call ten times as much."""
    from datetime import datetime, timezone

    if not isinstance(text, str) or not text.endswith("Z"):
        return None
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00")  # Python 3.10 reads no "Z"
    except ValueError:
        return None
    return when.astimezone(timezone.utc).timestamp()


def cross_check(node_items: Sequence[Mapping[str, Any]], names: Sequence[str], kubelet_now: float | None) -> list[str]:
    """Notes when metrics-server's figures are stale (its timestamp more than two of its windows
    behind the kubelet's clock: metrics-server stuck, or its scrapes failing) or leave shown nodes
    out (their kubelet not scraped). `kubelet_now`: the newest sample timestamp of one kubelet's
    /metrics/resource (None: not read, only the missing nodes are checked)."""
    notes = []
    served = {(i.get("metadata") or {}).get("name") for i in node_items}
    missing = [n for n in names if n not in served]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        notes.append(f"metrics-server has no figures for {len(missing)} of {len(names)} nodes: {missing[0]}{more}")
    if kubelet_now is not None:
        stale = []
        for item in node_items:
            at, window = _when(item.get("timestamp")), _seconds(item.get("window"))
            if at is not None and window and kubelet_now - at > STALE_WINDOWS * window:
                stale.append(((item.get("metadata") or {}).get("name", "?"), kubelet_now - at, window))
        if stale:
            name, age, window = stale[0]
            more = f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""
            notes.append(
                f"metrics-server's figures are stale on {len(stale)} nodes: {name}'s are {age:.0f}s old, "
                f"over {STALE_WINDOWS} windows of {window:g}s{more}"
            )
    return notes


def kubelet_clock(cluster: Any, names: Sequence[str], node_items: Sequence[Mapping[str, Any]]) -> float | None:
    """The newest sample timestamp of one shown node's /metrics/resource (one read): the kubelets'
    clock, to judge metrics-server's timestamps by. The node is the first shown one metrics-server
    has figures for, so its kubelet answered a scrape lately. None when it cannot be read."""
    served = {(i.get("metadata") or {}).get("name") for i in node_items}
    for node in [n for n in names if n in served][:1]:

        def read(node: str = node) -> float | None:
            try:
                return fold(cluster.stream_lines(proxy_path(node, "resource"), timeout=NODE_TIMEOUT), time.time(), pods=False).at
            except ApiError:
                return None

        at: float | None = cluster.remember(("kubelet-clock", node), read)  # once per run for the report's sections
        return at
    return None


def not_served(cluster: Any, err: MetricsUnavailable) -> bool:
    """Whether a failed metrics.k8s.io read means no metrics-server to read: 404 (not installed)
    and 503 (not ready) do. A 403 may be either: the API server authorises before it routes, so a
    user without rights on the metrics group is refused whether or not it is served. Discovery
    (/apis/metrics.k8s.io/v1beta1, open to every authenticated user by system:discovery) tells:
    404 there is no metrics-server; an answer means it serves and this user may not read it."""
    if err.status in (404, 503):
        return True
    if err.status != 403:
        return False
    try:
        cluster.get(METRICS_DISCOVERY)
    except MetricsUnavailable as probe:
        return probe.status in (404, 503)
    except ApiError:
        return False
    return False


METRICS_DISCOVERY = "/apis/metrics.k8s.io/v1beta1"


# -- the one entry ---------------------------------------------------------------------------------
def read_usage(
    cluster: Any,
    names: Sequence[str],
    source: UsageSource,
    pods: bool = False,
    namespace: str | None = None,
    selector: str | None = None,
    cross: bool = True,
) -> Usage:
    """Usage of the named nodes (and, with `pods`, of their pods in `namespace`, or all): from
    metrics-server unless the source says kubelet or, under auto, metrics.k8s.io is not served
    (not_served: 404, 503, or a 403 where discovery says the group is absent). `cross`: check
    metrics-server's figures against one kubelet."""
    why = "--usage-source kubelet"
    if source.source != KUBELET:
        try:
            node_items = cluster.get(node_metrics_path()).get("items") or []
            pod_items = cluster.get(pod_metrics_path(namespace), {"labelSelector": selector}).get("items") or [] if pods else None
        except MetricsUnavailable as err:
            if source.source == METRICS_SERVER or not names or not not_served(cluster, err):
                return Usage(unavailable=str(err), status=err.status)
            why = str(err)
        else:
            usage = Usage(node_items, pod_items, via=METRICS_SERVER)
            if cross and names:
                usage.notes = cross_check(node_items, names, kubelet_clock(cluster, names, node_items))
            return usage
    return from_kubelets(cluster, names, source.window, pods, namespace, why)


def from_kubelets(cluster: Any, names: Sequence[str], window: float, pods: bool, namespace: str | None, why: str) -> Usage:
    """The kubelet source alone; `why` starts its note (the metrics API's error, or the flag)."""
    # one sample of the same nodes per run when the cluster is shared (the report's capacity and audit)
    reads = cluster.remember(
        ("kubelet-usage", tuple(names), window, namespace, pods), lambda: read_kubelets(cluster, names, window, namespace, pods=pods)
    )
    notes = kubelet_notes(reads, len(names), window, why)
    if reads.forbidden or (names and not reads.nodes and not reads.pods):  # nothing read: usage is unknown
        return Usage(unavailable=notes[0], status=403 if reads.forbidden else 0)
    return Usage(reads.nodes, reads.pods if pods else None, via=KUBELET, notes=notes)
