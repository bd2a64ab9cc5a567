"""Which nodes the report's cAdvisor section scrapes (--cadvisor-nodes, default 16).

Scraping every kubelet is `cadvisor --summary --all-nodes`'s job: on perf-sim each dump is about
1.4 MB of text, and at 1,000 nodes parsing them was nine tenths of a full report's time. The
report's cAdvisor section answers "which containers are throttled or near their memory limit", and
those are found where the report already points: nodes in padding breach first (memory pressure:
working sets near limits, OOM kills), then the nodes running containers with CPU limits (only they
can be throttled), busiest by CPU first, then the rest by name. The ranking uses only what the
capacity section and the shared pod list already hold; without capacity figures (no metrics, or
--sections without capacity) the nodes with the most CPU-limited containers come first. The section
says how many nodes it read out of how many, and why those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..padding import BREACH, Levels, judge

DEFAULT_NODES = 16
RULE = "nodes in padding breach first, then those running CPU-limited containers, busiest by CPU first (--cadvisor-nodes all: every node)"
# without usage figures (no metrics, or no capacity section) nothing is known of breaches or CPU use
RULE_WITHOUT_USAGE = "the nodes running the most CPU-limited containers (no usage figures to rank by; --cadvisor-nodes all: every node)"


@dataclass(frozen=True)
class NodeFacts:
    """What the ranking weighs of one node."""

    breach: bool = False  # the capacity section's padding verdict is a breach
    cpu_used: float = 0.0  # CPU usage over allocatable; 0 when not known
    cpu_limited: int = 0  # containers under a CPU limit, their own or their pod's (init containers too)


def cpu_limited(
    pods: Iterable[Mapping[str, Any]], counts: dict[str, int] | None = None, seen: dict[str, int] | None = None
) -> dict[str, int]:
    """node -> containers with a CPU limit, from pods (their spec.nodeName), added into `counts`;
    `seen`: node -> pods counted (report/early.py weighs a node with many pods and no limit so far)."""
    counts = {} if counts is None else counts
    for pod in pods:
        spec = pod.get("spec") or {}
        node = spec.get("nodeName")
        if not node:
            continue
        if seen is not None:
            seen[node] = seen.get(node, 0) + 1
        pod_level = spec.get("resources")
        if pod_level and "cpu" in (pod_level.get("limits") or {}):  # a pod-level limit caps every container's cgroup
            limited = len(spec.get("containers") or ()) + len(spec.get("initContainers") or ())
        else:  # plain loops: every pod of the cluster comes through here
            limited = 0
            for containers in (spec.get("containers"), spec.get("initContainers")):
                for c in containers or ():
                    resources = c.get("resources")
                    if resources and "cpu" in (resources.get("limits") or {}):
                        limited += 1
        if limited:
            counts[node] = counts.get(node, 0) + limited
    return counts


def rank(names: Sequence[str], facts: Mapping[str, NodeFacts], count: int | None) -> list[str]:
    """The `count` nodes to scrape (None: all), best candidates first."""
    none = NodeFacts()

    def key(name: str) -> tuple[bool, bool, float, int, str]:
        f = facts.get(name, none)
        # descending on the first four (negated), then by name for a stable choice
        return (not f.breach, f.cpu_limited == 0, -f.cpu_used, -f.cpu_limited, name)

    ordered = sorted(names, key=key)
    return ordered if count is None else ordered[:count]


def early_facts(
    nodes: Iterable[Mapping[str, Any]],
    usage: Iterable[Mapping[str, Any]],
    target_for: Callable[[Mapping[str, str]], float],
    levels: Levels,
) -> dict[str, NodeFacts]:
    """What the ranking weighs that is known before the pods are read, per node: from its metrics
    (metrics.k8s.io NodeMetrics items), its padding verdict on usage alone (usage over the budget is a
    breach whatever its pods commit) and its CPU use; without, neither. report/early.py guesses the
    choice from them."""
    from ..model import node_allocatable, parse_resource_list

    used = {str((m.get("metadata") or {}).get("name")): parse_resource_list(m.get("usage")) for m in usage}  # as capacity reads them
    facts: dict[str, NodeFacts] = {}
    for node in nodes:
        meta = node.get("metadata") or {}
        name = str(meta.get("name") or "")
        figures = used.get(name)
        if figures is None:
            facts[name] = NodeFacts()  # no usage known: as pick() weighs such a node
            continue
        allocatable = node_allocatable(node)
        verdict = judge(allocatable.get("memory", 0), target_for(meta.get("labels") or {}), figures.get("memory"), 0, 0, levels)
        cores = allocatable.get("cpu", 0)
        facts[name] = NodeFacts(verdict.state == BREACH, figures.get("cpu", 0) / cores if cores else 0.0)
    return facts
