"""The suite's policy: padding targets and the admission rules, one function per
rule, shared by the webhook, capacity and audit. Pure: pod specs and node views in,
findings out (reading the policy file is policy_file.py's job)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .model import NodeView, aggregate_amount, all_containers, pool_of
from .padding import LIMITS, OVERCOMMIT, Levels
from .quantity import format_bytes, parse_quantity
from .scheduling import Placement, label_selector_matches

# The policy's defaults in the policy file's own shape and spelling: the one place they are
# written. Policy's fields, parse_policy (a key the file leaves out) and the Helm chart's
# values (tests/test_chart.py) all read them. audit's own keys default per check (audit/rules.py).
DEFAULTS: Mapping[str, Any] = {
    "mode": "enforce",
    "requireRequests": ("cpu", "memory"),
    "padding": {
        "memory": 0.75,
        "nodeTargets": (),
        # A node's committed figures over its target (padding.py): limits overcommit warns, or
        # breaches (--fail-on-breach, audit fail) under `breach`; requests are not weighed unless asked.
        "limits": "warn",
        "requests": "off",
        "committed": "off",
        "daemonSets": "everyNode",
        "eligibleNodes": "every",
        "noEligibleNode": "warn",
    },
    "exemptNamespaces": ("kube-system",),
    # Who is never judged (issue 27 operations 11: on-call tooling), matched on the AdmissionReview's
    # userInfo: usernames, groups, and service accounts as namespace/name.
    "exemptSubjects": {"users": (), "groups": (), "serviceAccounts": ()},
    "namespaceOverrides": {},
    "onStaleCache": "allow",
    # The webhook's feeds hear from the API server at least every 30 s (the server closes each watch
    # on time), so 60 s is one missed round, no more, before padding follows onStaleCache.
    "maxCacheAgeSeconds": 60.0,
    # Bounded work per review (issue 27 availability 6): a spec past any count is refused unjudged,
    # and a review still judging after its CPU budget answers per onOverBudget. The counts sit
    # far above what real pods write (a few terms, tens of tolerations) and keep the worst spec
    # within them under the budget at 5,000 nodes; 1,500 terms once held a worker for 11.5 s.
    "limits": {
        "nodeSelectorTerms": 64,  # required node-affinity terms
        "matchExpressions": 256,  # node-affinity expressions and matchFields, and nodeSelector entries, together
        "values": 1024,  # values of all those expressions together
        "tolerations": 128,
        "containers": 128,  # containers, init containers (sidecars) and ephemeral containers together
        "cpuSecondsPerReview": 0.05,  # CPU time of the node rules per review (time.thread_time)
    },
    # What a review over its CPU budget gets: deny by default, as only a crafted placement costs
    # that much within the counts above, and allowing it would be the bypass the budget closes.
    "onOverBudget": "deny",
    # What a denial says of nodes: pools (the pool and its budget) or detailed (node names too).
    # Whoever is denied may not be allowed to list nodes (issue 27 operations 15).
    "messages": "pools",
}
DEFAULT_PADDING: float = DEFAULTS["padding"]["memory"]


@dataclass(frozen=True)
class NodeTarget:
    selector: Mapping[str, Any]
    memory: float


@dataclass(frozen=True)
class Limits:
    """The counts past which a pod spec is refused unjudged, and the CPU budget of one review."""

    node_selector_terms: int = DEFAULTS["limits"]["nodeSelectorTerms"]
    match_expressions: int = DEFAULTS["limits"]["matchExpressions"]
    values: int = DEFAULTS["limits"]["values"]
    tolerations: int = DEFAULTS["limits"]["tolerations"]
    containers: int = DEFAULTS["limits"]["containers"]
    cpu_seconds_per_review: float = DEFAULTS["limits"]["cpuSecondsPerReview"]


@dataclass(frozen=True)
class Policy:
    mode: str = DEFAULTS["mode"]
    require_requests: tuple[str, ...] = DEFAULTS["requireRequests"]
    padding_memory: float = DEFAULT_PADDING
    node_targets: tuple[NodeTarget, ...] = DEFAULTS["padding"]["nodeTargets"]
    padding_limits: str = DEFAULTS["padding"]["limits"]  # warn | breach: committed limits over target
    padding_requests: str = DEFAULTS["padding"]["requests"]  # off | warn | breach: committed requests over target
    committed: str = DEFAULTS["padding"]["committed"]
    daemon_sets: str = DEFAULTS["padding"]["daemonSets"]  # everyNode | anyNode: a DaemonSet's pod must fit every node it runs on, or one
    # every | any: a pod's need must fit the budget of every node it may be scheduled on, or of one.
    # The scheduler places by requests, not limits, so "any" does not bound where a pod lands
    # (issue 27 bypass 3); "every" does, at the cost of asking pods to narrow their placement.
    eligible_nodes: str = DEFAULTS["padding"]["eligibleNodes"]
    no_eligible_node: str = DEFAULTS["padding"][
        "noEligibleNode"
    ]  # allow | warn | deny: a pod no node can take (a node group may scale from zero)
    exempt_namespaces: tuple[str, ...] = DEFAULTS["exemptNamespaces"]
    namespace_overrides: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULTS["namespaceOverrides"]))
    on_stale_cache: str = DEFAULTS["onStaleCache"]
    max_cache_age_seconds: float = DEFAULTS["maxCacheAgeSeconds"]
    audit: Mapping[str, Any] = field(default_factory=dict)  # kubectl perf audit's own keys (disable, thresholds)
    limits: Limits = field(default_factory=Limits)
    exempt_users: tuple[str, ...] = DEFAULTS["exemptSubjects"]["users"]
    exempt_groups: tuple[str, ...] = DEFAULTS["exemptSubjects"]["groups"]
    exempt_service_accounts: tuple[str, ...] = DEFAULTS["exemptSubjects"]["serviceAccounts"]  # namespace/name
    messages: str = DEFAULTS["messages"]  # pools | detailed
    on_over_budget: str = DEFAULTS["onOverBudget"]  # allow | deny: a review still judging after limits.cpuSecondsPerReview
    storage: Mapping[str, Any] = field(default_factory=dict)  # kubectl perf volumes' thresholds (warn, crit, storageClasses)

    def padding_target(self, node_labels: Mapping[str, str]) -> float:
        """The memory padding target of a node: first matching nodeTarget, else the default."""
        for target in self.node_targets:
            if label_selector_matches(target.selector, node_labels):
                return target.memory
        return self.padding_memory

    @property
    def levels(self) -> Levels:
        """How a node's committed figures count in its padding verdict (padding.judge)."""
        return Levels(self.padding_limits, self.padding_requests)

    def mode_for(self, namespace: str) -> str:
        return self.namespace_overrides.get(namespace, self.mode)

    def exempt_subject(self, username: str, groups: Iterable[str]) -> str:
        """Which exemptSubjects entry a requester matches ("" for none), as it is named in the policy."""
        if username in self.exempt_users:
            return f"user {username}"
        prefix, _, account = username.partition("system:serviceaccount:")
        if not prefix and account and account.replace(":", "/", 1) in self.exempt_service_accounts:
            return f"service account {account.replace(':', '/', 1)}"
        group = next((g for g in groups if g in self.exempt_groups), None)
        return f"group {group}" if group is not None else ""


