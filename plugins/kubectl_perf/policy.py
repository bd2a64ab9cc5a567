"""The suite's policy: padding targets and admission rules, read from one file
that the webhook, capacity and audit all share."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .model import all_containers, node_allocatable, pod_limits, pod_requests
from .quantity import format_bytes
from .scheduling import node_matches

DEFAULT_PADDING = 0.75
SCHEMA_NAME = "policy.schema.json"


class PolicyError(ValueError):
    """A policy file that cannot be used, worded as one line naming the key."""


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
    daemon_sets: str = "everyNode"  # everyNode | anyNode: a DaemonSet's pod must fit every node it runs on, or one
    no_eligible_node: str = "warn"  # allow | warn | deny: a pod no node can take (a node group may scale from zero)
    exempt_namespaces: tuple[str, ...] = ("kube-system",)
    namespace_overrides: Mapping[str, str] = field(default_factory=dict)
    on_stale_cache: str = "allow"
    max_cache_age_seconds: float = 60.0

    def padding_target(self, node_labels: Mapping[str, str]) -> float:
        """The memory padding target of a node: first matching nodeTarget, else the default."""
        for target in self.node_targets:
            if selector_matches(target.selector, node_labels):
                return target.memory
        return self.padding_memory

    def mode_for(self, namespace: str) -> str:
        return self.namespace_overrides.get(namespace, self.mode)


def schema() -> dict[str, Any]:
    return json.loads(resources.files("kubectl_perf.schemas").joinpath(SCHEMA_NAME).read_text())


def _normalise(doc: Any) -> Any:
    # YAML 1.1 reads a bare `off` as false; the schema wants the word.
    padding = doc.get("padding") if isinstance(doc, dict) else None
    if isinstance(padding, dict) and padding.get("committed") is False:
        padding["committed"] = "off"
    return doc


def parse_policy(doc: Any, source: str = "policy") -> Policy:
    """Validate a policy document against the published schema and build a Policy."""
    import jsonschema

    if doc is None:
        doc = {}
    doc = _normalise(doc)
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise PolicyError(f"{source}: {where}: {_message(err)}")
    padding = doc.get("padding") or {}
    return Policy(
        mode=doc.get("mode", "enforce"),
        require_requests=tuple(doc.get("requireRequests", ("cpu", "memory"))),
        padding_memory=float(padding.get("memory", DEFAULT_PADDING)),
        node_targets=tuple(NodeTarget(t["selector"], float(t["memory"])) for t in padding.get("nodeTargets") or ()),
        committed=padding.get("committed", "off"),
        daemon_sets=padding.get("daemonSets", "everyNode"),
        no_eligible_node=padding.get("noEligibleNode", "warn"),
        exempt_namespaces=tuple(doc.get("exemptNamespaces", ("kube-system",))),
        namespace_overrides=dict(doc.get("namespaceOverrides") or {}),
        on_stale_cache=doc.get("onStaleCache", "allow"),
        max_cache_age_seconds=float(doc.get("maxCacheAgeSeconds", 60.0)),
    )


def _message(err: Any) -> str:
    if err.validator == "additionalProperties":
        return err.message.replace("Additional properties are not allowed", "unknown key(s)")
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return str(err.message)


def load_policy(path: str) -> Policy:
    """Read a policy file (YAML or JSON)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except OSError as err:
        raise PolicyError(f"cannot read policy file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise PolicyError(f"policy file {path} is not valid YAML{at}") from None
    if not isinstance(doc, (dict, type(None))):
        raise PolicyError(f"{path}: (top level): must be a mapping of policy keys")
    return parse_policy(doc, path)


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector against labels; the empty selector matches everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr["key"], expr["operator"], expr.get("values") or ()
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def missing_requests(spec: Mapping[str, Any], required: tuple[str, ...]) -> list[tuple[str, str]]:
    """(container, resource) pairs where a container, init container or sidecar
    requests nothing of a required resource. Ephemeral containers cannot carry
    resources and are not looked at. A pod-level request (or limit, which the API server
    defaults the request from, as for containers) covers its containers."""
    pod_level_resources = spec.get("resources") or {}
    pod_level = {**(pod_level_resources.get("limits") or {}), **(pod_level_resources.get("requests") or {})}
    missing: list[tuple[str, str]] = []
    for _kind, container in all_containers(spec):
        # Only names matter, so nothing is parsed. A limit counts as a request: the API
        # server defaults one from the other before anything (but a template) is judged.
        resources = container.get("resources") or {}
        have = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        missing.extend((container.get("name", "?"), r) for r in required if r not in have and r not in pod_level)
    return missing


# -- admission rules ------------------------------------------------------------------
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
        return int(self.memory * self.target)


@dataclass(frozen=True)
class Finding:
    rule: str  # "requests", "padding" or "committed"
    message: str
    container: str = ""
    resource: str = ""
    deny: bool = True  # False: a warning even in enforce mode (committed: warn)


def node_view(node: Mapping[str, Any], policy: Policy, committed: int = 0) -> NodeView:
    meta = node.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    taints = tuple((node.get("spec") or {}).get("taints") or ())
    return NodeView(meta.get("name", ""), labels, taints, node_allocatable(node).get("memory", 0), policy.padding_target(labels), committed)


# Labels that name a node's pool (perf-sim, GKE, EKS, Karpenter, AKS): DaemonSet denials name pools.
POOL_LABELS = (
    "node-pool",
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "karpenter.sh/nodepool",
    "kubernetes.azure.com/agentpool",
)


def pool_of(view: NodeView) -> str:
    """The node's pool as its labels name it, else the node's own name."""
    return next((view.labels[k] for k in POOL_LABELS if view.labels.get(k)), view.name)


def group_nodes(views: Sequence[NodeView], keys: frozenset[str]) -> list[NodeView]:
    """Nodes that look alike to a pod that only reads `keys` of their labels, one per
    group: nodes of one pool with one padding budget, carrying the group's most room
    and its node count. 5,000 nodes of a few pools become a few views, so a review costs
    the same on any cluster size, and each view's budget holds for every node it stands for."""
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


@dataclass(frozen=True)
class MemoryNeed:
    """The memory a pod may come to use, or the container that makes it unbounded."""

    nanos: int
    unbounded: str = ""  # a container with neither a memory limit nor a request


def memory_need(spec: Mapping[str, Any]) -> MemoryNeed:
    """A container's need is its memory limit, else its request, else unbounded; the pod's
    need adds them up by the scheduler's rules (model.pod_requests: sidecars beside the app
    containers, init peaks, overhead), with a pod-level request as a floor. A pod-level memory
    limit, or a limit on every container and init container, bounds the pod's cgroup (the
    kubelet sets it from their sum), ephemeral containers included: then the need is the
    effective limit."""
    pod_level = spec.get("resources") or {}
    containers = [c for _, c in all_containers(spec)]
    if "memory" in (pod_level.get("limits") or {}) or all("memory" in ((c.get("resources") or {}).get("limits") or {}) for c in containers):
        return MemoryNeed(pod_limits(spec).get("memory", 0))
    # Each container's need stands in for its memory request, so the scheduler's own sum adds them up.
    shadow: dict[str, Any] = {k: v for k, v in spec.items() if k not in ("containers", "initContainers", "resources")}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or ():
            resources = c.get("resources") or {}
            need = (resources.get("limits") or {}).get("memory", (resources.get("requests") or {}).get("memory"))
            if need is None:
                return MemoryNeed(0, str(c.get("name", "?")))
            if key != "ephemeralContainers":
                shadow.setdefault(key, []).append({"restartPolicy": c.get("restartPolicy"), "resources": {"requests": {"memory": need}}})
    total = pod_requests(shadow).get("memory", 0)
    if "memory" in (pod_level.get("requests") or {}):
        total = max(total, pod_requests(spec).get("memory", 0))  # the pod is expected to use at least its request
    return MemoryNeed(total)


def pod_memory_need(spec: Mapping[str, Any]) -> int:
    """The memory a pod may come to use (see memory_need); 0 when unbounded."""
    return memory_need(spec).nanos


def _no_eligible_node(policy: Policy) -> list[Finding]:
    if policy.no_eligible_node == "allow":
        return []
    message = "no node matches its nodeSelector, affinity and tolerations, so memory padding could not be checked"
    return [Finding("padding", message, resource="memory", deny=policy.no_eligible_node == "deny")]


def _breached_pools(need: int, breaching: Sequence[NodeView]) -> str:
    pools: dict[str, list[NodeView]] = {}
    for v in breaching:
        pools.setdefault(pool_of(v), []).append(v)
    parts = []
    for name, views in pools.items():
        count = sum(v.nodes for v in views)
        low = min(views, key=lambda v: v.budget)
        if name == low.name and count > 1:
            name = f"{name} and {count - 1} more"  # no pool label: nodes alike to this pod
        budget = f"budget {format_bytes(low.budget)}: {low.target:.0%} of {format_bytes(low.memory)}"
        parts.append(f"{name} ({count} node{'s' if count != 1 else ''}, {budget})")
    pools_text = ", ".join(parts)
    return f"memory {format_bytes(need)} exceeds the padding budget of node pools a DaemonSet runs a pod on every node of: {pools_text}"


def evaluate(spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None, kind: str = "Pod") -> list[Finding]:
    """Every rule's findings for one pod spec of a `kind` object. `nodes` None: the node view
    is not to be trusted (stale cache), and the padding rules follow policy.on_stale_cache."""
    findings = [
        Finding("requests", f"container {c!r} has no {r} request", c, r) for c, r in missing_requests(spec, policy.require_requests)
    ]
    memory = memory_need(spec)
    if memory.unbounded:
        message = f"container {memory.unbounded!r} has neither a memory limit nor a request: its memory is unbounded"
        return [*findings, Finding("padding", message, memory.unbounded, "memory")]
    need = memory.nanos
    if not need:
        return findings
    if nodes is None:
        if policy.on_stale_cache == "deny":
            findings.append(
                Finding("padding", "the webhook's view of the nodes is stale, so memory padding cannot be checked", resource="memory")
            )
        return findings
    if kind == "DaemonSet" and policy.daemon_sets == "everyNode":
        # A DaemonSet runs a pod on every node it may: each of them must hold it.
        breaching = [n for n in nodes if need > n.budget and node_matches(spec, n.name, n.labels, n.taints)]
        if breaching:
            return [*findings, Finding("padding", _breached_pools(need, breaching), resource="memory")]
    # Nodes usually come largest budget first, so the first eligible node settles a pod that fits.
    best: NodeView | None = None
    best_room = None
    fits = committed_fits = False
    for n in nodes:
        if not node_matches(spec, n.name, n.labels, n.taints):
            continue
        budget = n.budget
        if best is None or budget > best.budget:
            best = n
        fits = fits or need <= budget
        room = budget - n.committed
        best_room = room if best_room is None else max(best_room, room)
        committed_fits = committed_fits or need <= room
        if fits and (committed_fits or policy.committed == "off"):
            break
    if best is None:
        return findings + _no_eligible_node(policy)  # nothing to weigh against (a node group may scale up from zero)
    if not fits:
        findings.append(
            Finding(
                "padding",
                f"memory {format_bytes(need)} exceeds the padding budget of every node it may run on "
                f"(largest: {format_bytes(best.budget)}, {best.target:.0%} of {format_bytes(best.memory)} on {best.name})",
                resource="memory",
            )
        )
    elif policy.committed != "off" and not committed_fits:
        findings.append(
            Finding(
                "committed",
                f"memory {format_bytes(need)} does not fit the padding budget left on any node "
                f"after the limits already committed (most room: {format_bytes(max(best_room or 0, 0))})",
                resource="memory",
                deny=policy.committed == "deny",
            )
        )
    return findings
