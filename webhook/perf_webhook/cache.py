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
from kubectl_perf.model import NodeView, group_nodes, holds_resources, node_view, pod_resources
from kubectl_perf.policy import Policy
from kubectl_perf.scheduling import referenced_keys

log = logging.getLogger("perf_webhook.cache")
WATCH_SECONDS = 30  # the server ends each watch after this; a new one starts at once
COMMITTED_REFRESH_SECONDS = 1.0  # pods come and go all the time: regroup for them at most this often
# Groupings kept, one per set of node-label keys pods read. Real workloads read a handful of
# sets; a tenant choosing keys freely (kubernetes.io/hostname makes one group per node: 0.7 MB
# at 5,000 nodes) must not grow memory with every review (issue 27 availability 5).
MAX_GROUPINGS = 32


class Feed:
    """One collection listed, then watched, in a background thread; listed again
    when the watch's resource version expires. `relist` gets every object of a
    fresh list (a generator, read page by page), `event` each watch event."""

    def __init__(
        self,
        path: str,
        connect: Callable[[], Cluster],
        relist: Callable[[Iterator[dict[str, Any]]], None],
        event: Callable[[str, dict[str, Any]], None],
        clock: Callable[[], float],
    ) -> None:
        self.path = path
        self._connect, self._relist, self._event, self._clock = connect, relist, event, clock
        self.synced = threading.Event()  # set once the first list is in
        self.heard = 0.0  # when the API server last answered this feed
        self.error = ""  # the last failure, for /healthz?verbose
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"feed {self.path}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        backoff = 0.5
        cluster: Cluster | None = None
        while not self._stop.is_set():
            try:
                cluster = cluster or self._connect()
                version = self._list(cluster)
                backoff = 0.5
                while not self._stop.is_set():
                    for event in cluster.watch(self.path, version, WATCH_SECONDS):
                        obj = event.get("object") or {}
                        version = (obj.get("metadata") or {}).get("resourceVersion") or version
                        if event.get("type") != "BOOKMARK":
                            self._event(event.get("type", ""), obj)
                        self.heard = self._clock()
                    self.heard = self._clock()  # the server closed the watch on time: still in touch
            except Expired:
                log.info("%s: resource version expired, listing again", self.path)
            except Exception as err:  # never let the thread die: a dead feed would go stale silently
                self.error = str(err).splitlines()[0] if str(err) else type(err).__name__
                if isinstance(err, ApiError):
                    log.warning("%s: %s; retrying in %.1fs", self.path, self.error, backoff)
                else:
                    log.exception("%s: unexpected error; retrying in %.1fs", self.path, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _list(self, cluster: Cluster) -> str:
        version = ""

        def items() -> Iterator[dict[str, Any]]:
            nonlocal version
            for page in cluster.pages(self.path):
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
        self.heard = self._clock()
        self.error = ""
        self.synced.set()


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
        self._built = 0.0
        self._committed_moved = False
        self._grouped: OrderedDict[frozenset[str], list[NodeView]] = OrderedDict()  # by the label keys a pod reads, LRU
        self._synced = False
        self.nodes = Feed("/api/v1/nodes", connect, self._relist_nodes, self._node_event, clock)
        self.pods = Feed("/api/v1/pods", connect, self._relist_pods, self._pod_event, clock) if policy.committed != "off" else None
        self._feeds = [f for f in (self.nodes, self.pods) if f is not None]

    @property
    def feeds(self) -> list[Feed]:
        return self._feeds

    def start(self) -> None:
        for feed in self.feeds:
            feed.start()

    def stop(self) -> None:
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
        view = self._compact(node)
        with self._lock:
            if kind == "DELETED":
                self._nodes.pop(view.name, None)
            elif self._nodes.get(view.name) == view:
                return  # a status update (conditions, images, heartbeats): nothing the rules read moved
            else:
                self._nodes[view.name] = view
            self._views = None

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
