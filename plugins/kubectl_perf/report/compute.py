"""The report's first screen, from the sections' results (pure: no reads, no printing).

Every figure is counted from what the plugin's own compute made; None where its section is
missing (the page then says why instead of showing a 0 that would read as "none")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .sections import Audit, Cadvisor, Capacity, Images, Section


@dataclass(frozen=True)
class Throttled:
    namespace: str
    pod: str
    container: str
    node: str
    ratio: float  # throttled periods over all periods (between the scrapes, or since the container started)


@dataclass(frozen=True)
class Figures:
    nodes: int | None = None
    pools: int | None = None
    breaching: int | None = None  # nodes whose padding verdict is a breach; None too when no node's usage is known
    unknown: int | None = None  # nodes whose usage is unknown (and no committed figure breaches): they may breach
    overcommitted: int | None = None  # nodes with some figure overcommitted
    failing_rules: tuple[str, ...] | None = None  # audit rules with at least one fail or error
    throttled: tuple[Throttled, ...] | None = None  # flagged "throttling", most throttled first, the top N
    throttled_count: int | None = None  # every container flagged "throttling" on the nodes scraped
    cadvisor_scope: str = ""  # how many nodes the cAdvisor section scraped, of how many
    since_start: bool = False  # the throttling figures are since each container started (one scrape)
    pre_pull: int | None = None  # images the pre-pull plan names

    def document(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "pools": self.pools,
            "paddingBreachingNodes": self.breaching,
            "paddingUnknownNodes": self.unknown,
            "overcommittedNodes": self.overcommitted,
            "failingAuditRules": None if self.failing_rules is None else list(self.failing_rules),
            "throttledContainers": None
            if self.throttled is None
            else [
                {"namespace": t.namespace, "pod": t.pod, "container": t.container, "node": t.node, "throttledRatio": t.ratio}
                for t in self.throttled
            ],
            "throttledContainerCount": self.throttled_count,
            "throttlingSinceStart": self.since_start,
            "prePullCandidates": self.pre_pull,
        }


def figures(sections: dict[str, Section], top: int) -> Figures:
    out: dict[str, Any] = {}
    cap = sections.get("capacity")
    if isinstance(cap, Capacity):
        total = cap.report.total
        padding = total.padding
        # "0 breaches" where no node's usage is known would read as "none": it is not known (None, shown "–")
        none_known = bool(padding.nodes) and len(padding.unknown) == padding.nodes
        out.update(
            nodes=sum(1 for n in total.nodes if n.known),
            pools=len(cap.report.groups),
            breaching=None if none_known else len(padding.breaching),
            unknown=len(padding.unknown),
            overcommitted=len(padding.overcommitted),
        )
    aud = sections.get("audit")
    if isinstance(aud, Audit):
        out["failing_rules"] = tuple(rule for rule, counts in aud.overview.by_rule.items() if counts.get("fail") or counts.get("error"))
    cad = sections.get("cadvisor")
    if isinstance(cad, Cadvisor):
        since = cad.summary.since_start
        flagged = []
        for r in cad.summary.containers:
            ratio = r.throttled_ratio_since_start if since else r.throttled_ratio
            if "throttling" in r.flags and ratio is not None:
                flagged.append(Throttled(r.namespace, r.pod, r.container, r.node, ratio))
        flagged.sort(key=lambda t: (-t.ratio, t.namespace, t.pod, t.container))
        out.update(
            throttled=tuple(flagged[:top]),
            throttled_count=cad.summary.flag_counts.get("throttling", 0),
            since_start=since,
            cadvisor_scope=cad.scope(),
        )
    img = sections.get("images")
    if isinstance(img, Images):
        out["pre_pull"] = len(img.report.pre_pull)
    return Figures(**out)
