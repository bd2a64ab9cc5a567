"""Pure arithmetic about pods and nodes: plain dicts in, nanos out.

Effective pod requests and limits follow the scheduler (k8s.io/component-helpers
resource/helpers.go PodRequests/PodLimits); see the reference notes, section 1.
Amounts are integer nanos (see quantity.py), keyed by resource name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .quantity import QuantityError, parse_quantity

Resources = dict[str, int]
Obj = Mapping[str, Any]

# Resources a pod-level spec.resources may set (IsSupportedPodLevelResource).
POD_LEVEL_RESOURCES = ("cpu", "memory")
TERMINAL_PHASES = ("Succeeded", "Failed")


def parse_resource_list(resource_list: Any) -> Resources:
    """Parse a ResourceList ({name: quantity}) into nanos; None or {} gives {}."""
    if not resource_list:
        return {}
    if not isinstance(resource_list, Mapping):
        raise QuantityError(resource_list, "expected a map of resource quantities")
    return {name: parse_quantity(value) for name, value in resource_list.items()}


def container_amounts(container: Obj, field: str) -> Resources:
    """A container's `requests` or `limits`."""
    resources = container.get("resources") or {}
    return parse_resource_list(resources.get(field))


def add(total: Resources, more: Mapping[str, int]) -> None:
    """Add `more` into `total`, resource by resource."""
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


def _add_list(total: Resources, resource_list: Any) -> None:
    """add(total, parse_resource_list(resource_list)) without the dict between: every container of
    every pod comes through here (pod_resources)."""
    if not resource_list:
        return
    if type(resource_list) is not dict and not isinstance(resource_list, Mapping):
        raise QuantityError(resource_list, "expected a map of resource quantities")
    for name, value in resource_list.items():
        total[name] = total.get(name, 0) + parse_quantity(value)


def _max(total: Resources, other: Resources) -> None:
    for name, value in other.items():
        if name not in total or value > total[name]:
            total[name] = value


def is_sidecar(container: Obj) -> bool:
    """A restartable init container (restartPolicy: Always) runs beside the app containers."""
    return container.get("restartPolicy") == "Always"


def aggregate_containers(spec: Obj) -> tuple[Resources, Resources]:
    """(requests, limits) summed over app containers and sidecars, each maxed
    with every init container's peak. One pass: lists of 150,000 pods go through here."""
    requests: Resources = {}
    limits: Resources = {}
    for container in spec.get("containers") or ():
        resources = container.get("resources")
        if resources:
            _add_list(requests, resources.get("requests"))
            _add_list(limits, resources.get("limits"))
    init = spec.get("initContainers")
    if not init:
        return requests, limits
    side_req: Resources = {}
    side_lim: Resources = {}
    peak_req: Resources = {}
    peak_lim: Resources = {}
    for container in init:
        resources = container.get("resources") or {}
        own_req, own_lim = parse_resource_list(resources.get("requests")), parse_resource_list(resources.get("limits"))
        if is_sidecar(container):
            for total, side, own in ((requests, side_req, own_req), (limits, side_lim, own_lim)):
                add(total, own)
                add(side, own)
            step_req, step_lim = dict(side_req), dict(side_lim)
        else:
            # An ordinary init container runs alongside the sidecars started before it.
            step_req, step_lim = own_req, own_lim
            add(step_req, side_req)
            add(step_lim, side_lim)
        _max(peak_req, step_req)
        _max(peak_lim, step_lim)
    _max(requests, peak_req)
    _max(limits, peak_lim)
    return requests, limits


def aggregate_amount(spec: Obj, amount: Callable[[Obj], int]) -> int:
    """aggregate_containers for one amount per container (say, a memory need): app
    containers and sidecars add up, and each init container peaks with the sidecars
    started before it. The same rules without dicts, for the webhook's every review;
    tests/test_model.py holds the two to the same answers."""
    total = sum(amount(c) for c in spec.get("containers") or ())
    sidecars = peak = 0
    for container in spec.get("initContainers") or ():
        own = amount(container)
        if is_sidecar(container):
            sidecars += own
            total += own
            peak = max(peak, sidecars)
        else:
            peak = max(peak, own + sidecars)
    return max(total, peak)


def pod_resources(spec: Obj) -> tuple[Resources, Resources]:
    """Effective (requests, limits) of a pod spec, as the scheduler and kubelet see them.

    Pod-level spec.resources replace the container aggregate for cpu and memory.
    Overhead adds to requests, and to limits only where a limit is set.
    """
    requests, limits = aggregate_containers(spec)
    pod_level = spec.get("resources")
    if pod_level:
        for total, field in ((requests, "requests"), (limits, "limits")):
            values = parse_resource_list(pod_level.get(field))
            for name in POD_LEVEL_RESOURCES:
                if name in values:
                    total[name] = values[name]
    overhead = spec.get("overhead")
    if overhead:
        for name, value in parse_resource_list(overhead).items():
            requests[name] = requests.get(name, 0) + value
            if limits.get(name):
                limits[name] += value
    return requests, limits


PodResources = Callable[[Obj], tuple[Resources, Resources]]  # pod_resources, or one that remembers


