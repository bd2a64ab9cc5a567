"""Which workload a pod belongs to: Pod -> ReplicaSet -> Deployment and
Pod -> Job -> CronJob, from owner references and the controllers' naming
conventions, without API calls where the pod says enough. Pure: used by
images/ and audit/.

Conventions (kubernetes pkg/controller): a Deployment names its ReplicaSets
`<deployment>-<pod-template-hash>` and stamps the hash on their pods as the
`pod-template-hash` label; a CronJob names its Jobs `<cronjob>-<scheduled time
in minutes since the epoch>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

_CRONJOB_JOB = re.compile(r"^(.+)-(\d{8,})$")  # minutes since 1970 have had 8 digits since 1989


class Workload(NamedTuple):
    kind: str  # Deployment, ReplicaSet, StatefulSet, DaemonSet, CronJob, Job, ReplicationController, Node, Pod, ...
    namespace: str
    name: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}

    def text(self) -> str:
        """Kind/namespace/name, or Kind/name when cluster-scoped (a Node)."""
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


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


def workload_of(metadata: Mapping[str, Any], owners: Owners | None = None) -> Workload:
    """The top-level workload of a pod, given its metadata.

    `owners` (optional) maps controllers the caller has listed to their own
    controller reference; it wins over the naming conventions when it knows the
    controller. A pod without a controller is its own workload (kind Pod)."""
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
            return Workload("Deployment", namespace, name[: -len(template_hash) - 1])
    elif kind == "Job":
        match = _CRONJOB_JOB.match(name)
        if match:
            return Workload("CronJob", namespace, match.group(1))
    return Workload(kind, namespace, name)
