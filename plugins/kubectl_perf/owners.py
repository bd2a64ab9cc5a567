"""Which workload a pod belongs to: Pod -> ReplicaSet -> Deployment and
Pod -> Job -> CronJob. Pure: the one resolver images/ and audit/ share, so they
name every workload alike.

Owner references first: the pod's controller reference, then that controller's
own (from the ReplicaSets and Jobs the caller listed: `owner_index`). Only where a
controller was not listed (the list was forbidden, or it is gone) do the
controllers' naming conventions answer, and then as a guess (`guess=True`,
printed `CronJob?/ml/trainer`): Jobs named `trainer-29000214` may be a CronJob's
or made by hand. Conventions (kubernetes pkg/controller): a Deployment names its
ReplicaSets `<deployment>-<pod-template-hash>` and stamps the hash on their pods
as the `pod-template-hash` label; a CronJob names its Jobs `<cronjob>-<scheduled
time in minutes since the epoch>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

_CRONJOB_JOB = re.compile(r"^(.+)-(\d{8,})$")  # minutes since 1970 have had 8 digits since 1989


class Workload(NamedTuple):
    kind: str  # Deployment, ReplicaSet, StatefulSet, DaemonSet, CronJob, Job, ReplicationController, Node, Pod, ...
    namespace: str
    name: str
    guess: bool = False  # from a naming convention, not an owner reference

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "namespace": self.namespace, "name": self.name}
        if self.guess:
            out["guessed"] = True
        return out

    def text(self) -> str:
        """Kind/namespace/name (Kind?/... when guessed from names); a static pod (owned by its
        Node, the kubelet's mirror pod) is `static pod on NODE`."""
        if self.kind == "Node":
            return f"static pod on {self.name}"
        kind = f"{self.kind}?" if self.guess else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


# (kind, namespace, name) of a controller the caller has listed -> that controller's own
# controller reference, or None when it has none (a ReplicaSet made by hand).
Owners = Mapping[tuple[str, str, str], "Mapping[str, Any] | None"]


def controller_ref(metadata: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The reference with controller: true; failing that, the only reference there is."""
    refs = metadata.get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return refs[0] if len(refs) == 1 else None


def owner_index(replicasets: Iterable[Mapping[str, Any]], jobs: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], Any]:
    """(kind, namespace, name) of each ReplicaSet and Job -> its own controller reference (or None)."""
    index: dict[tuple[str, str, str], Any] = {}
    for kind, items in (("ReplicaSet", replicasets), ("Job", jobs)):
        for item in items:
            meta = item.get("metadata") or {}
            index[(kind, str(meta.get("namespace", "")), str(meta.get("name", "")))] = controller_ref(meta)
    return index


def workload_of(metadata: Mapping[str, Any], owners: Owners | None = None) -> Workload:
    """The top-level workload of a pod, given its metadata.

    `owners` maps controllers the caller has listed (`owner_index`) to their own
    controller reference; it wins. A controller it does not hold is resolved by the
    naming conventions, marked as a guess. A pod without a controller is its own
    workload (kind Pod)."""
    namespace = str(metadata.get("namespace") or "")
    ref = controller_ref(metadata)
    if ref is None:
        return Workload("Pod", namespace, str(metadata.get("name") or ""))
    kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
    if owners is not None and (kind, namespace, name) in owners:
        parent = owners[(kind, namespace, name)]
        if parent is not None:
            return Workload(str(parent.get("kind") or ""), namespace, str(parent.get("name") or ""))
        return Workload(kind, namespace, name)
    if kind == "ReplicaSet":
        labels = metadata.get("labels") or {}
        template_hash = labels.get("pod-template-hash") or ""
        if template_hash and name.endswith(f"-{template_hash}") and len(name) > len(template_hash) + 1:
            return Workload("Deployment", namespace, name[: -len(template_hash) - 1], guess=True)
    elif kind == "Job":
        match = _CRONJOB_JOB.match(name)
        if match:
            return Workload("CronJob", namespace, match.group(1), guess=True)
    return Workload(kind, namespace, name)


WorkloadOf = Callable[[Mapping[str, Any], "Owners | None"], Workload]  # workload_of, or one that remembers


class RememberedWorkloads:
    """workload_of once per pod metadata object. The report's audit and images sections fold the same
    decoded pods (report/shared.py holds them for the run) and each resolved every pod's workload again.
    Both resolve with an owner index of every ReplicaSet and Job in the cluster, read from the one
    shared list, so the answer does not depend on whose index asks first. Keyed by the object (its id,
    with the object kept: a freed object's id can be another's)."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[Mapping[str, Any], Workload]] = {}

    def __call__(self, metadata: Mapping[str, Any], owners: Owners | None = None) -> Workload:
        known = self._known.get(id(metadata))
        if known is not None and known[0] is metadata:
            return known[1]
        value = workload_of(metadata, owners)
        self._known[id(metadata)] = (metadata, value)  # two threads may both resolve one: the same answer
        return value
