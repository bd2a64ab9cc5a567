"""One meaning of a memory padding breach (issue 20), for every plugin and the webhook's words.

Per node, three memory figures are weighed against the node's padding budget (allocatable x
target, model.padding_budget):

- usage (the node's own working set, as metrics-server reports it) over the budget is a
  **breach**: the node is using what it was meant to keep free. Always a breach.
- committed limits over the budget is **overcommit**: the pods may come to use it, but do not
  yet. A warning by default; `padding.limits: breach` in the policy makes it a breach.
- committed requests over the budget: off by default (limits are normally the larger figure
  and say it first); `padding.requests: warn | breach` weighs them too.

Where usage was to be weighed but is not known (metrics-server left the node out, or serves no
figures), a node no committed figure breaches is **unknown**, not ok: `usage unknown`, and the
counts say how many nodes (`usage unknown 2/40`). Where usage is not asked for (capacity without
--util), the verdict weighs the committed figures alone, as it always did.

capacity's PADDING column and --fail-on-breach, audit's node-padding and committed checks and
cadvisor's node row all call `judge` and print `Verdict.text()`, so one node reads the same
everywhere. Pure: integers in, a Verdict out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .model import padding_budget

# The words, once: a verdict's state, and the figures it weighs (in the order they print).
BREACH = "breach"
OVERCOMMIT = "overcommit"
UNKNOWN = "unknown"  # no breach known, but the usage it was to weigh is not known
OK = "ok"
STATES = (BREACH, OVERCOMMIT, UNKNOWN, OK)  # the order triage ranks them in (--sort breach)
# The pages' colour for each state (css classes): a breach red, what may breach or will amber, ok green.
TONES = {BREACH: "bad", OVERCOMMIT: "warn", UNKNOWN: "warn", OK: "ok"}
USAGE, LIMITS, REQUESTS = "usage", "limits", "requests"
FIGURES = (USAGE, LIMITS, REQUESTS)

# The policy's levels for committed figures (padding.limits, padding.requests): `warn` calls the
# figure over target overcommit, `breach` a breach, `off` does not weigh it.
LIMITS_LEVELS = ("warn", "breach")
REQUESTS_LEVELS = ("off", "warn", "breach")


def target_text(target: float) -> str:
    """A padding target as a percentage: 75%, 57%, 75.5% (a policy's figure, not a measure: not truncated)."""
    return f"{target * 100:.1f}".rstrip("0").rstrip(".") + "%"


def share(value: object, what: str = "padding target") -> float:
    """A padding target as written: a fraction (0.75) or a percentage ("75%"), above 0 and at most
    1 (100%). The one reading of both forms, for --padding-target and the policy file alike
    (issue 20: the flag took 75% and the file refused it); ValueError worded for the user otherwise."""
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError
        text = value.strip() if isinstance(value, str) else value
        number = float(text[:-1]) / 100 if isinstance(text, str) and text.endswith("%") else float(text)
    except (TypeError, ValueError):
        raise ValueError(f"invalid {what} {value!r}: use a fraction like 0.75 or a percentage like 75%") from None
    if not 0 < number <= 1:  # NaN too
        raise ValueError(f"{what} {value!r} must be above 0 and at most 1 (100%)")
    return number


@dataclass(frozen=True)
class Levels:
    """How the committed figures count (the policy's padding.limits and padding.requests)."""

    limits: str = "warn"
    requests: str = "off"

    def of(self, figure: str) -> str:
        """usage always breaches; the committed figures as the policy says."""
        return "breach" if figure == USAGE else self.limits if figure == LIMITS else self.requests


DEFAULT_LEVELS = Levels()  # the policy's defaults (policy.DEFAULTS: limits warn, requests off)


@dataclass(frozen=True)
class Verdict:
    """One node's padding verdict and the figures it rests on (nanos; usage None: not known)."""

    target: float
    allocatable: int  # memory
    usage: int | None
    limits: int
    requests: int = 0
    breaches: tuple[str, ...] = ()  # figures over the budget that count as a breach
    overcommits: tuple[str, ...] = ()  # figures over the budget that count as overcommit
    judged: bool = True  # False: no allocatable memory known (nodes that could not be listed)
    usage_unknown: bool = False  # usage was to be weighed and is not known (usage is None)

    @property
    def budget(self) -> int:
        return padding_budget(self.allocatable, self.target)

    @property
    def state(self) -> str:
        """breach, unknown (no breach known, usage not), overcommit or ok: the worst that is known."""
        return self.state_of(FIGURES)

    def figure(self, name: str) -> int | None:
        return self.usage if name == USAGE else self.limits if name == LIMITS else self.requests

    def percent(self, name: str) -> int:
        """The figure as a whole percentage of allocatable, truncated toward zero (kubectl top's habit)."""
        value = self.figure(name) or 0
        return value * 100 // self.allocatable if self.allocatable else 0

    def text(self, figures: Sequence[str] = FIGURES) -> str:
        """`BREACH usage 86%`, `overcommit limits 94%`, `BREACH usage 86%; overcommit limits 94%`, `ok`;
        `figures` keeps to some of them (audit's committed check speaks of limits and requests only)."""
        parts = []
        for word, names in (("BREACH", self.breaches), ("overcommit", self.overcommits)):
            shown = [n for n in names if n in figures]
            if shown:
                parts.append(f"{word} " + ", ".join(f"{n} {self.percent(n)}%" for n in shown))
        if self.usage_unknown and USAGE in figures and not any(f in self.breaches for f in figures):
            parts.append("usage unknown")
        return "; ".join(parts) or OK

    def state_of(self, figures: Sequence[str]) -> str:
        """breach, unknown, overcommit or ok, counting some figures only."""
        if any(f in self.breaches for f in figures):
            return BREACH
        if self.usage_unknown and USAGE in figures:
            return UNKNOWN
        return OVERCOMMIT if any(f in self.overcommits for f in figures) else OK


def judge(
    allocatable: int,
    target: float,
    usage: int | None,
    limits: int,
    requests: int = 0,
    levels: Levels = DEFAULT_LEVELS,
    usage_expected: bool = False,
) -> Verdict:
    """The verdict on one node: each figure over the budget (strictly: a node holding exactly its
    budget is within it, as a pod needing exactly the budget fits), sorted by what it counts as.
    usage_expected: the run reads usage, so a None usage is unknown rather than not asked for."""
    budget = padding_budget(allocatable, target)
    over = {USAGE: usage is not None and usage > budget, LIMITS: limits > budget, REQUESTS: requests > budget}
    breaches = tuple(f for f in FIGURES if over[f] and levels.of(f) == "breach")
    overcommits = tuple(f for f in FIGURES if over[f] and levels.of(f) == "warn")
    return Verdict(target, allocatable, usage, limits, requests, breaches, overcommits, usage_unknown=usage is None and usage_expected)


def unjudged(target: float, usage: int | None, limits: int, requests: int = 0) -> Verdict:
    """No allocatable known (the row of nodes that could not be listed): no budget, no verdict."""
    return Verdict(target, 0, usage, limits, requests, judged=False)


@dataclass(frozen=True)
class Tally:
    """A set of nodes' verdicts counted (the cluster row, a node group): never a verdict on sums
    (one full node must not hide behind an empty one: the kubelet evicts per node)."""

    nodes: int
    breaching: tuple[str, ...]  # names of the nodes whose verdict is a breach
    overcommitted: tuple[str, ...]  # names of the nodes with some figure overcommitted
    low: float | None  # the lowest and highest target among them (None: no node)
    high: float | None
    unknown: tuple[str, ...] = ()  # names of the nodes whose verdict is unknown (usage not known, no breach)

    @property
    def state(self) -> str:
        return BREACH if self.breaching else UNKNOWN if self.unknown else OVERCOMMIT if self.overcommitted else OK

    def targets_text(self) -> str:
        """The targets the nodes have: one value when all agree (75%), else their range (50-90%);
        never a made-up average. "-" without nodes."""
        if self.low is None or self.high is None:
            return "-"
        if self.low == self.high:
            return target_text(self.low)
        return f"{target_text(self.low).removesuffix('%')}-{target_text(self.high)}"

    def no_breach_text(self, usage_asked: bool = True) -> str:
        """What an empty list of breaching nodes says: never a plain "none" that usage could contradict.
        usage_asked: usage was read for the verdicts (capacity without --util weighs committed memory only)."""
        if not usage_asked:
            return "No node's committed memory breaches its padding target (usage not read: run with --util)."
        if self.unknown:
            return f"No node is known to breach its memory padding target: {len(self.unknown)} of {self.nodes} have no usage figures."
        return "No node breaches its memory padding target."

    def text(self) -> str:
        """`BREACH 3/10 nodes`, `overcommit 7/10 nodes`, `BREACH 3/10 nodes; overcommit 7/10`,
        `BREACH 3/10 nodes; usage unknown 2/10`, `ok`."""
        parts: list[str] = []
        for word, names in (("BREACH", self.breaching), ("overcommit", self.overcommitted), ("usage unknown", self.unknown)):
            if names:
                parts.append(f"{word} {len(names)}/{self.nodes}" + ("" if parts else " nodes"))
        return "; ".join(parts) or OK


def tally(verdicts: Iterable[tuple[str, Verdict]]) -> Tally:
    """(node name, verdict) pairs counted; nodes without a verdict (judged False) are left out."""
    judged: Sequence[tuple[str, Verdict]] = [(n, v) for n, v in verdicts if v.judged]
    targets = [v.target for _n, v in judged]
    return Tally(
        len(judged),
        tuple(n for n, v in judged if v.breaches),
        tuple(n for n, v in judged if v.overcommits),
        min(targets) if targets else None,
        max(targets) if targets else None,
        tuple(n for n, v in judged if v.state == UNKNOWN),
    )
