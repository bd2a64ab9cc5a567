"""kubectl perf images --pulls: the start-up waterfall joins a pod's Pulled events by involvedObject.uid,
so a StatefulSet pod recreated under its predecessor's name never takes the predecessor's events, and
by namespace/name only for events without a uid; a step out of order (before the pod's creation or
the step before it) is left out of the medians with a note, never printed as a negative time.

A hand-written cluster served by perf-sim (not real data): the events are core v1 Events in the
kubelet's words, the pods' uids set so the events can name them. Every median is worked out by hand
in the comments."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import inproc
import pytest
import yaml
from conftest import Sim
from kubectl_perf.images.pulls import PodTimes, Pull, waterfalls
from kubectl_perf.owners import Workload
from test_images_pulls import NOW, PY, event, node

PULLED = 'Successfully pulled image "python:3.12" in 20s (25s including waiting). Image size: 411000000 bytes.'


def pod(name: str, uid: str, created_ago: int, scheduled: int, started: int | None, ready: int | None) -> dict[str, Any]:
    """A pod of StatefulSet `name`'s prefix on n1; scheduled/started/ready: seconds after its creation
    (started None: its image is still being pulled, ready None: not ready)."""
    created = NOW - timedelta(seconds=created_ago)

    def t(after: int) -> str:
        return (created + timedelta(seconds=after)).strftime("%Y-%m-%dT%H:%M:%SZ")

    sts = name.rsplit("-", 1)[0]
    conditions = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": t(scheduled)}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": "True", "lastTransitionTime": t(ready)})
    state = {"running": {"startedAt": t(started)}} if started is not None else {"waiting": {"reason": "ContainerCreating"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": uid,
            "creationTimestamp": t(0),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts, "uid": f"uid-{sts}", "controller": True}],
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "python:3.12"}]},
        "status": {
            "phase": "Running" if started is not None else "Pending",
            "conditions": conditions,
            "containerStatuses": [{"name": "app", "image": "python:3.12", "ready": ready is not None, "restartCount": 0, "state": state}],
        },
    }


def pulled(pod_name: str, uid: str | None, seconds_ago: int, n: int) -> dict[str, Any]:
    """The kubelet's Pulled event for pod `pod_name` (involvedObject.uid `uid`; None: an event without one)."""
    e = event(pod_name, "n1", PULLED, seconds_ago, n=n)
    if uid is not None:
        e["involvedObject"]["uid"] = uid
    return e


PODS = [
    # db-0 was recreated 5 min ago: scheduled +1s, its own pull +30s, started +40s, ready +45s
    pod("db-0", "db-0-new", 300, 1, 40, 45),
    # db-1 was recreated a minute ago and is still pulling: scheduled +1s, nothing else yet
    pod("db-1", "db-1-new", 60, 1, None, None),
    # cache-0: scheduled +2s, pulled +20s (an event without uid), started +25s, ready +30s
    pod("cache-0", "cache-0-new", 600, 2, 25, 30),
    # cache-1: scheduled +1s, started +10s, ready +12s; the only event of its name is its predecessor's
    pod("cache-1", "cache-1-new", 120, 1, 10, 12),
]
EVENTS = [
    pulled("db-0", "db-0-new", 270, 1),  # +30s
    pulled("db-0", "db-0-old", 1500, 2),  # the predecessor's: 20 minutes before this db-0 existed
    pulled("db-1", "db-1-old", 1200, 3),  # the predecessor's: by name it would be -1140s
    pulled("cache-0", None, 580, 4),  # +20s, joined by name
    pulled("cache-1", None, 900, 5),  # by name it is -780s: out of order, left out
]


@pytest.fixture(scope="module")
def recreated(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    path = tmp_path_factory.mktemp("recreated") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(copy.deepcopy([node("n1", "a", [(PY, 411_000_000)]), *PODS, *EVENTS])))
    return sim_factory("--objects", str(path))


def perf(sim: Sim, *args: str) -> inproc.Ran:
    return inproc.perf(sim.kubeconfig, "images", "--kubeconfig", str(sim.kubeconfig), "--pulls", *args)


