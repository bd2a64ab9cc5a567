"""Every read cadvisor makes: the nodes and pods a run needs (through the API), the
kubelet's endpoints through the API server's node proxy (many nodes at once, with a
bound), and dump and pods files saved earlier (-f, --pods-file, stdin). Each scrape is
folded into a Scrape as it streams in, so memory follows the summary, not the dumps."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from ..api import ApiError, path_for
from ..kubelet import NODE_TIMEOUT, Forbidden, node_error, proxy_path
from ..promtext import Parser
from ..running_pods import RUNNING_PODS
from ..shapes import problem
from .compute import (
    CADVISOR_METRICS,
    RESOURCE_METRICS,
    Committed,
    Key,
    NodeStats,
    Notes,
    PodStats,
    Scrape,
    Spec,
    pod_specs,
    scrape_from_stats_summary,
)

if TYPE_CHECKING:
    from .flags import LiveNodes

T = TypeVar("T")


# why no CPU request is derived from cgroup shares without pod specs (the notes say it)
NO_SPEC_REQUESTS = "cgroup shares are lossy on cgroup v2"


class InputError(Exception):
    """A dump or pods file that cannot be used: one line, exit status 2."""


@dataclass
class NodeScrapes:
    name: str
    scrapes: list[Scrape] = field(default_factory=list)
    pods: list[PodStats] = field(default_factory=list)
    stats: NodeStats | None = None
    malformed: int = 0
    first_error: str = ""
    error: str = ""


def metric_names(endpoint: str) -> frozenset[str]:
    return RESOURCE_METRICS if endpoint == "resource" else CADVISOR_METRICS


def fold_text(lines: Iterable[bytes], endpoint: str, result: NodeScrapes, taken: float) -> Scrape:
    """Parse one text scrape into a Scrape, counting the lines that could not be read."""
    parser = Parser(metric_names(endpoint))
    snap = Scrape(taken=taken).add(parser.checked(lines))
    result.malformed += parser.malformed
    result.first_error = result.first_error or parser.first_error
    return snap


def fold_summary_json(data: bytes, result: NodeScrapes, taken: float) -> Scrape:
    try:
        doc = json.loads(data)
    except ValueError:
        raise ApiError(f"node {result.name}: /stats/summary is not JSON") from None
    snap, result.pods, result.stats = scrape_from_stats_summary(doc if isinstance(doc, dict) else {}, taken)
    return snap


def scrape(cluster: Any, result: NodeScrapes, endpoint: str) -> None:
    """One more scrape of a node into result (an error becomes result.error, 403 is raised)."""
    path = proxy_path(result.name, endpoint)
    taken = time.time()
    try:
        if endpoint == "summary":
            snap = fold_summary_json(b"\n".join(cluster.stream_lines(path, timeout=NODE_TIMEOUT)), result, taken)
        else:
            snap = fold_text(cluster.stream_lines(path, timeout=NODE_TIMEOUT), endpoint, result, taken)
    except ApiError as err:
        wrapped = node_error(result.name, err)
        if isinstance(wrapped, Forbidden):
            raise wrapped from None
        result.error = str(wrapped)
        return
    result.scrapes.append(snap)


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
    taken: Callable[[str], NodeScrapes | None] | None = None,
) -> list[NodeScrapes]:
    """`rounds` scrapes of every node (1 or 2), the second `interval` seconds after the
    first; `finish` gets each node as soon as its last scrape is in (to fold and free it).
    `taken(node)`: a first scrape of the node already made (the report's, made while it read the
    pods: report/early.py), or None: the node is scraped now."""
    results = [NodeScrapes(n) for n in names]
    for round_no in range(rounds):
        started = time.monotonic()
        last = round_no + 1 == rounds
        progress = Progress(len(results), "scraped" if rounds == 1 else f"scrape {round_no + 1}/{rounds}:")

        def work(result: NodeScrapes, last: bool = last, first: bool = round_no == 0) -> None:
            early = taken(result.name) if first and taken is not None else None
            if early is not None:
                result.scrapes.extend(early.scrapes)
                result.malformed, result.first_error = early.malformed, early.first_error
            else:
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
    """Dumps saved earlier (`-` for stdin), in the order given; they fold like live scrapes.
    A file with no container series (an HTML error page, garbage, another endpoint's
    output) is an InputError: an empty table would say "all is well"."""
    result = NodeScrapes(name)
    for path in paths:
        shown = "stdin" if path == "-" else path
        with opened(path) as stream:
            taken = time.time() if path == "-" else os.path.getmtime(path)
            try:
                if endpoint == "summary":
                    snap = fold_summary_json(stream.read(), result, taken)
                else:
                    snap = fold_text(stream, endpoint, result, taken)
            except ApiError:
                raise InputError(f"{shown}: not a /stats/summary document (JSON)") from None
        if not snap.containers:
            what = {"cadvisor": "cAdvisor container series", "resource": "container series"}.get(endpoint, "pods")
            hint = f" ({result.malformed} lines could not be read)" if result.malformed else ""
            raise InputError(f"{shown}: no {what} (is it the kubelet's /metrics/{endpoint} output?){hint}")
        snap.source = shown
        result.scrapes.append(snap)
    return result


def stream_node(cluster: Any, node: str, endpoint: str) -> Iterator[bytes]:
    """The lines of one node's endpoint as the kubelet sends them."""
    try:
        yield from cluster.stream_lines(proxy_path(node, endpoint), timeout=NODE_TIMEOUT)
    except ApiError as err:
        raise node_error(node, err) from None


