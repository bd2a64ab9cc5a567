"""The cAdvisor section's scrapes, started while the pods are read.

The section scrapes the nodes choice.rank puts first, on the capacity section's padding verdicts and
CPU use and the CPU-limited containers on each node: known once every pod is read, so the scrapes
were the report's tail (16 kubelets: a third of a second on perf-sim at 1,000 nodes). Most of that
choice is known sooner. Breaches on usage and CPU use come from the nodes and their metrics, read
first (choice.early_facts), and the containers counted so far (counted_so_far) show which
nodes run CPU-limited ones as the pods arrive. A node is scraped early once it is seen to run one and
is among the first `count` in rank's order on the early facts, not counting nodes seen to run
UNLIMITED_AFTER pods and no limit (a GPU pool's). When every node will be scraped, each is at once.

The choice itself is made as before, after the pods; its nodes take these scrapes where they were
guessed and are scraped then where not, so the section is the same either way. A guessed node the
choice does not make cost one scrape, unused (a breach that only the pods' committed limits make, when
the policy says limits breach, is not seen early); a guessed scrape that failed is made again, so its
error is the section's as it would have been.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Container, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..api import ApiError, node_metrics_path
from ..quantity import QuantityError

if TYPE_CHECKING:
    from ..cadvisor.fetch import NodeScrapes
    from ..cadvisor.flags import CadvisorOptions
    from .choice import NodeFacts
    from .shared import SharedCluster

# Scrapes at once while the pods are read: they share the client with the sections' folds, and two at
# a time are done long before the pod list is (more would crowd the folds with their parsing).
CONCURRENCY = 2
# Pods seen on a node, none CPU-limited, after which it is taken to run none: a node with a third of
# its pods limited shows none in its first 8 one time in 25 (and is then scraped after the pods).
UNLIMITED_AFTER = 8
WAIT = 0.02  # seconds between looks at the counts while no node is known to be chosen


@dataclass
class SoFar:
    """What sections.cpu_limited_of has counted of the pods read so far, per node."""

    limited: dict[str, int] = field(default_factory=dict)  # CPU-limited containers
    pods: dict[str, int] = field(default_factory=dict)  # pods
    done: bool = False  # every pod is counted (or none could be)


def counted_so_far(cluster: SharedCluster, chunk_size: int) -> SoFar:
    return cluster.remember(("cpu-limited so far", chunk_size), SoFar)


class EarlyScrapes:
    """First scrapes of the nodes the choice is likely to make, made by daemon threads (one stuck on a
    silent kubelet, until kubelet.NODE_TIMEOUT, does not hold the process at its end); taken() hands each
    over once."""

    def __init__(self, cluster: SharedCluster, endpoint: str) -> None:
        self._cluster, self._endpoint = cluster, endpoint
        self._lock = threading.Lock()
        self._started: dict[str, Future[NodeScrapes]] = {}
        self._taken: set[str] = set()
        self._closed = False

    def start(self, order: Sequence[str], every: bool, count: int, so_far: SoFar) -> None:
        """Scrape nodes of `order`'s first `count` (every one of them when `every`: all will be chosen)."""
        for _ in range(min(CONCURRENCY, count)):
            threading.Thread(target=self._work, args=(list(order), every, count, so_far), name="early scrape", daemon=True).start()

    def _next(self, order: list[str], every: bool, count: int, so_far: SoFar) -> str | None:
        with self._lock:
            name = next_node(order, every, count, so_far, self._started.keys() | self._taken)
            if name is not None:
                self._started[name] = Future()
            return name

    def _work(self, order: list[str], every: bool, count: int, so_far: SoFar) -> None:
        from ..cadvisor.fetch import NodeScrapes, scrape

        while not self._closed:
            done = so_far.done  # read before the look: a look after the last count is the last
            name = self._next(order, every, count, so_far)
            if name is None:
                if done or every:
                    return
                time.sleep(WAIT)  # the pods read meanwhile may show more nodes to run CPU limits
                continue
            result = NodeScrapes(name)
            try:
                scrape(self._cluster, result, self._endpoint)
            except ApiError as err:  # 403: the section's own scrape meets it again and says so
                result.error = str(err)
            except BaseException as err:  # not the section's to wait on forever: it scrapes again
                self._started[name].set_exception(err)
                return
            self._started[name].set_result(result)

    def taken(self, name: str) -> NodeScrapes | None:
        """The node's scrape when one was started and came back whole, else None (scrape it now)."""
        with self._lock:
            future = None if name in self._taken else self._started.get(name)
            self._taken.add(name)  # the section's from now: not started here after it scraped it itself
        if future is None:
            return None
        try:
            result = future.result()
        except Exception:
            return None
        return result if result.scrapes and not result.error else None

    def close(self) -> None:
        """No more scrapes after those under way."""
        self._closed = True


def next_node(order: Sequence[str], every: bool, count: int, so_far: SoFar, started: Container[str]) -> str | None:
    """The next node to scrape early, or None while none not `started` is known to be chosen: the first of
    `order` seen to run a CPU-limited container, among its first `count` not seen to run none (every one of
    them when `every`: all will be chosen)."""
    window = 0
    for name in order:
        if window == count:
            return None
        if not every and so_far.pods.get(name, 0) >= UNLIMITED_AFTER and not so_far.limited.get(name):
            continue  # taken to run no CPU limit: the choice passes over it
        window += 1
        if name not in started and (every or so_far.limited.get(name)):
            return name
    return None


def scrape_likely(cluster: SharedCluster, options: CadvisorOptions, count: int, chunk_size: int, early: EarlyScrapes) -> None:
    """Start the scrapes of the nodes the section will most likely choose. Without node metrics there is
    no guess (the choice then ranks by CPU-limited containers alone, known once the pods are read)."""
    from ..cadvisor.flags import LiveNodes, Summary
    from .choice import early_facts, rank

    source, report = options.source, options.report
    if not isinstance(source, LiveNodes) or not isinstance(report, Summary) or source.names or source.by_pods:
        return
    try:
        nodes: list[dict[str, Any]] = cluster.fold(
            "/api/v1/nodes", list, lambda acc, items: acc.extend(items), {"labelSelector": source.node_selector}
        )
        usage = cluster.get(node_metrics_path()).get("items") or []
        policy = report.policy
        facts: Mapping[str, NodeFacts] = early_facts(nodes, usage, policy.padding_target, policy.levels)
    except (ApiError, QuantityError):  # no guess: the capacity section says what is wrong with the figures
        return
    assumed = {n: dataclasses.replace(f, cpu_limited=1) for n, f in facts.items()}  # until the pods say otherwise
    early.start(rank(list(facts), assumed, None), count >= len(nodes), count, counted_so_far(cluster, chunk_size))