def test_a_recreated_pod_never_takes_its_predecessors_events(recreated: Sim) -> None:
    ran = perf(recreated, "-o", "json")
    assert ran.returncode == 0, ran.stderr
    startup = {s["workload"]["name"]: s for s in json.loads(ran.stdout)["startup"]}
    # db: only db-0 has its own Pulled event (+30s); db-1's is its predecessor's and is not joined.
    # Joined by name, db-1 would be 1200 - 60 = 1140s before its creation: median (30 - 1140) / 2 = -555.
    assert startup["db"] == {
        "workload": {"kind": "StatefulSet", "namespace": "shop", "name": "db"},
        "pods": 2,
        "scheduledAfter": 1.0,
        "pulledAfter": 30.0,
        "startedAfter": 40.0,
        "readyAfter": 45.0,
        "stepsOutOfOrder": 0,
    }
    # cache: events without uid join by name; cache-1's (780s before its creation) is left out and
    # counted: pulled 20 (cache-0 alone), scheduled (2 + 1) / 2, started (25 + 10) / 2, ready (30 + 12) / 2
    assert startup["cache"] == {
        "workload": {"kind": "StatefulSet", "namespace": "shop", "name": "cache"},
        "pods": 2,
        "scheduledAfter": 1.5,
        "pulledAfter": 20.0,
        "startedAfter": 17.5,
        "readyAfter": 21.0,
        "stepsOutOfOrder": 1,
    }
    assert ran.stderr == (
        "note: start-up of StatefulSet/shop/cache: 1 step out of order "
        "(before the pod's creation or the step before it) left out of its medians\n"
    )


def test_the_wide_table_and_html_print_no_negative_step(recreated: Sim) -> None:
    wide = perf(recreated, "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    rows = {line.split()[0]: line.split()[1:] for line in wide.stdout.splitlines() if line.startswith("StatefulSet/")}
    assert rows == {
        "StatefulSet/shop/db": ["2", "1.0s", "30.0s", "40.0s", "45.0s"],
        "StatefulSet/shop/cache": ["2", "1.5s", "20.0s", "17.5s", "21.0s"],
    }
    assert "out of order" in wide.stderr
    html = perf(recreated, "-o", "html")
    assert html.returncode == 0, html.stderr
    assert 'data-step="pulled" data-seconds="30.000"' in html.stdout and 'data-seconds="-' not in html.stdout
    assert "1 step out of order left out" in html.stdout
    # the plain table has no waterfall, so no note about it
    table = perf(recreated)
    assert table.returncode == 0 and "out of order" not in table.stderr


# -- the waterfall's rules, pure -----------------------------------------------------------------
W = Workload("StatefulSet", "shop", "x")


def times(uid: str, scheduled: float | None, started: float | None, ready: float | None) -> PodTimes:
    return PodTimes(scheduled, started, ready, ("shop", uid), NOW, uid)


def pull(uid: str, after: float) -> Pull:
    return Pull("python:3.12", "n1", "shop", uid, NOW + timedelta(seconds=after), 1.0, 1.0, uid=uid)


def test_a_pull_after_the_containers_started_is_not_start_up() -> None:
    # p1: pulled +8s, then an ephemeral container's image at +500s: +8s is its start-up pull.
    # p2: its only Pulled event (+500s) came after its start (+10s): out of order, left out.
    got = waterfalls({W: [times("p1", 1, 10, 12), times("p2", 1, 10, 12)]}, [pull("p1", 8), pull("p1", 500), pull("p2", 500)])
    assert [(f.scheduled, f.pulled, f.started, f.ready, f.out_of_order) for f in got] == [(1, 8, 10, 12, 1)]


def test_a_node_clock_behind_leaves_its_steps_out() -> None:
    # p1 started 5s before it was scheduled (its node's clock behind): started is left out, and
    # ready (+4s) too, being before the kept scheduled step (+9s); p2 is in order.
    got = waterfalls({W: [times("p1", 9, 4, 4), times("p2", 1, 3, 6)]}, [])
    assert [(f.scheduled, f.pulled, f.started, f.ready, f.out_of_order) for f in got] == [(5, None, 3, 6, 2)]
