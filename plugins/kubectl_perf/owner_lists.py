"""The read owners.py resolves pods with: each ReplicaSet's and Job's own controller reference
(owners.owner_index), listed page by page, so a pod's workload is its Deployment (or Rollout) and
CronJob by owner references instead of a guess from names. images and volumes read it here.

A list that is forbidden is a note: the workloads of that kind's pods are then guessed from names
(marked `?`); a group the API server does not serve (404) has none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .api import DEFAULT_CHUNK_SIZE, ApiError, Cluster
from .owners import owner_index

OWNER_LISTS = (("ReplicaSet", "/apis/apps/v1"), ("Job", "/apis/batch/v1"))
Index = dict[tuple[str, str, str], Any]


def _indexing(kind: str) -> Callable[[Index, list[dict[str, Any]]], None]:
    """A fold step: one page of `kind` into the index (nothing else of the objects is kept)."""

    def add(index: Index, items: list[dict[str, Any]]) -> None:
        index.update(owner_index(items, ()) if kind == "ReplicaSet" else owner_index((), items))

    return add


def read_owners(cluster: Cluster, namespace: str | None, notes: list[str], chunk_size: int = DEFAULT_CHUNK_SIZE) -> Index:
    """(kind, namespace, name) of each ReplicaSet and Job in scope -> its own controller reference."""
    scope = f"/namespaces/{namespace}" if namespace else ""
    index: Index = {}
    for kind, group in OWNER_LISTS:
        try:
            listed: Index = cluster.fold(f"{group}{scope}/{kind.lower()}s", dict, _indexing(kind), limit=chunk_size)
        except ApiError as err:
            if err.status not in (403, 404):
                raise
            if err.status == 403:
                notes.append(f"cannot list {kind}s (forbidden): the workloads of their pods are guessed from names (marked ?)")
        else:
            index.update(listed)
    return index
