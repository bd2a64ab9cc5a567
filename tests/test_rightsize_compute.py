"""rightsize's pure arithmetic (compute.py), worked by hand: nearest-rank percentiles, the
memory buffer's rounding, CPU limit ratios, the patched template, first-fit-decreasing, and the
pools named in a denial. The entry-point tests (test_rightsize_*.py) cover the same through perf-sim,
Prometheus and the real API server; these pin the edges cheaply."""

from __future__ import annotations

from kubectl_perf.model import node_view
from kubectl_perf.owners import Workload
from kubectl_perf.policy import Policy
from kubectl_perf.rightsize.compute import (
    MEBI,
    MILLI,
    Amounts,
    Samples,
    Strategy,
    first_fit_decreasing,
    patched,
    percentile,
    recommend,
    verdict,
)
from kubectl_perf.rightsize.output import patch_of

N = 10**9


def samples(cpu_m: list[int], mem_mi: list[float]) -> Samples:
    return Samples([(float(i), c * MILLI) for i, c in enumerate(cpu_m)], [(float(i), int(m * MEBI)) for i, m in enumerate(mem_mi)])


def test_percentile_is_the_nearest_rank() -> None:
    values = list(range(1, 21))  # 1 .. 20
    assert percentile(values, 0.95) == 19  # ceil(0.95 x 20) = 19th
    assert percentile(values, 0.5) == 10
    assert percentile(values, 1.0) == 20
    assert percentile([7], 0.95) == 7
    assert percentile(values, 0.01) == 1  # ceil(0.2) = 1st


def test_memory_buffer_rounds_up_to_whole_mib_and_floors_apply() -> None:
    # 100Mi + 15% = 115Mi exactly; 101Mi + 15% = 116.15Mi -> 117Mi; CPU p95 of 1m .. 20m = 19m.
    s = Strategy(memory_min=0, cpu_min=0)
    assert recommend(samples(list(range(1, 21)), [100] * 20), s) == Amounts(19 * MILLI, None, 115 * MEBI, 115 * MEBI)
    assert recommend(samples([1] * 20, [101] * 20), s).memory_request == 117 * MEBI
    # the floors: 10m and 32Mi by default
    assert recommend(samples([1] * 20, [10] * 20), Strategy()) == Amounts(10 * MILLI, None, 32 * MEBI, 32 * MEBI)
    # no buffer: never below the peak, rounded up to a MiB (100.5Mi -> 101Mi)
    assert recommend(samples([1] * 20, [100.5] * 20), Strategy(memory_buffer=0, memory_min=0)).memory_request == 101 * MEBI


def test_cpu_limit_ratio() -> None:
    # 250m x 1.5 = 375m
    assert recommend(samples([250] * 20, [64] * 20), Strategy(cpu_limit_ratio=1.5)).cpu_limit == 375 * MILLI


def test_patched_template_and_cronjob_patch() -> None:
    spec = {
        "containers": [
            {"name": "app", "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2", "memory": "1Gi"}}},
            {"name": "side", "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}},
        ]
    }
    out = patched(spec, {"app": Amounts(300 * MILLI, None, 200 * MEBI, 200 * MEBI)})
    assert out["containers"][0]["resources"] == {"requests": {"cpu": "300m", "memory": "200Mi"}, "limits": {"memory": "200Mi"}}
    assert out["containers"][1] == spec["containers"][1]  # untouched
    assert spec["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}  # a copy: the input stays

    from kubectl_perf.rightsize.compute import Basis, ContainerRec, WorkloadRec

    rec = ContainerRec(
        "app", Amounts(10**9, 2 * 10**9, None, None), Amounts(300 * MILLI, None, 200 * MEBI, 200 * MEBI), Basis(20, 60.0, 1, 0.95)
    )
    body = patch_of(WorkloadRec(Workload("CronJob", "ns", "nightly"), 1, [rec]))
    assert body == {
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "resources": {
                                        "requests": {"cpu": "300m", "memory": "200Mi"},
                                        "limits": {"memory": "200Mi", "cpu": None},
                                    },
                                }
                            ]
                        }
                    }
                }
            }
        }
    }
    assert patch_of(WorkloadRec(Workload("Deployment", "ns", "web"), 1, [rec], allowed=False)) is None


def test_first_fit_decreasing() -> None:
    bin_ = (4 * N, 3 * 2**30 * N)  # 4 cores, 3Gi
    gi = 2**30 * N
    # 2Gi, 2Gi, 1Gi, 1Gi: 2+1 | 2+1 -> 2 bins
    assert first_fit_decreasing([(N, 2 * gi), (N, gi), (N, 2 * gi), (N, gi)], bin_) == 2
    # CPU binds: five 1-core pods of 1Mi -> 4 + 1
    assert first_fit_decreasing([(N, MEBI)] * 5, bin_) == 2
    # an item bigger than a bin takes one of its own
    assert first_fit_decreasing([(N, 4 * gi)], bin_) == 1
    assert first_fit_decreasing([], bin_) == 0


def node(name: str, pool: str, memory: str, taints: list[dict[str, str]] | None = None) -> dict[str, object]:
    return {
        "metadata": {"name": name, "labels": {"node-pool": pool}},
        "spec": {"taints": taints or []},
        "status": {"allocatable": {"memory": memory}},
    }


def test_denial_names_the_pools_it_breaches() -> None:
    policy = Policy()  # enforce, padding 75%
    views = [node_view(node("a", "general", "4Gi"), policy.padding_target), node_view(node("b", "io", "8Gi"), policy.padding_target)]
    spec = {"containers": [{"name": "app", "resources": {"requests": {"cpu": "1", "memory": "5Gi"}, "limits": {"memory": "5Gi"}}}]}
    allowed, message = verdict(spec, Workload("Deployment", "shop", "web"), policy, views)
    # 5Gi passes general's 3Gi (75% of 4Gi), not io's 6Gi; padding.eligibleNodes every: denied.
    assert not allowed and message.startswith("pool general budget 3Gi: [padding] ")
    # exempt namespaces are not judged; warn mode admits with the rule's words
    assert verdict(spec, Workload("Deployment", "kube-system", "x"), policy, views) == (True, "namespace exempt from the policy")
    warn = Policy(namespace_overrides={"trial": "warn"})
    allowed, message = verdict(spec, Workload("Deployment", "trial", "web"), warn, views)
    assert allowed and message.startswith("[padding] ")
