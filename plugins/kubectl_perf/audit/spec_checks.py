"""Checks on one pod spec (a workload's template or a bare pod's spec): memory limits
and local storage. Pure: a spec dict in, an Outcome out;
compute.py names the workload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import all_containers
from .outcome import Outcome

Spec = Mapping[str, Any]


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _resource_names(container: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    res = container.get("resources") or {}
    return set(res.get("requests") or {}), set(res.get("limits") or {})


def memory_limit(spec: Spec) -> Outcome:
    """Containers (init and sidecars too) without a memory limit; a pod-level limit bounds them all."""
    if "memory" in ((spec.get("resources") or {}).get("limits") or {}):
        return Outcome("pass", "a pod-level memory limit bounds every container")
    missing = [str(c.get("name", "?")) for _kind, c in all_containers(spec) if "memory" not in _resource_names(c)[1]]
    if missing:
        return Outcome(
            "warn",
            f"container(s) {_names(missing)} have no memory limit: they may grow past any padding target, "
            "and the padding need is judged on their request",
            {"containers": ",".join(missing)},
        )
    return Outcome("pass", "every container has a memory limit")


def _empty_dirs(spec: Spec) -> dict[str, Mapping[str, Any]]:
    return {str(v.get("name")): v["emptyDir"] or {} for v in spec.get("volumes") or () if "emptyDir" in v}


def emptydir_size_limit(spec: Spec) -> Outcome:
    """emptyDir volumes without sizeLimit: fail for medium Memory (it counts against the memory limit)."""
    unbounded = {name: ed for name, ed in _empty_dirs(spec).items() if not ed.get("sizeLimit")}
    if not unbounded:
        return Outcome("pass", "every emptyDir has a sizeLimit")
    in_memory = sorted(n for n, ed in unbounded.items() if ed.get("medium") == "Memory")
    on_disk = sorted(n for n, ed in unbounded.items() if ed.get("medium") != "Memory")
    parts = []
    if in_memory:
        parts.append(f"memory-backed emptyDir {_names(in_memory)} has no sizeLimit: what it holds counts against the memory limit")
    if on_disk:
        parts.append(f"emptyDir {_names(on_disk)} has no sizeLimit: it can fill the node's disk")
    return Outcome("fail" if in_memory else "warn", "; ".join(parts), {"volumes": ",".join(sorted(unbounded))})


def ephemeral_storage_requests(spec: Spec) -> Outcome:
    """Containers that mount a disk-backed emptyDir read-write without an ephemeral-storage request (a limit counts).

    A writable root filesystem alone does not warn: nearly every container has one and most write little
    there (logs go to stdout), so warning on it made this check most of an audit's warnings and hid the
    workloads that declare scratch space on node disk, the ones whose writes the scheduler should count."""
    disk_dirs = {n for n, ed in _empty_dirs(spec).items() if ed.get("medium") != "Memory"}
    writers = []
    for _kind, c in all_containers(spec):
        requests, limits = _resource_names(c)
        if "ephemeral-storage" in requests or "ephemeral-storage" in limits:
            continue
        if any(m.get("name") in disk_dirs and not m.get("readOnly") for m in c.get("volumeMounts") or ()):
            writers.append(str(c.get("name", "?")))
    if writers:
        return Outcome(
            "warn",
            f"container(s) {_names(writers)} write to a disk-backed emptyDir without an ephemeral-storage request: "
            "the scheduler cannot place them by disk, and the kubelet evicts them first under disk pressure",
            {"containers": ",".join(writers)},
        )
    return Outcome("pass", "every container that writes to an emptyDir on node disk requests ephemeral-storage")
