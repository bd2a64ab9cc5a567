"""The fields of a pod spec that the policy's rules read, and their types: what the admission webhook
cuts every object down to before a rule sees it, and what `audit -f` checks a manifest against before
judging it. A wrongly shaped object (a list where the API has a map, a number where it has a string)
is a BadObject naming the first such field, never an error inside a rule. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Where each kind keeps the pod spec it will create.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


class BadObject(ValueError):
    """An object (a review's, a manifest) not shaped like its kind."""


# -- the fields the rules read, and their types -----------------------------------------
@dataclass(frozen=True)
class Fields:
    """An object of which only these fields are read; absent or null ones are left out."""

    fields: Mapping[str, Shape]


@dataclass(frozen=True)
class MapOf:
    """A map of any keys to plain values (labels, quantities)."""

    value: type | tuple[type, ...]


@dataclass(frozen=True)
class ListOf:
    item: Shape


Shape = type | tuple[type, ...] | Fields | MapOf | ListOf
QUANTITY = (str, int, float)  # parse_quantity judges the value itself
RESOURCES = Fields({"requests": MapOf(QUANTITY), "limits": MapOf(QUANTITY)})
CONTAINER = Fields({"name": str, "restartPolicy": str, "resources": RESOURCES})
SELECTOR_TERM = Fields(
    {
        "matchExpressions": ListOf(Fields({"key": str, "operator": str, "values": ListOf(str)})),
        "matchFields": ListOf(Fields({"key": str, "operator": str, "values": ListOf(str)})),
    }
)
# Every field of a pod spec that a rule reads (resources and scheduling): the rules see only these,
# checked for type, so a wrongly shaped object is a BadObject and never an error inside a rule.
POD_SPEC = Fields(
    {
        "containers": ListOf(CONTAINER),
        "initContainers": ListOf(CONTAINER),
        "ephemeralContainers": ListOf(CONTAINER),
        "resources": RESOURCES,
        "overhead": MapOf(QUANTITY),
        "runtimeClassName": str,
        "hostNetwork": bool,  # a hostNetwork DaemonSet's pods also tolerate network-unavailable
        "nodeName": str,
        "nodeSelector": MapOf(str),
        "affinity": Fields(
            {
                "nodeAffinity": Fields(
                    {"requiredDuringSchedulingIgnoredDuringExecution": Fields({"nodeSelectorTerms": ListOf(SELECTOR_TERM)})}
                )
            }
        ),
        # tolerationSeconds only tells the admission defaults apart (policy.DEFAULT_TOLERATIONS); an int64,
        # so 300.0 and "300" are refused as the API server's decoder refuses them
        "tolerations": ListOf(Fields({"key": str, "operator": str, "value": str, "effect": str, "tolerationSeconds": int})),
    }
)


class _Wrong(Exception):
    """A value of the wrong type; the path to it is collected on the way out."""

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted
        self.path: list[str] = []


# What each leaf type is called in an error: the API's names, not Python's.
_WANTED: dict[Any, str] = {str: "a string", int: "an integer", bool: "true or false", QUANTITY: "a quantity"}


def _wanted(shape: Any) -> str:
    return _WANTED[shape]


def _fits(value: Any, leaf: type | tuple[type, ...]) -> bool:
    """isinstance, except that a JSON true/false is no integer (nor quantity) though Python's bool is an int."""
    if type(value) is bool:
        return leaf is bool
    return isinstance(value, leaf)


def _conform(value: Any, shape: Shape) -> Any:
    # JSON gives dicts and lists: exact type checks, leaves (a type or a tuple of types)
    # checked in place, and paths built only for an error keep this to a few microseconds
    # per pod (it runs on every review).
    kind = type(shape)
    if kind is Fields:
        if type(value) is not dict:
            raise _Wrong("an object")
        out = {}
        for key, sub in shape.fields.items():  # type: ignore[union-attr]
            item = value.get(key)
            if item is None:
                continue
            sub_kind = type(sub)
            if sub_kind is type or sub_kind is tuple:
                if not _fits(item, sub):  # type: ignore[arg-type]
                    wrong = _Wrong(_wanted(sub))
                    wrong.path.append(f".{key}")
                    raise wrong
                out[key] = item
                continue
            try:
                out[key] = _conform(item, sub)
            except _Wrong as err:
                err.path.append(f".{key}")
                raise
        return out
    if kind is MapOf:
        if type(value) is not dict:
            raise _Wrong("an object")
        allowed = shape.value  # type: ignore[union-attr]
        for key, item in value.items():
            if not _fits(item, allowed):
                wrong = _Wrong(_wanted(allowed))
                wrong.path.append(f".{key}")
                raise wrong
        return value
    if kind is ListOf:
        if type(value) is not list:
            raise _Wrong("a list")
        item_shape = shape.item  # type: ignore[union-attr]
        if type(item_shape) is type or type(item_shape) is tuple:
            for i, item in enumerate(value):
                if not _fits(item, item_shape):
                    wrong = _Wrong(_wanted(item_shape))
                    wrong.path.append(f"[{i}]")
                    raise wrong
            return value
        items = []
        for i, item in enumerate(value):
            try:
                items.append(_conform(item, item_shape))
            except _Wrong as err:
                err.path.append(f"[{i}]")
                raise
        return items
    if not _fits(value, shape):  # type: ignore[arg-type]
        raise _Wrong(_wanted(shape))
    return value


def conform(value: Any, shape: Shape, path: str) -> Any:
    """`value` cut down to `shape` (only the fields it names), or BadObject naming the first
    field of the wrong type. Recursion is bounded by the shape, not by the input."""
    try:
        return _conform(value, shape)
    except _Wrong as err:
        raise BadObject(f"{path}{''.join(reversed(err.path))} must be {err.wanted}") from None


def pod_spec(obj: Any, kind: str, shape: Fields = POD_SPEC) -> Mapping[str, Any]:
    """The pod spec a `kind` object will create, cut down to the fields `shape` names (the rules')."""
    cur = obj
    for key in POD_SPEC_PATHS[kind]:
        if not isinstance(cur, dict):
            raise BadObject(f"{kind} has no {'.'.join(POD_SPEC_PATHS[kind])}")
        cur = cur.get(key)
    if not isinstance(cur, dict):
        raise BadObject(f"{kind} has no {'.'.join(POD_SPEC_PATHS[kind])}")
    spec: Mapping[str, Any] = conform(cur, shape, ".".join(POD_SPEC_PATHS[kind]))
    return spec


def along(path: tuple[str, ...], inner: Shape) -> Fields:
    """A shape that holds `inner` at `path` (say, POD_SPEC_PATHS[kind]) and reads nothing else."""
    shape: Shape = inner
    for key in reversed(path):
        shape = Fields({key: shape})
    assert isinstance(shape, Fields)
    return shape


def problem(obj: Any, kind: str, shape: Fields = POD_SPEC) -> str:
    """What makes an object from a file (a manifest, a saved pod list: nothing an API server has decoded)
    unreadable, in one line, or "" for none: a field `shape` names of the wrong type at the kind's pod
    spec, or a quantity of its resources that does not parse. Fields left out or unknown are fine."""
    from .model import pod_resources
    from .quantity import QuantityError

    try:
        conform(obj, along(POD_SPEC_PATHS[kind], shape), "")
        spec: Any = obj
        for key in POD_SPEC_PATHS[kind]:
            spec = spec.get(key) or {}
        pod_resources(spec)
    except (BadObject, QuantityError) as err:
        return str(err).removeprefix(".")
    return ""


# What the suite reads of a node object (padding views, pools, image listings, runtime and kernel),
# with its types: a nodes file (`kubectl get nodes -o json`, maybe edited) is held to it.
NODE = Fields(
    {
        "metadata": Fields({"name": str, "uid": str, "labels": MapOf(str)}),
        "spec": Fields({"unschedulable": bool, "taints": ListOf(Fields({"key": str, "value": str, "effect": str}))}),
        "status": Fields(
            {
                "allocatable": MapOf(QUANTITY),
                "capacity": MapOf(QUANTITY),
                "images": ListOf(Fields({"names": ListOf(str), "sizeBytes": int})),
                "nodeInfo": Fields({"containerRuntimeVersion": str, "kernelVersion": str, "architecture": str, "operatingSystem": str}),
            }
        ),
    }
)


def node_problem(node: Any) -> str:
    """shapes.problem for a node from a file: a field the suite reads of the wrong type, or an allocatable
    or capacity quantity that does not parse; "" for none."""
    from .model import parse_resource_list
    from .quantity import QuantityError

    try:
        conform(node, NODE, "")
        status = node.get("status") or {}
        for field in ("allocatable", "capacity"):
            parse_resource_list(status.get(field))
    except (BadObject, QuantityError) as err:
        return str(err).removeprefix(".")
    return ""
