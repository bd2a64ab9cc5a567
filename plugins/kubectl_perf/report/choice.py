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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


def cpu_limited(pods: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """node -> containers with a CPU limit, from pods (their spec.nodeName)."""
    counts: dict[str, int] = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        node = spec.get("nodeName")
        if not node:
            continue
        containers = [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]
        if "cpu" in ((spec.get("resources") or {}).get("limits") or {}):  # a pod-level limit caps every container's cgroup
            limited = len(containers)
        else:
            limited = sum(1 for c in containers if "cpu" in ((c.get("resources") or {}).get("limits") or {}))
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
