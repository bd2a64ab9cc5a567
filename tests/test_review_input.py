"""Whatever a client sends, the webhook answers: a 4xx, or a review whose status code is not 5xx;
and a bug in the rules is never passed off as "cannot read this object" (issue 7 items 2-3,
issue 14). In-process through create_app(...).test_client()."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from review_helpers import answer, client, post
from test_webhook_fuzz import reviews
from webhook_helpers import controller, pod, review


@pytest.fixture(scope="module")
def c() -> Any:
    return client()


def test_a_hundred_thousand_nested_brackets_get_a_400(c: Any) -> None:
    status, doc = post(c, b"[" * 100_000)
    assert status == 400, doc
    status, doc = post(c, b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": ' + b"[" * 100_000)
    assert status == 400, doc


def _nested(depth: int) -> Any:
    value: Any = "1Gi"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [200, 900])
def test_deep_values_the_json_parser_accepts_are_judged_without_a_5xx(c: Any, depth: int) -> None:
    for mangle in (
        lambda p: p["spec"]["containers"][0]["resources"]["limits"].update(memory=_nested(depth)),
        lambda p: p["spec"].update(affinity={"nodeAffinity": _nested(depth)}),
        lambda p: p["spec"].update(tolerations=_nested(depth)),
        lambda p: p["spec"]["containers"][0].update(name=_nested(depth)),
    ):
        new, old = pod(), pod()
        mangle(new)
        for body in (review(new), review(new, "UPDATE", old)):
            r = answer(c, body)
            assert r["allowed"] is False and r["status"]["code"] == 400 and "cannot read" in r["status"]["message"], r
        assert answer(c, review(old, "UPDATE", new))["allowed"] is True  # an unreadable old object: judged as a change


@pytest.mark.parametrize("metadata", ["x", 5, [], ["a"], {"name": ["x"]}, {"namespace": {"a": 1}}, {"name": 5, "generateName": {}}])
def test_metadata_of_any_shape_never_gets_a_5xx_code(c: Any, metadata: Any) -> None:
    for obj in (pod(), controller("Deployment", pod())):
        body = review(obj)
        body["request"]["object"]["metadata"] = metadata
        r = answer(c, body)
        assert r["allowed"] is True or r["status"]["code"] in (400, 403), r
        body["request"]["namespace"] = ""  # then the namespace is read from the metadata
        answer(c, body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("namespace", ["shop"]),
        ("namespace", {"a": 1}),
        ("namespace", 5),
        ("kind", {"kind": ["Pod"]}),
        ("kind", {"kind": {"a": 1}}),
        ("kind", "Pod"),
        ("operation", ["CREATE"]),
        ("subResource", ["resize"]),
        ("dryRun", {"a": [1]}),
    ],
)
def test_request_fields_of_the_wrong_type_get_a_400_or_an_answer(c: Any, field: str, value: Any) -> None:
    body = review(pod(memory_limit="99Gi"))
    body["request"][field] = value
    status, doc = post(c, body)
    assert status == 400 or (status == 200 and doc["response"].get("status", {}).get("code", 200) < 500), doc


def test_a_review_full_of_enormous_quantities_answers_within_50ms(c: Any) -> None:
    # Each took seconds (or forever) to parse; a megabyte of digits is linear (tests/test_quantity.py).
    values = ["1e100000000", "-1e100000000", "1e-100000000", "1e2147483647", "-1e2147483648", "9" * 1000 + "e99999999"]
    containers = [
        {"name": f"c{i}", "image": "x", "resources": {"requests": {"cpu": v, "memory": v}, "limits": {"memory": v, "cpu": v}}}
        for i, v in enumerate(values * 20)
    ]
    obj = pod()
    obj["spec"]["containers"] = containers
    obj["spec"]["overhead"] = {"memory": "1e100000000"}
    body = json.dumps(review(obj)).encode()
    assert len(body) < 3 * 1024 * 1024
    best = float("inf")
    for _ in range(3):  # best of three: the machine is shared
        start = time.perf_counter()
        status, doc = post(c, body)
        best = min(best, time.perf_counter() - start)
        assert status == 200, doc
    r = doc["response"]
    # 8Ei of memory (the int64 cap) fits no node: the padding rule denies it
    assert r["allowed"] is False and r["status"]["code"] == 403 and "[padding]" in r["status"]["message"], r
    assert best < 0.05, f"{best * 1000:.0f} ms"


def test_a_bug_in_a_rule_is_not_reported_as_an_unreadable_object(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubectl_perf.policy import RULES

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("a bug, not the client's object")

    monkeypatch.setitem(RULES, "padding", broken)
    c = client()
    status, doc = post(c, review(pod()))
    assert status == 200, doc
    r = doc["response"]
    assert "cannot read" not in json.dumps(r) and "a bug" not in json.dumps(r), r
    # Named as ours, yet no 5xx code inside the review (issue 7 item 3): enforce mode fails closed.
    assert r["allowed"] is False and r["status"]["code"] == 400 and "internal error" in r["status"]["message"], r


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(reviews())
def test_no_review_gets_a_5xx_code_inside(c: Any, doc: Any) -> None:
    status, body = post(c, json.dumps(doc).encode())
    assert status < 500, body
    if status == 200:
        assert body["response"].get("status", {}).get("code", 200) < 500, (doc, body)


# tolerationSeconds is an int64: neither a float, a string nor a JSON boolean is one
@pytest.mark.parametrize("value", [300.0, "300", True, False])
def test_toleration_seconds_of_the_wrong_type_is_a_400_asking_for_an_integer(c: Any, value: Any) -> None:
    toleration = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": value}
    r = answer(c, review(pod(tolerations=[toleration])))
    assert r["allowed"] is False and r["status"]["code"] == 400, r
    assert "spec.tolerations[0].tolerationSeconds must be an integer" in r["status"]["message"], r


def test_a_boolean_of_the_wrong_type_and_a_boolean_quantity_name_their_types(c: Any) -> None:
    r = answer(c, review(pod(hostNetwork="true")))
    assert r["status"]["code"] == 400 and "spec.hostNetwork must be true or false" in r["status"]["message"], r
    r = answer(c, review(pod(memory_limit=True)))  # type: ignore[arg-type]  # a JSON true is no quantity
    assert r["status"]["code"] == 400 and "resources.limits.memory must be a quantity" in r["status"]["message"], r


def test_an_integer_toleration_seconds_is_read(c: Any) -> None:
    toleration = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    assert answer(c, review(pod(tolerations=[toleration])))["allowed"] is True
