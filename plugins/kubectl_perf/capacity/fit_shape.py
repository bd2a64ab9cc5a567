"""What `capacity --fit` is asked to place (issue 24 section 1), as typed data: the three ways to
name a pod shape (--fit RESOURCES, --fit-pod FILE, --fit-workload KIND/NAME), and the shape
itself once known: its effective requests and limits (model.pod_resources: init containers,
sidecars, pod-level resources and overhead included) and the spec its placement is read from.

Pure: text and plain dicts in; fit_run reads the file and the workload."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..cli import FlagError
from ..model import Resources, pod_resources
from ..quantity import NANO, QuantityError, parse_quantity

# A resource name as the API validates one (a standard name or a domain-prefixed one).
_RESOURCE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
# Unqualified names the API accepts in a container's resources (an unqualified custom name such as
# `gpu` is refused: the scheduler would ignore it and report a fit that is not there).
_STANDARD = ("cpu", "memory", "ephemeral-storage")

COUNT = "pods"  # each pod takes one of the node's pod slots (compute.ONE_POD)


class ShapeError(FlagError):
    """A shape that cannot be read; worded for the user, one line (cli.run: exit 2)."""


@dataclass(frozen=True)
class FitResources:
    """--fit cpu=500m,memory=1Gi: a pod requesting these, placed anywhere its (empty) spec allows:
    no tolerations, so tainted nodes refuse it, as they would such a pod."""

    requests: tuple[tuple[str, int], ...]  # (resource, nanos), in the order given
    text: str


@dataclass(frozen=True)
class FitPod:
    """--fit-pod FILE: the pod spec of a Pod manifest, or the pod template of a workload's."""

    spec: Mapping[str, Any]
    source: str  # what the spec came from, e.g. "Deployment web in pod.yaml"


@dataclass(frozen=True)
class FitWorkload:
    """--fit-workload KIND/NAME: a workload's pod template, read from the cluster (-n: its namespace)."""

    kind: str  # Deployment, StatefulSet, ...
    name: str
    namespace: str


FitAsk = FitResources | FitPod | FitWorkload


@dataclass(frozen=True)
class Shape:
    """The pod to place: effective requests (with its pod slot) and limits, in nanos, and the spec
    whose placement (nodeSelector, required node affinity, tolerations) the scheduler reads."""

    source: str
    requests: Resources
    limits: Resources = field(default_factory=dict)
    spec: Mapping[str, Any] = field(default_factory=dict)


def parse_fit(text: str) -> FitResources:
    """--fit's value: RESOURCE=QUANTITY pairs, comma-separated; ShapeError otherwise."""
    pairs: dict[str, int] = {}
    for term in (t.strip() for t in text.split(",")):
        if not term:
            continue
        name, eq, quantity = term.partition("=")
        name = name.strip()
        if not eq or not name or not quantity.strip():
            raise ShapeError(f"invalid --fit term {term!r}: use RESOURCE=QUANTITY, e.g. cpu=500m,memory=1Gi")
        if not _RESOURCE.match(name) or ("/" not in name and name not in _STANDARD and not name.startswith("hugepages-")):
            raise ShapeError(f"invalid resource {name!r} in --fit: use cpu, memory, ephemeral-storage, hugepages-SIZE or a domain/name")
        if name in pairs:
            raise ShapeError(f"--fit names {name!r} twice")
        try:
            amount = parse_quantity(quantity.strip())
        except QuantityError as err:
            raise ShapeError(f"--fit {name}: {err}") from None
        if amount < 0:
            raise ShapeError(f"--fit {name}: a request cannot be negative")
        pairs[name] = amount
    if not pairs:
        raise ShapeError("--fit needs at least one RESOURCE=QUANTITY, e.g. cpu=500m,memory=1Gi")
    return FitResources(tuple(pairs.items()), text)


# KIND/NAME spellings as kubectl takes them -> (kind, API group path, resource)
WORKLOAD_KINDS: dict[str, tuple[str, str, str]] = {}
WORKLOAD_SHORT: dict[str, str] = {}  # the short spellings (deploy, sts, ...) -> kind, offered by completion
for _kind, _group, _resource, _short in (
    ("Deployment", "/apis/apps/v1", "deployments", "deploy"),
    ("StatefulSet", "/apis/apps/v1", "statefulsets", "sts"),
    ("DaemonSet", "/apis/apps/v1", "daemonsets", "ds"),
    ("ReplicaSet", "/apis/apps/v1", "replicasets", "rs"),
    ("Job", "/apis/batch/v1", "jobs", "job"),
    ("CronJob", "/apis/batch/v1", "cronjobs", "cj"),
):
    WORKLOAD_SHORT[_short] = _kind
    for _spelling in (_short, _kind.lower(), _resource):
        WORKLOAD_KINDS[_spelling] = (_kind, _group, _resource)


