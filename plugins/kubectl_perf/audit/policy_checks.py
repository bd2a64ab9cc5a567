"""The webhook's admission rules (policy.py) as audit checks on a workload's template: the same
verdict the webhook would give the template today, reported as an Outcome."""

from __future__ import annotations

import time

from ..policy import OVER_BUDGET, Budget, over_limits, padding_rule, requests_rule
from .check import Context, Template
from .outcome import Outcome


def requests(template: Template, ctx: Context) -> Outcome:
    past = over_limits(template.spec, ctx.policy.limits)
    if past:  # the webhook refuses such a spec unjudged; so does the audit, with the same words
        return Outcome("warn", f"not judged: {past}")
    missing = [f.message for f in requests_rule(template.spec, ctx.policy, None, template.kind)]
    if missing:
        return Outcome("fail", "; ".join(missing), {"missing": len(missing)})
    return Outcome("pass", f"every container requests {', '.join(ctx.policy.require_requests)}")


def padding(template: Template, ctx: Context) -> Outcome:
    """The webhook's rule: a DaemonSet against every node it runs on, others as padding.eligibleNodes says.
    Bounded as a review is: a template past the policy's limits is not judged (nor its nodes grouped),
    and one over the CPU budget is reported as the webhook would answer it (onOverBudget)."""
    past = over_limits(template.spec, ctx.policy.limits)
    if past:
        return Outcome("warn", f"not judged: {past}")
    budget = Budget(ctx.policy.limits.cpu_seconds_per_review, time.thread_time)
    found = padding_rule(template.spec, ctx.policy, ctx.nodes_for(template.spec), template.kind, budget)
    if found.skipped == OVER_BUDGET and not found:
        return Outcome("warn", "not judged: its placement took more than the CPU budget (limits.cpuSecondsPerReview)")
    if found:
        outcome = "fail" if any(f.deny for f in found) else "warn"  # warn: no eligible node (padding.noEligibleNode)
        return Outcome(outcome, "; ".join(f.message for f in found))
    return Outcome("pass", "its memory fits the padding budget of the nodes it may run on")
