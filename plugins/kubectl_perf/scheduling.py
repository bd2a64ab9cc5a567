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


class Placement:
    """A pod spec's placement compiled once, to be matched against many nodes (the scheduler's
    filters: nodeSelector, required node affinity, taints; with spec.nodeName the kubelet's).

    A review may weigh thousands of nodes against hundreds of terms; matching each node afresh
    held one worker for seconds (issue 27 availability 6: 1,500 terms x 5,000 nodes). Compiled,
    each term's label expressions run once per distinct set of the label values the terms read
    (memoised), In/NotIn values are sets, matchFields terms cost a set lookup per node, and each
    distinct taint set is checked against the tolerations once."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.bound = str(spec.get("nodeName") or "")
        self.selector = tuple((spec.get("nodeSelector") or {}).items())
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        self.any_term = required is None  # no required affinity: every node passes it
        label_terms: list[tuple[_Expr, ...]] = []
        field_terms: list[tuple[tuple[_Expr, ...], tuple[_Expr, ...]]] = []
        for term in (required or {}).get("nodeSelectorTerms") or ():
            exprs = tuple(_compile(e) for e in term.get("matchExpressions") or ())
            fields = term.get("matchFields") or ()
            if not exprs and not fields:
                continue  # an empty term matches nothing
            if any(f.get("key") != "metadata.name" for f in fields):
                continue  # metadata.name is the only field a node selector term may name
            if fields:
                field_terms.append((exprs, tuple(_compile({**f, "key": ""}) for f in fields)))
            else:
                label_terms.append(exprs)
        self.label_terms = tuple(label_terms)
        self.field_terms = tuple(field_terms)
        # What of a node's labels the verdict depends on: for each key the terms read, the value
        # when some expression names it (or compares it: Gt, Lt), else only whether it is there.
        # Nodes alike in that share one verdict: a hostname In-list of names no node has makes
        # 5,000 nodes one label set, not 5,000.
        compiled = [e for t in self.label_terms for e in t] + [e for t, _f in self.field_terms for e in t]
        numeric = {e[0] for e in compiled if e[1] in ("Gt", "Lt")}
        named: dict[str, set[str]] = {}
        for key, value in self.selector:
            named.setdefault(key, set()).add(value)
        for e in compiled:
            named.setdefault(e[0], set()).update(e[2])
        # key -> the values named; None: every value matters (Gt, Lt compare them)
        self._named: dict[str, frozenset[str] | None] = {k: None if k in numeric else frozenset(v) for k, v in named.items()}
        self._keys = tuple(sorted(self._named))
        self.tolerations: tuple[Mapping[str, Any], ...] = tuple(spec.get("tolerations") or ())
        self.effects = KUBELET_EFFECTS if self.bound else BLOCKING_EFFECTS
        self._by_labels: dict[tuple[tuple[str, str], ...], tuple[bool, tuple[int, ...]]] = {}
        self._by_taints: dict[int, tuple[Sequence[Mapping[str, Any]], bool]] = {}

    def _labels_verdict(self, labels: Mapping[str, str]) -> tuple[bool, tuple[int, ...]]:
        """(whether the labels alone admit the node, the field terms whose labels match and
        leave it to the node's name), once per distinct tuple of the values the terms read."""
        named = self._named
        # The labels as the terms see them. Walk the shorter side: a node carries a few dozen labels,
        # a spec may read hundreds of keys; a DaemonSet's pod (matchFields only) reads none.
        if len(self._keys) <= len(labels):
            values = tuple(
                (k, v if (vs := named[k]) is None or v in vs else _OTHER) for k in self._keys if (v := labels.get(k)) is not None
            )
        else:
            values = tuple((k, v if (vs := named[k]) is None or v in vs else _OTHER) for k, v in sorted(labels.items()) if k in named)
        verdict = self._by_labels.get(values)
        if verdict is None:
            if not all(labels.get(k) == v for k, v in self.selector):
                verdict = (False, ())
            elif self.any_term or any(all(_matches(e, labels) for e in t) for t in self.label_terms):
                verdict = (True, ())
            else:
                verdict = (False, tuple(i for i, (t, _f) in enumerate(self.field_terms) if all(_matches(e, labels) for e in t)))
            self._by_labels[values] = verdict
        return verdict

    def _taints_ok(self, taints: Sequence[Mapping[str, Any]]) -> bool:
        # Nodes of a pool share one taint tuple (the webhook's cache interns them): keyed by identity,
        # the tuple kept alongside so the id cannot be reused while this placement lives.
        seen = self._by_taints.get(id(taints))
        if seen is None or seen[0] is not taints:
            seen = (taints, not untolerated_taints(taints, self.tolerations, self.effects))
            self._by_taints[id(taints)] = seen
        return seen[1]

    def matches(self, name: str, labels: Mapping[str, str], taints: Sequence[Mapping[str, Any]]) -> bool:
        """Could the pod run on this node (ignoring room)?"""
        if self.bound and self.bound != name:
            return False
        admitted, candidates = self._labels_verdict(labels)
        if not admitted:
            names = {"": name}
            if not any(all(_matches(f, names) for f in self.field_terms[i][1]) for i in candidates):
                return False
        return not taints or self._taints_ok(taints)


_OTHER = "\x00other"  # a label value no expression names (label values cannot hold a NUL)

# A compiled expression: (key, operator, values as a frozenset, values as a tuple for Gt/Lt).
_Expr = tuple[str, str, frozenset[str], tuple[str, ...]]


def _compile(expr: Mapping[str, Any]) -> _Expr:
    values = tuple(expr.get("values") or ())
    return (str(expr.get("key", "")), str(expr.get("operator") or ""), frozenset(values), values)


def _matches(expr: _Expr, labels: Mapping[str, str]) -> bool:
    """expression_matches on a compiled expression."""
    key, op, values, ordered = expr
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(ordered) == 1:
        try:
            have, bound = int(labels[key]), int(ordered[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def node_matches(spec: Mapping[str, Any], name: str, labels: Mapping[str, str], taints: Sequence[Mapping[str, Any]]) -> bool:
    """Could a pod with this spec run on this node (ignoring room)? The scheduler's filters
    decide, or with spec.nodeName (no scheduler) the kubelet's admission: the same node
    selector and affinity, but of the taints only NoExecute (issue 27 bypass 2). To match one
    spec against many nodes, compile it once: Placement(spec).matches."""
    return Placement(spec).matches(name, labels, taints)


# Grouping nodes by the label keys a pod reads costs nodes x keys (0.2 s for 250 keys at 5,000
# nodes, before any rule's budget starts); past this many keys a compiled Placement over the
# ungrouped nodes is cheaper (it looks at each node's own few dozen labels once).
MAX_GROUPING_KEYS = 16


def referenced_keys(spec: Mapping[str, Any]) -> frozenset[str] | None:
    """The node label keys a pod's placement depends on, or None when nodes are not to be
    grouped by them: it also depends on the node's name (nodeName, matchFields), or it reads
    more than MAX_GROUPING_KEYS keys."""
    if spec.get("nodeName"):
        return None
    keys = set((spec.get("nodeSelector") or {}).keys())
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        if term.get("matchFields"):
            return None
        keys.update(e.get("key", "") for e in term.get("matchExpressions") or [])
    return frozenset(keys) if len(keys) <= MAX_GROUPING_KEYS else None


# The taint the NodeUnschedulable filter weighs a cordoned node (spec.unschedulable) as: a pod that
# tolerates it may still be placed there (DaemonSet pods do), any other may not.
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def tolerates_unschedulable(tolerations: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a pod with these tolerations passes the scheduler's NodeUnschedulable filter on a
    cordoned node (k8s.io/kubernetes pkg/scheduler/framework/plugins/nodeunschedulable)."""
    return any(tolerates(t, UNSCHEDULABLE_TAINT) for t in tolerations)