def parse_workload(text: str, namespace: str) -> FitWorkload:
    """--fit-workload KIND/NAME (deploy/web, statefulset/db, cronjob/report, ...)."""
    kind, slash, name = text.partition("/")
    known = WORKLOAD_KINDS.get(kind.lower())
    if not slash or not name or "/" in name or known is None:
        raise ShapeError(f"invalid --fit-workload {text!r}: use KIND/NAME with KIND one of deploy, sts, ds, rs, job, cj (e.g. deploy/web)")
    return FitWorkload(known[0], name, namespace)


def workload_path(ask: FitWorkload) -> str:
    kind = next(v for v in WORKLOAD_KINDS.values() if v[0] == ask.kind)
    return f"{kind[1]}/namespaces/{ask.namespace}/{kind[2]}/{ask.name}"


# Kinds whose manifests carry a pod template, and the kinds --fit-pod accepts.
TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "PodTemplate")


def template_spec(kind: str, obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod spec of a Pod, or the pod template's spec of a workload (a CronJob's through its
    job template; a PodTemplate's at the top). The same walk as audit's pod_template_spec, which a
    capacity module may not import (no plugin package imports another)."""
    if kind == "Pod":
        return obj.get("spec") or {}
    if kind == "PodTemplate":
        return (obj.get("template") or {}).get("spec") or {}
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def spec_from_documents(documents: list[Any], source: str) -> FitPod:
    """The first Pod or workload among a file's YAML documents (a List's items too)."""
    flat: list[Any] = []
    for doc in documents:
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            flat.extend(doc.get("items") or [])
        elif doc is not None:
            flat.append(doc)
    for obj in flat:
        if not isinstance(obj, Mapping):
            continue
        kind = obj.get("kind")
        if kind == "Pod" or kind in TEMPLATE_KINDS:
            spec = template_spec(str(kind), obj)
            if not isinstance(spec, Mapping) or not spec.get("containers"):
                raise ShapeError(f"{kind} in {source} has no containers in its pod spec")
            name = (obj.get("metadata") or {}).get("name") or "?"
            return FitPod(spec, f"{kind} {name} in {source}")
    raise ShapeError(f"{source} holds no Pod, and no Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob")


def shape_from_resources(ask: FitResources) -> Shape:
    """--fit's shape: the given requests and a pod slot; no limits, an empty spec."""
    requests = dict(ask.requests)
    requests[COUNT] = NANO
    return Shape(f"--fit {ask.text}", requests)


def defaulted(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """The spec as the API server stores a pod made from it: a container's limit without a request
    becomes its request (model.default_requests_from_limits' rule, on the manifest). A workload's
    template is stored undefaulted, and a pod file has not been through the API server; the pods
    they become are defaulted, and the scheduler reserves what those request."""
    out = dict(spec)
    for key in ("initContainers", "containers"):
        containers = []
        for container in spec.get(key) or ():
            resources = container.get("resources") or {}
            limits = resources.get("limits") or {}
            if isinstance(limits, Mapping) and any(r not in (resources.get("requests") or {}) for r in limits):
                resources = {**resources, "requests": {**limits, **(resources.get("requests") or {})}}
                container = {**container, "resources": resources}
            containers.append(container)
        if key in spec:
            out[key] = containers
    return out


def shape_from_spec(spec: Mapping[str, Any], source: str) -> Shape:
    """A pod spec's shape: its effective requests and limits as the scheduler and kubelet see them
    (model.pod_resources: init containers, sidecars, pod-level resources, overhead), and a pod slot."""
    try:
        requests, limits = pod_resources(defaulted(spec))
    except QuantityError as err:
        raise ShapeError(f"{source}: {err}") from None
    requests = {r: v for r, v in requests.items() if v}
    requests[COUNT] = NANO
    return Shape(source, requests, limits, spec)
