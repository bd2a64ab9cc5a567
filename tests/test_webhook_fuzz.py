"""Thousands of malformed reviews at the webhook app (in-process, test_client): never a 5xx, and
every well-formed review gets an AdmissionReview answer with its uid."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_webhook import InProcess
from webhook_helpers import pod, review

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
quantities = st.one_of(
    st.sampled_from(["1", "100m", "1Gi", "0", "-1", "1e3", "", "Ki", "1.5.5", "99999999999999Ei"]),
    st.text(max_size=8),
    st.integers(),
    st.none(),
)


def mangled_pods() -> st.SearchStrategy[dict[str, Any]]:
    container = st.fixed_dictionaries(
        {"name": st.text(max_size=8)},
        optional={
            "resources": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {},
                    optional={
                        "requests": st.one_of(
                            json_values, st.dictionaries(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), quantities)
                        ),
                        "limits": st.one_of(json_values, st.dictionaries(st.sampled_from(["cpu", "memory"]), quantities)),
                    },
                ),
            ),
            "restartPolicy": st.one_of(st.just("Always"), json_values),
        },
    )
    spec = st.fixed_dictionaries(
        {},
        optional={
            "containers": st.one_of(st.lists(container, max_size=3), json_values),
            "initContainers": st.one_of(st.lists(container, max_size=2), json_values),
            "nodeSelector": st.one_of(st.dictionaries(st.text(max_size=6), st.text(max_size=6)), json_values),
            "tolerations": st.one_of(
                st.lists(st.dictionaries(st.sampled_from(["key", "operator", "value", "effect"]), json_values)), json_values
            ),
            "affinity": json_values,
            "overhead": st.one_of(st.dictionaries(st.sampled_from(["cpu", "memory"]), quantities), json_values),
            "resources": json_values,
            "nodeName": json_values,
        },
    )
    return st.fixed_dictionaries(
        {
            "apiVersion": st.just("v1"),
            "kind": st.just("Pod"),
            "metadata": st.one_of(st.just({"name": "f", "namespace": "shop"}), json_values),
            "spec": st.one_of(spec, json_values),
        }
    )


def reviews() -> st.SearchStrategy[Any]:
    kinds = st.sampled_from(["Pod", "Deployment", "CronJob", "Job", "Node", "", None])
    request = st.fixed_dictionaries(
        {},
        optional={
            "uid": st.one_of(st.text(max_size=12), json_values),
            "operation": st.one_of(st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"]), json_values),
            "kind": st.one_of(st.builds(lambda k: {"group": "", "version": "v1", "kind": k}, kinds), json_values),
            "namespace": st.one_of(st.text(max_size=8), json_values),
            "object": st.one_of(mangled_pods(), json_values),
            "oldObject": st.one_of(mangled_pods(), json_values),
            "dryRun": json_values,
            "subResource": st.one_of(st.none(), st.text(max_size=5)),
        },
    )
    return st.one_of(
        st.builds(lambda r: {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": r}, request),
        st.fixed_dictionaries({}, optional={"apiVersion": json_values, "kind": json_values, "request": json_values}),
        json_values,
    )


@pytest.fixture(scope="module")
def hook() -> InProcess:
    return InProcess({"mode": "enforce"})


def _post(hook: InProcess, body: bytes) -> tuple[int, Any]:
    return hook.post(body)


@settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(reviews())
def test_no_review_gets_a_5xx(hook: InProcess, doc: Any) -> None:
    status, body = _post(hook, json.dumps(doc).encode())
    assert status < 500, body
    uid = doc.get("request", {}).get("uid") if isinstance(doc, dict) and isinstance(doc.get("request"), dict) else None
    well_formed = (
        isinstance(doc, dict)
        and doc.get("apiVersion") == "admission.k8s.io/v1"
        and doc.get("kind") == "AdmissionReview"
        and isinstance(uid, str)
        and uid
    )
    if well_formed:
        assert status == 200 and body["response"]["uid"] == uid and isinstance(body["response"]["allowed"], bool)
    else:
        assert 400 <= status < 500


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.binary(max_size=200))
def test_no_byte_string_gets_a_5xx(hook: InProcess, raw: bytes) -> None:
    status, _ = _post(hook, raw)
    assert status < 500


def test_the_well_formed_baseline_still_works(hook: InProcess) -> None:
    status, body = _post(hook, json.dumps(review(pod())).encode())
    assert status == 200 and body["response"]["allowed"] is True
