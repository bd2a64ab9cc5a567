"""Checks on one node: the memory limits its pods commit, and the memory in use, against its
padding budget (model.padding_breaches, the budget capacity and the webhook use too). Pure."""

from __future__ import annotations

from ..quantity import format_bytes
from .check import Context, NodeFacts
from .outcome import Outcome


def _base(node: NodeFacts) -> dict[str, object]:
    v = node.view
    return {"target": f"{v.target:g}", "budget": v.budget // 10**9, "allocatable": v.memory // 10**9}


def _within(node: NodeFacts) -> str:
    v = node.view
    return f"padding budget {format_bytes(v.budget)} ({v.target:.0%} of {format_bytes(v.memory)})"


def committed(node: NodeFacts, _ctx: Context) -> Outcome:
    """The memory limits committed on the node against its budget (warn when they exceed it)."""
    over = "limits" in node.breaches
    message = f"memory limits committed on the node, {format_bytes(node.limits)}, {'exceed' if over else 'are within'} its {_within(node)}"
    return Outcome("warn" if over else "pass", message, {**_base(node), "limits": node.limits // 10**9})


def node_padding(node: NodeFacts, _ctx: Context) -> Outcome | None:
    """The memory in use on the node against its budget (fail when it exceeds it); nothing when metrics do not list the node."""
    if node.used is None:
        return None
    over = "usage" in node.breaches
    message = f"memory in use, {format_bytes(node.used)}, {'exceeds' if over else 'is within'} the {_within(node)}"
    return Outcome("fail" if over else "pass", message, {**_base(node), "usage": node.used // 10**9})
