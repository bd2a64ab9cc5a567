"""What the webhook tells whom (issue 27 operations 15): /healthz?verbose gives node counts and feed
errors (which name the API server's address) only to a caller on loopback (kubectl port-forward or
exec, which the API server's RBAC admits); a kubelet probe or any other caller on the network gets
the cache's state alone. Denials naming pools, not nodes, are in test_review_rules.py."""

from __future__ import annotations

from kubectl_perf.policy_file import parse_policy
from perf_webhook.app import create_app
from perf_webhook.cache import NodeViewCache
from review_helpers import POLICY, fixture_nodes


def no_api() -> None:
    raise AssertionError("in-process: the cache is fed by hand")


def app_with(error: str = "", synced: bool = True) -> NodeViewCache:
    cache = NodeViewCache(no_api, parse_policy(POLICY), clock=lambda: 1000.0)  # type: ignore[arg-type]
    if synced:
        cache.nodes.replace(fixture_nodes())
    cache.nodes.error = error
    return cache


def healthz(cache: NodeViewCache, remote: str) -> str:
    client = create_app(parse_policy(POLICY), cache).test_client()
    resp = client.get("/healthz?verbose", environ_base={"REMOTE_ADDR": remote})
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_verbose_health_details_only_on_loopback() -> None:
    cache = app_with()
    assert healthz(cache, "127.0.0.1").startswith("[+]serving ok\n[+]node-cache synced: 3 nodes, heard 0.0s ago\n")
    assert healthz(cache, "::1").startswith("[+]serving ok\n[+]node-cache synced: 3 nodes")
    assert healthz(cache, "10.0.3.7") == "[+]serving ok\n[+]node-cache synced\nhealthz check passed\n"


def test_feed_errors_are_not_told_to_the_network() -> None:
    cache = app_with("connection to https://10.96.0.1:443 refused", synced=False)
    assert "10.96.0.1" in healthz(cache, "127.0.0.1")
    assert healthz(cache, "10.0.3.7") == "[+]serving ok\n[+]node-cache not synced\nhealthz check passed\n"
    assert healthz(cache, "::ffff:10.0.3.7") == "[+]serving ok\n[+]node-cache not synced\nhealthz check passed\n"
