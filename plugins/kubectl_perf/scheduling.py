"""Where a pod could land: nodeSelector, required node affinity and taints
against tolerations, as the scheduler's filters decide them; and label
selectors, the one matcher for every selector in the suite. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Taint effects that keep a pod off a node it does not tolerate: the scheduler's filter reads
# both; the kubelet, admitting a pod bound by spec.nodeName (no scheduler involved), only
# NoExecute (its admission handler's TaintToleration check), so NoSchedule does not stop it.
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
KUBELET_EFFECTS = ("NoExecute",)


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """One toleration against one taint (k8s.io/api core/v1 Toleration.ToleratesTaint)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"  # an empty key with Exists tolerates everything
    if key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taints(
    taints: Sequence[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]], effects: Sequence[str] = BLOCKING_EFFECTS
) -> list[Mapping[str, Any]]:
    return [t for t in taints if t.get("effect") in effects and not any(tolerates(tol, t) for tol in tolerations)]


def expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator"), list(expr.get("values") or ())
    present = key in labels
    value = labels.get(key, "")
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, bound = int(value), int(values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels, matchExpressions) against labels; the
    empty selector matches everything."""
    return all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items()) and all(
        expression_matches(e, labels) for e in selector.get("matchExpressions") or ()
    )


def _term_matches(term: Mapping[str, Any], name: str, labels: Mapping[str, str]) -> bool:
    """A NodeSelectorTerm: all its expressions and fields must match; an empty term matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    return (
        all(expression_matches(e, labels) for e in exprs)
        and all(expression_matches(f, {"metadata.name": name}) for f in fields if f.get("key") == "metadata.name")
        and all(f.get("key") == "metadata.name" for f in fields)
    )


def node_matches(spec: Mapping[str, Any], name: str, labels: Mapping[str, str], taints: Sequence[Mapping[str, Any]]) -> bool:
    """Could a pod with this spec run on this node (ignoring room)? The scheduler's filters
    decide, or with spec.nodeName (no scheduler) the kubelet's admission: the same node
    selector and affinity, but of the taints only NoExecute (issue 27 bypass 2)."""
    bound = spec.get("nodeName")
    if bound and bound != name:
        return False
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        terms = required.get("nodeSelectorTerms") or []
        if not any(_term_matches(t, name, labels) for t in terms):  # terms are ORed
            return False
    return not untolerated_taints(taints, spec.get("tolerations") or [], KUBELET_EFFECTS if bound else BLOCKING_EFFECTS)


def referenced_keys(spec: Mapping[str, Any]) -> frozenset[str] | None:
    """The node label keys a pod's placement depends on, or None when it also
    depends on the node's name (nodeName, matchFields): then nodes cannot be grouped."""
    if spec.get("nodeName"):
        return None
    keys = set((spec.get("nodeSelector") or {}).keys())
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        if term.get("matchFields"):
            return None
        keys.update(e.get("key", "") for e in term.get("matchExpressions") or [])
    return frozenset(keys)
