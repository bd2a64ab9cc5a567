"""Reading the kubelet's endpoints through the API server's node proxy, many nodes
at once with a bound, and dump files saved earlier. Each scrape is folded into a
Snapshot as it streams in, so memory follows the summary, not the dumps."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..api import ApiError
from ..kubelet import Forbidden, node_error, proxy_path
from ..promtext import Parser
from .compute import CADVISOR_METRICS, RESOURCE_METRICS, NodeStats, PodStats, Snapshot, pod_specs, snapshot_from_stats_summary

T = TypeVar("T")


class InputError(Exception):
    """A dump or pods file that cannot be used: one line, exit status 2."""


@dataclass
class NodeScrapes:
    name: str
    snapshots: list[Snapshot] = field(default_factory=list)
    pods: list[PodStats] = field(default_factory=list)
    stats: NodeStats | None = None
    malformed: int = 0
    first_error: str = ""
    error: str = ""


def metric_names(endpoint: str) -> frozenset[str]:
    return RESOURCE_METRICS if endpoint == "resource" else CADVISOR_METRICS


def fold_text(lines: Iterable[bytes], endpoint: str, result: NodeScrapes, taken: float) -> Snapshot:
    """Parse one text scrape into a Snapshot, counting the lines that could not be read."""
    parser = Parser(metric_names(endpoint))
    snap = Snapshot(taken=taken).add(parser.checked(lines))
    result.malformed += parser.malformed
    result.first_error = result.first_error or parser.first_error
    return snap


def fold_summary_json(data: bytes, result: NodeScrapes, taken: float) -> Snapshot:
    try:
        doc = json.loads(data)
    except ValueError:
        raise ApiError(f"node {result.name}: /stats/summary is not JSON") from None
    snap, result.pods, result.stats = snapshot_from_stats_summary(doc if isinstance(doc, dict) else {}, taken)
    return snap


def scrape(cluster: Any, result: NodeScrapes, endpoint: str) -> None:
    """One more scrape of a node into result (an error becomes result.error, 403 is raised)."""
    path = proxy_path(result.name, endpoint)
    taken = time.time()
    try:
        if endpoint == "summary":
            snap = fold_summary_json(b"\n".join(cluster.stream_lines(path)), result, taken)
        else:
            snap = fold_text(cluster.stream_lines(path), endpoint, result, taken)
    except ApiError as err:
        wrapped = node_error(result.name, err)
        if isinstance(wrapped, Forbidden):
            raise wrapped from None
        result.error = str(wrapped)
        return
    result.snapshots.append(snap)


class Progress:
    """`scraped 12/200 nodes` on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what, self.done = total, what, 0
        self.on = total > 1 and sys.stderr.isatty()
        self.lock = threading.Lock()

    def step(self) -> None:
        with self.lock:
            self.done += 1
            if self.on:
                sys.stderr.write(f"\r{self.what} {self.done}/{self.total} nodes")
                sys.stderr.flush()

    def end(self) -> None:
        if self.on:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def bounded(items: Sequence[T], work: Callable[[T], None], concurrency: int, progress: Progress) -> None:
    """Run work over items, at most `concurrency` at a time; the first exception stops the rest."""
    stop = threading.Event()

    def one(item: T) -> None:
        if stop.is_set():
            return
        try:
            work(item)
        except BaseException:
            stop.set()
            raise
        progress.step()

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items)))) as pool:
        for future in [pool.submit(one, item) for item in items]:
            future.result()


def scrape_nodes(
    cluster: Any,
    names: Sequence[str],
    endpoint: str,
    rounds: int,
    interval: float,
    concurrency: int,
    finish: Callable[[NodeScrapes], None],
) -> list[NodeScrapes]:
    """`rounds` scrapes of every node (1 or 2), the second `interval` seconds after the
    first; `finish` gets each node as soon as its last scrape is in (to fold and free it)."""
    results = [NodeScrapes(n) for n in names]
    for round_no in range(rounds):
        started = time.monotonic()
        last = round_no + 1 == rounds
        progress = Progress(len(results), "scraped" if rounds == 1 else f"scrape {round_no + 1}/{rounds}:")

        def work(result: NodeScrapes, last: bool = last) -> None:
            scrape(cluster, result, endpoint)
            if last or result.error:
                finish(result)

        try:
            bounded([r for r in results if not r.error], work, concurrency, progress)
        finally:
            progress.end()
        if not last:
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return results


def read_files(paths: Sequence[str], endpoint: str, name: str) -> NodeScrapes:
    """Dumps saved earlier (`-` for stdin), in scrape order; they fold like live scrapes."""
    result = NodeScrapes(name)
    for path in paths:
        try:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as err:
            raise InputError(f"cannot read {path}: {err.strerror}") from None
        taken = time.time() if path == "-" else os.path.getmtime(path)
        try:
            if endpoint == "summary":
                snap = fold_summary_json(stream.read(), result, taken)
            else:
                snap = fold_text(stream, endpoint, result, taken)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        result.snapshots.append(snap)
    return result


def stream_node(cluster: Any, node: str, endpoint: str) -> Iterator[bytes]:
    """The lines of one node's endpoint as the kubelet sends them."""
    try:
        yield from cluster.stream_lines(proxy_path(node, endpoint))
    except ApiError as err:
        raise node_error(node, err) from None


class Chosen:
    """Pods folded page by page into what the summary needs of them."""

    def __init__(self) -> None:
        self.specs: dict[Any, Any] = {}  # (namespace, pod, container) -> Spec
        self.pods: set[tuple[str, str]] = set()
        self.hosts: set[str] = set()

    def add(self, items: list[dict[str, Any]]) -> None:
        self.specs.update(pod_specs(items))
        for pod in items:
            meta = pod.get("metadata") or {}
            self.pods.add((meta.get("namespace", ""), meta.get("name", "")))
            self.hosts.add((pod.get("spec") or {}).get("nodeName") or "")
