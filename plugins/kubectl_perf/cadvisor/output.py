"""How cadvisor prints: the dump (text passed through, or samples as JSON objects),
and the summary (tables, csv/tsv, and the -o json/yaml contract)."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from .. import render
from ..promtext import MalformedLine, Parser, parse_labels
from ..render import Column
from .cells import bytes_text, cores_text, millicores, padding_text, pct_text, seconds_text, target_pct, working_set_text, ws_alloc_text
from .compute import ContainerUsage, Filters, NodeMemory, PodStats, Pressure, SummaryReport

# -- the dump --------------------------------------------------------------


class TextDump:
    """Filter a dump's lines; unfiltered lines pass byte for byte. With `node`, each
    sample gains a node label (several nodes in one stream)."""

    def __init__(self, flt: Filters, node: str | None) -> None:
        self.flt = flt
        self.node_label = b'node="%s"' % _escape(node).encode() if node is not None else b""
        self.malformed = 0
        self._names: dict[bytes, bool] = {}

    def _metric_ok(self, name: bytes) -> bool:
        ok = self._names.get(name)
        if ok is None:
            ok = self._names[name] = not self.flt.metric or bool(self.flt.metric.search(name.decode("utf-8", "replace")))
        return ok

    def lines(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        flt, node_label = self.flt, self.node_label
        plain = not flt.metric and not flt.by_labels and not node_label
        for line in lines:
            if plain:
                yield line
                continue
            if line.startswith(b"#"):
                parts = line.split(None, 3)
                if len(parts) < 3 or parts[1] not in (b"HELP", b"TYPE") or self._metric_ok(parts[2]):
                    yield line
                continue
            brace = line.find(b"{")
            name = (line[:brace] if brace >= 0 else line.split(None, 1)[0] if line.strip() else b"").strip()
            if not name:
                continue
            if not self._metric_ok(name):
                continue
            close = line.rfind(b"}")
            if flt.by_labels:
                try:
                    if brace >= 0 and close < brace:
                        raise MalformedLine("unclosed label set")
                    labels = parse_labels(line[brace + 1 : close]) if brace >= 0 else {}
                except MalformedLine:
                    self.malformed += 1
                    continue
                if not flt.keeps(labels):
                    continue
            if node_label:
                if brace >= 0:
                    inner = line[brace + 1 : close].strip()
                    line = line[: brace + 1] + node_label + (b"," if inner else b"") + line[brace + 1 :]
                else:
                    line = name + b"{" + node_label + b"}" + line[len(line.split(None, 1)[0]) :]
            yield line


def sample_objects(lines: Iterable[bytes], flt: Filters, node: str | None, parser: Parser) -> Iterator[dict[str, Any]]:
    """-o json/jsonl: {node, metric, labels, value, timestamp} per sample that passes the filter."""
    for s in parser.checked(lines):
        if flt.metric and not flt.metric.search(s.name):
            continue
        if flt.by_labels and not flt.keeps(s.labels):
            continue
        obj: dict[str, Any] = {"metric": s.name, "labels": s.labels, "value": json_number(s.value), "timestamp": s.timestamp}
        if node is not None:
            obj = {"node": node, **obj}
        yield obj


def json_number(value: float) -> float | int | str:
    """JSON has no NaN or infinities: those become the strings Prometheus writes."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Writer:
    """Dump output through one buffer: text lines get their newline back; JSON objects
    become one line each (jsonl) or one array across every node (json)."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.count = 0
        self.out = sys.stdout.buffer

    def write(self, items: Iterator[bytes]) -> None:
        with self.pipe():
            for item in items:
                if self.fmt == "json":
                    self.out.write((b"[\n  " if not self.count else b",\n  ") + item)
                else:
                    self.out.write(item + b"\n")
                self.count += 1
            self.out.flush()

    def close(self) -> None:
        if self.fmt == "json":
            with self.pipe():
                self.out.write(b"\n]\n" if self.count else b"[]\n")
                self.out.flush()

    @contextlib.contextmanager
    def pipe(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:  # `| head`: end quietly, as kubectl does
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None


# -- the summary -----------------------------------------------------------


def container_doc(r: ContainerUsage) -> dict[str, Any]:
    return {
        "node": r.node,
        "namespace": r.namespace,
        "pod": r.pod,
        "container": r.container,
        "cpuCores": r.cpu_cores,
        "cpuRequestCores": r.cpu_request_cores,
        "cpuLimitCores": r.cpu_limit_cores,
        "throttledRatio": r.throttled_ratio,
        "throttledSeconds": r.throttled_seconds,
        "throttledRatioSinceStart": r.throttled_ratio_since_start,
        "throttledSecondsSinceStart": r.throttled_seconds_since_start,
        "memoryWorkingSetBytes": _int(r.memory_working_set_bytes),
        "memoryRssBytes": _int(r.memory_rss_bytes),
        "memoryCacheBytes": _int(r.memory_cache_bytes),
        "memoryRequestBytes": _int(r.memory_request_bytes),
        "memoryLimitBytes": _int(r.memory_limit_bytes),
        "memoryLimitRatio": r.memory_limit_ratio,
        "memoryRequestRatio": r.memory_request_ratio,
        "oomEvents": r.oom_events,
        "restarts": r.restarts,
        "lastOomKilledAt": r.last_oom_killed_at,
        "flags": list(r.flags),
        "pressure": pressure_doc(r.pressure),
        "contention": r.contention,
    }


def pressure_doc(p: Pressure | None) -> dict[str, Any] | None:
    """PSI shares of the interval (of the time since start from one scrape); null without PSI series."""
    if p is None:
        return None
    return {
        "cpu": {"some": p.cpu_some, "full": p.cpu_full},
        "memory": {"some": p.memory_some, "full": p.memory_full},
        "io": {"some": p.io_some, "full": p.io_full},
    }


def node_doc(n: NodeMemory) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": n.name,
        "workingSetBytes": _int(n.working_set_bytes),
        "allocatableMemoryBytes": _int(n.allocatable_memory_bytes),
        "workingSetSource": n.working_set_source,  # "node": the node's own figure; "containers": their sum
        "paddingTarget": n.padding_target,
        "paddingBreach": n.padding_breach,
        **verdict_doc(n),
        "containers": n.containers,
        "cpuCores": n.cpu_cores,
        "throttlingContainers": n.throttling,
        "pressure": pressure_doc(n.pressure),
    }
    if n.stats is not None:
        out.update(
            networkRxBytes=n.stats.network_rx_bytes,
            networkTxBytes=n.stats.network_tx_bytes,
            fsUsedBytes=n.stats.fs_used_bytes,
            fsCapacityBytes=n.stats.fs_capacity_bytes,
        )
    return out


def verdict_doc(n: NodeMemory) -> dict[str, Any]:
    """The node's padding verdict (padding.judge) as capacity's JSON carries it, and what it weighed."""
    v = n.verdict
    committed = n.committed
    return {
        "padding": None if v is None else v.state,
        "paddingBreaches": [] if v is None else list(v.breaches),
        "paddingOvercommits": [] if v is None else list(v.overcommits),
        "paddingBudget": None if v is None else v.budget // 10**9,
        "memoryLimitsBytes": None if committed is None else committed.limits // 10**9,
        "memoryRequestsBytes": None if committed is None else committed.requests // 10**9,
    }


def pod_doc(node: str, p: PodStats) -> dict[str, Any]:
    return {
        "node": node,
        "namespace": p.namespace,
        "pod": p.pod,
        "networkRxBytes": p.network_rx_bytes,
        "networkTxBytes": p.network_tx_bytes,
        "ephemeralStorageBytes": p.ephemeral_storage_bytes,
    }


def document(report: SummaryReport) -> dict[str, Any]:
    doc: dict[str, Any] = {"containers": [container_doc(r) for r in report.containers], "nodes": [node_doc(n) for n in report.nodes]}
    if report.pods is not None:
        doc["pods"] = [pod_doc(node, p) for node, p in report.pods]
    return doc


def emit_summary(report: SummaryReport, fmt: str) -> None:
    """Print the summary in the -o format: containers (flagged ones red), nodes, and pods
    when /stats/summary gave them."""

    def html() -> str:
        from .html import page

        return page(report)

    def tables() -> list[render.Table]:
        columns = container_columns(len(report.nodes), report.since_start)
        flagged = render.Table(report.containers, columns, lambda r: render.RED if r.flags else "")
        pods = [pod_doc(node, p) for node, p in report.pods or []]
        return [flagged, render.Table(report.nodes, node_columns(report.since_start)), render.Table(pods, pod_columns())]

    render.emit(fmt, lambda: document(report), tables, html)


def _int(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def container_columns(nodes: int, since_start: bool = False) -> list[Column]:
    """The container table; from one scrape the throttling columns carry the since-start totals
    and say so in their headers."""
    if since_start:
        throttling = [
            Column(
                "throttled since start",
                lambda r: pct_text(r.throttled_ratio_since_start),
                lambda r: r.throttled_ratio_since_start,
                right=True,
            ),
            Column(
                "throttled time since start",
                lambda r: seconds_text(r.throttled_seconds_since_start),
                lambda r: r.throttled_seconds_since_start,
                wide=True,
                right=True,
            ),
        ]
    else:
        throttling = [
            Column("throttled", lambda r: pct_text(r.throttled_ratio), lambda r: r.throttled_ratio, right=True),
            Column("throttled time", lambda r: seconds_text(r.throttled_seconds), lambda r: r.throttled_seconds, wide=True, right=True),
        ]
    cols = [
        Column("node", lambda r: r.node, wide=nodes <= 1),
        Column("namespace", lambda r: r.namespace),
        Column("pod", lambda r: r.pod),
        Column("container", lambda r: r.container or "(pod)"),
        Column("cpu", lambda r: cores_text(r.cpu_cores), lambda r: millicores(r.cpu_cores), right=True),
        Column("cpu req", lambda r: cores_text(r.cpu_request_cores), lambda r: millicores(r.cpu_request_cores), right=True),
        Column("cpu lim", lambda r: cores_text(r.cpu_limit_cores), lambda r: millicores(r.cpu_limit_cores), right=True),
        *throttling,
        Column("mem ws", lambda r: bytes_text(r.memory_working_set_bytes), lambda r: _int(r.memory_working_set_bytes), right=True),
        Column("rss", lambda r: bytes_text(r.memory_rss_bytes), lambda r: _int(r.memory_rss_bytes), wide=True, right=True),
        Column("cache", lambda r: bytes_text(r.memory_cache_bytes), lambda r: _int(r.memory_cache_bytes), wide=True, right=True),
        Column("mem req", lambda r: bytes_text(r.memory_request_bytes), lambda r: _int(r.memory_request_bytes), wide=True, right=True),
        Column("ws/req", lambda r: pct_text(r.memory_request_ratio), lambda r: r.memory_request_ratio, wide=True, right=True),
        Column("mem lim", lambda r: bytes_text(r.memory_limit_bytes), lambda r: _int(r.memory_limit_bytes), right=True),
        Column("ws/lim", lambda r: pct_text(r.memory_limit_ratio), lambda r: r.memory_limit_ratio, right=True),
        Column("oom", lambda r: "-" if r.oom_events is None else str(r.oom_events), lambda r: r.oom_events, right=True),
        Column("restarts", lambda r: "-" if r.restarts is None else str(r.restarts), lambda r: r.restarts, right=True),
        Column("last oom kill", lambda r: r.last_oom_killed_at or "-", lambda r: r.last_oom_killed_at, wide=True),
        *pressure_columns(since_start),
        Column("contention", lambda r: r.contention or "-", lambda r: r.contention),
        Column("flags", lambda r: ",".join(r.flags), lambda r: ",".join(r.flags)),
    ]
    return cols


def pressure_columns(since_start: bool = False) -> list[Column]:
    """PSI shares (containers' and nodes' alike): CPU, memory and IO `some`; `full` in wide."""
    tail = " since start" if since_start else ""

    def col(resource: str, kind: str, wide: bool) -> Column:
        def get(x: Any) -> float | None:
            p = x.pressure
            return None if p is None else getattr(p, f"{resource}_{kind}")

        return Column(f"{resource} {kind}{tail}", lambda x: pct_text(get(x)), get, wide=wide, right=True)

    return [col(r, k, k == "full") for r in ("cpu", "memory", "io") for k in ("some", "full")]


def node_columns(since_start: bool = False) -> list[Column]:
    return [
        Column("node", lambda n: n.name),
        Column("containers", lambda n: str(n.containers), lambda n: n.containers, right=True),
        Column("cpu", lambda n: cores_text(n.cpu_cores), lambda n: millicores(n.cpu_cores), right=True),
        Column("throttling", lambda n: str(n.throttling), lambda n: n.throttling, right=True),
        Column("working set", working_set_text, lambda n: _int(n.working_set_bytes), right=True),
        Column("allocatable", lambda n: bytes_text(n.allocatable_memory_bytes), lambda n: _int(n.allocatable_memory_bytes), right=True),
        Column("ws/alloc", ws_alloc_text, lambda n: n.working_set_ratio, right=True),
        *pressure_columns(since_start),
        Column("target", lambda n: target_pct(n.padding_target), lambda n: n.padding_target, right=True),
        Column("padding", padding_text, padding_text),  # last: the verdict, as capacity's table ends
    ]


def pod_columns() -> list[Column]:
    return [
        Column("node", lambda p: p["node"]),
        Column("namespace", lambda p: p["namespace"]),
        Column("pod", lambda p: p["pod"]),
        Column("net rx", lambda p: bytes_text(p["networkRxBytes"]), lambda p: p["networkRxBytes"], right=True),
        Column("net tx", lambda p: bytes_text(p["networkTxBytes"]), lambda p: p["networkTxBytes"], right=True),
        Column("ephemeral", lambda p: bytes_text(p["ephemeralStorageBytes"]), lambda p: p["ephemeralStorageBytes"], right=True),
    ]
