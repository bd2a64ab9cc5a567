"""scheduling.Placement (issue 27 availability 6: each term once per distinct label set, values as
sets, taint sets once) decides exactly as matching each node afresh did: a differential test
against that straightforward matcher, kept here as the reference, over seeded random specs and nodes."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from kubectl_perf.scheduling import BLOCKING_EFFECTS, KUBELET_EFFECTS, Placement, expression_matches, untolerated_taints

KEYS = ("zone", "pool", "size", "kubernetes.io/hostname")
VALUES = ("a", "b", "c", "1", "5", "10", "n1", "n2")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Bogus")


def reference(spec: Mapping[str, Any], name: str, labels: Mapping[str, str], taints: Sequence[Mapping[str, Any]]) -> bool:
    """The matcher before Placement: every node, every term, every expression."""
    bound = spec.get("nodeName")
    if bound and bound != name:
        return False
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:

        def term_ok(term: Mapping[str, Any]) -> bool:
            exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
            if not exprs and not fields:
                return False
            return (
                all(expression_matches(e, labels) for e in exprs)
                and all(f.get("key") == "metadata.name" for f in fields)
                and all(expression_matches(f, {"metadata.name": name}) for f in fields)
            )

        if not any(term_ok(t) for t in required.get("nodeSelectorTerms") or []):
            return False
    return not untolerated_taints(taints, spec.get("tolerations") or [], KUBELET_EFFECTS if bound else BLOCKING_EFFECTS)


def expression(rng: random.Random, key: str | None = None) -> dict[str, Any]:
    op = rng.choice(OPERATORS)
    values = [] if op in ("Exists", "DoesNotExist") else rng.sample(VALUES, rng.randint(0 if op == "Bogus" else 1, 3))
    return {"key": key or rng.choice(KEYS), "operator": op, "values": values}


def random_spec(rng: random.Random) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if rng.random() < 0.3:
        spec["nodeSelector"] = {rng.choice(KEYS): rng.choice(VALUES)}
    if rng.random() < 0.1:
        spec["nodeName"] = rng.choice(("n1", "n2", "n3"))
    if rng.random() < 0.8:
        terms = []
        for _ in range(rng.randint(0, 4)):
            term: dict[str, Any] = {}
            if rng.random() < 0.8:
                term["matchExpressions"] = [expression(rng) for _ in range(rng.randint(0, 3))]
            if rng.random() < 0.3:
                field = expression(rng, "metadata.name" if rng.random() < 0.9 else "metadata.uid")
                term["matchFields"] = [field]
            terms.append(term)
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}
    if rng.random() < 0.5:
        spec["tolerations"] = [
            {"key": rng.choice(("gpu", "io", "")), "operator": rng.choice(("Exists", "Equal")), "value": rng.choice(("yes", "")),
             "effect": rng.choice(("NoSchedule", "NoExecute", ""))}
            for _ in range(rng.randint(0, 2))
        ]  # fmt: skip
    return spec


def random_nodes(rng: random.Random) -> list[tuple[str, dict[str, str], tuple[dict[str, str], ...]]]:
    taint_sets = [(), ({"key": "gpu", "value": "yes", "effect": "NoSchedule"},), ({"key": "io", "value": "", "effect": "NoExecute"},)]
    nodes = []
    for i in range(30):
        name = f"n{i}"
        labels = {k: rng.choice(VALUES) for k in KEYS if rng.random() < 0.7}
        labels["kubernetes.io/hostname"] = name if rng.random() < 0.5 else labels.get("kubernetes.io/hostname", name)
        nodes.append((name, labels, rng.choice(taint_sets)))  # shared tuples, as the webhook's cache shares them
    return nodes


def test_placement_decides_as_matching_each_node_afresh() -> None:
    rng = random.Random(27)
    checked = matched = 0
    for _batch in range(10):
        nodes = random_nodes(rng)
        for _ in range(300):
            spec = random_spec(rng)
            placement = Placement(spec)
            for name, labels, taints in nodes:
                want = reference(spec, name, labels, taints)
                assert placement.matches(name, labels, taints) is want, (spec, name, labels, taints)
                checked += 1
                matched += want
    assert checked == 90_000 and 5_000 < matched < 85_000  # both answers well represented
