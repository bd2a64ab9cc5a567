"""Effective pod requests and limits, rule by rule (reference notes, section 1)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from kubectl_perf.model import (
    aggregate_amount,
    aggregate_containers,
    default_requests_from_limits,
    holds_resources,
    pod_limits,
    pod_requests,
)
from kubectl_perf.quantity import parse_quantity

N = 10**9
Mi = 2**20 * N
Gi = 2**30 * N
m = 10**6  # a millicore in nanos


def c(name: str, req: dict[str, str] | None = None, lim: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if req:
        res["requests"] = req
    if lim:
        res["limits"] = lim
    return {"name": name, "resources": res, **extra}


def test_app_containers_sum() -> None:
    spec = {"containers": [c("a", {"cpu": "100m", "memory": "64Mi"}), c("b", {"cpu": "250m", "memory": "1Gi"})]}
    assert pod_requests(spec) == {"cpu": 350 * m, "memory": 64 * Mi + 1 * Gi}


def test_init_container_peak_wins_when_larger() -> None:
    spec = {"initContainers": [c("init", {"cpu": "2", "memory": "10Mi"})], "containers": [c("a", {"cpu": "500m", "memory": "1Gi"})]}
    assert pod_requests(spec) == {"cpu": 2000 * m, "memory": 1 * Gi}


def test_sidecar_adds_to_app_and_runs_beside_later_init_containers() -> None:
    spec = {
        "initContainers": [
            c("proxy", {"cpu": "200m", "memory": "256Mi"}, restartPolicy="Always"),
            c("setup", {"cpu": "1", "memory": "2Gi"}),
        ],
        "containers": [c("app", {"cpu": "250m", "memory": "512Mi"})],
    }
    # app + sidecar = 450m / 768Mi; setup runs with the sidecar: 1200m / 2304Mi
    assert pod_requests(spec) == {"cpu": 1200 * m, "memory": 2304 * Mi}


def test_init_container_before_a_sidecar_does_not_run_beside_it() -> None:
    spec = {
        "initContainers": [
            c("migrate", {"cpu": "2", "memory": "512Mi"}),
            c("proxy", {"cpu": "100m", "memory": "128Mi"}, restartPolicy="Always"),
        ],
        "containers": [c("app", {"cpu": "500m", "memory": "1Gi"})],
    }
    # cpu: max(600m, 2000m); memory: max(1152Mi, 512Mi)
    assert pod_requests(spec) == {"cpu": 2000 * m, "memory": 1152 * Mi}


def test_pod_level_resources_replace_cpu_and_memory_only() -> None:
    spec = {
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "6Gi"}},
        "containers": [c("a", {"cpu": "100m", "memory": "100Mi", "ephemeral-storage": "1Gi"}), c("b")],
    }
    assert pod_requests(spec) == {"cpu": 2 * N, "memory": 4 * Gi, "ephemeral-storage": 1 * Gi}
    assert pod_limits(spec) == {"memory": 6 * Gi}


def test_overhead_adds_to_requests_and_only_to_set_limits() -> None:
    spec = {"overhead": {"cpu": "250m", "memory": "120Mi"}, "containers": [c("a", {"cpu": "100m", "memory": "64Mi"}, {"cpu": "200m"})]}
    assert pod_requests(spec) == {"cpu": 350 * m, "memory": 184 * Mi}
    assert pod_limits(spec) == {"cpu": 450 * m}


def test_limits_follow_the_same_shape() -> None:
    spec = {
        "initContainers": [
            c("proxy", None, {"cpu": "500m", "memory": "256Mi"}, restartPolicy="Always"),
            c("setup", None, {"cpu": "1", "memory": "2Gi"}),
        ],
        "containers": [c("app", None, {"cpu": "1", "memory": "1Gi"})],
    }
    assert pod_limits(spec) == {"cpu": 1500 * m, "memory": 2304 * Mi}


def test_a_container_without_a_limit_adds_nothing_to_limits() -> None:
    spec = {"containers": [c("a", None, {"memory": "1Gi"}), c("b", {"memory": "5Gi"})]}
    assert pod_limits(spec) == {"memory": 1 * Gi}


def test_extended_resources_and_hugepages() -> None:
    spec = {
        "containers": [
            c("a", {"nvidia.com/gpu": "1", "hugepages-2Mi": "100Mi"}, {"nvidia.com/gpu": "1"}),
            c("b", {"nvidia.com/gpu": "2"}, {"nvidia.com/gpu": "2"}),
        ]
    }
    assert pod_requests(spec) == {"nvidia.com/gpu": 3 * N, "hugepages-2Mi": 100 * Mi}
    assert pod_limits(spec) == {"nvidia.com/gpu": 3 * N}


def test_finished_pods_hold_nothing() -> None:
    assert not holds_resources({"status": {"phase": "Succeeded"}})
    assert not holds_resources({"status": {"phase": "Failed"}})
    assert holds_resources({"status": {"phase": "Running"}})
    assert holds_resources({"status": {"phase": "Pending"}})


def test_requests_default_from_limits_like_the_api_server() -> None:
    assert default_requests_from_limits(c("a", {"cpu": "100m"}, {"cpu": "1", "memory": "1Gi"})) == {"cpu": 100 * m, "memory": 1 * Gi}


def test_empty_spec() -> None:
    assert pod_requests({}) == {}
    assert pod_limits({"containers": [c("a")]}) == {}


def test_the_scalar_aggregate_by_hand() -> None:
    # app 1 + 2 + sidecar 3 = 6; init peaks: 4 alone (before the sidecar), 5 + 3 = 8 after it
    spec = {
        "containers": [c("a", {"memory": "1Mi"}), c("b", {"memory": "2Mi"})],
        "initContainers": [c("i1", {"memory": "4Mi"}), c("s", {"memory": "3Mi"}, restartPolicy="Always"), c("i2", {"memory": "5Mi"})],
    }
    assert aggregate_amount(spec, lambda x: parse_quantity(x["resources"]["requests"]["memory"])) == 8 * Mi


CONTAINER = st.builds(
    lambda mib, sidecar: {"resources": {"requests": {"memory": f"{mib}Mi"}}, **({"restartPolicy": "Always"} if sidecar else {})},
    st.integers(0, 4096),
    st.booleans(),
)


@given(st.lists(CONTAINER, max_size=4), st.lists(CONTAINER, max_size=5))
def test_the_scalar_aggregate_agrees_with_the_resource_aggregate(containers: list[Any], init: list[Any]) -> None:
    # The webhook's memory need runs on aggregate_amount; capacity and audit on aggregate_containers.
    spec = {"containers": [{k: v for k, v in x.items() if k != "restartPolicy"} for x in containers], "initContainers": init}
    expected = aggregate_containers(spec)[0].get("memory", 0)
    assert aggregate_amount(spec, lambda x: parse_quantity(x["resources"]["requests"]["memory"])) == expected


def test_remembered_resources_are_pod_resources_once_per_spec_object(monkeypatch: Any) -> None:
    import kubectl_perf.model as model

    spec = {
        "containers": [{"name": "app", "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}}}],
        "initContainers": [{"name": "side", "restartPolicy": "Always", "resources": {"requests": {"memory": "256Mi"}}}],
        "overhead": {"memory": "64Mi"},
    }
    expected = ({"memory": (1024 + 256 + 64) * Mi}, {"memory": (2048 + 64) * Mi})  # by hand: app + sidecar + overhead
    calls: list[int] = []
    real = model.pod_resources
    monkeypatch.setattr(model, "pod_resources", lambda s: calls.append(id(s)) or real(s))
    remembered = model.RememberedResources()
    twin = {**spec}  # equal, but another object: worked out afresh (an id alone could be a freed object's)
    assert remembered(spec) == remembered(spec) == remembered(twin) == expected
    assert calls == [id(spec), id(twin)]
