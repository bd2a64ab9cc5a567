"""Prometheus counters for the webhook, kept per worker process."""

from __future__ import annotations

import threading
from collections import Counter

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()  # (decision, rule)
        self.errors: Counter[int] = Counter()  # HTTP status of rejected requests
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.total = 0.0

    def observe(self, decision: str, rules: list[str], seconds: float) -> None:
        with self._lock:
            for rule in rules or ["none"]:
                self.requests[(decision, rule)] += 1
            self.count += 1
            self.total += seconds
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1

    def bad_request(self, status: int) -> None:
        with self._lock:
            self.errors[status] += 1

    def text(self, cache_age: float, nodes: int) -> str:
        with self._lock:
            lines = [
                "# HELP perf_webhook_requests_total Admission reviews answered, by decision and rule.",
                "# TYPE perf_webhook_requests_total counter",
            ]
            lines += [f'perf_webhook_requests_total{{decision="{d}",rule="{r}"}} {n}' for (d, r), n in sorted(self.requests.items())]
            lines += [
                "# HELP perf_webhook_bad_requests_total Requests refused before review, by HTTP status.",
                "# TYPE perf_webhook_bad_requests_total counter",
            ]
            lines += [f'perf_webhook_bad_requests_total{{code="{c}"}} {n}' for c, n in sorted(self.errors.items())]
            lines += [
                "# HELP perf_webhook_request_duration_seconds Time to judge one review.",
                "# TYPE perf_webhook_request_duration_seconds histogram",
            ]
            lines += [f'perf_webhook_request_duration_seconds_bucket{{le="{b}"}} {n}' for b, n in zip(BUCKETS, self.buckets, strict=True)]
            lines += [
                f'perf_webhook_request_duration_seconds_bucket{{le="+Inf"}} {self.count}',
                f"perf_webhook_request_duration_seconds_sum {self.total:.6f}",
                f"perf_webhook_request_duration_seconds_count {self.count}",
            ]
        lines += [
            "# HELP perf_webhook_node_cache_age_seconds Seconds since the node cache last heard from the API server.",
            "# TYPE perf_webhook_node_cache_age_seconds gauge",
            f"perf_webhook_node_cache_age_seconds {cache_age:.3f}",
            "# HELP perf_webhook_node_cache_nodes Nodes in the cache.",
            "# TYPE perf_webhook_node_cache_nodes gauge",
            f"perf_webhook_node_cache_nodes {nodes}",
        ]
        return "\n".join(lines) + "\n"
