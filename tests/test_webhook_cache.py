"""The webhook's cache in-process, fed plain objects: what it keeps of nodes and pods,
committed memory as pods come and go, and when it counts as synced."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubectl_perf.policy_file import parse_policy
from perf_webhook import cache as cache_module
from perf_webhook.cache import NodeViewCache

GI = 1024**3 * 10**9  # nanos


def no_api() -> Any:
    raise AssertionError("these tests feed the cache themselves")


def node(name: str, memory: str, labels: dict[str, str], taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels, "annotations": {"big": "x" * 1000}},
        "spec": {"taints": taints or []},
        "status": {"allocatable": {"memory": memory, "cpu": "4"}, "images": [{"names": ["a"], "sizeBytes": 1}]},
    }


def bound_pod(uid: str, node_name: str, limit: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"uid": uid, "name": uid, "namespace": "shop"},
        "spec": {"nodeName": node_name, "containers": [{"name": "c", "resources": {"limits": {"memory": limit}}}]},
        "status": {"phase": phase},
    }


def test_views_keep_only_what_the_rules_read_and_share_repeated_parts() -> None:
    cache = NodeViewCache(no_api, parse_policy({}), clock=lambda: 5.0)
    taint = {"key": "dedicated", "value": "io", "effect": "NoSchedule"}
    cache.nodes.replace(
        [node("n1", "16Gi", {"pool": "io", "kubernetes.io/hostname": "n1"}, [dict(taint)])]
        + [node("n2", "16Gi", {"pool": "io", "kubernetes.io/hostname": "n2"}, [dict(taint)])]
    )
    a, b = sorted(cache.views() or [], key=lambda v: v.name)
    assert (a.name, a.memory, a.target, a.committed) == ("n1", 16 * GI, 0.75, 0)
    assert a.taints is b.taints  # one tuple for a taint set repeated over a pool
    assert next(k for k in a.labels if k == "pool") is next(k for k in b.labels if k == "pool")
    assert not hasattr(a, "annotations") and not hasattr(a, "images")


def test_with_committed_limits_the_cache_is_synced_only_once_pods_are_listed_too() -> None:
    cache = NodeViewCache(no_api, parse_policy({"padding": {"committed": "deny"}}), clock=lambda: 5.0)
    cache.nodes.replace([node("n1", "16Gi", {})])
    assert not cache.synced() and cache.views() is None  # committed sums of zero would let anything through
    assert cache.pods is not None
    cache.pods.replace([bound_pod("p1", "n1", "4Gi")])
    assert cache.synced() and [v.committed for v in cache.views() or []] == [4 * GI]
    assert NodeViewCache(no_api, parse_policy({}), clock=lambda: 5.0).pods is None  # no pod feed when committed is off


def test_committed_memory_follows_pod_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "COMMITTED_REFRESH_SECONDS", 0.0)
    cache = NodeViewCache(no_api, parse_policy({"padding": {"committed": "warn"}}), clock=lambda: 5.0)
    cache.nodes.replace([node("n1", "16Gi", {}), node("n2", "8Gi", {})])
    assert cache.pods is not None
    pending = bound_pod("p3", "", "2Gi")
    cache.pods.replace(
        iter([bound_pod("p1", "n1", "4Gi"), bound_pod("p2", "n1", "1Gi"), pending, bound_pod("p4", "n2", "3Gi", "Succeeded")])
    )

    def committed() -> dict[str, int]:
        return {v.name: v.committed for v in cache.views() or []}

    assert committed() == {"n1": 5 * GI, "n2": 0} and cache.pod_count() == 2  # pending and finished pods hold nothing
    cache._pod_event("MODIFIED", bound_pod("p3", "n2", "2Gi"))  # scheduled
    cache._pod_event("DELETED", bound_pod("p1", "n1", "4Gi"))
    cache._pod_event("MODIFIED", bound_pod("p2", "n1", "1Gi", "Failed"))
    assert committed() == {"n1": 0, "n2": 2 * GI}
    cache.nodes.replace([node("n2", "8Gi", {})])  # a relist drops n1
    assert committed() == {"n2": 2 * GI}


def test_the_views_go_stale_on_the_caches_clock() -> None:
    # What test_webhook.py's onStaleCache tests wait out in real time (a stopped API server), on a clock we move.
    now = 100.0
    cache = NodeViewCache(no_api, parse_policy({"maxCacheAgeSeconds": 2}), clock=lambda: now)
    assert cache.views() is None and cache.age() == float("inf")  # nothing heard yet
    cache.nodes.replace([node("n1", "16Gi", {})])
    assert [v.name for v in cache.views() or []] == ["n1"] and cache.age() == 0.0
    now += 2.0
    assert cache.views() is not None  # as old as the policy allows: still trusted
    now += 0.5
    assert cache.views() is None and cache.describe() == "synced: 1 nodes, heard 2.5s ago"
    cache.nodes.replace([node("n1", "16Gi", {})])  # the API server answered again
    assert cache.views() is not None and cache.age() == 0.0


def test_changes_arrive_through_the_watch_without_listing_again(sim_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import DATA
    from kubectl_perf.api import Cluster, Connection

    sim = sim_factory("--objects", str(DATA / "cluster.yaml"))
    lists = 0
    original = cache_module.Feed._list

    def counting(self: Any, *args: Any) -> str:
        nonlocal lists
        lists += 1
        return original(self, *args)

    monkeypatch.setattr(cache_module.Feed, "_list", counting)
    cache = NodeViewCache(lambda: Cluster(Connection(str(sim.kubeconfig))), parse_policy({}))
    cache.start()
    try:
        assert cache.nodes.synced.wait(15)
        time.sleep(1)  # the watch is open
        new = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-watched"}, "status": {"allocatable": {"memory": "8Gi"}}}
        assert sim.request("/api/v1/nodes", "POST", new)[0] == 201
        deadline = time.monotonic() + 15
        while "node-watched" not in {v.name for v in cache.views() or []}:
            assert time.monotonic() < deadline, "the new node never arrived"
            time.sleep(0.1)
        assert lists == 1 and cache.nodes.error == ""  # it came by the watch, not by listing again
    finally:
        cache.stop()


def test_node_status_updates_keep_the_views_and_label_changes_rebuild_them() -> None:
    # Kubelets update node status all the time (conditions, images, heartbeats); rebuilding
    # thousands of views for each would cost every review behind it.
    cache = NodeViewCache(no_api, parse_policy({}), clock=lambda: 5.0)
    cache.nodes.replace([node("n1", "16Gi", {"pool": "io"}), node("n2", "8Gi", {"pool": "io"})])
    before = cache.views()
    heartbeat = node("n1", "16Gi", {"pool": "io"})
    heartbeat["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-11-28T08:00:00Z"}]
    cache._node_event("MODIFIED", heartbeat)
    assert cache.views() is before
    cache._node_event("MODIFIED", node("n1", "16Gi", {"pool": "general"}))
    after = cache.views()
    assert after is not before and {v.name: v.labels["pool"] for v in after or []} == {"n1": "general", "n2": "io"}
    cache._node_event("MODIFIED", node("n2", "32Gi", {"pool": "io"}))  # allocatable moved: the largest budget comes first
    assert [(v.name, v.memory) for v in cache.views() or []] == [("n2", 32 * GI), ("n1", 16 * GI)]


def test_groupings_stay_bounded_under_crafted_label_keys() -> None:
    """Issue 27 availability 5: views_for kept one grouping per distinct set of node-label keys a
    pod mentions, forever. 1,000 reviews through the app, each with a nodeSelector key of its own,
    over 100 nodes of two pools: at most MAX_GROUPINGS kept (before: 1,000). A key that tells every
    node apart (kubernetes.io/hostname) does not shrink the list, so it is not kept at all."""
    from perf_webhook.app import create_app
    from webhook_helpers import pod, review

    policy = parse_policy({})
    cache = NodeViewCache(no_api, policy, clock=lambda: 5.0)
    cache.nodes.replace(node(f"n{i}", "16Gi", {"node-pool": "a" if i % 2 else "b", "kubernetes.io/hostname": f"n{i}"}) for i in range(100))
    client = create_app(policy, cache).test_client()
    for i in range(1000):
        body = review(pod(nodeSelector={f"crafted.example/k{i}": "x"}), uid=f"u{i}")
        assert client.post("/validate", json=body).status_code == 200
    assert len(cache._grouped) == 32  # cache.MAX_GROUPINGS
    cache._grouped.clear()
    for i in range(20):
        body = review(pod(nodeSelector={"kubernetes.io/hostname": f"n{i}"}), uid=f"h{i}")
        assert client.post("/validate", json=body).json["response"]["allowed"] is True  # 1Gi fits n{i}'s 12Gi
    assert len(cache._grouped) == 0


def test_readiness_fails_once_the_synced_cache_is_older_than_max_cache_age() -> None:
    """Issue 27 availability 8: /readyz stayed green while a silent feed left the cache stale for
    minutes (every oversized pod admitted with a warning). maxCacheAgeSeconds 60: ready at 60 s of
    silence, not ready at 61 s, ready again once the feed hears from the API server."""
    from perf_webhook.app import create_app

    now = [100.0]
    policy = parse_policy({"maxCacheAgeSeconds": 60})
    cache = NodeViewCache(no_api, policy, clock=lambda: now[0])
    client = create_app(policy, cache).test_client()
    assert client.get("/readyz").status_code == 200  # not synced yet: ready, padding follows onStaleCache
    cache.nodes.replace([node("n1", "16Gi", {})])
    now[0] = 160.0
    assert client.get("/readyz").status_code == 200
    now[0] = 161.0
    stale = client.get("/readyz")
    assert stale.status_code == 503 and "61s ago" in stale.text, stale.text
    cache.nodes.heard = now[0]  # the watch delivered something
    assert client.get("/readyz").status_code == 200


def test_node_label_churn_rebuilds_nothing_and_drops_only_the_groupings_that_read_a_changed_key() -> None:
    """Issue 27 availability 10: 50 label changes a second cut review throughput 10x, each one
    rebuilding every view and every grouping. 300 nodes: pool big (64Gi: budget 48Gi) and small
    (8Gi: 6Gi). A 40Gi pod for pool big is allowed: it fits every big node (48Gi >= 40Gi)."""
    from perf_webhook.app import create_app
    from webhook_helpers import pod, review

    policy = parse_policy({"padding": {"memory": 0.75}})
    cache = NodeViewCache(no_api, policy, clock=lambda: 5.0)

    def labelled(i: int, pool: str, **extra: str) -> dict[str, Any]:
        return node(f"n{i}", "64Gi" if pool == "big" else "8Gi", {"pool": pool, "kubernetes.io/hostname": f"n{i}", **extra})

    pools = {i: "big" if i % 3 == 0 else "small" for i in range(300)}
    cache.nodes.replace(labelled(i, p) for i, p in pools.items())
    client = create_app(policy, cache).test_client()

    def allowed(spec: dict[str, Any], uid: str) -> bool:
        answer = client.post("/validate", json=review(pod(memory_limit="40Gi", **spec), uid=uid)).json
        return bool(answer["response"]["allowed"])

    big = {"nodeSelector": {"pool": "big"}}
    zone = {"nodeSelector": {"topology.kubernetes.io/zone": "z9"}}
    assert allowed(big, "first") and (cache.rebuilds, cache.regroupings) == (1, 1)
    for tick in range(50):  # a second of churn on a key no pod reads, a review after each change
        cache._node_event("MODIFIED", labelled(tick, pools[tick], **{"churn.example/heartbeat": str(tick)}))
        assert allowed(big, f"churn{tick}")
    assert (cache.rebuilds, cache.regroupings) == (1, 1)  # before: 51 rebuilds and 51 groupings
    assert cache._nodes["n7"].labels["churn.example/heartbeat"] == "7"
    assert {"churn.example/heartbeat": "7"}.items() <= next(v for v in cache.views() or [] if v.name == "n7").labels.items()

    # A change of a key the grouping reads drops that grouping: small n1 joins pool big, and the
    # 40Gi pod must now fit its 6Gi budget too (eligibleNodes: every), so it is denied.
    cache._node_event("MODIFIED", node("n1", "8Gi", {"pool": "big", "kubernetes.io/hostname": "n1"}))
    assert not allowed(big, "after-relabel") and (cache.rebuilds, cache.regroupings) == (1, 2)
    # A key no grouping had read yet is seen by the next one: only n2 is in zone z9 (8Gi: 6Gi < 40Gi).
    cache._node_event("MODIFIED", labelled(2, "small", **{"topology.kubernetes.io/zone": "z9"}))
    assert not allowed(zone, "zone") and cache.rebuilds == 1
    # Anything but labels (allocatable here) rebuilds, as before.
    cache._node_event("MODIFIED", node("n2", "128Gi", {"pool": "small", "topology.kubernetes.io/zone": "z9"}))
    assert allowed(zone, "zone-after-resize") and cache.rebuilds == 2
