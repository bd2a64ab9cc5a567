"""The webhook's feeds when the API server goes silent (issue 27 availability 8): every request
bounded, a watchdog that starts a feed afresh when it makes no progress, readiness that fails at
maxCacheAgeSeconds and liveness only after a larger bound.

The end-to-end test runs the review's repro: a TCP proxy (tests/silent_proxy.py) between the
webhook under gunicorn and a real kube-apiserver, which stops forwarding without a reset."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubectl_perf.policy_file import parse_policy
from perf_webhook.cache import FeedTimings, NodeViewCache
from realk8s import RealK8s
from silent_proxy import SilentProxy
from test_webhook import metric
from webhook_helpers import start_webhook


def test_feed_timings_follow_max_cache_age() -> None:
    # Worked by hand: 60 s -> watches of 20 s (three per maxCacheAgeSeconds), the watchdog at 60 s;
    # 6 s -> watches of 2 s, watchdog at 6 s; 2 s -> watches of 1 s (the least the server takes), 3 s.
    assert FeedTimings.for_policy(parse_policy({})) == FeedTimings(20, 60.0, 60.0)
    assert FeedTimings.for_policy(parse_policy({"maxCacheAgeSeconds": 6})) == FeedTimings(2, 6.0, 6.0)
    assert FeedTimings.for_policy(parse_policy({"maxCacheAgeSeconds": 2})) == FeedTimings(1, 3.0, 5.0)
    assert FeedTimings.for_policy(parse_policy({"maxCacheAgeSeconds": 600})) == FeedTimings(30, 600.0, 600.0)


class HangingCluster:
    """A connection whose list never answers (the black-holed one), or one that answers."""

    def __init__(self, hang: threading.Event | None, nodes: list[str]) -> None:
        self.hang, self.nodes = hang, nodes

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        if self.hang is not None:
            self.hang.wait()  # stuck in a read no timeout of ours interrupts (the test lets it go)
        yield {"metadata": {"resourceVersion": "5"}, "items": [node(n) for n in self.nodes]}

    def watch(self, path: str, version: str, seconds: int) -> Iterator[dict[str, Any]]:
        time.sleep(0.05)
        return iter(())


def node(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"allocatable": {"memory": "8Gi"}}}


def test_the_watchdog_replaces_a_feed_stuck_on_a_silent_connection_and_the_old_thread_applies_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = threading.Event()
    connects: list[HangingCluster] = [HangingCluster(released, ["stale-node"]), HangingCluster(None, ["fresh-node"])]
    made: list[HangingCluster] = []

    def connect() -> Any:
        made.append(connects[len(made)] if len(made) < 2 else HangingCluster(None, ["fresh-node"]))
        return made[-1]

    now = [0.0]
    cache = NodeViewCache(connect, parse_policy({"maxCacheAgeSeconds": 6}), clock=lambda: now[0])
    feed = cache.nodes
    feed.start()
    time.sleep(0.2)
    assert not feed.synced.is_set() and len(made) == 1  # the first list hangs
    now[0] = 6.0
    assert feed.check() is False  # 6 s without progress: exactly the bound, still waiting
    now[0] = 6.5
    assert feed.check() is True and feed.restarts == 1
    assert "no answer from the API server for 6s; reconnecting" in caplog.text  # feed.error too, until the new list clears it
    assert feed.synced.wait(5) and [v.name for v in cache.views() or []] == ["fresh-node"]
    released.set()  # the abandoned read returns at last: its thread must end without touching the cache
    time.sleep(0.3)
    assert [v.name for v in cache.views() or []] == ["fresh-node"]
    feed.stop()


def _node(name: str) -> dict[str, Any]:
    resources = {"cpu": "8", "memory": "8Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"capacity": resources, "allocatable": resources},
    }


def _within(seconds: float, ok: Callable[[], bool]) -> float | None:
    """Seconds until ok() held, or None if it did not within `seconds`."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if ok():
            return time.monotonic() - start
        time.sleep(0.25)
    return None


def test_a_silent_api_server_connection_is_replaced_and_probes_follow_staleness(tmp_path: Path, realk8s_factory: Any) -> None:
    """The review's repro. maxCacheAgeSeconds 6, --liveness-cache-age 12. (1) The open connections
    go silent while a node is added: the webhook must see it within 15 s (before: the watch waited
    its 60 s read timeout, and a hung list had no bound at all). (2) Every connection goes silent:
    /readyz fails after 6 s while /healthz still passes, /healthz fails after 12 s. (3) The path
    comes back: both pass again, without a restart."""
    k8s: RealK8s = realk8s_factory()
    k8s.create(_node("feed-a"))
    host, port = k8s.server.removeprefix("https://").rsplit(":", 1)
    with SilentProxy((host, int(port))) as proxy:
        config = yaml.safe_load(k8s.kubeconfig.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
        kubeconfig = tmp_path / "kubeconfig-proxied"
        kubeconfig.write_text(yaml.safe_dump(config))
        policy = {"padding": {"memory": 0.75}, "maxCacheAgeSeconds": 6}
        hook = start_webhook(tmp_path / "hook", None, policy, kubeconfig=kubeconfig, extra=("--liveness-cache-age", "12"))
        try:
            assert "synced: 1 nodes" in hook.get("/healthz?verbose")[1]
            assert hook.get("/startupz") == (200, "ok (node cache synced)\n")

            proxy.drop_open()  # the watch's connection goes silent; a new connection would work
            time.sleep(0.5)
            k8s.create(_node("feed-b"))
            seen = _within(15, lambda: "synced: 2 nodes" in hook.get("/healthz?verbose")[1])
            assert seen is not None, f"the cache did not see the new node within 15 s: {hook.get('/healthz?verbose')[1]}"
            assert "no answer from the API server" in hook.log.read_text()  # the watchdog's line
            assert metric(hook.get("/metrics")[1], "perf_webhook_feed_restarts_total") >= 1

            proxy.go_silent()
            unready = _within(15, lambda: hook.get("/readyz")[0] == 503)
            assert unready is not None
            assert hook.get("/healthz")[0] == 200  # readiness first: liveness waits for its larger bound
            assert _within(15, lambda: hook.get("/healthz")[0] == 503) is not None  # measured from readiness's failure
            status, text = hook.get("/healthz")
            assert status == 503 and "liveness bound 12s" in text

            proxy.resume()
            back = _within(20, lambda: hook.get("/readyz")[0] == 200 and hook.get("/healthz")[0] == 200)
            assert back is not None, hook.log.read_text()[-2000:]
            assert hook.proc.poll() is None
        finally:
            hook.stop()
