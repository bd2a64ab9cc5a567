"""The suite's policy: padding targets and the admission rules, one function per
rule, shared by the webhook, capacity and audit. Pure: pod specs and node views in,
findings out (reading the policy file is policy_file.py's job)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .model import NodeView, all_containers, pod_resources
from .quantity import format_bytes
from .scheduling import label_selector_matches, node_matches

DEFAULT_PADDING = 0.75


@dataclass(frozen=True)
class NodeTarget:
    selector: Mapping[str, Any]
    memory: float


@dataclass(frozen=True)
class Policy:
    mode: str = "enforce"
    require_requests: tuple[str, ...] = ("cpu", "memory")
    padding_memory: float = DEFAULT_PADDING
    node_targets: tuple[NodeTarget, ...] = ()
    committed: str = "off"
    exempt_namespaces: tuple[str, ...] = ("kube-system",)
    namespace_overrides: Mapping[str, str] = field(default_factory=dict)
    on_stale_cache: str = "allow"
    max_cache_age_seconds: float = 60.0
    audit: Mapping[str, Any] = field(default_factory=dict)  # kubectl perf audit's own keys (disable, thresholds)

    def padding_target(self, node_labels: Mapping[str, str]) -> float:
        """The memory padding target of a node: first matching nodeTarget, else the default."""
        for target in self.node_targets:
            if label_selector_matches(target.selector, node_labels):
                return target.memory
        return self.padding_memory

    def mode_for(self, namespace: str) -> str:
        return self.namespace_overrides.get(namespace, self.mode)


@dataclass(frozen=True)
class Finding:
    rule: str  # the rule's ID, a key of RULES
    message: str
    container: str = ""
    resource: str = ""
    deny: bool = True  # False: a warning even in enforce mode (committed: warn)


def missing_requests(spec: Mapping[str, Any], required: tuple[str, ...]) -> list[tuple[str, str]]:
    """(container, resource) pairs where a container, init container or sidecar
    requests nothing of a required resource. Ephemeral containers cannot carry
    resources and are not looked at. A pod-level request covers its containers."""
    pod_level = (spec.get("resources") or {}).get("requests") or {}
    missing: list[tuple[str, str]] = []
    for _kind, container in all_containers(spec):
        # Only names matter, so nothing is parsed. A limit counts as a request: the API
        # server defaults one from the other before anything (but a template) is judged.
        resources = container.get("resources") or {}
        have = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        missing.extend((container.get("name", "?"), r) for r in required if r not in have and r not in pod_level)
    return missing


def pod_memory_need(spec: Mapping[str, Any]) -> int:
    """The memory a pod may come to use: its effective limit, else its effective request."""
    requests, limits = pod_resources(spec)
    return limits.get("memory") or requests.get("memory", 0)


def _eligible(spec: Mapping[str, Any], nodes: Sequence[NodeView]) -> Iterator[NodeView]:
    return (n for n in nodes if node_matches(spec, n.name, n.labels, n.taints))


# -- the rules: (spec, policy, nodes) -> findings ---------------------------------
# `nodes` None means the node view is not to be trusted (a stale webhook cache).
# A pod with no node it may run on has nothing to be weighed against (a node group
# may scale up from zero), so the node rules find nothing then.


def requests_rule(spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None = None) -> list[Finding]:
    """Every container, init container and sidecar requests each required resource."""
    return [Finding("requests", f"container {c!r} has no {r} request", c, r) for c, r in missing_requests(spec, policy.require_requests)]


def padding_rule(spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None) -> list[Finding]:
    """The pod's memory fits the padding budget of at least one node it may run on."""
    need = pod_memory_need(spec)
    if not need:
        return []
    if nodes is None:
        if policy.on_stale_cache == "deny":
            return [Finding("padding", "the webhook's view of the nodes is stale, so memory padding cannot be checked", resource="memory")]
        return []
    largest: NodeView | None = None
    for n in _eligible(spec, nodes):  # nodes usually come largest budget first: a fit ends the loop early
        if need <= n.budget:
            return []
        if largest is None or n.budget > largest.budget:
            largest = n
    if largest is None:
        return []
    return [
        Finding(
            "padding",
            f"memory {format_bytes(need)} exceeds the padding budget of every node it may run on "
            f"(largest: {format_bytes(largest.budget)}, {largest.target:.0%} of {format_bytes(largest.memory)} on {largest.name})",
            resource="memory",
        )
    ]


def committed_rule(spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None) -> list[Finding]:
    """With padding.committed warn|deny: the pod's memory fits what the limits already
    committed leave of some node's budget. Quiet when the padding rule already fails."""
    need = pod_memory_need(spec)
    if policy.committed == "off" or not need or nodes is None:
        return []
    fits = False
    most_room: int | None = None
    for n in _eligible(spec, nodes):
        room = n.budget - n.committed
        if need <= room:
            return []
        fits = fits or need <= n.budget
        most_room = room if most_room is None else max(most_room, room)
    if most_room is None or not fits:
        return []
    return [
        Finding(
            "committed",
            f"memory {format_bytes(need)} does not fit the padding budget left on any node "
            f"after the limits already committed (most room: {format_bytes(max(most_room, 0))})",
            resource="memory",
            deny=policy.committed == "deny",
        )
    ]


Rule = Callable[[Mapping[str, Any], Policy, "Sequence[NodeView] | None"], list[Finding]]

# Rule ID -> rule, in the order findings are reported. Audit reports by these IDs.
RULES: dict[str, Rule] = {"requests": requests_rule, "padding": padding_rule, "committed": committed_rule}


def evaluate(spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None) -> list[Finding]:
    """Every rule's findings for one pod spec."""
    return [f for rule in RULES.values() for f in rule(spec, policy, nodes)]
