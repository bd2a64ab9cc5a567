"""The suite's policy: padding targets and admission rules, read from one file
that the webhook, capacity and audit all share."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .model import all_containers, node_allocatable, pod_resources
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
    exempt_namespaces: tuple[str, ...] = ("kube-system",)
    namespace_overrides: Mapping[str, str] = field(default_factory=dict)
    on_stale_cache: str = "allow"
    max_cache_age_seconds: float = 60.0
    audit: Mapping[str, Any] = field(default_factory=dict)  # kubectl perf audit's own keys (disable, thresholds)

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
        exempt_namespaces=tuple(doc.get("exemptNamespaces", ("kube-system",))),
        namespace_overrides=dict(doc.get("namespaceOverrides") or {}),
        on_stale_cache=doc.get("onStaleCache", "allow"),
        max_cache_age_seconds=float(doc.get("maxCacheAgeSeconds", 60.0)),
        audit=dict(doc.get("audit") or {}),
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


def group_nodes(views: Sequence[NodeView], keys: frozenset[str]) -> list[NodeView]:
    """Nodes that look alike to a pod that only reads `keys` of their labels, one per
    group: the largest budget's node, carrying the group's most room. 5,000 nodes of a
    few pools become a few views, so a review costs the same on any cluster size."""
    groups: dict[tuple[Any, ...], tuple[NodeView, int]] = {}
    for v in views:
        sig = (
            tuple((k, v.labels.get(k)) for k in sorted(keys)),
            tuple(sorted((str(t.get("key")), str(t.get("value")), str(t.get("effect"))) for t in v.taints)),
        )
        room = v.budget - v.committed
        best = groups.get(sig)
        if best is None:
            groups[sig] = (v, room)
        else:
            rep, best_room = best
            groups[sig] = (v if v.budget > rep.budget else rep, max(room, best_room))
    out = [NodeView(rep.name, rep.labels, rep.taints, rep.memory, rep.target, rep.budget - room) for rep, room in groups.values()]
    out.sort(key=lambda n: -n.budget)
    return out


def pod_memory_need(spec: Mapping[str, Any]) -> int:
    """The memory a pod may come to use: its effective limit, else its effective request."""
    requests, limits = pod_resources(spec)
    return limits.get("memory") or requests.get("memory", 0)


def evaluate(spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None) -> list[Finding]:
    """Every rule's findings for one pod spec. `nodes` None: the node view is not to
    be trusted (stale cache), and the padding rules follow policy.on_stale_cache."""
    findings = [
        Finding("requests", f"container {c!r} has no {r} request", c, r) for c, r in missing_requests(spec, policy.require_requests)
    ]
    need = pod_memory_need(spec)
    if not need:
        return findings
    if nodes is None:
        if policy.on_stale_cache == "deny":
            findings.append(
                Finding("padding", "the webhook's view of the nodes is stale, so memory padding cannot be checked", resource="memory")
            )
        return findings
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
        return findings  # no node it may run on: nothing to weigh against (a node group may scale up from zero)
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
