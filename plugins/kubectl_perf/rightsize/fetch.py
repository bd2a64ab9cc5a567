"""What rightsize reads: running pods and their workloads' templates, HPAs and nodes from the
cluster, and usage samples from Prometheus, metrics.k8s.io or the kubelets (one interface: `read_usage`).
No arithmetic beyond unit conversion here."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..api import ApiError, Cluster, MetricsUnavailable, pod_metrics_path
from ..cli import FlagError
from ..model import NodeView, node_view, pod_limits
from ..owners import Workload, workload_of
from ..policy import Policy
from ..prometheus import Prometheus, PrometheusError, label_value, regex_alternatives
from ..quantity import NANO, QuantityError, parse_quantity
from ..render import age_seconds
from ..usage import KUBELET, METRICS_SERVER, _rate, not_served, read_round
from .compute import SampleKey, Samples, WorkloadInput
from .flags import PrometheusSource, RightsizeOptions, Sampling

Obj = Mapping[str, Any]

# kind -> (API path of its collection, the path to its pod template's spec). A Job's template is
# immutable, so a Job of no CronJob is counted as it is, not patched.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Deployment": ("/apis/apps/v1/{ns}deployments", ("spec", "template", "spec")),
    "StatefulSet": ("/apis/apps/v1/{ns}statefulsets", ("spec", "template", "spec")),
    "DaemonSet": ("/apis/apps/v1/{ns}daemonsets", ("spec", "template", "spec")),
    "ReplicaSet": ("/apis/apps/v1/{ns}replicasets", ("spec", "template", "spec")),
    "CronJob": ("/apis/batch/v1/{ns}cronjobs", ("spec", "jobTemplate", "spec", "template", "spec")),
}
RESOURCE = {
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
    "ReplicaSet": "replicaset",
    "CronJob": "cronjob",
}


class InputError(Exception):
    """A history file that cannot be read or written (exit 2)."""


@dataclass
class Reads:
    workloads: list[WorkloadInput]
    other_pods: list[Obj]  # running pods of no workload rightsize can patch
    nodes: list[Obj]
    views: list[NodeView]
    notes: list[str] = field(default_factory=list)


def _ns(namespace: str | None) -> str:
    return f"namespaces/{namespace}/" if namespace else ""


def _list(cluster: Cluster, path: str, query: dict[str, Any] | None = None, chunk: int = 500) -> list[Obj]:
    items: list[Obj] = []
    for page in cluster.pages(path, query, chunk):
        items.extend(page.get("items") or ())
    return items


def _dig(obj: Obj, path: Sequence[str]) -> Obj:
    for key in path:
        obj = obj.get(key) or {}
    return obj


def read_cluster(cluster: Cluster, options: RightsizeOptions) -> Reads:
    notes: list[str] = []
    ns = _ns(options.namespace)
    query = {"labelSelector": options.selector} if options.selector else {}
    pods = [
        p
        for p in _list(cluster, f"/api/v1/{ns}pods", query, options.chunk_size)
        if (p.get("status") or {}).get("phase") == "Running" and (p.get("spec") or {}).get("nodeName")
    ]
    by_workload: dict[Workload, list[Obj]] = {}
    for p in pods:
        # A name-convention guess is confirmed (or not) below, by the controller this lists: keyed without the mark.
        by_workload.setdefault(workload_of(p.get("metadata") or {})._replace(guess=False), []).append(p)
    kinds = sorted({w.kind for w in by_workload} & KINDS.keys())
    controllers: dict[Workload, Obj] = {}
    for kind in kinds:
        for obj in _list(cluster, KINDS[kind][0].format(ns=ns), None, options.chunk_size):
            meta = obj.get("metadata") or {}
            controllers[Workload(kind, str(meta.get("namespace", "")), str(meta.get("name", "")))] = obj
    hpas = read_hpas(cluster, ns, notes)
    now = datetime.now(timezone.utc)
    workloads: list[WorkloadInput] = []
    other: list[Obj] = []
    unpatched: dict[str, int] = {}
    for w, its_pods in sorted(by_workload.items()):
        found = controllers.get(w)
        if found is None:
            other.extend(its_pods)
            unpatched[w.kind] = unpatched.get(w.kind, 0) + 1
            continue
        created = (found.get("metadata") or {}).get("creationTimestamp")
        age = age_seconds(created, now) if isinstance(created, str) else None
        workloads.append(WorkloadInput(w, _dig(found, KINDS[w.kind][1]), age, tuple(its_pods), hpas.get(w, "")))
    for kind, n in sorted(unpatched.items()):
        why = {"Pod": "without a controller: no template", "Job": "of Jobs of no CronJob: a Job's template cannot change"}.get(
            kind, f"of {kind} controllers rightsize does not patch (or could not read)"
        )
        notes.append(f"pods of {n} workload(s) {why}; counted in the totals as they are")
    nodes: list[Obj] = []
    try:
        nodes = _list(cluster, "/api/v1/nodes", None, options.chunk_size)
    except ApiError as err:
        notes.append(f"nodes not readable ({err}): padding cannot be checked and no pool totals are given")
    views = _views(nodes, pods, options.policy)
    return Reads(workloads, other, nodes, views, notes)


def _views(nodes: Iterable[Obj], pods: Iterable[Obj], policy: Policy) -> list[NodeView]:
    """The node views the webhook judges against: with padding.committed on, the memory limits
    already committed on each node (by the pods read here: all of them under -A)."""
    committed: dict[str, int] = {}
    if policy.committed != "off":
        for p in pods:
            spec = p.get("spec") or {}
            node = str(spec.get("nodeName") or "")
            committed[node] = committed.get(node, 0) + pod_limits(spec).get("memory", 0)
    return [node_view(n, policy.padding_target, committed.get(str((n.get("metadata") or {}).get("name", "")), 0)) for n in nodes]


def read_hpas(cluster: Cluster, ns: str, notes: list[str]) -> dict[Workload, str]:
    """workload -> why its HPA makes its requests a target (autoscaling/v2 Resource and
    ContainerResource metrics on cpu or memory: utilisation is measured against requests)."""
    try:
        items = _list(cluster, f"/apis/autoscaling/v2/{ns}horizontalpodautoscalers")
    except ApiError as err:
        notes.append(f"HorizontalPodAutoscalers not readable ({err}): none assumed")
        return {}
    out: dict[Workload, str] = {}
    for hpa in items:
        meta, spec = hpa.get("metadata") or {}, hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        resources = sorted(
            {
                str((m.get("resource") or m.get("containerResource") or {}).get("name"))
                for m in spec.get("metrics") or ()
                if m.get("type") in ("Resource", "ContainerResource")
            }
            & {"cpu", "memory"}
        )
        if resources:
            w = Workload(str(ref.get("kind", "")), str(meta.get("namespace", "")), str(ref.get("name", "")))
            out[w] = f"HPA {meta.get('name')} scales on {' and '.join(resources)}"
    return out


# -- usage: one interface, three sources ---------------------------------------------------
KUBELET_SOURCE = "kubelet /metrics/resource"
# What a kubelet-sampled basis says: its CPU counters give a rate only between two reads.
KUBELET_CPU = "rates between consecutive kubelet reads: N reads of a pod give N-1 CPU samples; memory: each read's working set"


@dataclass
class UsageReads:
    source: str  # the JSON's "source"
    samples: dict[SampleKey, Samples]
    unavailable: str = ""  # why this run could read no usage at all (exit 3); "" when it could


def read_usage(cluster: Cluster, options: RightsizeOptions, workloads: Sequence[WorkloadInput], notes: list[str]) -> UsageReads:
    """Samples per workload container, from Prometheus, metrics.k8s.io or the kubelets."""
    if isinstance(options.source, PrometheusSource):
        return UsageReads(f"prometheus {options.source.url}", prometheus_usage(options.source, options.strategy.history, workloads))
    return sampled_usage(cluster, options.source, options, workloads, notes)


def prometheus_client(source: PrometheusSource) -> Prometheus:
    headers = dict(source.headers)
    if source.token_file:
        try:
            token = Path(source.token_file).read_text().strip()
        except OSError as err:
            raise FlagError(f"--prometheus-token-file {source.token_file}: {err.strerror or err}") from None
        headers["Authorization"] = f"Bearer {token}"
    return Prometheus(source.url, headers, source.timeout or 60.0, source.insecure)


def prometheus_usage(
    source: PrometheusSource, history: float, workloads: Sequence[WorkloadInput], now: float | None = None
) -> dict[SampleKey, Samples]:
    """Range queries over the history, the way krr asks (per workload's pods, by container):
    one namespace and at most `source.batch` pods per query, so no query has to gather a large
    cluster's every series at once."""
    client = prometheus_client(source)
    end = float(int(now if now is not None else time.time()))
    start = end - history
    step = source.step
    window = f"{int(step)}s"
    by_ns: dict[str, list[tuple[str, Workload]]] = {}
    for w in workloads:
        for p in w.pods:
            by_ns.setdefault(w.workload.namespace, []).append((str((p.get("metadata") or {}).get("name", "")), w.workload))
    out: dict[SampleKey, Samples] = {}
    for namespace, pods in sorted(by_ns.items()):
        owner = dict(pods)
        for i in range(0, len(pods), source.batch):
            names = [name for name, _w in pods[i : i + source.batch]]
            matchers = f'namespace={label_value(namespace)},pod=~{label_value(regex_alternatives(names))},container!="",container!="POD"'
            # Summed per job (older cAdvisors split CPU per core), then the largest job's: two jobs
            # scraping the same kubelet must not count the usage twice.
            cpu_q = (
                f"max by (pod, container) (sum by (pod, container, job) (rate(container_cpu_usage_seconds_total{{{matchers}}}[{window}])))"
            )
            mem_q = f"max by (pod, container) (container_memory_working_set_bytes{{{matchers}}})"
            try:
                for query, attr in ((cpu_q, "cpu"), (mem_q, "memory")):
                    for labels, points in client.query_range(query, start, end, step):
                        pod, container = labels.get("pod", ""), labels.get("container", "")
                        if pod not in owner:
                            continue
                        s = out.setdefault((owner[pod], container), Samples())
                        s.pods.add(pod)
                        getattr(s, attr).extend((t, int(round(v * NANO))) for t, v in points if v == v)  # NaN is no sample
            except PrometheusError as err:
                raise ApiError(str(err)) from None
    return out


class _Sampler:
    """The samples of one sampled run: deduplicated by (namespace, pod, container, timestamp), and
    each round's new ones appended to the history file as the round ends."""

    def __init__(self, workloads: Sequence[WorkloadInput], history_file: str | None, history: float) -> None:
        self.owner = {(w.workload.namespace, str((p.get("metadata") or {}).get("name", ""))): w.workload for w in workloads for p in w.pods}
        self.out: dict[SampleKey, Samples] = {}
        self.seen: set[tuple[str, str, str, float]] = set()
        self.lines: list[dict[str, Any]] = []
        self.history_file = history_file
        if history_file:
            _load_history(history_file, history, {w.workload for w in workloads}, self.out, self.seen)

    def add(self, w: Workload, pod: str, container: str, stamp: float, cpu: int | None, memory: int | None, cpu_from: str = "") -> None:
        if (w.namespace, pod, container, stamp) in self.seen:
            return
        self.seen.add((w.namespace, pod, container, stamp))
        s = self.out.setdefault((w, container), Samples())
        s.pods.add(pod)
        if cpu is not None:
            s.cpu.append((stamp, cpu))
        if memory is not None:
            s.memory.append((stamp, memory))
        if cpu_from:
            s.cpu_from = cpu_from
        self.lines.append(
            {
                "t": stamp,
                "kind": w.kind,
                "namespace": w.namespace,
                "workload": w.name,
                "pod": pod,
                "container": container,
                "cpu": cpu,
                "memory": memory,
            }
        )

    def end_round(self) -> None:
        if self.history_file and self.lines:  # each round as it comes: an interrupted run keeps what it read
            _append_history(self.history_file, self.lines)
            self.lines = []


def sampled_usage(
    cluster: Cluster, source: Sampling, options: RightsizeOptions, workloads: Sequence[WorkloadInput], notes: list[str]
) -> UsageReads:
    """`source.rounds` reads, `source.interval` apart, of metrics.k8s.io PodMetrics or, with
    --usage-source kubelet (or auto where metrics.k8s.io is not served), of the kubelets'
    /metrics/resource on the nodes running the workloads' pods. A sample whose timestamp was seen
    already (metrics-server answers from a window, a kubelet from its last stats) counts once.
    With a history file, its samples within the history come first and the new ones are appended."""
    sampler = _Sampler(workloads, source.history_file, options.strategy.history)
    why = "--usage-source kubelet"
    if source.usage_source != KUBELET:
        try:
            first = _pod_metrics(cluster, options)
        except MetricsUnavailable as err:
            if source.usage_source == METRICS_SERVER or not not_served(cluster, err):
                return UsageReads("metrics.k8s.io", sampler.out, f"{err}; no usage sampled")
            why = str(err)
        else:
            _metrics_rounds(cluster, source, options, sampler, first)
            return UsageReads("metrics.k8s.io", sampler.out)
    unavailable = _kubelet_rounds(cluster, source, workloads, sampler, notes, why)
    return UsageReads(KUBELET_SOURCE, sampler.out, unavailable)


def _pod_metrics(cluster: Cluster, options: RightsizeOptions) -> list[Obj]:
    query = {"labelSelector": options.selector} if options.selector else None
    return list(cluster.get(pod_metrics_path(options.namespace), query).get("items") or ())


def _metrics_rounds(cluster: Cluster, source: Sampling, options: RightsizeOptions, sampler: _Sampler, first: list[Obj]) -> None:
    for n in range(source.rounds):
        if n:
            time.sleep(source.interval)
        for pm in first if n == 0 else _pod_metrics(cluster, options):
            meta = pm.get("metadata") or {}
            key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
            w = sampler.owner.get(key)
            stamp = _timestamp(pm.get("timestamp"))
            if w is None or stamp is None:
                continue
            for c in pm.get("containers") or ():
                usage = c.get("usage") or {}
                try:
                    cpu, mem = parse_quantity(usage.get("cpu", "0")), parse_quantity(usage.get("memory", "0"))
                except QuantityError:
                    continue
                sampler.add(w, key[1], str(c.get("name", "")), stamp, cpu, mem)
        sampler.end_round()


def _kubelet_rounds(
    cluster: Cluster, source: Sampling, workloads: Sequence[WorkloadInput], sampler: _Sampler, notes: list[str], why: str
) -> str:
    """The kubelet source: each round reads /metrics/resource of the nodes running the workloads'
    pods (usage.read_round: 16 at a time). A container's CPU sample is its counter's rate between
    two consecutive reads with different timestamps (none across a restart: the counter went
    back), stamped with the later read's; its memory sample is each read's working set. Returns
    why no usage could be read at all ("" when some was)."""
    nodes = sorted({str((p.get("spec") or {}).get("nodeName")) for w in workloads for p in w.pods})
    last: dict[tuple[str, str, str], tuple[float, float | None]] = {}  # container -> (its node's read time, CPU counter)
    failed: dict[str, str] = {}
    read: set[str] = set()
    for n in range(source.rounds):
        if n:
            time.sleep(source.interval)
        got = read_round(cluster, nodes)
        if got.forbidden:  # RBAC: every node's read would be refused alike
            return f"{why}; no usage from the kubelets either: reading /metrics/resource needs get on nodes/proxy: {got.forbidden}"
        failed.update(got.failed)
        read.update(got.samples)
        for sample in got.samples.values():
            for key, memory in sample.memory.items():
                w = sampler.owner.get((key[0], key[1]))
                if w is None:
                    continue
                counter = sample.cpu.get(key)
                before = last.get(key)
                if before is not None and before[0] == sample.at:
                    continue  # the kubelet's figures of the last read again
                rate = _rate(before[1], counter, sample.at - before[0]) if before is not None else None
                last[key] = (sample.at, counter)
                cpu = None if rate is None else int(round(rate * NANO))
                sampler.add(w, key[1], key[2], sample.at, cpu, int(memory) * NANO, KUBELET_CPU)  # amounts in nanos, as parse_quantity gives
        sampler.end_round()
    unread = sorted(set(nodes) - read)
    if nodes and not read:
        first = failed.get(unread[0], f"node {unread[0]}: no figures")
        return f"{why}; no usage from the kubelets either: no node's /metrics/resource could be read: {first}"
    if why != "--usage-source kubelet":
        notes.append(f"{why}; usage sampled from the kubelets' /metrics/resource through nodes/NODE/proxy instead")
    if unread:
        more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
        notes.append(f"no usage from {len(unread)} of {len(nodes)} nodes: {failed.get(unread[0], unread[0])}{more}")
    return ""


def _timestamp(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _load_history(
    path: str, history: float, wanted: set[Workload], out: dict[SampleKey, Samples], seen: set[tuple[str, str, str, float]]
) -> None:
    """Samples of a history file (JSON lines, amounts in nanos) within the history, for the workloads judged."""
    cutoff = time.time() - history
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        return  # the first run makes it
    except OSError as err:
        raise InputError(f"--history-file {path}: {err.strerror or err}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                w = Workload(str(d["kind"]), str(d["namespace"]), str(d["workload"]))
                stamp, pod, container = float(d["t"]), str(d["pod"]), str(d["container"])
                cpu, mem = (None if d[k] is None else int(d[k]) for k in ("cpu", "memory"))  # null: a kubelet's first read has no rate
            except (ValueError, KeyError, TypeError):
                raise InputError(f"--history-file {path}: line {number} is not a rightsize sample") from None
            if stamp < cutoff or w not in wanted or (w.namespace, pod, container, stamp) in seen:
                continue
            seen.add((w.namespace, pod, container, stamp))
            s = out.setdefault((w, container), Samples())
            s.pods.add(pod)
            if cpu is not None:
                s.cpu.append((stamp, cpu))
            if mem is not None:
                s.memory.append((stamp, mem))


def _append_history(path: str, lines: list[dict[str, Any]]) -> None:
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(d, separators=(",", ":")) + "\n" for d in lines)
    except OSError as err:
        print(f"note: --history-file {path} not written: {err.strerror or err}", file=sys.stderr)
