"""The summary's arithmetic on plain values, no server: figures worked out by hand."""

from __future__ import annotations

from kubectl_perf.cadvisor.compute import Scrape, Thresholds, container_rows, node_row, order, pod_specs
from kubectl_perf.promtext import Sample

Gi = 2**30


def sample(name: str, value: float, ts: int | None = None, **labels: str) -> Sample:
    s = Sample(name, b"", value, ts)
    s._labels = {"namespace": "ns", "pod": "p", "image": "img", **labels}
    return s


def scrape(ts: int, cpu: float, periods: float, throttled: float, ws: float) -> Scrape:
    return Scrape(taken=ts / 1000).add(
        [
            sample("container_cpu_usage_seconds_total", cpu, ts, container="c", cpu="total"),
            sample("container_cpu_usage_seconds_total", 1.0, ts, container="c", cpu="cpu00"),  # per-core: ignored
            sample("container_cpu_cfs_periods_total", periods, ts, container="c"),
            sample("container_cpu_cfs_throttled_periods_total", throttled, ts, container="c"),
            sample("container_memory_working_set_bytes", ws, ts, container="c"),
            sample("container_memory_working_set_bytes", 5 * Gi, ts, container="", image=""),  # pod cgroup
            sample("container_memory_working_set_bytes", 1.0, ts, container="", image="pause"),  # sandbox
            sample("container_memory_working_set_bytes", 64 * Gi, ts, container="", image="", pod="", namespace="", id="/"),
        ]
    )


POD = {
    "metadata": {"namespace": "ns", "name": "p"},
    "spec": {
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}}]
    },
}
NODE = {"metadata": {"name": "n"}, "status": {"allocatable": {"memory": "8Gi"}}}


def test_rates_between_two_scrapes_with_a_reset() -> None:
    first, second = scrape(1_000_000, 500.0, 9000, 1000, 3 * Gi), scrape(1_020_000, 30.0, 200, 150, 3.8 * Gi)
    (row,) = container_rows("n", [first, second], pod_specs([POD]), Thresholds())
    # the counters went down (a restart): the increase is the new value, over 20 s
    assert row.cpu_cores == 30 / 20 and row.throttled_ratio == 150 / 200
    assert row.cpu_request_cores == 0.5 and row.cpu_limit_cores == 2 and row.memory_limit_bytes == 4 * Gi
    assert row.memory_limit_ratio == 3.8 / 4 and row.memory_request_ratio == 3.8 / 2
    assert row.flags == ["throttling", "memory"]  # 75% > 25%, 95% > 90%
    (quiet,) = container_rows("n", [first, second], pod_specs([POD]), Thresholds(throttle_threshold=0.8, memory_threshold=0.96))
    assert quiet.flags == []


def test_pod_rows_and_node_padding() -> None:
    snap = scrape(1_000_000, 500.0, 9000, 100, 3 * Gi)
    rows = container_rows("n", [snap], pod_specs([POD]), Thresholds(pod_rows=True))
    assert sorted(r.container for r in rows) == ["", "c"]  # the sandbox is never a row
    pod = next(r for r in rows if r.container == "")
    assert pod.memory_working_set_bytes == 5 * Gi and pod.memory_limit_bytes == 4 * Gi
    node = node_row("n", snap, NODE, 0.25)
    # the root cgroup's own figure (id="/": 64Gi), as metrics-server reports it; 64Gi > 0.25 x 8Gi
    assert node.working_set_bytes == 64 * Gi and node.working_set_source == "node" and node.padding_breach is True
    # without the root series: the sum of the containers (3Gi, not the pod cgroup or the sandbox), marked
    snap.node.clear()
    node = node_row("n", snap, NODE, 0.25)
    assert node.working_set_bytes == 3 * Gi and node.working_set_source == "containers" and node.allocatable_memory_bytes == 8 * Gi
    assert node.padding_breach is True and node.verdict is not None and node.verdict.text() == "BREACH usage 37%"  # 3/8
    assert node_row("n", snap, NODE, 0.5).padding_breach is False


def test_no_cpu_limit_means_no_throttling_ratio() -> None:
    pod = {"metadata": {"namespace": "ns", "name": "p"}, "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}
    first, second = scrape(0, 1.0, 10, 5, Gi), scrape(10_000, 2.0, 20, 10, Gi)
    (row,) = container_rows("n", [first, second], pod_specs([pod]), Thresholds())
    assert row.throttled_ratio is None and row.cpu_limit_cores is None and row.memory_limit_ratio is None and row.flags == []


def test_order_and_top() -> None:
    a, b = scrape(0, 1.0, 10, 1, Gi), scrape(10_000, 2.0, 20, 2, Gi)
    rows = container_rows("n", [a, b], pod_specs([POD]), Thresholds())
    rows += container_rows("m", [a, scrape(10_000, 9.0, 20, 9, Gi)], pod_specs([POD]), Thresholds())
    assert [r.node for r in order(rows, "throttling", 1)] == ["m"]
    assert [r.node for r in order(rows, None, None)] == ["m", "n"]
