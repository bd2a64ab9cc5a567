"""What a controller's pods get at admission that its template does not say (issue 27 bypass 4):
LimitRange defaults (the LimitRanger plugin), RuntimeClass overhead and scheduling (the
RuntimeClass plugin), and the DaemonSet controller's own tolerations. A template is judged as the
pod it will make, so its verdict equals its pods' verdict. Pods themselves need none of this:
mutating admission has run before a validating webhook sees them.

`as_admitted` is pure; `AdmissionDefaults` keeps the LimitRanges and RuntimeClasses it reads
fresh with the node cache's list-and-watch Feed, and says nothing until both have listed."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # review.py imports as_admitted: the pure part must not pull in the API client
    from kubectl_perf.api import Cluster

    from .cache import Feed

Obj = Mapping[str, Any]

# The DaemonSet controller adds these to every pod it makes (k8s.io/kubernetes pkg/controller/daemon/util
# AddOrUpdateDaemonPodTolerations): a daemon keeps running through node conditions that taint a
# node, so nodes carrying those taints are nodes its pods run on and must fit.
DAEMONSET_TOLERATIONS: tuple[tuple[str, str], ...] = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")  # only for hostNetwork daemons


def as_admitted(spec: Obj, kind: str, limit_ranges: Sequence[Obj] = (), runtime_class: Obj | None = None) -> Obj:
    """The pod spec a `kind` controller's template becomes once its pod is admitted: LimitRange
    defaults on containers and init containers (a request defaults from its own limit first, as
    the API server's decoding does, then the LimitRange's default limit and default request fill
    what is missing, the namespace's LimitRanges in order), the RuntimeClass's overhead and
    scheduling, and for a DaemonSet the controller's tolerations."""
    if not limit_ranges and runtime_class is None and kind != "DaemonSet":
        return spec  # nothing to add: no copy (every template review comes here)
    out = copy.deepcopy(dict(spec))
    defaults = [item for lr in limit_ranges for item in ((lr.get("spec") or {}).get("limits") or ()) if item.get("type") == "Container"]
    for field in ("containers", "initContainers"):  # not ephemeral containers: LimitRanger leaves them alone
        for container in out.get(field) or ():
            resources = container.setdefault("resources", {})
            limits, requests = dict(resources.get("limits") or {}), dict(resources.get("requests") or {})
            for name, amount in limits.items():
                requests.setdefault(name, amount)
            for item in defaults:
                for name, amount in (item.get("default") or {}).items():
                    limits.setdefault(name, amount)
                for name, amount in (item.get("defaultRequest") or {}).items():
                    requests.setdefault(name, amount)
            if limits:
                resources["limits"] = limits
            if requests:
                resources["requests"] = requests
    if runtime_class is not None:
        fixed = (runtime_class.get("overhead") or {}).get("podFixed")
        if fixed and not out.get("overhead"):
            out["overhead"] = dict(fixed)
        scheduling = runtime_class.get("scheduling") or {}
        if scheduling.get("nodeSelector"):
            out["nodeSelector"] = {**scheduling["nodeSelector"], **(out.get("nodeSelector") or {})}
        if scheduling.get("tolerations"):
            out["tolerations"] = [*(out.get("tolerations") or ()), *scheduling["tolerations"]]
    if kind == "DaemonSet":
        added = [*DAEMONSET_TOLERATIONS, *((HOST_NETWORK_TOLERATION,) if spec.get("hostNetwork") else ())]
        out["tolerations"] = [*(out.get("tolerations") or ()), *({"key": k, "operator": "Exists", "effect": e} for k, e in added)]
    return out


class AdmissionDefaults:
    """The LimitRanges (by namespace) and RuntimeClasses (by name) templates are completed with."""

    def __init__(self, connect: Callable[[], Cluster], clock: Callable[[], float] = time.monotonic) -> None:
        from .cache import Feed

        self._limit_ranges: dict[str, dict[str, Obj]] = {}  # namespace -> name -> LimitRange
        self._runtime_classes: dict[str, Obj] = {}
        self.limit_ranges = Feed("/api/v1/limitranges", connect, self._relist_limit_ranges, self._limit_range_event, clock)
        self.runtime_classes = Feed(
            "/apis/node.k8s.io/v1/runtimeclasses", connect, self._relist_runtime_classes, self._runtime_class_event, clock
        )

    @property
    def feeds(self) -> list[Feed]:
        return [self.limit_ranges, self.runtime_classes]

    def start(self) -> None:
        for feed in self.feeds:
            feed.start()

    def stop(self) -> None:
        for feed in self.feeds:
            feed.stop()

    def synced(self) -> bool:
        return all(f.synced.is_set() for f in self.feeds)

    def apply(self, spec: Obj, kind: str, namespace: str) -> Obj:
        """`spec` as its pods will be admitted (as_admitted), for a template; a Pod as it is."""
        if kind == "Pod":
            return spec
        ranges = [self._limit_ranges.get(namespace, {})[name] for name in sorted(self._limit_ranges.get(namespace, {}))]
        name = spec.get("runtimeClassName")
        runtime_class = self._runtime_classes.get(name) if isinstance(name, str) else None
        if not ranges and runtime_class is None and kind != "DaemonSet":
            return spec
        return as_admitted(spec, kind, ranges, runtime_class)

    # -- feeds ------------------------------------------------------------------
    @staticmethod
    def _key(obj: Obj) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return str(meta.get("namespace") or ""), str(meta.get("name") or "")

    def _relist_limit_ranges(self, items: Iterator[dict[str, Any]]) -> None:
        fresh: dict[str, dict[str, Obj]] = {}
        for lr in items:
            namespace, name = self._key(lr)
            fresh.setdefault(namespace, {})[name] = {"spec": lr.get("spec") or {}}
        self._limit_ranges = fresh  # one attribute write: readers see the old map or the new one

    def _limit_range_event(self, kind: str, lr: dict[str, Any]) -> None:
        namespace, name = self._key(lr)
        ranges = dict(self._limit_ranges.get(namespace, {}))
        if kind == "DELETED":
            ranges.pop(name, None)
        else:
            ranges[name] = {"spec": lr.get("spec") or {}}
        self._limit_ranges = {**self._limit_ranges, namespace: ranges}

    def _relist_runtime_classes(self, items: Iterator[dict[str, Any]]) -> None:
        self._runtime_classes = {self._key(rc)[1]: _runtime_class(rc) for rc in items}

    def _runtime_class_event(self, kind: str, rc: dict[str, Any]) -> None:
        classes = dict(self._runtime_classes)
        if kind == "DELETED":
            classes.pop(self._key(rc)[1], None)
        else:
            classes[self._key(rc)[1]] = _runtime_class(rc)
        self._runtime_classes = classes


def _runtime_class(rc: Obj) -> Obj:
    return {"overhead": rc.get("overhead") or {}, "scheduling": rc.get("scheduling") or {}}
