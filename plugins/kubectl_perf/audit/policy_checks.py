"""The webhook's admission rules (policy.py) as audit checks on a workload's template: the same
verdict the webhook would give the template today, reported as an Outcome."""

from __future__ import annotations

from ..policy import padding_rule, requests_rule
from .check import Context, Template
from .outcome import Outcome


def requests(template: Template, ctx: Context) -> Outcome:
    missing = [f.message for f in requests_rule(template.spec, ctx.policy, None, template.kind)]
    if missing:
        return Outcome("fail", "; ".join(missing), {"missing": len(missing)})
    return Outcome("pass", f"every container requests {', '.join(ctx.policy.require_requests)}")


def padding(template: Template, ctx: Context) -> Outcome:
    """The webhook's rule: a DaemonSet against every node it runs on, others as padding.eligibleNodes says."""
    found = padding_rule(template.spec, ctx.policy, ctx.nodes_for(template.spec), template.kind)
    if found:
        outcome = "fail" if any(f.deny for f in found) else "warn"  # warn: no eligible node (padding.noEligibleNode)
        return Outcome(outcome, "; ".join(f.message for f in found))
    return Outcome("pass", "its memory fits the padding budget of the nodes it may run on")
