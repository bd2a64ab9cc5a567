"""What one run of `kubectl perf capacity` is asked to do, as typed data (kubectl top's
options struct): flags.options() builds it from the command line; fetch, compute and output
read it and never see an argparse namespace."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..api import DEFAULT_CHUNK_SIZE, Connection
from ..policy import Policy
from ..scheduling import tolerates
from ..usage import UsageSource

if TYPE_CHECKING:
    from .fit_shape import FitAsk  # imported with a --fit flag only (flags.py)

USAGE_RESOURCES = ("cpu", "memory")  # what metrics.k8s.io reports
STORAGE = "ephemeral-storage"  # its usage comes from the kubelets' /stats/summary (storage.py)
COUNT = "pods"  # the pseudo-resource: pods scheduled against allocatable pods


# -- the view: how deep the rows go, or a roll-up -------------------------------------
@dataclass(frozen=True)
class Nodes:
    """One row per node (and the cluster's)."""


@dataclass(frozen=True)
class Pods:
    """Each node followed by its pods."""


@dataclass(frozen=True)
class Containers:
    """Each node, its pods, and each pod's containers."""


Depth = Nodes | Pods | Containers


@dataclass(frozen=True)
class GroupBy:
    """--by: pods rolled up by namespace (label None) or by the value of a pod label;
    with on_nodes, nodes rolled up by the value of a node label."""

    label: str | None = None
    on_nodes: bool = False

    @property
    def title(self) -> str:
        return self.label if self.label is not None else "namespace"

    def group_of(self, namespace: str, labels: Mapping[str, str]) -> str:
        return namespace if self.label is None else labels.get(self.label, "<none>")


@dataclass(frozen=True)
class Groups:
    """--by: one row per group; -o json/yaml still carry the node rows, as deep as `depth`."""

    by: GroupBy
    depth: Depth = Nodes()


View = Depth | Groups


def depth_of(view: View) -> Depth:
    return view.depth if isinstance(view, Groups) else view


def groups_of(view: View) -> GroupBy | None:
    return view.by if isinstance(view, Groups) else None


def needs_pod_rows(view: View) -> bool:
    """Whether the rows go below the nodes (pod and container views, and pod groups): then
    each pod's usage matters, not only the nodes'."""
    by = groups_of(view)
    return not isinstance(depth_of(view), Nodes) or (by is not None and not by.on_nodes)


# -- what is shown: filters -------------------------------------------------------------
@dataclass(frozen=True)
class AllNamespaces:
    """No -n: pods in every namespace."""


@dataclass(frozen=True)
class Namespace:
    """-n NAME: pods in one namespace."""

    name: str


Scope = AllNamespaces | Namespace


@dataclass(frozen=True)
class TaintFilter:
    """One --node-taints term: nodes carrying (or, with exclude, not carrying) a taint."""

    key: str
    value: str | None  # None: any value
    effect: str | None  # None: any effect
    exclude: bool

    def on(self, taints: Sequence[Mapping[str, Any]]) -> bool:
        # A term matches a taint exactly when the same toleration would tolerate it.
        toleration = {"key": self.key, "operator": "Exists" if self.value is None else "Equal", "value": self.value, "effect": self.effect}
        return any(tolerates(toleration, t) for t in taints)


@dataclass(frozen=True)
class NodeFilter:
    """Which nodes are shown: --node-selector (the API server filters), taints and
    schedulability (filtered here)."""

    selector: str | None = None
    taints: tuple[TaintFilter, ...] = ()
    no_taint: bool = False
    schedulable_only: bool = False

    @property
    def flags(self) -> str:
        """The taint and selector filters as flags, for the note when no node matches."""
        parts = (
            f"--node-selector {self.selector}" if self.selector else "",
            "--node-taints" if self.taints else "",
            "--no-taint" if self.no_taint else "",
        )
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class PodFilter:
    """Which pods the rows sum: -n, -l, --namespace-labels."""

    scope: Scope = AllNamespaces()
    selector: str | None = None
    namespace_labels: str | None = None

    @property
    def namespace(self) -> str | None:
        return self.scope.name if isinstance(self.scope, Namespace) else None

    @property
    def filtered(self) -> bool:
        """Whether a pod filter leaves pods out: rows then sum the shown pods only."""
        return bool(self.namespace or self.selector or self.namespace_labels)

    def describe(self) -> str:
        """The active pod filters as flags, e.g. "-n shop -l app=web"."""
        parts = [f"-n {self.namespace}" if self.namespace else "", f"-l {self.selector}" if self.selector else ""]
        parts.append(f"--namespace-labels {self.namespace_labels}" if self.namespace_labels else "")
        return " ".join(p for p in parts if p)


# -- --sort -------------------------------------------------------------------------------
class Part(enum.Enum):
    """A figure a row can be sorted by (and a column shows)."""

    REQUESTS = "requests"
    LIMITS = "limits"
    UTIL = "util"
    ALLOCATABLE = "allocatable"
    SLACK = "slack"


@dataclass(frozen=True)
class ByName:
    pass


@dataclass(frozen=True)
class ByPods:
    pass


@dataclass(frozen=True)
class ByAmount:
    """RESOURCE.PART[.percent]."""

    resource: str
    part: Part
    percent: bool = False


@dataclass(frozen=True)
class ByBreach:
    """--sort breach (triage): breaching nodes first, then overcommitted, then by memory usage
    as a share of allocatable (limits' share breaks ties); pods and pod groups by memory usage."""


SortKey = ByName | ByPods | ByAmount | ByBreach


# -- output, the plan, and the whole --------------------------------------------------------
@dataclass(frozen=True)
class Display:
    """How the report is printed."""

    output: str = "table"
    resources: tuple[str, ...] = ("cpu", "memory")
    hide_requests: bool = False
    hide_limits: bool = False
    available: bool = False  # node cells read "what is left/allocatable"
    label_columns: tuple[str, ...] = ()  # -L keys
    show_labels: bool = False
    sort: SortKey | None = None
    only_breaching: bool = False  # only nodes, node groups and pods (of breaching nodes) that breach
    top: int | None = None  # only the first N nodes (and groups), after sorting

    @property
    def trimmed(self) -> bool:
        """Whether rows are left out of the lists (the cluster row still sums the whole scope)."""
        return self.only_breaching or self.top is not None


@dataclass(frozen=True)
class Plan:
    """The reads this run needs beyond nodes and pods (which it always reads)."""

    node_usage: bool = False  # NodeMetrics (--util, or --fail-on-breach: usage over target is the breach)
    pod_usage: bool = False  # PodMetrics (--util with pod rows or a pod filter)
    storage: bool = False  # the kubelets' /stats/summary (--util with ephemeral-storage shown)
    whole_nodes: bool = False  # every pod's limits, for the padding verdict under a pod filter
    namespaces: bool = False  # the namespaces --namespace-labels selects


@dataclass(frozen=True)
class CapacityOptions:
    connection: Connection
    policy: Policy
    view: View = Nodes()
    util: bool = False
    nodes: NodeFilter = NodeFilter()
    pods: PodFilter = PodFilter()
    chunk_size: int = DEFAULT_CHUNK_SIZE
    display: Display = Display()
    fail_on_breach: bool = False
    usage: UsageSource = UsageSource()  # --usage-source, --usage-window
    need_nodes: tuple[str, ...] = ()  # flags given that need the nodes listed: refused when that is forbidden
    plan: Plan = Plan()
    fit: FitAsk | None = None  # --fit, --fit-pod, --fit-workload: the headroom view (fit_run) instead of the rows
    contexts: tuple[str, ...] | None = None  # --context a,b / --all-contexts ("*"): several clusters (several.py); None: one
