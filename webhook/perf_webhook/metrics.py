"""Prometheus metrics through prometheus_client. With several gunicorn workers it runs
in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the CLI before any worker
starts), so every scrape sums the counters and histograms of all workers and never
goes backwards, whichever worker answers it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class CacheState(Protocol):
    def synced(self) -> bool: ...
    def age(self) -> float: ...
    def node_count(self) -> int: ...
    def pod_count(self) -> int: ...


class CacheCollector(Collector):
    """The cache's state, read at scrape time (each worker reports its own cache)."""

    def __init__(self, cache: CacheState) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Any]:
        age = self.cache.age()
        yield GaugeMetricFamily("perf_webhook_node_cache_synced", "1 once every feed of the node cache has listed.", self.cache.synced())
        yield GaugeMetricFamily(
            "perf_webhook_node_cache_age_seconds",
            "Seconds since the node cache last heard from the API server (-1: never).",
            age if age != float("inf") else -1,
        )
        yield GaugeMetricFamily("perf_webhook_node_cache_nodes", "Nodes in the cache.", self.cache.node_count())
        yield GaugeMetricFamily("perf_webhook_node_cache_pods", "Pods holding memory limits, in the cache.", self.cache.pod_count())
        restarts = getattr(self.cache, "feed_restarts", None)  # a static node source (tests) has no feeds
        if restarts is not None:
            yield CounterMetricFamily(
                "perf_webhook_feed_restarts",
                "Feeds the watchdog started afresh after no progress for maxCacheAgeSeconds.",
                restarts(),
            )


class Metrics:
    def __init__(self, cache: CacheState) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        # In multiprocess mode the values live in files, summed at scrape time; the
        # metrics themselves then belong to no registry.
        own = None if multiprocess() else self.registry
        self.reviews = Counter(
            "perf_webhook_requests", "Admission reviews answered, by decision and rule.", ["decision", "rule"], registry=own
        )
        self.denials = Counter("perf_webhook_denials", "Reviews denied, by each rule that denied.", ["rule"], registry=own)
        self.skipped = Counter(
            "perf_webhook_padding_skipped", "Reviews whose padding check was skipped, by reason.", ["reason"], registry=own
        )
        self.bad = Counter("perf_webhook_bad_requests", "Requests refused before review, by HTTP status.", ["code"], registry=own)
        self.duration = Histogram("perf_webhook_request_duration_seconds", "Time to judge one review.", buckets=BUCKETS, registry=own)
        self.dropped = Counter(
            "perf_webhook_connections_dropped", "Connections dropped at a deadline, by the stage that stalled.", ["stage"], registry=own
        )
        if multiprocess():
            from prometheus_client import multiprocess as mp

            mp.MultiProcessCollector(self.registry)
        self.registry.register(CacheCollector(cache))

    def observe(self, decision: str, rules: list[str], denied_by: list[str], seconds: float) -> None:
        for rule in rules or ["none"]:
            self._child(self.reviews, decision, rule).inc()
        for rule in denied_by:
            self._child(self.denials, rule).inc()
        self.duration.observe(seconds)

    def _child(self, family: Counter, *labels: str) -> Any:
        # .labels() validates and locks on every call; the few label sets a webhook sees are kept.
        child = self._children.get((id(family), labels))
        if child is None:
            child = self._children[(id(family), labels)] = family.labels(*labels)
        return child

    def padding_skipped(self, reason: str) -> None:
        self.skipped.labels(reason).inc()

    def bad_request(self, status: int) -> None:
        self.bad.labels(str(status)).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)
