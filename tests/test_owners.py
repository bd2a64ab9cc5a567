"""Pods to workloads: owner references plus the controllers' naming conventions."""

from __future__ import annotations

from typing import Any

from kubectl_perf.owners import Workload, owner_index, workload_of


def meta(name: str, owner: tuple[str, str] | None = None, labels: dict[str, str] | None = None, **ref: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": "shop", "labels": labels or {}}
    if owner:
        m["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True, **ref}]
    return m


def test_deployment_from_template_hash() -> None:
    pod = meta("web-7d4b9c-x2x9z", ("ReplicaSet", "web-7d4b9c"), {"pod-template-hash": "7d4b9c"})
    # without the ReplicaSet listed, the convention answers, marked as a guess
    assert workload_of(pod) == Workload("Deployment", "shop", "web", guess=True)
    assert workload_of(pod).text() == "Deployment?/shop/web" and workload_of(pod).as_dict()["guessed"] is True
    # a ReplicaSet whose name does not end in its pods' hash was made by hand
    assert workload_of(meta("rs-x", ("ReplicaSet", "custom-rs"), {"pod-template-hash": "7d4b9c"})) == Workload(
        "ReplicaSet", "shop", "custom-rs"
    )
    assert workload_of(meta("rs-x", ("ReplicaSet", "web-7d4b9c"))) == Workload("ReplicaSet", "shop", "web-7d4b9c")
    assert workload_of(meta("x", ("ReplicaSet", "7d4b9c"), {"pod-template-hash": "7d4b9c"})).kind == "ReplicaSet"


def test_cronjob_from_job_name() -> None:
    assert workload_of(meta("nightly-29000123-abcde", ("Job", "nightly-29000123"))) == Workload("CronJob", "shop", "nightly", guess=True)
    assert workload_of(meta("db-migrate-2-q", ("Job", "db-migrate-2"))) == Workload("Job", "shop", "db-migrate-2")
    assert workload_of(meta("x", ("Job", "backup-1234567"))) == Workload("Job", "shop", "backup-1234567")  # 7 digits: not a schedule


def test_other_owners_and_bare_pods() -> None:
    assert workload_of(meta("db-0", ("StatefulSet", "db"))) == Workload("StatefulSet", "shop", "db")
    assert workload_of(meta("fb-abcde", ("DaemonSet", "fluent-bit"))).as_dict() == {
        "kind": "DaemonSet",
        "namespace": "shop",
        "name": "fluent-bit",
    }
    assert workload_of(meta("etcd-node-1", ("Node", "node-1"))) == Workload("Node", "shop", "node-1")
    assert Workload("Node", "kube-system", "node-1").text() == "static pod on node-1"
    assert workload_of(meta("debug")) == Workload("Pod", "shop", "debug")
    # several references and none is the controller: no owner to speak of
    two = meta("p")
    two["ownerReferences"] = [{"kind": "A", "name": "a"}, {"kind": "B", "name": "b"}]
    assert workload_of(two) == Workload("Pod", "shop", "p")
    # one reference without controller: true still names the owner
    one = meta("p")
    one["ownerReferences"] = [{"kind": "StatefulSet", "name": "s"}]
    assert workload_of(one) == Workload("StatefulSet", "shop", "s")


def test_listed_controllers_win_over_conventions() -> None:
    owners = {
        ("ReplicaSet", "shop", "web-7d4b9c"): {"kind": "Deployment", "name": "frontend", "controller": True},
        ("Job", "shop", "nightly-29000123"): None,  # a Job made by hand with a numeric suffix
    }
    pod = meta("web-7d4b9c-x2x9z", ("ReplicaSet", "web-7d4b9c"), {"pod-template-hash": "7d4b9c"})
    assert workload_of(pod, owners) == Workload("Deployment", "shop", "frontend")
    assert workload_of(meta("n", ("Job", "nightly-29000123")), owners) == Workload("Job", "shop", "nightly-29000123")
    assert workload_of(meta("n", ("Job", "other-29000123")), owners) == Workload("CronJob", "shop", "other", guess=True)


def test_jobs_without_a_cronjob_are_jobs() -> None:
    """Jobs ml/trainer-29000214..17 made by hand (no CronJob): listed, they are four Jobs, as audit says."""
    jobs = [{"metadata": {"name": f"trainer-290002{n}", "namespace": "ml"}} for n in (14, 15, 16, 17)]
    owners = owner_index([], jobs)
    pods = [
        {
            "name": f"trainer-290002{n}-x",
            "namespace": "ml",
            "ownerReferences": [{"kind": "Job", "name": f"trainer-290002{n}", "controller": True}],
        }
        for n in (14, 15, 16, 17)
    ]
    assert [workload_of(p, owners).text() for p in pods] == [f"Job/ml/trainer-290002{n}" for n in (14, 15, 16, 17)]
    assert {workload_of(p).text() for p in pods} == {"CronJob?/ml/trainer"}  # not listed: a marked guess


def test_remembered_workloads_are_workload_of_once_per_metadata_object(monkeypatch: Any) -> None:
    import kubectl_perf.owners as owners

    pod = meta("web-7d4b9c-x2x9z", ("ReplicaSet", "web-7d4b9c"), {"pod-template-hash": "7d4b9c"})
    index = {("ReplicaSet", "shop", "web-7d4b9c"): {"kind": "Deployment", "name": "web"}}
    calls: list[int] = []
    real = owners.workload_of

    def counted(metadata: Any, index: Any = None) -> Workload:
        calls.append(id(metadata))
        return real(metadata, index)

    monkeypatch.setattr(owners, "workload_of", counted)
    remembered = owners.RememberedWorkloads()
    twin = {**pod}  # equal, but another object: resolved afresh (an id alone could be a freed object's)
    expected = Workload("Deployment", "shop", "web")  # by the owner index, not guessed
    assert remembered(pod, index) == remembered(pod, index) == remembered(twin, index) == expected
    assert calls == [id(pod), id(twin)]
