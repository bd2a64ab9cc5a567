"""report/shared.py: sections that run at once share one read of a list. A section asking for a list
another is still reading follows its pages as they arrive (no second request); the reader's refusal
is every follower's; a reader that stops part-way hands its followers a fresh list (consume relists)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubectl_perf import api
from kubectl_perf.report.shared import SharedCluster

PAGES = [{"items": [{"n": i * 10 + j} for j in range(10)]} for i in range(5)]


class Server:
    """Cluster.pages standing in for the API server: slow pages, counted lists, an optional 403."""

    def __init__(self, refuse: bool = False) -> None:
        self.lists = 0
        self.refuse = refuse

    def pages(self, _cluster: Any, path: str, query: Any = None, limit: int = 500) -> Iterator[dict[str, Any]]:
        self.lists += 1
        if self.refuse:
            raise api.ApiError("pods is forbidden", 403, "Forbidden")
        for page in PAGES:
            time.sleep(0.01)
            yield page


def shared(monkeypatch: pytest.MonkeyPatch, server: Server) -> SharedCluster:
    monkeypatch.setattr(api.Cluster, "pages", server.pages)
    cluster = SharedCluster.__new__(SharedCluster)
    SharedCluster.__init__(cluster, cluster)  # no connection: only pages() is exercised
    return cluster


def count(cluster: SharedCluster) -> int:
    folded: list[int] = cluster.fold("/api/v1/pods", list, lambda acc, items: acc.extend(i["n"] for i in items))
    return len(folded)


def test_sections_at_once_share_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server()
    cluster = shared(monkeypatch, server)
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(count(cluster))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == [50, 50, 50] and server.lists == 1 and cluster.requests == 1
    assert count(cluster) == 50 and server.lists == 1  # and a later section reads the kept pages


def test_a_refusal_is_every_followers(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server(refuse=True)
    cluster = shared(monkeypatch, server)
    for _ in range(2):
        with pytest.raises(api.ApiError, match="forbidden"):
            count(cluster)
    assert server.lists == 1  # asked once


def test_a_reader_that_stops_hands_its_followers_a_fresh_list(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server()
    cluster = shared(monkeypatch, server)
    reader = cluster.pages("/api/v1/pods")
    next(reader)  # the reader's section read one page, then failed on its own
    got: list[int] = []
    follower = threading.Thread(target=lambda: got.append(count(cluster)))
    follower.start()
    time.sleep(0.05)  # the follower waits on the reader's next page
    reader.close()
    follower.join(10)
    assert got == [50] and server.lists == 2  # Expired: consume listed again, the follower as the reader


def test_a_kubelet_sample_is_taken_once_for_the_sections_that_ask_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """capacity and audit both fall back to the kubelets without metrics-server: one 15 s sample, not two."""
    cluster = shared(monkeypatch, Server())
    made: list[int] = []

    def sample() -> str:
        made.append(1)
        time.sleep(0.05)  # the window: the second section asks meanwhile
        return "usage"

    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(cluster.remember(("kubelet-usage", ("n1",)), sample))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == ["usage", "usage"] and made == [1]
    assert api.Cluster.remember(cluster, ("k",), sample) == "usage" and made == [1, 1]  # a plain Cluster reads afresh


class PodServer(Server):
    """Two pages of pods, some on nodes n0..n2 and some bound to none, narrowed by spec.nodeName as the API
    server does; each list is logged with its field selector."""

    PODS = [{"metadata": {"name": f"p{i}"}, "spec": {"nodeName": f"n{i % 3}"} if i % 5 else {}} for i in range(20)]

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[Any] = []

    def pages(self, path: str, query: Any = None, limit: int = 500) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        # set on Cluster as a bound method (shared()): called without the cluster
        self.lists += 1
        selector = (query or {}).get("fieldSelector") or ""
        self.asked.append(selector)
        first = selector.split(",")[0]
        node = first.removeprefix("spec.nodeName=") if first.startswith("spec.nodeName=") else None
        for page in (self.PODS[:10], self.PODS[10:]):  # as the API server narrows it: by spec.nodeName
            yield {"items": [p for p in page if node is None or p["spec"].get("nodeName", "") == node]}


def test_cadvisor_walks_the_pod_list_held_rather_than_asking_node_by_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """cadvisor's specs_on asks a few nodes' pods one by one (fieldSelector spec.nodeName=N,REST: the API
    server's watch cache indexes pods by node); the report's SharedCluster holds the whole list of REST
    once read, and a walk of it answers with no request, whatever the number of nodes."""
    from kubectl_perf.cadvisor.compute import Notes
    from kubectl_perf.cadvisor.fetch import specs_on

    rest = "status.phase!=Succeeded,status.phase!=Failed"
    # by hand: n1 holds p{i} with i % 3 == 1 and i % 5 != 0, n2 those with i % 3 == 2; n7 none
    on_n1 = {"p1", "p4", "p7", "p13", "p16", "p19"}
    on_n2 = {"p2", "p8", "p11", "p14", "p17"}

    def pods(chosen: Any) -> set[str]:
        return {name for _ns, name in chosen.pods}

    alone = PodServer()
    monkeypatch.setattr(api.Cluster, "pages", lambda _c, path, query=None, limit=500: alone.pages(path, query, limit))
    plain = api.Cluster.__new__(api.Cluster)
    assert pods(specs_on(plain, ["n1", "n7"], 500, Notes())) == on_n1
    assert alone.asked == [f"spec.nodeName=n1,{rest}", f"spec.nodeName=n7,{rest}"]  # a plugin alone: node by node

    server = PodServer()
    cluster = shared(monkeypatch, server)
    monkeypatch.setattr(api.Cluster, "pages", lambda _c, path, query=None, limit=500: server.pages(path, query, limit))
    assert len(cluster.fold("/api/v1/pods", list, lambda acc, page: acc.extend(page), {"fieldSelector": rest})) == 20
    assert pods(specs_on(cluster, ["n1", "n7"], 500, Notes())) == on_n1
    assert pods(specs_on(cluster, ["n1", "n2"], 500, Notes())) == on_n1 | on_n2
    assert server.asked == [rest]  # the list held, walked
    assert cluster.whole_lists_held and not api.Cluster.whole_lists_held


def test_a_get_asked_at_once_is_sent_once_and_a_passing_failure_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """capacity and the early scrapes' guess ask for the node metrics at once: one request. A refusal is
    every later section's answer too; a failure that may pass (a 500) is asked again."""
    sent: list[str] = []
    answers: dict[str, list[Any]] = {
        "/m": ["figures"],
        "/down": [api.ApiError("boom", 500), "up"],
        "/refused": [api.ApiError("no", 403)] * 2,
    }

    def get(path: str, query: Any = None, timeout: Any = None) -> Any:
        sent.append(path)
        time.sleep(0.05)  # the window: the other sections ask meanwhile
        answer = answers[path].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cluster = shared(monkeypatch, Server())
    monkeypatch.setattr(api.Cluster, "get", staticmethod(get))
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(cluster.get("/m"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == ["figures"] * 3 and sent == ["/m"] and cluster.requests == 1
    with pytest.raises(api.ApiError, match="boom"):
        cluster.get("/down")
    assert cluster.get("/down") == "up" and sent.count("/down") == 2
    for _ in range(2):
        with pytest.raises(api.ApiError, match="no"):
            cluster.get("/refused")
    assert sent.count("/refused") == 1
