"""One read of each list, shared by the report's sections.

capacity, audit, images and cadvisor each list nodes and the running pods (the same path and
query: running_pods.RUNNING_PODS), and audit and images both list ReplicaSets and Jobs. The
report hands every section a SharedCluster: the first section to list a path pages it from the
API server and keeps the decoded pages; the others get those pages back. GETs of documents
that do not change within a run (metrics, /version, configmaps) are kept too; the kubelets'
endpoints (/proxy/: cAdvisor's two scrapes) always go to the server.

The cost is memory: the pod list is held whole while the sections run (a plugin alone folds it
page by page). At 30,000 pods that is the list's decoded size, once; the report keeps the cyclic
collector off while it reads a cluster and freezes what it kept at the end (report.read_cluster), or
every allocation-triggered collection would walk the kept lists again.

Sections may run at once (report/__init__.py runs audit and images beside capacity): a list another
section is still reading is followed page by page as its pages arrive (a Listing), not read again,
so the followers' folds fill the time the first reader waits on the server for the next page."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from ..api import DEFAULT_CHUNK_SIZE, ApiError, Cluster, Expired

A = TypeVar("A")
E = TypeVar("E", bound=BaseException)


class Listing:
    """One list's decoded pages as they arrive: its reader appends, followers wait for the next page."""

    def __init__(self) -> None:
        self.pages: list[dict[str, Any]] = []
        self.done = False
        self.error: BaseException | None = None
        self._changed = threading.Condition()

    def add(self, page: dict[str, Any]) -> None:
        with self._changed:
            self.pages.append(page)
            self._changed.notify_all()

    def end(self, error: BaseException | None = None) -> None:
        with self._changed:
            self.done, self.error = True, error
            self._changed.notify_all()

    def follow(self) -> Iterator[dict[str, Any]]:
        """Every page, those to come too; the reader's error (a 403, an expired list) is the follower's."""
        seen = 0
        while True:
            with self._changed:
                while seen == len(self.pages) and not self.done:
                    self._changed.wait()
                fresh, ended, error = self.pages[seen:], self.done, self.error
            seen += len(fresh)
            yield from fresh
            if ended and seen == len(self.pages):
                if error is not None:
                    raise copy.copy(error)
                return


def _key(path: str, query: dict[str, Any] | None, extra: object = None) -> tuple[Any, ...]:
    # None values are left out of a request's query (api.py), so they do not make another list
    return (path, tuple(sorted((k, str(v)) for k, v in (query or {}).items() if v is not None)), extra)


class SharedCluster(Cluster):
    """A Cluster whose lists and plain GETs are read once per run (see the module's docstring).
    It takes over a connected Cluster's transport rather than connecting again."""

    whole_lists_held = True  # a list read again is answered from memory (cadvisor's specs_on walks it)
    takes_namespace = False  # the report reads every namespace: no -n to suggest

    def __init__(self, inner: Cluster) -> None:  # no super().__init__(): the connection is inner's, not a second one
        self.__dict__.update(inner.__dict__)
        self._lists: dict[tuple[Any, ...], Listing] = {}
        self._gets: dict[tuple[Any, ...], Future[Any]] = {}
        self._failed: dict[tuple[Any, ...], ApiError] = {}
        self._lock = threading.Lock()
        self._remembered: dict[tuple[Any, ...], Future[Any]] = {}
        self.requests = 0  # lists and GETs that went to the server (tests count them)

    def pages(self, path: str, query: dict[str, Any] | None = None, limit: int = DEFAULT_CHUNK_SIZE) -> Iterator[dict[str, Any]]:
        key = _key(path, query, limit)
        with self._lock:
            failed = self._failed.get(key)
            listing = self._lists.get(key)
            reader = failed is None and listing is None
            if reader:
                listing = self._lists[key] = Listing()
        if failed is not None:  # a refusal (403) is the same answer for every section: asked once
            raise copy.copy(failed)
        assert listing is not None
        if not reader:
            yield from listing.follow()
            return
        try:
            for page in super().pages(path, query, limit):
                listing.add(page)
                yield page
        except BaseException as err:
            with self._lock:
                del self._lists[key]  # not kept: a later section (or consume's relist on 410) reads it afresh
                if isinstance(err, ApiError) and err.status in (401, 403, 404):
                    self._failed[key] = kept(err)
            # a reader that stopped part-way (its section failed) leaves its followers an Expired: their
            # consume() lists afresh, as after a 410, and one of them becomes the reader
            listing.end(kept(err) if isinstance(err, Exception) else Expired(f"listing {path} was stopped"))
            raise
        with self._lock:
            self.requests += 1
        listing.end()

    def remember(self, key: tuple[Any, ...], make: Callable[[], A]) -> A:
        """One answer per key for the run: the first caller makes it, a caller meanwhile waits for it.
        A failure is every caller's, each raising its own copy (see kept())."""
        with self._lock:
            slot = self._remembered.get(key)
            mine = slot is None
            if slot is None:
                slot = self._remembered[key] = Future()
        if mine:
            try:
                slot.set_result(make())
            except BaseException as err:
                slot.set_result(Failed(kept(err)))
                raise
        return _answer(slot.result())

    def get(self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        """One GET per path and query for the run; a section asking while another's is under way waits for
        its answer (the node metrics are asked at once by capacity and early.py). A refusal (401, 403, 404,
        503) is every section's answer; another failure is not kept: a later section asks afresh."""
        if "/proxy/" in path:  # a kubelet's live figures: each scrape is a new reading
            return super().get(path, query, timeout)
        key = _key(path, query)
        with self._lock:
            slot = self._gets.get(key)
            mine = slot is None
            if slot is None:
                slot = self._gets[key] = Future()
        if not mine:
            return _answer(slot.result())
        try:
            value = super().get(path, query, timeout)
        except BaseException as err:
            if not (isinstance(err, ApiError) and err.status in (401, 403, 404, 503)):
                with self._lock:
                    del self._gets[key]
            slot.set_result(Failed(kept(err)))
            raise
        with self._lock:
            self.requests += 1
        slot.set_result(value)
        return value


class Failed:
    """A kept failure, as a remembered answer: raised anew (a copy) for each caller."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def kept(err: E) -> E:
    """A copy of an error to keep for later callers, without its traceback. The error raised holds its
    traceback, whose frames hold this cluster: kept, it would tie the cluster into a reference cycle that
    the frozen collector (report.read_cluster) never frees, and with several contexts each cluster's lists
    would live until the process ends. Each caller raises a copy of the copy, for the same reason."""
    return copy.copy(err)


def _answer(value: Any) -> Any:
    if isinstance(value, Failed):
        raise copy.copy(value.error)
    return value