@dataclass(frozen=True)
class Finding:
    rule: str  # the rule's ID, a key of RULES
    message: str
    container: str = ""
    resource: str = ""
    deny: bool = True  # False: a warning even in enforce mode (committed: warn)


# Why the padding rule could not weigh a pod against any node (Findings.skipped).
STALE_CACHE = "stale_cache"  # no node view to trust (the webhook's cache is stale or not synced)
NO_ELIGIBLE_NODE = "no_eligible_node"  # no node matches the pod's placement
OVER_BUDGET = "over_budget"  # the review spent its CPU budget (limits.cpuSecondsPerReview) first


class Findings(list[Finding]):
    """A rule's findings, with `skipped`: why the rule could not weigh the pod against any node
    ("" when it could, or had nothing to weigh). The webhook counts these by reason."""

    def __init__(self, findings: Iterable[Finding] = (), skipped: str = "") -> None:
        super().__init__(findings)
        self.skipped = skipped


# What the API server's DefaultTolerationSeconds admission plugin adds to every pod that does not
# tolerate these taints already (k8s.io/kubernetes plugin/pkg/admission/defaulttolerationseconds):
# a pod within limits.tolerations in its manifest must stay within it once admitted, and its
# template (judged before the plugin runs) must get the same count as its pods.
DEFAULT_TOLERATIONS = tuple(
    {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
)


def _counted_tolerations(tolerations: Iterable[Any]) -> int:
    """Tolerations against limits.tolerations: all but one copy of each DefaultTolerationSeconds
    toleration (exactly as the plugin writes it; further copies are the spec's own, and count)."""
    listed = list(tolerations)
    return len(listed) - sum(1 for default in DEFAULT_TOLERATIONS if default in listed)


def over_limits(spec: Mapping[str, Any], limits: Limits) -> str:
    """What of a pod spec is past the policy's limits ("" when nothing is), counted before any
    node is looked at: the work a review does then stays bounded whatever the spec holds."""
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms") or ()
    expressions = [e for t in terms for e in (*(t.get("matchExpressions") or ()), *(t.get("matchFields") or ()))]
    counts = (
        (len(terms), limits.node_selector_terms, "node-affinity terms", "nodeSelectorTerms"),
        (
            len(expressions) + len(spec.get("nodeSelector") or {}),
            limits.match_expressions,
            "node-affinity expressions and nodeSelector entries",
            "matchExpressions",
        ),
        (sum(len(e.get("values") or ()) for e in expressions), limits.values, "node-affinity values", "values"),
        (_counted_tolerations(spec.get("tolerations") or ()), limits.tolerations, "tolerations", "tolerations"),
        (sum(1 for _ in all_containers(spec)) + len(spec.get("ephemeralContainers") or ()), limits.containers, "containers", "containers"),
    )
    for count, limit, what, key in counts:
        if count > limit:
            return f"{count} {what}, past the limit of {limit} (limits.{key})"
    return ""


class OverBudget(Exception):
    """A review spent its CPU budget: raised at a checkpoint inside a rule's loop."""


class Budget:
    """A CPU-time budget, checked at checkpoints in the loops over nodes. Callers pass
    time.thread_time (this layer does no I/O and reads no clock of its own): the thread's CPU
    time, not wall time, so a loaded machine or another greenlet waiting does not spend it."""

    CHECK_EVERY = 64  # nodes between checkpoints: a clock read costs about a microsecond

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self._clock = clock
        self._deadline = clock() + seconds

    def check(self) -> None:
        if self._clock() > self._deadline:
            raise OverBudget()


def missing_requests(spec: Mapping[str, Any], required: tuple[str, ...]) -> list[tuple[str, str]]:
    """(container, resource) pairs where a container, init container or sidecar
    requests nothing, or zero, of a required resource. Ephemeral containers cannot carry
    resources and are not looked at. A pod-level request (or limit, which the API server
    defaults the request from, as for containers) covers its containers. A zero amount is
    no request: the scheduler reserves nothing for it (issue 27: "0" passed as present).
    Every pod of a list comes through here (capacity's fold): plain loops, no helper per container."""
    pod_level = spec.get("resources")
    if pod_level:
        required = tuple(r for r in required if not _requested(pod_level, r))
    missing: list[tuple[str, str]] = []
    if not required:
        return missing
    for containers in (spec.get("initContainers"), spec.get("containers")):
        for container in containers or ():
            resources = container.get("resources")
            for r in required:
                if not resources or not _requested(resources, r):
                    missing.append((container.get("name", "?"), r))
    return missing


def _requested(resources: Mapping[str, Any], resource: str) -> bool:
    """Whether a container's (or the pod's) resources make a non-zero request of a resource. A limit
    counts as a request only where no request is written: the API server defaults one from the other
    before anything (but a template) is judged, and an explicit request (0 included) stands."""
    requests = resources.get("requests") or {}
    amount = requests[resource] if resource in requests else (resources.get("limits") or {}).get(resource)
    return amount is not None and parse_quantity(amount) != 0


def _names_zero(spec: Mapping[str, Any], container: str, resource: str) -> bool:
    """Whether the container (or the pod level) writes the resource at all: then it wrote 0."""
    places = [spec.get("resources") or {}]
    places += [c.get("resources") or {} for _kind, c in all_containers(spec) if c.get("name", "?") == container]
    return any(resource in (p.get("requests") or {}) or resource in (p.get("limits") or {}) for p in places)


@dataclass(frozen=True)
class MemoryNeed:
    """The memory a pod may come to use, or the container that makes it unbounded."""

    nanos: int
    unbounded: str = ""  # a container with neither a memory limit nor a request
    # ephemeral containers in a pod whose cgroup no limit bounds: they cannot carry resources, so
    # `kubectl debug` would be refused on every pod without limits; they are warned about instead
    ephemeral: tuple[str, ...] = ()


def memory_need(spec: Mapping[str, Any]) -> MemoryNeed:
    """A container's need is its memory limit, else its request, else unbounded; the pod's
    need adds them up by the scheduler's rules (model.aggregate_amount: sidecars beside the
    app containers, init peaks; then overhead), with a pod-level request as a floor. A pod-level memory
    limit, or a limit on every container and init container, bounds the pod's cgroup (the
    kubelet sets it from their sum), ephemeral containers included: then the need is the
    effective limit, as model.pod_limits has it. A zero amount (limit or request, container
    or pod level) is no amount: the kubelet reads a zero memory limit as none."""
    pod_level = spec.get("resources") or {}
    level_limit = _nonzero((pod_level.get("limits") or {}).get("memory"))
    level_request = _nonzero((pod_level.get("requests") or {}).get("memory"))
    overhead = parse_quantity((spec.get("overhead") or {}).get("memory", 0))
    lists = (spec.get("containers") or (), spec.get("initContainers") or ())
    # One amount per container through the model's scalar aggregate: every review comes
    # here, and nothing of the pod but its memory needs parsing.
    if level_limit is not None or all(_memory(c, "limits") is not None for cs in lists for c in cs):
        need = parse_quantity(level_limit) if level_limit is not None else aggregate_amount(spec, _limit)
        return MemoryNeed(need + overhead if need else 0)  # overhead adds to a limit only where one is set
    ephemeral = tuple(
        str(c.get("name", "?"))
        for c in spec.get("ephemeralContainers") or ()
        if _memory(c, "limits") is None and _memory(c, "requests") is None
    )
    for c in (c for cs in lists for c in cs):
        if _memory(c, "limits") is None and _memory(c, "requests") is None:
            return MemoryNeed(0, str(c.get("name", "?")), ephemeral)
    need = aggregate_amount(spec, _limit_else_request)
    if level_request is not None:  # the pod is expected to use at least its request
        need = max(need, parse_quantity(level_request))
    return MemoryNeed(need + overhead, ephemeral=ephemeral)


def _memory(container: Mapping[str, Any], field: str) -> Any:
    """A container's memory limit or request; a zero amount is none. The kubelet reads a zero
    memory limit as no limit (ResourceConfigForPod: Memory().IsZero(); CRI MemoryLimitInBytes 0
    is unlimited), so "0" must not pass as a need of 0 (issue 27)."""
    return _nonzero(((container.get("resources") or {}).get(field) or {}).get("memory"))


def _nonzero(amount: Any) -> Any:
    """The amount, or None when it is absent or zero."""
    return None if amount is None or parse_quantity(amount) == 0 else amount


def _limit(container: Mapping[str, Any]) -> int:
    limit = _memory(container, "limits")
    return 0 if limit is None else parse_quantity(limit)


def _limit_else_request(container: Mapping[str, Any]) -> int:
    limit = _memory(container, "limits")
    return parse_quantity(_memory(container, "requests") if limit is None else limit)


def _eligible(spec: Mapping[str, Any], nodes: Sequence[NodeView], budget: Budget | None = None) -> Iterator[NodeView]:
    """The nodes the pod may run on, its placement compiled once; a checkpoint of the budget every few nodes."""
    placement = Placement(spec)
    for i, n in enumerate(nodes):
        if budget is not None and not i % Budget.CHECK_EVERY:
            budget.check()
        if placement.matches(n.name, n.labels, n.taints):
            yield n


def _over_budget(rule: str, policy: Policy) -> Findings:
    """A rule that ran out of the review's CPU budget: denied or skipped, per onOverBudget."""
    if policy.on_over_budget == "allow":
        return Findings(skipped=OVER_BUDGET)
    message = (
        f"its placement took more than the review's CPU budget to weigh against the nodes "
        f"({policy.limits.cpu_seconds_per_review:g} s, limits.cpuSecondsPerReview; onOverBudget: deny)"
    )
    return Findings([Finding(rule, message, resource="memory")], OVER_BUDGET)


# -- the rules: (spec, policy, nodes) -> findings ---------------------------------
# `nodes` None means the node view is not to be trusted (a stale webhook cache).
# A pod with no node it may run on has nothing to be weighed against (a node group
# may scale up from zero): the padding rule says so as policy.no_eligible_node asks.
# `kind` is the kind of the object the spec belongs to (a DaemonSet runs on every node).


def requests_rule(
    spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None = None, kind: str = "Pod", budget: Budget | None = None
) -> Findings:
    """Every container, init container and sidecar requests each required resource."""
    missing = missing_requests(spec, policy.require_requests)
    return Findings(
        Finding("requests", f"container {c!r} has no {r} request" + (" (0 counts as none)" if _names_zero(spec, c, r) else ""), c, r)
        for c, r in missing
    )


def padding_rule(
    spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None, kind: str = "Pod", budget: Budget | None = None
) -> Findings:
    """The pod's memory is bounded and fits the padding budget of every node it may run on
    (padding.eligibleNodes: every, the default; `any`: of at least one); a DaemonSet's, of
    every node it runs on (unless padding.daemonSets: anyNode). Says why when it could not
    weigh the pod against any node (Findings.skipped), or ran out of `budget`."""
    memory = memory_need(spec)
    try:
        found = _padding(spec, policy, nodes, kind, budget, memory)
    except OverBudget:
        found = _over_budget("padding", policy)
    for name in memory.ephemeral:  # a warning, never a denial: `kubectl debug` must work on any pod
        message = f"ephemeral container {name!r} has no memory limit and the pod's containers are not all limited"
        found.append(Finding("padding", message, name, "memory", deny=False))
    return found


def _padding(
    spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None, kind: str, budget: Budget | None, memory: MemoryNeed
) -> Findings:
    if memory.unbounded:
        message = f"container {memory.unbounded!r} has neither a memory limit nor a request: its memory is unbounded"
        return Findings([Finding("padding", message, memory.unbounded, "memory")], _unweighed(spec, nodes, budget))
    need = memory.nanos
    if not need:
        return Findings()
    if nodes is None:
        if policy.on_stale_cache == "deny":
            message = "the webhook's view of the nodes is stale, so memory padding cannot be checked"
            return Findings([Finding("padding", message, resource="memory")], STALE_CACHE)
        return Findings(skipped=STALE_CACHE)
    daemon = kind == "DaemonSet"
    if (policy.daemon_sets == "everyNode") if daemon else (policy.eligible_nodes == "every"):
        eligible = list(_eligible(spec, nodes, budget))
        breaching = [n for n in eligible if need > n.budget]
        if not eligible:
            return _no_eligible_node(policy)
        if not breaching:
            return Findings()
        if daemon:
            return Findings([Finding("padding", _breached_pools(need, breaching, DAEMON_POOLS, policy.messages), resource="memory")])
        if len(breaching) < len(eligible):  # some fit: name those that do not, so the pod can be kept off them
            return Findings([Finding("padding", _breached_pools(need, breaching, SOME_POOLS, policy.messages), resource="memory")])
        return Findings([Finding("padding", _fits_none(need, max(breaching, key=lambda n: n.budget), policy.messages), resource="memory")])
    largest: NodeView | None = None
    for n in _eligible(spec, nodes, budget):  # nodes usually come largest budget first: a fit ends the loop early
        if need <= n.budget:
            return Findings()
        if largest is None or n.budget > largest.budget:
            largest = n
    if largest is None:
        return _no_eligible_node(policy)
    return Findings([Finding("padding", _fits_none(need, largest, policy.messages), resource="memory")])


def _fits_none(need: int, largest: NodeView, messages: str) -> str:
    return (
        f"memory {format_bytes(need)} exceeds the padding budget of every node it may run on "
        f"(largest: {format_bytes(largest.budget)}, {largest.target:.0%} of {format_bytes(largest.memory)}{_where(largest, messages)})"
    )


def _where(view: NodeView, messages: str) -> str:
    """Where a budget is: the node (messages: detailed), or only its pool when a label names one
    (messages: pools): whoever is denied may not be allowed to list nodes (issue 27 operations 15)."""
    if messages == "detailed":
        return f" on {view.name}"
    pool = pool_of(view)
    return f" in pool {pool}" if pool != view.name else ""


def _unweighed(spec: Mapping[str, Any], nodes: Sequence[NodeView] | None, budget: Budget | None) -> str:
    """An unbounded pod is judged before its nodes are looked at; the webhook still counts it as
    skipped when no node view could have weighed it (its metric has always done so)."""
    if nodes is None:
        return STALE_CACHE
    try:
        return "" if next(_eligible(spec, nodes, budget), None) is not None else NO_ELIGIBLE_NODE
    except OverBudget:  # the unbounded finding stands; only the reason it was not weighed is lost
        return OVER_BUDGET


def _no_eligible_node(policy: Policy) -> Findings:
    if policy.no_eligible_node == "allow":
        return Findings(skipped=NO_ELIGIBLE_NODE)
    message = "no node matches its nodeSelector, affinity and tolerations, so memory padding could not be checked"
    return Findings([Finding("padding", message, resource="memory", deny=policy.no_eligible_node == "deny")], NO_ELIGIBLE_NODE)


# The opening of a denial that names node pools: a DaemonSet's (it runs on every node), and a
# pod's under padding.eligibleNodes: every when some of the nodes it may land on fit and some not.
UNPOOLED = "nodes without a pool label"  # their entry under messages: pools
MAX_POOLS_LISTED = 10  # pools named in one denial; the rest counted, so a denial stays bounded (issue 27)
DAEMON_POOLS = "node pools a DaemonSet runs a pod on every node of"
SOME_POOLS = "node pools the scheduler may place it on (padding.eligibleNodes: every; keep it off them with a nodeSelector or affinity)"


def _breached_pools(need: int, breaching: Sequence[NodeView], what: str, messages: str) -> str:
    pools: dict[str, list[NodeView]] = {}
    for v in breaching:
        pool = pool_of(v)
        if pool == v.name and messages != "detailed":  # no pool label: no node name either (messages: pools)
            pool = UNPOOLED
        pools.setdefault(pool, []).append(v)
    parts = []
    for name, views in list(pools.items())[:MAX_POOLS_LISTED]:  # 5,000 unlabelled nodes are 5,000 "pools"
        count = sum(v.nodes for v in views)
        low = min(views, key=lambda v: v.budget)
        if name == low.name and count > 1:
            name = f"{name} and {count - 1} more"  # no pool label: nodes alike to this pod
        budget = f"budget {format_bytes(low.budget)}: {low.target:.0%} of {format_bytes(low.memory)}"
        parts.append(f"{name} ({count} node{'s' if count != 1 else ''}, {budget})")
    if len(pools) > MAX_POOLS_LISTED:
        parts.append(f"... and {len(pools) - MAX_POOLS_LISTED} more")
    pools_text = ", ".join(parts)
    return f"memory {format_bytes(need)} exceeds the padding budget of {what}: {pools_text}"


def committed_rule(
    spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None, kind: str = "Pod", budget: Budget | None = None
) -> Findings:
    """With padding.committed warn|deny: the pod's memory fits what the limits already
    committed leave of some node's budget (any node, for DaemonSets too: their old pods'
    limits are among those committed). Quiet when the padding rule already fails."""
    if policy.committed == "off" or nodes is None:
        return Findings()
    try:
        return _committed(spec, policy, nodes, budget)
    except OverBudget:
        return _over_budget("committed", policy)


def _committed(spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView], budget: Budget | None) -> Findings:
    need = memory_need(spec).nanos
    if not need:
        return Findings()
    fits = False
    most_room: int | None = None
    for n in _eligible(spec, nodes, budget):
        room = n.budget - n.committed
        if need <= room:
            return Findings()
        fits = fits or need <= n.budget
        most_room = room if most_room is None else max(most_room, room)
    if most_room is None or not fits:
        return Findings()
    # the node verdict's words (padding.py): committed limits past the budget are overcommit
    message = (
        f"memory {format_bytes(need)} would {OVERCOMMIT} {LIMITS} on every node it may run on: it does not fit the "
        f"padding budget left after the limits already committed (most room: {format_bytes(max(most_room, 0))})"
    )
    return Findings([Finding("committed", message, resource="memory", deny=policy.committed == "deny")])


Rule = Callable[[Mapping[str, Any], Policy, "Sequence[NodeView] | None", str, "Budget | None"], Findings]

# Rule ID -> rule, in the order findings are reported. Audit reports by these IDs.
RULES: dict[str, Rule] = {"requests": requests_rule, "padding": padding_rule, "committed": committed_rule}


def evaluate(
    spec: Mapping[str, Any], policy: Policy, nodes: Sequence[NodeView] | None, kind: str = "Pod", budget: Budget | None = None
) -> Findings:
    """Every rule's findings for one pod spec of a `kind` object, and the first skip reason.
    Once a rule runs out of the budget the rules after it are not run (each would only say so again)."""
    out = Findings()
    for rule in RULES.values():
        found = rule(spec, policy, nodes, kind, budget)
        out.extend(found)
        out.skipped = out.skipped or found.skipped
        if found.skipped == OVER_BUDGET:
            break
    return out
