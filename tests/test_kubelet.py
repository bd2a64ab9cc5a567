"""kubelet.each_node, the one fan-out over nodes behind capacity's ephemeral-storage, the kubelet
usage source, rightsize's rounds and volumes: bounded concurrency, a node's error its one line, the
API server's own 404 (no such node) told from a kubelet's, and the first 403 stopping the rest."""

from __future__ import annotations

from conftest import Overlap
from kubectl_perf.api import ApiError
from kubectl_perf.kubelet import each_node


def test_each_node_reads_at_most_concurrency_at_once_and_keeps_each_answer() -> None:
    overlap = Overlap()

    def read(node: str) -> str:
        overlap.stay(0.01)
        return node.upper()

    names = [f"n{i}" for i in range(20)]
    got = each_node(names, read, concurrency=3)
    assert got.got == {n: n.upper() for n in names} and not got.failed and not got.forbidden
    assert overlap.most == 3


def test_errors_are_lines_and_the_servers_not_found_is_a_gone_node() -> None:
    def read(node: str) -> int:
        if node == "deleted":  # the API server's Status for a node that does not exist
            raise ApiError('nodes "deleted" not found', 404, "NotFound")
        if node == "old-kubelet":  # a kubelet without the endpoint: bare text, no reason
            raise ApiError("404 page not found", 404)
        if node == "down":
            raise ApiError("error trying to reach service", 503)
        return 1

    got = each_node(["ok", "deleted", "old-kubelet", "down"], read)
    assert got.got == {"ok": 1} and got.gone == {"deleted"}
    assert got.failed == {
        "deleted": "node deleted: no such node (deleted?)",
        "old-kubelet": "node old-kubelet: the kubelet does not serve this endpoint (404)",
        "down": "node down: kubelet not reachable through the API server (503): error trying to reach service",
    }


def test_the_first_403_stops_the_rest() -> None:
    calls: list[str] = []

    def read(node: str) -> int:
        calls.append(node)
        raise ApiError('nodes "n0" is forbidden: cannot get resource "nodes/proxy"', 403, "Forbidden")

    got = each_node([f"n{i}" for i in range(50)], read, concurrency=1)
    assert got.forbidden.startswith('nodes "n0" is forbidden') and not got.failed and not got.got
    assert calls == ["n0"]  # one at a time: the 403 stopped every later node


def test_a_kubelet_that_does_not_answer_is_named_as_such() -> None:
    """A read through the node proxy that timed out is the kubelet's silence (the API server answers the
    rest), not kubectl's 'Unable to connect to the server'."""
    from kubectl_perf.api import TIMEOUT

    def read(node: str) -> int:
        raise ApiError("Unable to connect to the server https://127.0.0.1:6443: waiting for an answer timed out after 10s", 0, TIMEOUT)

    got = each_node(["slow"], read)
    assert got.failed == {
        "slow": "node slow: no answer through the node proxy (waiting for an answer timed out after 10s): the kubelet is slow or hung"
    }