class RememberedResources:
    """pod_resources once per pod spec object. The report's capacity and audit sections fold the same
    decoded pods (report/shared.py holds them for the run) and each worked out every pod's effective
    requests and limits again. Keyed by the object (its id, with the object kept: a freed object's id can
    be another's); the dicts are shared between callers, which only read them."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[Obj, tuple[Resources, Resources]]] = {}

    def __call__(self, spec: Obj) -> tuple[Resources, Resources]:
        known = self._known.get(id(spec))
        if known is not None and known[0] is spec:
            return known[1]
        value = pod_resources(spec)
        self._known[id(spec)] = (spec, value)  # two threads may both work one out: the same answer
        return value


def pod_requests(spec: Obj) -> Resources:
    """Effective requests of a pod spec, as the scheduler reserves them."""
    return pod_resources(spec)[0]


def pod_limits(spec: Obj) -> Resources:
    """Effective limits of a pod spec; a container without a limit adds nothing."""
    return pod_resources(spec)[1]


def holds_resources(pod: Obj) -> bool:
    """Pods that finished (Succeeded or Failed) no longer hold node resources."""
    return (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES


def all_containers(spec: Obj) -> Iterable[tuple[str, Obj]]:
    """(kind, container) for init containers (sidecars included) then app containers."""
    for container in spec.get("initContainers") or ():
        yield ("sidecar" if is_sidecar(container) else "init"), container
    for container in spec.get("containers") or ():
        yield "container", container


def default_requests_from_limits(container: Obj) -> Resources:
    """Requests after API-server defaulting: a limit with no request becomes the request.

    Pods arrive at admission already defaulted; pod templates in controllers do not.
    """
    requests = container_amounts(container, "requests")
    for name, value in container_amounts(container, "limits").items():
        requests.setdefault(name, value)
    return requests


def node_ready(node: Obj) -> bool:
    """The node's Ready condition is True (the kubelet reports in)."""
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (node.get("status") or {}).get("conditions") or ())


def node_schedulable(node: Obj) -> bool:
    """Not cordoned: new pods may be scheduled here (spec.unschedulable unset)."""
    return not (node.get("spec") or {}).get("unschedulable")


def node_allocatable(node: Obj) -> Resources:
    return parse_resource_list((node.get("status") or {}).get("allocatable"))


# -- memory padding -------------------------------------------------------------------
def padding_budget(allocatable_memory: int, target: float) -> int:
    """The memory a node may hold under its padding target, in nanos. The one place the
    budget is worked out: the node verdict (padding.judge: capacity, audit, cadvisor) and
    the webhook's rules all use it, so a node at the boundary gets the same verdict everywhere."""
    return int(allocatable_memory * target)


@dataclass(frozen=True)
class NodeView:
    """What the padding rules need to know of a node."""

    name: str
    labels: Mapping[str, str]
    taints: tuple[Mapping[str, Any], ...]
    memory: int  # allocatable memory, nanos
    target: float  # its padding target (the policy's, resolved once)
    committed: int = 0  # memory limits already committed by pods on the node, nanos
    nodes: int = 1  # how many nodes this view stands for (see group_nodes)

    @property
    def budget(self) -> int:
        return padding_budget(self.memory, self.target)


def node_view(node: Obj, target_for: Callable[[Mapping[str, str]], float], committed: int = 0) -> NodeView:
    """A node object as the padding rules see it; target_for(labels) is its padding
    target (Policy.padding_target)."""
    meta = node.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    taints = tuple((node.get("spec") or {}).get("taints") or ())
    return NodeView(meta.get("name", ""), labels, taints, node_allocatable(node).get("memory", 0), target_for(labels), committed)


# Label keys that name a node's pool: the one list, in the one order every reader walks it
# (the first key a node carries wins). The keys a platform sets on its own nodes come first
# (GKE, EKS, Karpenter, AKS), then the conventions set by hand or by installers (AKS's older
# `agentpool`, OKE, kOps) and last `node-pool`, the plain key perf-sim uses. DaemonSet
# denials (pool_of), node grouping (group_nodes) and images' pools and pre-pull plan read it.
POOL_LABELS = (
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "karpenter.sh/nodepool",
    "kubernetes.azure.com/agentpool",
    "agentpool",
    "oci.oraclecloud.com/node-pool-id",
    "kops.k8s.io/instancegroup",
    "node-pool",
)


def pool_of(view: NodeView) -> str:
    """The node's pool as its labels name it, else the node's own name."""
    return pool_name(view.name, view.labels)


def pool_name(name: str, labels: Mapping[str, str]) -> str:
    """A node's pool from its name and labels (pool_of for a node that is not a NodeView:
    capacity --fit's rows)."""
    return next((labels[k] for k in POOL_LABELS if labels.get(k)), name)


def group_nodes(views: Sequence[NodeView], keys: frozenset[str]) -> list[NodeView]:
    """Nodes that look alike to a pod that only reads `keys` of their labels, one per
    group: nodes of one pool with one padding budget, carrying the group's most room and
    its node count. 5,000 nodes of a few pools become a few views, so a review costs the
    same on any cluster size, and each view's budget holds for every node it stands for
    (a DaemonSet must fit them all)."""
    groups: dict[tuple[Any, ...], tuple[NodeView, int, int]] = {}
    for v in views:
        sig = (
            tuple((k, v.labels.get(k)) for k in sorted(keys)),
            tuple(sorted((str(t.get("key")), str(t.get("value")), str(t.get("effect"))) for t in v.taints)),
            v.budget,
            tuple(v.labels.get(k) for k in POOL_LABELS),
        )
        room = v.budget - v.committed
        best = groups.get(sig)
        groups[sig] = (v, room, 1) if best is None else (best[0], max(room, best[1]), best[2] + 1)
    out = [
        NodeView(rep.name, rep.labels, rep.taints, rep.memory, rep.target, rep.budget - room, count) for rep, room, count in groups.values()
    ]
    out.sort(key=lambda n: -n.budget)
    return out
