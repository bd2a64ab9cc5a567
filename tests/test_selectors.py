"""perf-sim's label selector grammar, against hand-written expectations."""

from __future__ import annotations

import pytest
from perf_sim.selectors import SelectorError, label_matcher, parse_fields

LABELS = {"app": "web", "tier": "front", "replicas": "3"}


@pytest.mark.parametrize(
    ("selector", "match"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (web, db)", True),
        ("app notin (web)", False),
        ("missing notin (x)", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("app=", False),
        ("missing=", False),
        ("missing!=", True),
        ("replicas>2", True),
        ("replicas<3", False),
        ("app>1", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("", True),
    ],
)
def test_matches(selector: str, match: bool) -> None:
    assert label_matcher(selector)(LABELS) is match


@pytest.mark.parametrize("selector", ["a in (", "a in ()", "=x", "a b", "app=web,", "a>b", "bad key!=1", "a=(x)"])
def test_rejects(selector: str) -> None:
    with pytest.raises(SelectorError):
        label_matcher(selector)


def test_fields() -> None:
    assert parse_fields("spec.nodeName=a,status.phase!=Failed", ("spec.nodeName", "status.phase")) == [
        ("spec.nodeName", True, "a"),
        ("status.phase", False, "Failed"),
    ]
    with pytest.raises(SelectorError, match="field label not supported: spec.foo"):
        parse_fields("spec.foo=1", ("spec.nodeName",))


@pytest.mark.parametrize(
    ("term", "on"),
    [
        ("dedicated", True),
        ("dedicated=io", True),
        ("dedicated=io:NoSchedule", True),
        ("dedicated:NoSchedule", True),
        ("dedicated=db", False),
        ("dedicated:NoExecute", False),
        ("dedicated=:NoSchedule", False),  # an empty value is a value
        ("other", False),
    ],
)
def test_node_taint_filters(term: str, on: bool) -> None:
    from kubectl_perf.capacity.flags import parse_taints

    (taint_filter,) = parse_taints(term)
    assert taint_filter.on([{"key": "dedicated", "value": "io", "effect": "NoSchedule"}]) is on
    assert parse_taints(term + "-")[0].exclude
