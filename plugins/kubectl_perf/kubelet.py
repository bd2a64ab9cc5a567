"""The kubelet's endpoints as the API server's node proxy serves them
(GET /api/v1/nodes/NODE/proxy/...): their paths, and the one line a user sees when
a node cannot be read. Used by cadvisor (metrics, summaries), capacity (ephemeral-storage) and volumes (summaries, configz)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import quote

from .api import TIMEOUT, ApiError

T = TypeVar("T")

# Seconds for one node's read (a request through the node proxy): a kubelet that does not answer
# must not hold the table, while a busy node's dump or summary still arrives.
NODE_TIMEOUT = 10.0
CONCURRENCY = 16  # nodes read at once: enough to hide latency, few enough to spare the API server

PATHS = {
    "cadvisor": "metrics/cadvisor",
    "resource": "metrics/resource",
    "summary": "stats/summary",
    "configz": "configz",
    "metrics": "metrics",
}


class Forbidden(ApiError):
    """nodes/proxy is not granted: no node can be read."""


class NoSuchNode(ApiError):
    """The API server's own 404 Status (reason NotFound): the node does not exist (deleted since it was
    listed, or named by a pod bound to a node that is gone). A kubelet's 404 is bare text, no reason."""


def proxy_path(node: str, endpoint: str) -> str:
    return f"/api/v1/nodes/{quote(node, safe='')}/proxy/{PATHS[endpoint]}"


def node_error(node: str, err: ApiError) -> ApiError:
    """The one line a user should see for a failed node read (403: Forbidden)."""
    if err.status == 403:
        return Forbidden(
            f"reading node metrics needs the nodes/proxy permission (get on nodes/proxy; a separate RBAC grant from nodes): {err}",
            403,
        )
    if err.reason == TIMEOUT:  # the API server answers other requests: the kubelet behind its proxy did not
        waited = str(err).rsplit(": ", 1)[-1]
        return ApiError(f"node {node}: no answer through the node proxy ({waited}): the kubelet is slow or hung", 0, TIMEOUT)
    if err.status in (500, 502, 503):
        return ApiError(f"node {node}: kubelet not reachable through the API server ({err.status}): {err}", err.status)
    if err.status == 404 and err.reason == "NotFound":
        return NoSuchNode(f"node {node}: no such node (deleted?)", 404, "NotFound")
    if err.status == 404:
        return ApiError(f"node {node}: the kubelet does not serve this endpoint (404)", 404)
    return ApiError(f"node {node}: {err}", err.status)


@dataclass
class NodeReads(Generic[T]):
    """What each_node got: each read node's answer, why the others were not read, or the 403 that stopped all."""

    got: dict[str, T] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # node -> the one line a user sees
    forbidden: str = ""  # nodes/proxy is not granted: no node can be read
    gone: set[str] = field(default_factory=set)  # nodes the API server says do not exist (also in failed)


def each_node(nodes: Sequence[str], read: Callable[[str], T], concurrency: int = CONCURRENCY) -> NodeReads[T]:
    """read(node) for every node, at most `concurrency` at once. A node's ApiError is its line in
    `failed`; the first 403 stops the rest (nodes/proxy is one grant for every node). The one fan-out
    behind capacity's ephemeral-storage, the kubelet usage source and rightsize's sampling."""
    out: NodeReads[T] = NodeReads()
    lock = threading.Lock()
    stop = threading.Event()

    def one(node: str) -> None:
        if stop.is_set():
            return
        try:
            got = read(node)
        except ApiError as err:
            wrapped = node_error(node, err)
            with lock:
                if isinstance(wrapped, Forbidden):
                    stop.set()
                    out.forbidden = out.forbidden or str(err)
                else:
                    out.failed[node] = str(wrapped)
                    if isinstance(wrapped, NoSuchNode):
                        out.gone.add(node)
            return
        with lock:
            out.got[node] = got

    if nodes:
        from concurrent.futures import ThreadPoolExecutor  # here, not at import (start-up time: issue 20)

        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(nodes)))) as pool:
            list(pool.map(one, nodes))
    return out
