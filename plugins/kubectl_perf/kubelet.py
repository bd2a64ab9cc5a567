"""The kubelet's endpoints as the API server's node proxy serves them
(GET /api/v1/nodes/NODE/proxy/...): their paths, and the one line a user sees when
a node cannot be read. Used by cadvisor (metrics, summaries), capacity (ephemeral-storage) and volumes (summaries, configz)."""

from __future__ import annotations

from urllib.parse import quote

from .api import ApiError

# Seconds for one node's read (a request through the node proxy): a kubelet that does not answer
# must not hold the table, while a busy node's dump or summary still arrives.
NODE_TIMEOUT = 10.0

PATHS = {
    "cadvisor": "metrics/cadvisor",
    "resource": "metrics/resource",
    "summary": "stats/summary",
    "configz": "configz",
    "metrics": "metrics",
}


class Forbidden(ApiError):
    """nodes/proxy is not granted: no node can be read."""


def proxy_path(node: str, endpoint: str) -> str:
    return f"/api/v1/nodes/{quote(node, safe='')}/proxy/{PATHS[endpoint]}"


def node_error(node: str, err: ApiError) -> ApiError:
    """The one line a user should see for a failed node read (403: Forbidden)."""
    if err.status == 403:
        return Forbidden(
            f"reading node metrics needs the nodes/proxy permission (get on nodes/proxy; a separate RBAC grant from nodes): {err}",
            403,
        )
    if err.status in (500, 502, 503):
        return ApiError(f"node {node}: kubelet not reachable through the API server ({err.status}): {err}", err.status)
    if err.status == 404:
        return ApiError(f"node {node}: not found, or the kubelet does not serve this endpoint (404)", 404)
    return ApiError(f"node {node}: {err}", err.status)
