"""One read of each list, shared by the report's sections.

capacity, audit, images and cadvisor each list nodes and the running pods (the same path and
query: running_pods.RUNNING_PODS), and audit and images both list ReplicaSets and Jobs. The
report hands every section a SharedCluster: the first section to list a path pages it from the
API server and keeps the decoded pages; the others get those pages back. GETs of documents
that do not change within a run (metrics, /version, configmaps) are kept too; the kubelets'
endpoints (/proxy/: cAdvisor's two scrapes) always go to the server.

The cost is memory: the pod list is held whole while the sections run (a plugin alone folds it
page by page). At 30,000 pods that is the list's decoded size, once; the kept lists are moved out
of the cyclic collector's way (gc.freeze), or every later allocation-triggered collection walks them."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

from ..api import DEFAULT_CHUNK_SIZE, ApiError, Cluster


def _key(path: str, query: dict[str, Any] | None, extra: object = None) -> tuple[Any, ...]:
    # None values are left out of a request's query (api.py), so they do not make another list
    return (path, tuple(sorted((k, str(v)) for k, v in (query or {}).items() if v is not None)), extra)


class SharedCluster(Cluster):
    """A Cluster whose lists and plain GETs are read once per run (see the module's docstring).
    It takes over a connected Cluster's transport rather than connecting again."""

    def __init__(self, inner: Cluster) -> None:  # no super().__init__(): the connection is inner's, not a second one
        self.__dict__.update(inner.__dict__)
        self._lists: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._gets: dict[tuple[Any, ...], Any] = {}
        self._failed: dict[tuple[Any, ...], ApiError] = {}
        self._lock = threading.Lock()
        self.requests = 0  # lists and GETs that went to the server (tests count them)

    def pages(self, path: str, query: dict[str, Any] | None = None, limit: int = DEFAULT_CHUNK_SIZE) -> Iterator[dict[str, Any]]:
        key = _key(path, query, limit)
        kept = self._lists.get(key) or self._on_node(path, query, limit)
        if kept is None:
            failed = self._failed.get(key)
            if failed is not None:  # a refusal (403) is the same answer for every section: asked once
                raise failed
            got: list[dict[str, Any]] = []
            try:
                for page in super().pages(path, query, limit):
                    got.append(page)
                    yield page
            except ApiError as err:
                if err.status in (401, 403, 404):
                    self._failed[key] = err
                raise
            self.requests += 1
            with self._lock:
                self._lists[key] = got
            # Decoded API documents hold no reference cycles; kept for the run, they would be walked
            # by every later collection (the cost of a second decode at 30,000 pods). Frozen, the
            # cyclic collector leaves them alone (api._decode pauses it while decoding, for the same reason).
            gc.freeze()
            return
        yield from kept

    def _on_node(self, path: str, query: dict[str, Any] | None, limit: int) -> list[dict[str, Any]] | None:
        """A list narrowed to one node (cadvisor lists pods per node when it reads few nodes:
        fieldSelector spec.nodeName=N,REST) answered from a list of REST already read, as the
        API server would answer it: the items whose spec.nodeName is N."""
        selector = str((query or {}).get("fieldSelector") or "")
        first, _, rest = selector.partition(",")
        if not first.startswith("spec.nodeName=") or "!" in first:
            return None
        whole = self._lists.get(_key(path, {**(query or {}), "fieldSelector": rest or None}, limit))
        if whole is None:
            return None
        node = first.removeprefix("spec.nodeName=")
        items = [i for page in whole for i in page.get("items") or () if (i.get("spec") or {}).get("nodeName") == node]
        return [{"items": items}]

    def get(self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        if "/proxy/" in path:  # a kubelet's live figures: each scrape is a new reading
            return super().get(path, query, timeout)
        key = _key(path, query)
        if key in self._gets:
            return self._gets[key]
        failed = self._failed.get(key)
        if failed is not None:
            raise failed
        try:
            value = super().get(path, query, timeout)
        except ApiError as err:
            if err.status in (401, 403, 404, 503):
                self._failed[key] = err
            raise
        self.requests += 1
        with self._lock:
            self._gets[key] = value
        return value