class Chosen:
    """Pods folded page by page into what the summary needs of them."""

    def __init__(self) -> None:
        self.specs: dict[Key, Spec] = {}
        self.pods: set[tuple[str, str]] = set()
        self.hosts: set[str] = set()
        # node -> memory its pods commit, as capacity counts it (every pod not finished): the padding verdict's
        self.committed: dict[str, Committed] = {}

    def add(self, items: list[dict[str, Any]]) -> None:
        self.specs.update(pod_specs(items))
        for pod in items:
            meta = pod.get("metadata") or {}
            self.pods.add((meta.get("namespace", ""), meta.get("name", "")))
            host = (pod.get("spec") or {}).get("nodeName") or ""
            self.hosts.add(host)
            if host:
                self.committed[host] = self.committed.get(host, Committed()).plus(pod.get("spec") or {})


# -- nodes and pods ---------------------------------------------------------------
def chosen_pods(cluster: Any, plan: LiveNodes) -> Chosen | None:
    """With -n/-l, the running pods they match (they choose the nodes and the rows); else None."""
    if not plan.by_pods:
        return None
    query = {"labelSelector": plan.selector, "fieldSelector": "status.phase=Running"}
    folded: Chosen = cluster.fold(path_for("pods", plan.namespace), Chosen, Chosen.add, query, limit=plan.chunk_size)
    return folded


def nodes_to_read(cluster: Any, plan: LiveNodes, chosen: Chosen | None, objects: bool) -> dict[str, dict[str, Any] | None]:
    """The nodes to read, name -> node object; named nodes are fetched only when `objects`
    (the summary weighs allocatable and labels), else they map to None."""
    if plan.names:
        if not objects:
            return dict.fromkeys(plan.names)
        found: dict[str, dict[str, Any] | None] = {}
        for name in plan.names:
            try:
                found[name] = cluster.get(f"/api/v1/nodes/{name}")
            except ApiError as err:
                if err.status != 404:
                    raise
                raise ApiError(f'node "{name}" not found', 404) from None
        return found
    query = {"labelSelector": plan.node_selector}
    items = cluster.fold("/api/v1/nodes", list, lambda acc, items: acc.extend(items), query)
    nodes = {n["metadata"]["name"]: n for n in items}
    if chosen is not None and not (plan.all_nodes or plan.node_selector):
        nodes = {name: n for name, n in nodes.items() if name in chosen.hosts}
    if not nodes:
        raise ApiError("no nodes to read: " + ("no running pod matches -n/-l" if chosen is not None else "no node matches"))
    return dict(nodes)


def specs_on(cluster: Any, names: Sequence[str], chunk_size: int, notes: Notes) -> Chosen | None:
    """Requests and limits of the pods on these nodes that are not finished (as capacity counts
    them: a pending pod bound to a node holds its memory too), and what they commit per node.
    Pages are folded as they come: a cluster's pods are never held whole. Not allowed: a note, None.
    A few nodes are asked for one by one (the API server's watch cache indexes pods by node), unless
    the cluster holds the whole list already (the report's): a walk of it in memory costs less than
    keeping it indexed by node as it is read (28,000 pods: 10 ms against 45)."""
    acc = Chosen()
    try:
        if len(names) <= 4 and not cluster.whole_lists_held:
            for name in names:
                query = {"fieldSelector": f"spec.nodeName={name},{RUNNING_PODS}"}
                cluster.fold("/api/v1/pods", lambda: acc, Chosen.add, query, limit=chunk_size)
        else:  # one list for all (or the one held); only the pods on these nodes are folded
            wanted = set(names)

            def add(into: Chosen, items: list[dict[str, Any]]) -> None:
                into.add([p for p in items if (p.get("spec") or {}).get("nodeName") in wanted])

            acc = cluster.fold("/api/v1/pods", Chosen, add, {"fieldSelector": RUNNING_PODS}, limit=chunk_size)
    except ApiError as err:
        notes.add(
            f"cannot list pods ({err}): limits come from the cgroups, requests are not shown ({NO_SPEC_REQUESTS}); "
            "the padding verdict weighs usage only"
        )
        return None
    return acc


# -- files --------------------------------------------------------------------------
def read_pods_file(path: str) -> list[dict[str, Any]]:
    """--pods-file: `kubectl get pods -o json` or `-o yaml` output (a list, or one pod)."""
    try:
        text = Path(path).read_text()
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read --pods-file {path}: {getattr(err, 'strerror', None) or err}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        doc = _yaml(text, path)  # JSON first: it is the faster parser, and YAML holds JSON anyway
    items = doc.get("items") if isinstance(doc, dict) and "items" in doc else [doc]
    if not isinstance(items, list) or not all(isinstance(i, dict) and "metadata" in i for i in items):
        raise InputError(f"--pods-file {path}: expected `kubectl get pods -o json` (or -o yaml) output")
    for pod in items:  # edited by hand, or by a script: no API server has decoded it
        wrong = problem(pod, "Pod")
        if wrong:
            meta = pod["metadata"] if isinstance(pod["metadata"], dict) else {}
            raise InputError(f"--pods-file {path}: pod {meta.get('namespace') or ''}/{meta.get('name') or '(no name)'}: {wrong}")
    return items


def _yaml(text: str, path: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise InputError(f"cannot read --pods-file {path}: neither JSON nor YAML{at}") from None


@contextlib.contextmanager
def opened(path: str) -> Iterator[BinaryIO]:
    """A dump file opened for reading (`-`: stdin, left open); cannot be read: InputError."""
    try:
        stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    try:
        yield stream
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@contextlib.contextmanager
def dump_lines(path: str) -> Iterator[Iterator[bytes]]:
    """The lines of a dump file (`-`: stdin), without their line ends, as they are read."""
    with opened(path) as stream:
        yield (line.rstrip(b"\r\n") for line in stream)
