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
