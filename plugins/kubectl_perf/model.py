"""Pure arithmetic about pods and nodes: plain dicts in, nanos out.

Effective pod requests and limits follow the scheduler (k8s.io/component-helpers
resource/helpers.go PodRequests/PodLimits); see the reference notes, section 1.
Amounts are integer nanos (see quantity.py), keyed by resource name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .quantity import parse_quantity

Resources = dict[str, int]
Obj = Mapping[str, Any]

# Resources a pod-level spec.resources may set (IsSupportedPodLevelResource).
POD_LEVEL_RESOURCES = ("cpu", "memory")
TERMINAL_PHASES = ("Succeeded", "Failed")


def amounts(resource_list: Any) -> Resources:
    """Parse a ResourceList ({name: quantity}) into nanos; None or {} gives {}."""
    if not resource_list:
        return {}
    if not isinstance(resource_list, Mapping):
        raise ValueError(f"expected a map of resource quantities, got {type(resource_list).__name__}")
    return {name: parse_quantity(value) for name, value in resource_list.items()}


def container_amounts(container: Obj, field: str) -> Resources:
    """A container's `requests` or `limits`."""
    resources = container.get("resources") or {}
    return amounts(resources.get(field))


def _add(total: Resources, more: Resources) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


def _max(total: Resources, other: Resources) -> None:
    for name, value in other.items():
        if name not in total or value > total[name]:
            total[name] = value


def is_sidecar(container: Obj) -> bool:
    """A restartable init container (restartPolicy: Always) runs beside the app containers."""
    return container.get("restartPolicy") == "Always"


def aggregate_containers(spec: Obj, field: str) -> Resources:
    """Sum of app containers and sidecars, maxed with each init container's peak."""
    total: Resources = {}
    for container in spec.get("containers") or ():
        _add(total, container_amounts(container, field))
    sidecars: Resources = {}
    init_peak: Resources = {}
    for container in spec.get("initContainers") or ():
        own = container_amounts(container, field)
        if is_sidecar(container):
            _add(total, own)
            _add(sidecars, own)
            step = dict(sidecars)
        else:
            # An ordinary init container runs alongside the sidecars started before it.
            step = dict(own)
            _add(step, sidecars)
        _max(init_peak, step)
    _max(total, init_peak)
    return total


def pod_requests(spec: Obj) -> Resources:
    """Effective requests of a pod spec, as the scheduler reserves them."""
    total = aggregate_containers(spec, "requests")
    pod_level = amounts((spec.get("resources") or {}).get("requests"))
    for name in POD_LEVEL_RESOURCES:
        if name in pod_level:
            total[name] = pod_level[name]
    _add(total, amounts(spec.get("overhead")))
    return total


def pod_limits(spec: Obj) -> Resources:
    """Effective limits of a pod spec; a container without a limit adds nothing."""
    total = aggregate_containers(spec, "limits")
    pod_level = amounts((spec.get("resources") or {}).get("limits"))
    for name in POD_LEVEL_RESOURCES:
        if name in pod_level:
            total[name] = pod_level[name]
    for name, value in amounts(spec.get("overhead")).items():
        if total.get(name):
            total[name] += value
    return total


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


def node_allocatable(node: Obj) -> Resources:
    return amounts((node.get("status") or {}).get("allocatable"))


def sum_resources(items: Iterable[Resources]) -> Resources:
    total: Resources = {}
    for item in items:
        _add(total, item)
    return total
