"""What the webhook knows of the cluster: a compact view of each node (the labels,
taints and allocatable memory the rules read) and, when the policy weighs committed
limits, the memory limits pods have committed on each node. Both are kept fresh by
list-and-watch feeds in background threads; reviews read them and never call the
API server. Lists are folded page by page, so a 150,000-pod cluster is never held."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from kubectl_perf.api import ApiError, Cluster, Expired
from kubectl_perf.model import POOL_LABELS, NodeView, group_nodes, holds_resources, node_view, pod_resources
from kubectl_perf.policy import Policy
from kubectl_perf.scheduling import referenced_keys

log = logging.getLogger("perf_webhook.cache")
WATCH_SECONDS = 30  # the server ends each watch after at most this; a new one starts at once
COMMITTED_REFRESH_SECONDS = 1.0  # pods come and go all the time: regroup for them at most this often
# Groupings kept, one per set of node-label keys pods read. Real workloads read a handful of
# sets; a tenant choosing keys freely (kubernetes.io/hostname makes one group per node: 0.7 MB
# at 5,000 nodes) must not grow memory with every review (issue 27 availability 5).
MAX_GROUPINGS = 32
WATCHDOG_PERIOD = 1.0  # how often the watchdog looks at each feed


@dataclasses.dataclass(frozen=True)
class FeedTimings:
    """How long a feed may go without progress, all derived from the policy's
    maxCacheAgeSeconds so that a feed in good health never looks stale (issue 27
    availability 8): a black-holed connection to the API server must cost one bounded
    wait, not an unbounded one while the cache silently ages."""

    watch_seconds: int  # each watch asks the server to end it after this: one sign of life per round
    stall_seconds: float  # no page, event or watch end for this long: the watchdog starts the feed afresh
    request_timeout: float  # the whole of one list page (connect, TLS, headers, body)

    @classmethod
    def for_policy(cls, policy: Policy) -> FeedTimings:
        age = policy.max_cache_age_seconds
        # Three watch rounds fit in maxCacheAgeSeconds, so one lost round never makes the cache stale.
        watch = max(1, min(WATCH_SECONDS, int(age / 3)))
        # The watchdog acts when the cache would be stale anyway: restarting costs nothing more then.
        stall = max(float(age), watch + 2.0)
        # api.py already bounds connect (30 s), the TLS handshake (10 s) and each read (90 s); a
        # total per page keeps a trickling answer from holding a list past the watchdog's bound.
        return cls(watch, stall, max(stall, 5.0))


class _Superseded(Exception):
    """Raised in a feed thread the watchdog has replaced: it stops without touching the cache."""


class Feed:
    """One collection listed, then watched, in a background thread; listed again
    when the watch's resource version expires. `relist` gets every object of a
    fresh list (a generator, read page by page), `event` each watch event.

    A watchdog (`check`, called every second by the cache) starts a fresh thread, with a
    fresh connection, when the feed has made no progress (no page, event or watch end) for
    `timings.stall_seconds`: a request stuck on a connection nobody answers any more cannot
    be interrupted from outside, so it is abandoned. Its thread finds itself superseded when
    the read finally times out and ends without applying anything it read."""

    def __init__(
        self,
        path: str,
        connect: Callable[[], Cluster],
        relist: Callable[[Iterator[dict[str, Any]]], None],
        event: Callable[[str, dict[str, Any]], None],
        clock: Callable[[], float],
        timings: FeedTimings | None = None,
    ) -> None:
        self.path = path
        self._connect, self._relist, self._event, self._clock = connect, relist, event, clock
        self.timings = timings or FeedTimings(WATCH_SECONDS, 60.0, 60.0)
        self.synced = threading.Event()  # set once the first list is in
        self.heard = 0.0  # when the API server last answered this feed (the whole state current)
        self.progress = 0.0  # when this feed last got anything: a page, an event, a watch's end
        self.error = ""  # the last failure, for /healthz?verbose
        self.restarts = 0  # threads the watchdog replaced
        self._generation = 0  # the thread that may apply what it reads
        self._apply = threading.Lock()  # held while an event is applied, so a replaced thread cannot apply one late
        self._stop = threading.Event()

    def start(self) -> None:
        self._spawn()

    def stop(self) -> None:
        self._stop.set()

    def _spawn(self) -> None:
        with self._apply:
            self._generation += 1
            generation = self._generation
        self.progress = self._clock()  # the new thread gets the whole bound to show progress
        threading.Thread(target=self._run, args=(generation,), name=f"feed {self.path} #{generation}", daemon=True).start()

    def check(self) -> bool:
        """The watchdog: start the feed afresh if it made no progress within the bound;
        True when it did so."""
        if self._stop.is_set() or not self._generation:
            return False
        silent = self._clock() - self.progress
        if silent <= self.timings.stall_seconds:
            return False
        self.error = f"no answer from the API server for {silent:.0f}s; reconnecting"
        log.warning("%s: %s", self.path, self.error)
        self.restarts += 1
        self._spawn()
        return True

    def _current(self, generation: int) -> None:
        if generation != self._generation:
            raise _Superseded
        self.progress = self._clock()

    def _run(self, generation: int) -> None:
        backoff = 0.5
        cluster: Cluster | None = None
        try:
            while not self._stop.is_set():
                self._current(generation)
                try:
                    cluster = cluster or self._connect()
                    version = self._list(cluster, generation)
                    backoff = 0.5
                    while not self._stop.is_set():
                        for event in cluster.watch(self.path, version, self.timings.watch_seconds):
                            obj = event.get("object") or {}
                            version = (obj.get("metadata") or {}).get("resourceVersion") or version
                            with self._apply:
                                self._current(generation)
                                if event.get("type") != "BOOKMARK":
                                    self._event(event.get("type", ""), obj)
                                self.heard = self._clock()
                        self._current(generation)
                        self.heard = self._clock()  # the server closed the watch on time: still in touch
                except Expired:
                    log.info("%s: resource version expired, listing again", self.path)
                except _Superseded:
                    raise
                except Exception as err:  # never let the thread die: a dead feed would go stale silently
                    self._current(generation)
                    self.error = str(err).splitlines()[0] if str(err) else type(err).__name__
                    if isinstance(err, ApiError):
                        log.warning("%s: %s; retrying in %.1fs", self.path, self.error, backoff)
                    else:
                        log.exception("%s: unexpected error; retrying in %.1fs", self.path, backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
        except _Superseded:
            log.info("%s: a replaced feed thread ended", self.path)

    def _list(self, cluster: Cluster, generation: int = 0) -> str:
        version = ""

        def items() -> Iterator[dict[str, Any]]:
            nonlocal version
            for page in cluster.pages(self.path):
                if generation:
                    self._current(generation)  # a page arrived: progress, unless this thread was replaced
                version = (page.get("metadata") or {}).get("resourceVersion") or version
                yield from page.get("items") or ()

        self.replace(items())
        return version

    def replace(self, items: Iterable[dict[str, Any]]) -> None:
        """Take a complete list of the collection in place of what the feed held."""
        self._relist(iter(items))
        # What a list leaves behind lives until the next list: move it out of the collector's
        # way, so full collections (tens of ms at 5,000 nodes) walk only what reviews allocate.
        gc.collect()
        gc.freeze()
        self.heard = self.progress = self._clock()
        self.error = ""
        self.synced.set()


def _moved_labels(old: NodeView | None, new: NodeView) -> frozenset[str] | None:
    """The label keys whose values differ between two views of one node; None when more than
    labels moved (or there was no old view)."""
    if old is None or (old.taints, old.memory, old.target) != (new.taints, new.memory, new.target):
        return None
    return frozenset(k for k in old.labels.keys() | new.labels.keys() if old.labels.get(k) != new.labels.get(k))


def _committed_memory(pod: Mapping[str, Any]) -> tuple[str, int]:
    """(node, memory limit in nanos) a pod holds; ("", 0) when it holds none."""
    spec = pod.get("spec") or {}
    node = spec.get("nodeName") or ""
    if not node or not holds_resources(pod):
        return "", 0
    return sys.intern(node), pod_resources(spec)[1].get("memory", 0)


class NodeViewCache:
    """Node views for the padding rules, with committed memory when the policy asks."""

    def __init__(self, connect: Callable[[], Cluster], policy: Policy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._lock = threading.Lock()
        self._nodes: dict[str, NodeView] = {}  # name -> view without committed memory
        self._pods: dict[str, tuple[str, int]] = {}  # uid -> (node, memory limit nanos), pods that hold memory only
        self._committed: dict[str, int] = {}  # node -> sum of its pods' memory limits
        self._taints: dict[str, tuple[Mapping[str, Any], ...]] = {}  # one tuple per distinct taint set
        self._views: list[NodeView] | None = None  # largest budget first; None: rebuild
        self._index: dict[str, int] = {}  # node name -> its place in _views
        self.rebuilds = 0  # full rebuilds of the views (a test counts them)
        self.regroupings = 0  # groupings computed (group_nodes calls)
        self._built = 0.0
        self._committed_moved = False
        self._grouped: OrderedDict[frozenset[str], list[NodeView]] = OrderedDict()  # by the label keys a pod reads, LRU
        self._synced = False
        self.timings = FeedTimings.for_policy(policy)
        self.nodes = Feed("/api/v1/nodes", connect, self._relist_nodes, self._node_event, clock, self.timings)
        self.pods = (
            Feed("/api/v1/pods", connect, self._relist_pods, self._pod_event, clock, self.timings) if policy.committed != "off" else None
        )
        self._feeds = [f for f in (self.nodes, self.pods) if f is not None]
        self._stopped = threading.Event()

    @property
    def feeds(self) -> list[Feed]:
        return self._feeds

    def start(self) -> None:
        for feed in self.feeds:
            feed.start()

        def watchdog() -> None:
            while not self._stopped.wait(WATCHDOG_PERIOD):
                for feed in self.feeds:
                    feed.check()

        threading.Thread(target=watchdog, name="feed watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        for feed in self.feeds:
            feed.stop()

    # -- what reviews read -------------------------------------------------
    def synced(self) -> bool:
        if not self._synced:  # once every feed has listed, it stays so (a relist replaces in place)
            self._synced = all(f.synced.is_set() for f in self.feeds)
        return self._synced

    def age(self) -> float:
        """Seconds since the stalest feed last heard from the API server."""
        heard = min([f.heard for f in self._feeds])
        return self.clock() - heard if heard else float("inf")

    def node_count(self) -> int:
        return len(self._nodes)

    def feed_restarts(self) -> int:
        return sum(f.restarts for f in self.feeds)

    def pod_count(self) -> int:
        return len(self._pods)

    def describe(self) -> str:
        """One line for /healthz?verbose."""
        if not self.synced():
            errors = "; ".join(f"{f.path}: {f.error}" for f in self.feeds if f.error)
            return "not synced (padding follows onStaleCache)" + (f": {errors}" if errors else "")
        pods = f", {self.pod_count()} pods holding memory" if self.pods else ""
        return f"synced: {self.node_count()} nodes{pods}, heard {self.age():.1f}s ago"

    def views(self) -> list[NodeView] | None:
        """Nodes, largest padding budget first; None until synced and when too old to trust."""
        if not self.synced() or self.age() > self.policy.max_cache_age_seconds:
            return None
        now = self.clock()
        views = self._views
        if views is not None and not (self._committed_moved and now - self._built >= COMMITTED_REFRESH_SECONDS):
            return views  # the usual case, read without the lock: an attribute read is atomic
        with self._lock:
            if self._views is None or (self._committed_moved and now - self._built >= COMMITTED_REFRESH_SECONDS):
                views = [dataclasses.replace(v, committed=self._committed.get(name, 0)) for name, v in self._nodes.items()]
                views.sort(key=lambda v: -v.budget)
                self._views, self._built, self._committed_moved, self._grouped = views, now, False, OrderedDict()
                self._index = {v.name: i for i, v in enumerate(views)}
                self.rebuilds += 1
            return self._views

    def views_for(self, spec: Mapping[str, Any]) -> list[NodeView] | None:
        """The nodes as a pod with this spec tells them apart (see group_nodes)."""
        views = self.views()
        keys = referenced_keys(spec)
        if views is None or keys is None:
            return views
        with self._lock:
            grouped = self._grouped.get(keys)
            if grouped is not None:
                self._grouped.move_to_end(keys)
                return grouped
        grouped = group_nodes(views, keys)
        self.regroupings += 1
        if len(grouped) >= len(views):
            return views  # grouping did not shrink the list: nothing worth keeping (nor a second copy)
        with self._lock:
            if self._views is views:  # not rebuilt meanwhile: worth keeping, at most MAX_GROUPINGS of them
                self._grouped[keys] = grouped
                while len(self._grouped) > MAX_GROUPINGS:
                    self._grouped.popitem(last=False)
        return grouped

    # -- nodes ---------------------------------------------------------------
    def _compact(self, node: Mapping[str, Any]) -> NodeView:
        """Only what the rules read, with strings interned and taint sets shared:
        thousands of nodes of a few pools repeat the same keys, values and taints."""
        view = node_view(node, self.policy.padding_target)
        labels = {sys.intern(str(k)): sys.intern(str(v)) for k, v in view.labels.items()}
        taint_key = json.dumps(view.taints, sort_keys=True, default=str)
        taints = self._taints.setdefault(taint_key, view.taints)
        return NodeView(sys.intern(view.name), labels, taints, view.memory, view.target)

    def _relist_nodes(self, items: Iterable[dict[str, Any]]) -> None:
        fresh = {}
        for node in items:
            view = self._compact(node)
            fresh[view.name] = view
        with self._lock:
            self._nodes, self._views = fresh, None

    def _node_event(self, kind: str, node: dict[str, Any]) -> None:
        """One node's change, applied in place where it can be (issue 27 availability 10: 50
        label changes a second rebuilt every view and every grouping 50 times a second, and cut
        review throughput 10x). A change of labels only keeps the node's place (its budget did
        not move), so its view is swapped in a copy of the list and only the groupings that
        read a changed key are dropped; anything else (a new or deleted node, taints,
        allocatable, a target) rebuilds, as it is rare."""
        view = self._compact(node)
        with self._lock:
            old = self._nodes.get(view.name)
            if kind == "DELETED":
                if old is None:
                    return
                del self._nodes[view.name]
                self._views = None
                return
            if old == view:
                return  # a status update (conditions, images, heartbeats): nothing the rules read moved
            self._nodes[view.name] = view
            moved = _moved_labels(old, view)
            place = self._index.get(view.name)
            views = self._views
            if moved is None or views is None or place is None:
                self._views = None
                return
            fresh = list(views)  # readers hold the old list without the lock: never change it in place
            fresh[place] = dataclasses.replace(view, committed=views[place].committed)
            self._views = fresh
            if not moved.isdisjoint(POOL_LABELS):  # every grouping tells pools apart
                self._grouped.clear()
                return
            for keys in [k for k in self._grouped if not k.isdisjoint(moved)]:
                del self._grouped[keys]

    # -- pods: committed memory per node ------------------------------------
    def _relist_pods(self, items: Iterable[dict[str, Any]]) -> None:
        pods: dict[str, tuple[str, int]] = {}
        committed: dict[str, int] = {}
        for pod in items:
            node, memory = _committed_memory(pod)
            if memory:
                pods[(pod.get("metadata") or {}).get("uid", "")] = (node, memory)
                committed[node] = committed.get(node, 0) + memory
        with self._lock:
            self._pods, self._committed, self._committed_moved = pods, committed, True

    def _pod_event(self, kind: str, pod: dict[str, Any]) -> None:
        uid = (pod.get("metadata") or {}).get("uid", "")
        node, memory = _committed_memory(pod) if kind != "DELETED" else ("", 0)
        with self._lock:
            old = self._pods.pop(uid, None)
            if old is not None:
                self._committed[old[0]] = self._committed.get(old[0], 0) - old[1]
            if memory:
                self._pods[uid] = (node, memory)
                self._committed[node] = self._committed.get(node, 0) + memory
            if old != ((node, memory) if memory else None):
                self._committed_moved = True
