"""capacity --fit (issue 24 section 1): how many more pods of one shape each node takes, as the
scheduler's filters would place them, and how many of those keep the node within its memory
padding target; per pool and for the cluster the sums, the capacity stranded by padding, and the
largest pod that still fits somewhere. Pure: compute's node rows and a Shape in, figures out.

The definitions (README, "capacity --fit"), all in exact nanos:

- fit: the scheduler's filters, without preemption or scoring (can-schedule's semantics): the
  node must pass the shape's nodeSelector and required node affinity (scheduling.Placement), its
  NoSchedule/NoExecute taints must be tolerated, a cordoned node only takes a pod that tolerates
  node.kubernetes.io/unschedulable (NodeUnschedulable), and then NodeResourcesFit: for each
  resource the shape requests, (allocatable - requested by the node's pods) // the shape's request,
  the pod count among them; fit is the least of these. A resource the node does not offer fits 0.
- fitWithinPadding: of those, how many keep the node's memory within its padding budget
  (model.padding_budget: allocatable x target): (budget - the node's memory requests) // the
  shape's memory request, and where metrics exist (budget - the node's memory in use) // the same;
  the lesser binds (paddingBasis names it). Exactly at the budget is within it (padding.judge).
- limitedBy: what binds fitWithinPadding: `padding` when the padding budget allows fewer pods
  than the scheduler would place, else what binds fit (a resource name, `pods`, `selector`,
  `taints` or `unschedulable`). fitLimitedBy: what binds fit alone.
- stranded capacity, per pool, on its Ready and schedulable nodes: a node whose memory is at or
  past its padding budget (budget - max(requests, usage) <= 0) strands its unrequested CPU
  (allocatable - requests, when positive); a node whose CPU is fully requested strands its memory
  room within the budget. Shares are of the pool's allocatable. Independent of the shape.
- largestFit: the most room a new pod could have on one node: among Ready, schedulable nodes with
  a free pod slot, the node with the most memory within its padding budget (then the most CPU);
  its unrequested CPU and that memory. Taints and selectors are not weighed (any pod's shape).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..model import padding_budget, pool_name
from ..quantity import NANO
from ..scheduling import Placement, tolerates_unschedulable
from .compute import Node
from .fit_shape import COUNT, Shape

# The order a tie between resources is named in: the familiar ones first, the pod count last.
FIRST = ("cpu", "memory", "ephemeral-storage")
PADDING = "padding"


def _order(resource: str) -> tuple[int, str]:
    if resource in FIRST:
        return (FIRST.index(resource), "")
    return (len(FIRST) + (1 if resource == COUNT else 0), resource)


@dataclass(frozen=True)
class NodeFit:
    name: str
    pool: str
    fit: int
    within_padding: int
    limited_by: str  # what binds within_padding (see the module's definitions)
    fit_limited_by: str  # what binds fit
    padding_basis: str | None  # "requests" or "usage": the padding figure that allows fewer; None: no memory asked
    cpu_free: int  # nanos: allocatable - requested (may be negative: overcommitted requests)
    memory_free: int  # bytes in nanos, of allocatable
    padding_room: int  # memory left within the padding budget: budget - max(requests, usage)
    pods_free: int  # pod slots left
    usage_known: bool


@dataclass(frozen=True)
class Largest:
    node: str
    cpu: int  # nanos
    memory: int  # nanos (bytes x 10**9)

    def key(self) -> tuple[int, int, str]:
        return (self.memory, self.cpu, self.node)


@dataclass
class PoolFit:
    """A pool's (or, named "", the cluster's) sums over its nodes."""

    pool: str
    nodes: int = 0
    fit: int = 0
    within_padding: int = 0
    stranded_cpu: int = 0  # nanos
    stranded_memory: int = 0  # nanos
    allocatable_cpu: int = 0  # of every node of the pool (the shares' whole)
    allocatable_memory: int = 0
    largest: Largest | None = None
    members: list[NodeFit] = field(default_factory=list, repr=False)

    def share(self, stranded: int, whole: int) -> float:
        return stranded / whole if whole else 0.0


@dataclass(frozen=True)
class FitReport:
    shape: Shape
    nodes: list[NodeFit]
    pools: list[PoolFit]
    total: PoolFit
    usage_known: bool  # node metrics were read: fitWithinPadding weighs usage too


def node_fit(row: Node, shape: Shape, placement: Placement, cordon_ok: bool) -> NodeFit:
    """One node's figures (the module's definitions)."""
    alloc = row.amounts.allocatable or {}
    requested = row.amounts.requests
    usage = row.node_usage
    memory_alloc = alloc.get("memory", 0)
    budget = padding_budget(memory_alloc, row.target)
    memory_requested = requested.get("memory", 0)
    memory_used = None if usage is None else usage.get("memory", 0)
    room = budget - max(memory_requested, memory_used if memory_used is not None else memory_requested)
    fit, limited = _scheduler_fit(row, shape, placement, cordon_ok)
    within, basis = fit, None
    need = shape.requests.get("memory", 0)
    if need > 0:
        on_requests = max(0, (budget - memory_requested) // need)
        on_usage = None if memory_used is None else max(0, (budget - memory_used) // need)
        padded = on_requests if on_usage is None else min(on_requests, on_usage)
        basis = "usage" if on_usage is not None and on_usage < on_requests else "requests"
        within = min(fit, padded)
    return NodeFit(
        row.name,
        pool_name(row.name, row.labels),
        fit,
        within,
        PADDING if within < fit else limited,
        limited,
        basis,
        alloc.get("cpu", 0) - requested.get("cpu", 0),
        memory_alloc - memory_requested,
        room,
        (alloc.get(COUNT, 0) - requested.get(COUNT, 0)) // NANO,
        usage is not None,
    )


def _scheduler_fit(row: Node, shape: Shape, placement: Placement, cordon_ok: bool) -> tuple[int, str]:
    """(how many more pods the scheduler's filters admit, what binds)."""
    if not placement.matches(row.name, row.labels, ()):
        return 0, "selector"  # nodeSelector, required node affinity (or another node's nodeName)
    if row.taints and not placement.matches(row.name, row.labels, row.taints):
        return 0, "taints"
    if not row.schedulable and not cordon_ok:
        return 0, "unschedulable"
    alloc = row.amounts.allocatable or {}
    requested = row.amounts.requests
    counts = {r: max(0, (alloc.get(r, 0) - requested.get(r, 0)) // need) for r, need in shape.requests.items() if need > 0}
    least = min(counts.values())
    return least, min((r for r, n in counts.items() if n == least), key=_order)


def stranded(row: Node) -> tuple[int, int]:
    """(CPU stranded by memory at its padding budget, memory room stranded by CPU fully requested),
    nanos; (0, 0) for a NotReady or cordoned node (it takes no pod either way)."""
    if not row.ready or not row.schedulable:
        return 0, 0
    alloc = row.amounts.allocatable or {}
    cpu_free = alloc.get("cpu", 0) - row.amounts.requests.get("cpu", 0)
    room = _room(row)
    return (max(cpu_free, 0) if room <= 0 else 0), (max(room, 0) if cpu_free <= 0 else 0)


def _room(row: Node) -> int:
    """Memory left within the node's padding budget: budget - max(requests, usage where known)."""
    budget = padding_budget((row.amounts.allocatable or {}).get("memory", 0), row.target)
    requested = row.amounts.requests.get("memory", 0)
    used = None if row.node_usage is None else row.node_usage.get("memory", 0)
    return budget - (requested if used is None else max(requested, used))


def largest(row: Node) -> Largest | None:
    """The room a new pod could have on this node; None when it takes no pod (NotReady, cordoned, full)."""
    alloc = row.amounts.allocatable or {}
    if not row.ready or not row.schedulable or alloc.get(COUNT, 0) - row.amounts.requests.get(COUNT, 0) < NANO:
        return None
    return Largest(row.name, max(0, alloc.get("cpu", 0) - row.amounts.requests.get("cpu", 0)), max(0, _room(row)))


def _bigger(a: Largest | None, b: Largest | None) -> Largest | None:
    if a is None:
        return b
    if b is None:
        return a
    # the most memory, then the most CPU; a tie goes to the first node by name
    return b if (b.memory, b.cpu) > (a.memory, a.cpu) or ((b.memory, b.cpu) == (a.memory, a.cpu) and b.node < a.node) else a


def _add(pool: PoolFit, fitted: NodeFit, alloc: Mapping[str, int], strands: tuple[int, int], room: Largest | None) -> None:
    """One node into a pool's (or the cluster's) sums; its figures worked out once for both."""
    pool.nodes += 1
    pool.fit += fitted.fit
    pool.within_padding += fitted.within_padding
    pool.stranded_cpu += strands[0]
    pool.stranded_memory += strands[1]
    pool.allocatable_cpu += alloc.get("cpu", 0)
    pool.allocatable_memory += alloc.get("memory", 0)
    pool.largest = _bigger(pool.largest, room)


def fit_report(rows: Iterable[Node], shape: Shape, usage_known: bool) -> FitReport:
    """Every node's figures (by name), each pool's sums (by pool name) and the cluster's."""
    placement = Placement(shape.spec)
    # a pod bound by spec.nodeName bypasses the scheduler, NodeUnschedulable with it
    cordon_ok = bool(placement.bound) or tolerates_unschedulable(tuple(shape.spec.get("tolerations") or ()))
    nodes: list[NodeFit] = []
    pools: dict[str, PoolFit] = {}
    total = PoolFit("")
    for row in sorted(rows, key=lambda n: n.name):
        if not row.known:
            continue
        fitted = node_fit(row, shape, placement, cordon_ok)
        nodes.append(fitted)
        pool = pools.setdefault(fitted.pool, PoolFit(fitted.pool))
        pool.members.append(fitted)
        total.members.append(fitted)
        alloc, strands, room = row.amounts.allocatable or {}, stranded(row), largest(row)
        _add(pool, fitted, alloc, strands, room)
        _add(total, fitted, alloc, strands, room)
    return FitReport(shape, nodes, [pools[k] for k in sorted(pools)], total, usage_known)


def limited_counts(pool: PoolFit) -> Mapping[str, int]:
    """How many of a pool's nodes each constraint binds (fitWithinPadding's), for the table."""
    out: dict[str, int] = {}
    for n in pool.members:
        out[n.limited_by] = out.get(n.limited_by, 0) + 1
    return out
