"""The webhook's view of the nodes: list once, then watch, in a background
thread; reviews read it and never call the API server themselves."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubectl_perf.api import ApiError, Cluster, Expired
from kubectl_perf.model import NodeView, group_nodes, holds_resources, node_view, pod_resources
from kubectl_perf.policy import Policy
from kubectl_perf.scheduling import referenced_keys

log = logging.getLogger("perf_webhook.cache")
WATCH_SECONDS = 30  # the server ends each watch after this; a new one starts at once


class NodeCache:
    def __init__(self, connect: Callable[[], Cluster], policy: Policy, clock: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect
        self.policy = policy
        self.clock = clock
        self._lock = threading.RLock()  # re-entered when a relist applies its items
        self._nodes: dict[str, dict[str, Any]] = {}  # name -> node object (trimmed)
        self._pods: dict[str, tuple[str, int]] = {}  # uid -> (node, memory limit nanos)
        self._committed: dict[str, int] = {}
        self._views: list[NodeView] | None = None  # sorted, rebuilt when something changed
        self._grouped: dict[frozenset[str], list[NodeView]] = {}  # by the label keys a pod reads
        self.synced = threading.Event()
        self.heard = 0.0  # when the API server last answered us
        self._stop = threading.Event()

    # -- what reviews read -------------------------------------------------
    def age(self) -> float:
        return self.clock() - self.heard if self.heard else float("inf")

    def views(self) -> list[NodeView] | None:
        """Nodes, largest padding budget first; None when the cache is too old to trust."""
        if not self.synced.is_set() or self.age() > self.policy.max_cache_age_seconds:
            return None
        with self._lock:
            if self._views is None:
                views = [node_view(n, self.policy.padding_target, self._committed.get(name, 0)) for name, n in self._nodes.items()]
                views.sort(key=lambda v: -v.budget)
                self._views = views
            return self._views

    def views_for(self, spec: Mapping[str, Any]) -> list[NodeView] | None:
        """The nodes as a pod with this spec tells them apart (see group_nodes)."""
        views = self.views()
        keys = referenced_keys(spec)
        if views is None or keys is None:
            return views
        with self._lock:
            grouped = self._grouped.get(keys)
            if grouped is None:
                grouped = group_nodes(views, keys)
                if self._views is views:  # not changed meanwhile: worth keeping
                    self._grouped[keys] = grouped
            return grouped

    def _changed(self) -> None:
        self._views = None
        self._grouped = {}

    def node_count(self) -> int:
        return len(self._nodes)

    # -- keeping it fresh --------------------------------------------------
    def start(self) -> None:
        threading.Thread(
            target=self._run, args=("/api/v1/nodes", self._apply_node, self._reset_nodes), name="node-cache", daemon=True
        ).start()
        if self.policy.committed != "off":
            threading.Thread(
                target=self._run, args=("/api/v1/pods", self._apply_pod, self._reset_pods), name="pod-cache", daemon=True
            ).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, path: str, apply: Callable[[str, dict[str, Any]], None], reset: Callable[[], None]) -> None:
        backoff = 0.5
        cluster: Cluster | None = None
        while not self._stop.is_set():
            try:
                cluster = cluster or self._connect()
                version = self._list(cluster, path, apply, reset)
                backoff = 0.5
                while not self._stop.is_set():
                    for event in cluster.watch(path, version, WATCH_SECONDS):
                        obj = event.get("object") or {}
                        version = (obj.get("metadata") or {}).get("resourceVersion") or version
                        if event.get("type") != "BOOKMARK":
                            apply(event.get("type", ""), obj)
                        self.heard = self.clock()
                    self.heard = self.clock()  # the server closed the watch on time: still in touch
            except Expired:
                log.info("%s: resource version expired, listing again", path)
            except ApiError as err:
                log.warning("%s: %s; retrying in %.1fs", path, err, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception:  # never let the thread die: a dead cache would go stale silently
                log.exception("%s: unexpected error; retrying in %.1fs", path, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _list(self, cluster: Cluster, path: str, apply: Callable[[str, dict[str, Any]], None], reset: Callable[[], None]) -> str:
        version = ""
        fresh: list[dict[str, Any]] = []
        for page in cluster.pages(path):
            fresh.extend(page.get("items") or [])
            version = (page.get("metadata") or {}).get("resourceVersion") or version
        with self._lock:
            reset()
            for obj in fresh:
                apply("ADDED", obj)
        self.heard = self.clock()
        if path.endswith("/nodes"):
            self.synced.set()
        return version

    def _reset_nodes(self) -> None:
        self._nodes = {}
        self._changed()

    def _apply_node(self, kind: str, node: dict[str, Any]) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        trimmed = {
            "metadata": {"name": name, "labels": (node.get("metadata") or {}).get("labels") or {}},
            "spec": {"taints": (node.get("spec") or {}).get("taints") or []},
            "status": {"allocatable": (node.get("status") or {}).get("allocatable") or {}},
        }
        with self._lock:
            if kind == "DELETED":
                self._nodes.pop(name, None)
            else:
                self._nodes[name] = trimmed
            self._changed()

    def _reset_pods(self) -> None:
        self._pods, self._committed = {}, {}
        self._changed()

    def _apply_pod(self, kind: str, pod: dict[str, Any]) -> None:
        uid = (pod.get("metadata") or {}).get("uid", "")
        node = (pod.get("spec") or {}).get("nodeName") or ""
        memory = pod_resources(pod.get("spec") or {})[1].get("memory", 0) if node and holds_resources(pod) else 0
        with self._lock:
            old_node, old_memory = self._pods.pop(uid, ("", 0))
            if old_node:
                self._committed[old_node] = self._committed.get(old_node, 0) - old_memory
            if kind != "DELETED" and memory:
                self._pods[uid] = (node, memory)
                self._committed[node] = self._committed.get(node, 0) + memory
            self._changed()
