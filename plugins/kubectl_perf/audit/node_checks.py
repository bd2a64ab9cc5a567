"""Checks on one node: the memory its pods commit, and the memory in use, against its padding
budget. Both read the node's one verdict (padding.judge, which capacity and cadvisor print too):
usage over target fails node-padding; committed limits (and requests, where the policy weighs
them) over target are overcommit, a committed warning, or a failure where the policy's
padding.limits / padding.requests say breach. Pure."""

from __future__ import annotations

from ..padding import BREACH, LIMITS, OVERCOMMIT, REQUESTS, USAGE
from ..quantity import format_bytes
from .check import Context, NodeFacts
from .outcome import Outcome

RESULT = {BREACH: "fail", OVERCOMMIT: "warn"}  # a verdict's state as an audit result; ok passes


def _base(node: NodeFacts) -> dict[str, object]:
    v = node.view
    return {
        "target": f"{v.target:g}",
        "budget": v.budget // 10**9,
        "allocatable": v.memory // 10**9,
        "padding": node.verdict.state,  # the node's whole verdict, as capacity's PADDING column words it
        "verdict": node.verdict.text(),
    }


def _within(node: NodeFacts) -> str:
    v = node.view
    return f"padding budget {format_bytes(v.budget)} ({v.target:.0%} of {format_bytes(v.memory)})"


def committed(node: NodeFacts, _ctx: Context) -> Outcome:
    """The memory limits (and requests, when weighed) committed on the node against its budget."""
    verdict = node.verdict
    state = verdict.state_of((LIMITS, REQUESTS))
    over = LIMITS in (*verdict.breaches, *verdict.overcommits)
    message = (
        f"memory limits committed on the node, {format_bytes(verdict.limits)}, {'exceed' if over else 'are within'} its {_within(node)}"
    )
    if REQUESTS in (*verdict.breaches, *verdict.overcommits):
        message += f"; requests, {format_bytes(verdict.requests)}, exceed it too"
    if state != "ok":
        message = f"{verdict.text((LIMITS, REQUESTS))}: {message}"
    properties = {**_base(node), "limits": verdict.limits // 10**9, "requests": verdict.requests // 10**9}
    return Outcome(RESULT.get(state, "pass"), message, properties)


def node_padding(node: NodeFacts, _ctx: Context) -> Outcome | None:
    """The memory in use on the node against its budget (fail when it exceeds it); a skip when the usage source
    left the node out (as capacity says `usage unknown`: it may breach); nothing when usage is not read at all
    (the check's one cluster-level skip says why)."""
    verdict = node.verdict
    if verdict.usage is None:
        if verdict.usage_unknown:
            why = "memory in use is unknown: the node metrics have no figure for this node (it may breach its padding target)"
            return Outcome("skip", why, _base(node))
        return None
    state = verdict.state_of((USAGE,))
    over = state != "ok"
    message = f"memory in use, {format_bytes(verdict.usage)}, {'exceeds' if over else 'is within'} the {_within(node)}"
    if over:
        message = f"{verdict.text((USAGE,))}: {message}"
    return Outcome(RESULT.get(state, "pass"), message, {**_base(node), "usage": verdict.usage // 10**9})
