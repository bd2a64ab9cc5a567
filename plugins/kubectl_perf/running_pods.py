"""The one read several plugins share: every pod not finished, page by page.

The field selector leaves Succeeded and Failed pods out on the API server (they hold
nothing); a user who may list pods in one namespace only is told to use -n."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .api import ApiError, Cluster, path_for

A = TypeVar("A")

# Finished pods hold nothing; the API server leaves them out for us.
RUNNING_PODS = "status.phase!=Succeeded,status.phase!=Failed"


def with_running_pods(
    cluster: Cluster, namespace: str | None, selector: str | None, chunk_size: int, use: Callable[[Iterable[list[dict[str, Any]]]], A]
) -> A:
    """use(pages of pods) once the list is under way; the API layer relists (and calls
    use afresh) when the list expires mid-way."""
    query = {"labelSelector": selector, "fieldSelector": RUNNING_PODS}
    try:
        return cluster.consume(path_for("pods", namespace), use, query, limit=chunk_size)
    except ApiError as err:
        if err.status == 403 and not namespace and cluster.takes_namespace:
            raise ApiError(f"{err}; you may list pods in one namespace only: try -n NAMESPACE", 403) from None
        raise
