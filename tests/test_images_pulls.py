"""kubectl perf images --pulls: pulls as the kubelets measured them (Pulled events), the start-up
waterfall, and the pre-pull plan ranked by seconds saved. A small cluster served by perf-sim, every
figure worked out by hand below; the three shapes of the kubelet's message parsed as written."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import inproc
import pytest
import yaml
from conftest import Sim, kubectl
from kubectl_perf.images.pulls import Pull, go_duration, parse_event
from perf_sim import catalog

M = 1_000_000
NOW = datetime.now(timezone.utc).replace(microsecond=0)  # events and pods are placed relative to the test run


def at(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the kubelet's message shapes -----------------------------------------------------------
def event(pod: str, node: str, message: str, seconds_ago: float, ns: str = "shop", n: int = 0) -> dict[str, Any]:
    """A core v1 Event as the kubelet records one for a container's image."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod}.{n:04x}", "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
        "reason": "Pulled",
        "message": message,
        "source": {"component": "kubelet", "host": node},
        "firstTimestamp": at(seconds_ago),
        "lastTimestamp": at(seconds_ago),
        "count": 1,
        "type": "Normal",
        "reportingComponent": "kubelet",
        "reportingInstance": node,
    }


def test_go_durations() -> None:
    assert go_duration("3.2s") == 3.2
    assert go_duration("512ms") == 0.512
    assert go_duration("1m2.5s") == 62.5
    assert go_duration("1h0m30s") == 3630.0
    assert go_duration("0s") == 0.0
    with pytest.raises(ValueError):
        go_duration("3.2 s")


def test_the_three_shapes_of_the_pulled_message() -> None:
    current = parse_event(
        event("p", "n1", 'Successfully pulled image "python:3.12" in 3.2s (3.5s including waiting). Image size: 411000000 bytes.', 0)
    )
    assert current is not None and (current.image, current.node, current.seconds, current.waiting, current.size) == (
        "python:3.12",
        "n1",
        3.2,
        3.5,
        411 * M,
    )
    mid = parse_event(event("p", "n1", 'Successfully pulled image "node:22" in 1m4.25s (1m10s including waiting)', 0))
    assert mid is not None and (mid.seconds, mid.waiting, mid.size) == (64.25, 70.0, None)
    old = parse_event(event("p", "n1", 'Successfully pulled image "node:22" in 31.512345678s', 0))
    assert old is not None and (old.seconds, old.waiting, old.size) == (31.512345678, 31.512345678, None)  # one figure, waiting included
    hit = parse_event(event("p", "n1", 'Container image "node:22" already present on machine', 0))
    assert hit is not None and hit.present and hit.seconds is None
    # events.k8s.io/v1 carries the same as note/regarding/reportingInstance
    v1 = {
        "reason": "Pulled",
        "note": 'Successfully pulled image "nginx:1.27" in 800ms (900ms including waiting). Image size: 70500000 bytes.',
        "regarding": {"kind": "Pod", "namespace": "web", "name": "x"},
        "reportingInstance": "n9",
        "eventTime": "2026-12-01T10:00:00.000000Z",
    }
    got = parse_event(v1)
    assert got == Pull("nginx:1.27", "n9", "web", "x", datetime(2026, 12, 1, 10, tzinfo=timezone.utc), 0.8, 0.9, 70_500_000)
    assert parse_event({**v1, "reason": "Pulling", "note": 'Pulling image "nginx:1.27"'}) is None


# -- the hand-worked cluster ------------------------------------------------------------------
def node(name: str, pool: str, images: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"node-pool": pool, "kubernetes.io/hostname": name}},
        "status": {
            "nodeInfo": {"containerRuntimeVersion": "containerd://1.7.23"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
            "images": [{"names": [n], "sizeBytes": s} for n, s in images],
        },
    }


def pod(name: str, rs: str, node_name: str, image: str, created_ago: int, scheduled: int, started: int, ready: int) -> dict[str, Any]:
    """A running pod of ReplicaSet `rs`; scheduled/started/ready: seconds after its creation."""
    created = NOW - timedelta(seconds=created_ago)

    def t(after: int) -> str:
        return (created + timedelta(seconds=after)).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "creationTimestamp": t(0),
            "labels": {"pod-template-hash": rs.rsplit("-", 1)[1]},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": f"uid-{rs}", "controller": True}],
        },
        "spec": {"nodeName": node_name, "containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent"}]},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": t(scheduled)},
                {"type": "Initialized", "status": "True", "lastTransitionTime": t(scheduled)},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": t(ready)},
                {"type": "Ready", "status": "True", "lastTransitionTime": t(ready)},
            ],
            "containerStatuses": [
                {"name": "app", "image": image, "ready": True, "restartCount": 0, "state": {"running": {"startedAt": t(started)}}}
            ],
        },
    }


PY, NODE22 = "docker.io/library/python:3.12", "docker.io/library/node:22"
NODES = [
    node("n1", "a", [(PY, 411 * M), (NODE22, 409 * M)]),
    node("n2", "a", [(PY, 411 * M)]),
    node("n3", "b", []),
    node("n4", "a", []),  # a fresh node of pool a
]
PODS = [
    # web: created 21 min ago, scheduled +1s, its pull ended 20 min ago (+60s), started +62s, ready +70s
    pod("web-abc-1", "web-abc", "n1", "python:3.12", 21 * 60, 1, 62, 70),
    # created 10m30s ago, scheduled +2s, pulled 10 min ago (+30s), started +33s, ready +45s
    pod("web-abc-2", "web-abc", "n2", "python:3.12", 10 * 60 + 30, 2, 33, 45),
    # api: created 6 min ago, its one pull ended 5 min ago (+60s), started +64s, ready +64s; the other pod had it
    pod("api-xyz-1", "api-xyz", "n1", "node:22", 6 * 60, 0, 64, 64),
    pod("api-xyz-2", "api-xyz", "n1", "node:22", 6 * 60, 0, 4, 5),
]
EVENTS = [
    event("web-abc-2", "n2", f'Successfully pulled image "python:3.12" in 20s (25s including waiting). Image size: {411 * M} bytes.', 600),
    event("web-abc-1", "n1", 'Successfully pulled image "python:3.12" in 31.5s', 1200),  # a kubelet before 1.28: one figure
    event("web-abc-0", "n1", 'Container image "python:3.12" already present on machine', 900),  # a pod gone since
    event("api-xyz-1", "n1", 'Successfully pulled image "node:22" in 4s (6s including waiting)', 300),  # 1.28-1.29: no size
    # three hours ago: outside --since 1h
    event(
        "web-old-1",
        "n2",
        f'Successfully pulled image "python:3.12" in 1m40s (1m40s including waiting). Image size: {411 * M} bytes.',
        3 * 3600,
    ),
]


@pytest.fixture(scope="module")
def pulls_cluster(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    path = tmp_path_factory.mktemp("pulls") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(copy.deepcopy(NODES + PODS + EVENTS)))
    return sim_factory("--objects", str(path))


def perf(sim: Sim, *args: str) -> inproc.Ran:
    return inproc.perf(sim.kubeconfig, "images", "--kubeconfig", str(sim.kubeconfig), *args)


def doc(sim: Sim, *args: str) -> dict[str, Any]:
    ran = perf(sim, "-o", "json", *args)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def test_pulls_per_image_and_pool_within_the_window(pulls_cluster: Sim) -> None:
    d = doc(pulls_cluster, "--pulls", "--since", "1h")
    pulls = {(p["image"], p["pool"]): p for p in d["pulls"]}
    assert set(pulls) == {(PY, "a"), (NODE22, "a")}
    # python on pool a: 20s (25s waiting) on n2, 31.5s (old shape: waiting included) on n1, one cache hit on n1
    assert pulls[(PY, "a")] == {
        "image": PY,
        "pool": "a",
        "pulls": 2,
        "medianSeconds": (20 + 31.5) / 2,
        "maxSeconds": 31.5,
        "medianIncludingWaiting": (25 + 31.5) / 2,
        "sizeBytes": 411 * M,
        "alreadyPresent": 1,
        "nodes": 2,
    }
    assert pulls[(NODE22, "a")] == {
        "image": NODE22,
        "pool": "a",
        "pulls": 1,
        "medianSeconds": 4.0,
        "maxSeconds": 4.0,
        "medianIncludingWaiting": 6.0,
        "sizeBytes": None,  # the 1.28 shape has no size
        "alreadyPresent": 0,
        "nodes": 1,
    }
    # order: most total waiting first (python 56.5s, node 6s)
    assert [p["image"] for p in d["pulls"]] == [PY, NODE22]


def test_every_event_the_api_server_keeps_without_since(pulls_cluster: Sim) -> None:
    py = next(p for p in doc(pulls_cluster, "--pulls")["pulls"] if p["image"] == PY)
    # 20, 31.5 and the 100s of three hours ago
    assert (py["pulls"], py["medianSeconds"], py["maxSeconds"], py["medianIncludingWaiting"]) == (3, 31.5, 100.0, 31.5)


def test_pre_pull_plan_ranks_by_seconds_saved_then_size(pulls_cluster: Sim) -> None:
    plan = doc(pulls_cluster, "--since", "1h")["prePull"]
    got = [(p["image"], p["nodeSelector"], p["rankBasis"], p["secondsPerPull"], p["expectedPulls"], p["secondsSaved"]) for p in plan]
    assert got == [
        # python, pool a: missing on n4 only; two pulls seen in the hour -> 2 x median with waiting 28.25s
        (PY, {"node-pool": "a"}, "seconds", 28.25, 2, 56.5),
        # node:22, pool a: missing on n2 and n4 (2), one pull seen -> 2 x 6s
        (NODE22, {"node-pool": "a"}, "seconds", 6.0, 2, 12.0),
        # pool b saw no pull: by size x missing, 411 MB x 1 before 409 MB x 1
        (PY, {"node-pool": "b"}, "size", None, 1, None),
        (NODE22, {"node-pool": "b"}, "size", None, 1, None),
    ]


def test_pre_pull_imagecache_follows_the_ranking(pulls_cluster: Sim) -> None:
    ran = perf(pulls_cluster, "-o", "imagecache", "--since", "1h")
    assert ran.returncode == 0, ran.stderr
    spec = yaml.safe_load(ran.stdout)["spec"]["cacheSpec"]
    assert spec == [
        {"images": [PY, NODE22], "nodeSelector": {"node-pool": "a"}},
        {"images": [PY, NODE22], "nodeSelector": {"node-pool": "b"}},
    ]


def test_startup_waterfall_per_workload(pulls_cluster: Sim) -> None:
    startup = {s["workload"]["name"]: s for s in doc(pulls_cluster, "--pulls")["startup"]}
    # web: scheduled (1+2)/2, pulled (60+30)/2, started (62+33)/2, ready (70+45)/2
    assert startup["web"] == {
        "workload": {"kind": "Deployment", "namespace": "shop", "name": "web", "guessed": True},
        "pods": 2,
        "scheduledAfter": 1.5,
        "pulledAfter": 45.0,
        "startedAfter": 47.5,
        "readyAfter": 57.5,
        "stepsOutOfOrder": 0,
    }
    # api: only api-xyz-1 pulled (+60s); started (64+4)/2, ready (64+5)/2
    assert (
        startup["api"]["scheduledAfter"],
        startup["api"]["pulledAfter"],
        startup["api"]["startedAfter"],
        startup["api"]["readyAfter"],
    ) == (
        0.0,
        60.0,
        34.0,
        34.5,
    )


def test_pulls_table_and_wide(pulls_cluster: Sim) -> None:
    ran = perf(pulls_cluster, "--pulls", "--since", "1h")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].split() == [
        "PULLED",
        "IMAGE",
        "POOL",
        "(NODE-POOL)",
        "PULLS",
        "MEDIAN",
        "MAX",
        "WITH",
        "WAITING",
        "SIZE",
        "ALREADY",
        "PRESENT",
    ]
    assert lines[1].split() == [PY, "a", "2", "25.8s", "31.5s", "28.2s", "411", "MB", "1"]
    assert "PRE-PULL IMAGE" in ran.stdout and "28.2s x 2 = 56.5s" in ran.stdout and "(by size)" in ran.stdout
    assert "WORKLOAD START-UP" not in ran.stdout
    wide = perf(pulls_cluster, "--pulls", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    row = next(line for line in wide.stdout.splitlines() if line.startswith("Deployment?/shop/web"))
    assert row.split() == ["Deployment?/shop/web", "2", "1.5s", "45.0s", "47.5s", "57.5s"]


def test_pulls_html_has_the_waterfall(pulls_cluster: Sim) -> None:
    ran = perf(pulls_cluster, "--pulls", "-o", "html")
    assert ran.returncode == 0, ran.stderr
    assert f'data-pulled="{PY}" data-pool="a"' in ran.stdout
    assert 'data-startup="Deployment?/shop/web"' in ran.stdout and 'data-step="ready" data-seconds="57.500"' in ran.stdout
    assert 'data-histogram="a/100MB-500MB"' in ran.stdout


def test_pulls_csv_is_the_pulls_table(pulls_cluster: Sim) -> None:
    ran = perf(pulls_cluster, "--pulls", "--since", "1h", "-o", "csv")
    assert ran.returncode == 0, ran.stderr
    rows = ran.stdout.splitlines()
    assert rows[0] == "PULLED IMAGE,POOL (NODE-POOL),PULLS,MEDIAN,MAX,WITH WAITING,SIZE,ALREADY PRESENT,NODES"
    assert rows[1] == f"{PY},a,2,25.75,31.5,28.25,{411 * M},1,2"


def test_bad_since_is_one_line(pulls_cluster: Sim) -> None:
    ran = perf(pulls_cluster, "--pulls", "--since", "yesterday")
    assert ran.returncode == 2 and "invalid duration 'yesterday'" in ran.stderr and "Traceback" not in ran.stderr


@pytest.fixture(scope="module")
def events_forbidden(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    path = tmp_path_factory.mktemp("forbidden") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(copy.deepcopy(NODES + PODS + EVENTS)))
    return sim_factory("--objects", str(path), "--forbid-cluster-list", "events")


FORBIDDEN_NOTE = 'note: cannot list events (403 Forbidden: events is forbidden: User "perf-sim-user" cannot list resource "events"'


def test_events_forbidden_is_a_note_and_size_ranking(events_forbidden: Sim) -> None:
    ran = perf(events_forbidden, "-o", "json")
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.startswith(FORBIDDEN_NOTE) and "pulls are unknown" in ran.stderr
    assert {p["rankBasis"] for p in json.loads(ran.stdout)["prePull"]} == {"size"}


def test_events_forbidden_never_claims_no_pulls(events_forbidden: Sim) -> None:
    """Unread is not none: no "the kubelets reported no pulls", no empty pulls table, json pulls null."""
    for output in ("table", "wide", "json", "html"):
        ran = perf(events_forbidden, "--pulls", "-o", output)
        assert ran.returncode == 0, ran.stderr
        assert ran.stderr.count("note: ") == 1 and ran.stderr.startswith(FORBIDDEN_NOTE), (output, ran.stderr)
        assert "reported no pulls" not in ran.stderr + ran.stdout
    table = perf(events_forbidden, "--pulls")
    assert "PULLED IMAGE" not in table.stdout and "KUBELET HISTOGRAM POOL" in table.stdout and "PRE-PULL IMAGE" in table.stdout
    d = doc(events_forbidden, "--pulls")
    assert d["pulls"] is None and d["startup"][0]["pulledAfter"] is None
    html = perf(events_forbidden, "--pulls", "-o", "html").stdout
    assert '<p class="sub" id="events-unread">Events could not be read (403 Forbidden: events is forbidden' in html
    assert "Pulls the kubelets measured (0)" not in html and "data-pulled=" not in html


def test_no_pulls_in_the_window_names_it(pulls_cluster: Sim) -> None:
    ran = perf(pulls_cluster, "--pulls", "--since", "1m30s")  # the latest event is 5 minutes old
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == "note: no Pulled events in the last 1m30s: the kubelets reported no pulls\n"


def test_unknown_pull_sizes_print_a_question_mark(pulls_cluster: Sim) -> None:
    """node:22's only pull is in 1.28's words, without a size: `?` in the table and html, null in json."""
    table = perf(pulls_cluster, "--pulls", "--since", "1h")
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith(NODE22))
    assert row.split() == [NODE22, "a", "1", "4.0s", "4.0s", "6.0s", "?", "0"]
    html = perf(pulls_cluster, "--pulls", "--since", "1h", "-o", "html").stdout
    cells = html.split(f'data-pulled="{NODE22}"', 1)[1].split("</tr>", 1)[0]
    assert "<td>6.0s</td><td>?</td><td>0</td>" in cells
    assert next(p for p in doc(pulls_cluster, "--pulls", "--since", "1h")["pulls"] if p["image"] == NODE22)["sizeBytes"] is None
    csv = perf(pulls_cluster, "--pulls", "--since", "1h", "-o", "csv").stdout.splitlines()
    assert f"{NODE22},a,1,4,4,6,,0,1" in csv  # machine output: the cell empty, no `?` to parse


def test_since_without_pulls_windows_the_pre_pull_plan_and_says_so(pulls_cluster: Sim) -> None:
    """--since alone applies: the pre-pull plan counts the window's pulls (python on pool a: 2 in the
    last hour, median with waiting (25 + 31.5) / 2; 3 without it, median of 25, 31.5, 100), and a note
    says what it windowed, as --pulls is what lists them."""
    windowed = perf(pulls_cluster, "--since", "1h")
    assert windowed.returncode == 0, windowed.stderr
    assert "28.2s x 2 = 56.5s" in windowed.stdout
    assert "note: --since: the pre-pull plan counts the pulls in the last 1h (--pulls lists them)" in windowed.stderr
    every = perf(pulls_cluster)
    assert "31.5s x 3 = 1m34s" in every.stdout and "--since" not in every.stderr
    cache = perf(pulls_cluster, "-o", "imagecache", "--since", "90m")
    assert (
        cache.returncode == 0
        and cache.stderr == "note: --since: the pre-pull plan counts the pulls in the last 1h30m (--pulls lists them)\n"
    )
    # with --pulls the window is the pulls table's own: no such note
    assert "--since" not in perf(pulls_cluster, "--pulls", "--since", "1h").stderr


# -- perf-sim's generated pulls --------------------------------------------------------------
def model_seconds(size: int) -> float:
    """perf-sim's documented pull-rate model (README): 1 s of round trips, then 25 MB/s."""
    return round(1.0 + size / 25_000_000, 3)


@pytest.fixture(scope="module")
def small_generated(sim_factory: Any) -> Sim:
    return sim_factory("--nodes", "2", "--pods-per-node", "8", "--seed", "4")


def test_sim_serves_pulled_events_consistent_with_sizes_and_pods(small_generated: Sim) -> None:
    sim = small_generated
    pods = [p for p in sim.get("/api/v1/pods")["items"] if p["spec"].get("nodeName")]
    events = sim.get("/api/v1/events?fieldSelector=reason%3DPulled")["items"]
    assert len(events) == len(pods) == 16  # one per scheduled pod, for its first app container
    assert sim.get("/api/v1/events?fieldSelector=reason%3DCreated")["items"] == []
    by_pod = {(e["involvedObject"]["namespace"], e["involvedObject"]["name"]): e for e in events}
    seen: dict[str, set[str]] = {}
    queued: dict[str, bool] = {}
    for p in pods:  # in list order: node by node, slot by slot
        node, image = p["spec"]["nodeName"], p["spec"]["containers"][0]["image"]
        e = by_pod[(p["metadata"]["namespace"], p["metadata"]["name"])]
        assert (
            e["source"]["host"] == node and e["involvedObject"]["fieldPath"] == f"spec.containers{{{p['spec']['containers'][0]['name']}}}"
        )
        size = catalog.IMAGES[image][1]
        if image in seen.setdefault(node, set()):
            assert e["message"] == f'Container image "{image}" already present on machine'
        else:
            seen[node].add(image)
            pulled = parse_event(e)
            assert pulled is not None and pulled.size == size and pulled.seconds == model_seconds(size)
            # the node's first pull waits for nothing; later ones queue 1.5 s behind it
            assert pulled.waiting == round(model_seconds(size) + (1.5 if queued.get(node) else 0.0), 3)
            queued[node] = True
        conds = {c["type"]: c["lastTransitionTime"] for c in p["status"]["conditions"]}
        created = datetime.fromisoformat(p["metadata"]["creationTimestamp"].replace("Z", "+00:00"))

        def after(text: str, created: datetime = created) -> float:
            return (datetime.fromisoformat(text.replace("Z", "+00:00")) - created).total_seconds()

        pulled_after = after(e["lastTimestamp"])
        started = after(
            p["status"]["containerStatuses"][0]["state"].get("running", p["status"]["containerStatuses"][0]["state"].get("terminated"))[
                "startedAt"
            ]
        )
        # created -> scheduled 1s -> pulled (whole seconds) -> started 1s later -> ready 2s after that
        assert (after(conds["PodScheduled"]), started, after(conds["Ready"])) == (1.0, pulled_after + 1, pulled_after + 3)


def test_sim_pulls_through_the_plugin(small_generated: Sim) -> None:
    d = doc(small_generated, "--pulls")
    assert sum(p["pulls"] + p["alreadyPresent"] for p in d["pulls"]) == 16
    for p in d["pulls"]:
        if p["pulls"]:
            assert p["sizeBytes"] is not None and p["medianSeconds"] == model_seconds(p["sizeBytes"])
    assert d["startup"] and all(s["scheduledAfter"] == 1.0 for s in d["startup"])


# -- kube-fledged ImageCache coverage ----------------------------------------------------------
CRD = Path(__file__).parent / "data" / "kubefledged-imagecache-crd.yaml"


def image_cache(namespace: str, name: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "kubefledged.io/v1alpha2",
        "kind": "ImageCache",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"cacheSpec": entries},
    }


CACHES = [
    image_cache(
        "kube-fledged",
        "web-cache",
        [{"images": ["python:3.12", "redis:7.4"], "nodeSelector": {"node-pool": "a"}}, {"images": ["node:22"]}],
    ),
    image_cache("other", "tools", [{"images": ["busybox:1.36"]}]),
]
NGINX = pod("edge-qrs-1", "edge-qrs", "n3", "nginx:1.27", 600, 0, 3, 4)  # on n3 (pool b); no node lists nginx


@pytest.fixture(scope="module")
def fledged_cluster(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    path = tmp_path_factory.mktemp("fledged") / "cluster.yaml"
    path.write_text(CRD.read_text() + "\n---\n" + yaml.safe_dump_all(copy.deepcopy(NODES + PODS + [NGINX] + CACHES)))
    return sim_factory("--objects", str(path))


def test_imagecache_coverage_of_every_cache(fledged_cluster: Sim) -> None:
    caches = {c["name"]: c for c in doc(fledged_cluster, "--imagecache")["imageCaches"]}
    assert list(caches) == ["web-cache", "tools"]  # by namespace: kube-fledged, other
    web = caches["web-cache"]
    assert web["namespace"] == "kube-fledged"
    assert web["images"] == [
        # pool a is n1, n2, n4: n1 and n2 list python, n4 lists nothing
        {
            "image": "python:3.12",
            "nodeSelector": {"node-pool": "a"},
            "selectedNodes": 3,
            "presentOn": ["n1", "n2"],
            "missingOn": ["n4"],
            "mayHold": [],
            "runs": True,
        },
        # no node lists redis and no pod runs it
        {
            "image": "redis:7.4",
            "nodeSelector": {"node-pool": "a"},
            "selectedNodes": 3,
            "presentOn": [],
            "missingOn": ["n1", "n2", "n4"],
            "mayHold": [],
            "runs": False,
        },
        # no selector: all four nodes; only n1 lists node:22
        {
            "image": "node:22",
            "nodeSelector": {},
            "selectedNodes": 4,
            "presentOn": ["n1"],
            "missingOn": ["n2", "n3", "n4"],
            "mayHold": [],
            "runs": True,
        },
    ]
    # in use on the nodes it selects but not cached: nginx on n3 (size unknown: no node lists it)
    assert web["missing"] == [{"image": "docker.io/library/nginx:1.27", "sizeBytes": None, "nodes": 1}]
    assert web["unused"] == ["redis:7.4"]
    tools = caches["tools"]
    assert [(i["image"], i["presentOn"], i["runs"]) for i in tools["images"]] == [("busybox:1.36", [], False)]
    # everything pods run is missed, largest first: python 411 MB, node:22 409 MB, nginx unknown
    assert tools["missing"] == [
        {"image": PY, "sizeBytes": 411 * M, "nodes": 2},
        {"image": NODE22, "sizeBytes": 409 * M, "nodes": 1},
        {"image": "docker.io/library/nginx:1.27", "sizeBytes": None, "nodes": 1},
    ]
    assert tools["unused"] == ["busybox:1.36"]


def test_imagecache_by_name_and_its_table(fledged_cluster: Sim) -> None:
    ran = perf(fledged_cluster, "--imagecache", "kube-fledged/web-cache")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].split() == ["IMAGECACHE", "CACHED", "IMAGE", "SELECTOR", "PRESENT", "NOT", "ON", "RUNS"]
    assert lines[1].split() == ["kube-fledged/web-cache", "python:3.12", "node-pool=a", "2/3", "n4", "yes"]
    assert lines[3].split() == ["kube-fledged/web-cache", "node:22", "(all", "nodes)", "1/4", "n2,n3,n4", "yes"]
    assert "docker.io/library/nginx:1.27" in ran.stdout and "tools" not in ran.stdout
    assert "note: kube-fledged/web-cache holds images no pod runs: redis:7.4" in ran.stderr
    assert [c["name"] for c in doc(fledged_cluster, "--imagecache", "tools")["imageCaches"]] == ["tools"]
    scoped = perf(fledged_cluster, "--imagecache", "-n", "shop")
    assert scoped.returncode == 0 and "with -n or -l, images 'no pod runs'" in scoped.stderr


def test_imagecache_not_found_or_not_installed(fledged_cluster: Sim, pulls_cluster: Sim) -> None:
    ran = perf(fledged_cluster, "--imagecache", "nope")
    assert (ran.returncode, ran.stderr.strip()) == (2, "error: ImageCache 'nope' not found")
    ran = perf(pulls_cluster, "--imagecache")
    assert ran.returncode == 1 and ran.stderr.strip().startswith("error: kube-fledged is not installed")
    ran = perf(pulls_cluster, "--imagecache", "Bad_Name")
    assert ran.returncode == 2 and "invalid ImageCache 'Bad_Name'" in ran.stderr


# -- the waterfall's window and its unknown cells ----------------------------------------------
def pending(name: str, rs: str, created_ago: int) -> dict[str, Any]:
    """A pod of ReplicaSet `rs` not yet scheduled: no condition true, no container started."""
    p = pod(name, rs, "n3", "python:3.12", created_ago, 0, 0, 0)
    del p["spec"]["nodeName"]
    p["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}
    return p


# db: one pod created three days ago (its Pulled event long gone), started +5s, ready +6s;
# queue: one pod created 2 minutes ago, still pending
STARTUP_EXTRA = [pod("db-q-1", "db-q", "n2", "python:3.12", 3 * 86400, 1, 5, 6), pending("queue-p-1", "queue-p", 120)]


@pytest.fixture(scope="module")
def startup_cluster(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    path = tmp_path_factory.mktemp("startup") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(copy.deepcopy(NODES + PODS + EVENTS + STARTUP_EXTRA)))
    return sim_factory("--objects", str(path))


def startup_rows(stdout: str) -> dict[str, list[str]]:
    """The wide waterfall's rows by workload name, cells split."""
    lines = stdout.split("WORKLOAD START-UP", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return {line.split()[0].rsplit("/", 1)[1]: line.split()[1:] for line in lines}


def test_since_keeps_the_start_ups_in_the_window(startup_cluster: Sim) -> None:
    """--since 30m: db's pod was created three days ago, outside the window: left out, not shown
    with a blank PULLED; without --since it is there, PULLED `-` (no event of its pull is kept)."""
    wide = perf(startup_cluster, "--pulls", "--since", "30m", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    rows = startup_rows(wide.stdout)
    assert set(rows) == {"web", "api", "queue"}, rows
    assert rows["web"] == ["2", "1.5s", "45.0s", "47.5s", "57.5s"]
    assert {s["workload"]["name"] for s in doc(startup_cluster, "--pulls", "--since", "30m")["startup"]} == {"web", "api", "queue"}
    everything = startup_rows(perf(startup_cluster, "--pulls", "-o", "wide").stdout)
    assert everything["db"] == ["1", "1.0s", "-", "5.0s", "6.0s"]


def test_a_pending_workloads_steps_print_a_dash(startup_cluster: Sim) -> None:
    wide = perf(startup_cluster, "--pulls", "-o", "wide")
    assert startup_rows(wide.stdout)["queue"] == ["1", "-", "-", "-", "-"]
    queue = next(s for s in doc(startup_cluster, "--pulls")["startup"] if s["workload"]["name"] == "queue")
    assert [queue[k] for k in ("scheduledAfter", "pulledAfter", "startedAfter", "readyAfter")] == [None] * 4
    html = perf(startup_cluster, "--pulls", "-o", "html").stdout
    assert "1 pods · ready -" in html.split('data-startup="Deployment?/shop/queue"', 1)[1]


def test_no_start_up_in_the_window_is_a_note_not_an_empty_table(startup_cluster: Sim) -> None:
    wide = perf(startup_cluster, "--pulls", "--since", "30s", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    assert "WORKLOAD START-UP" not in wide.stdout and "note: no pod was created in the last 30s: no start-up waterfall" in wide.stderr


@pytest.fixture(scope="module")
def short_access(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    path = tmp_path_factory.mktemp("short") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(copy.deepcopy(NODES + PODS + EVENTS + STARTUP_EXTRA)))
    return sim_factory("--objects", str(path), "--forbid-cluster-list", "events", "--forbid-cluster-list", "nodes/proxy")


def test_events_and_kubelets_forbidden_print_no_empty_histogram_and_an_unknown_pulled(short_access: Sim) -> None:
    wide = perf(short_access, "--pulls", "--since", "30m", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    assert "nodes/proxy is forbidden" in wide.stderr and "KUBELET HISTOGRAM" not in wide.stdout, wide.stdout
    assert wide.stdout.startswith("WORKLOAD START-UP"), wide.stdout
    rows = startup_rows(wide.stdout)
    # PULLED unknown (`?`: the events could not be read) beside steps not reached (`-`: queue is pending)
    assert rows["web"] == ["2", "1.5s", "?", "47.5s", "57.5s"] and rows["queue"] == ["1", "-", "?", "-", "-"], rows
    table = perf(short_access, "--pulls")
    assert table.stdout.startswith("PRE-PULL IMAGE") and "KUBELET HISTOGRAM" not in table.stdout, table.stdout


# -- the kubelet's image_pull_duration_seconds -------------------------------------------------
def test_kubelet_histogram_by_pool_and_size(pulls_cluster: Sim) -> None:
    d = doc(pulls_cluster, "--pulls", "--since", "1h")
    # Only current kubelets (their events carry the size) observe the histogram: n2's two python pulls,
    # 25 s (in the window) and 100 s (three hours ago: the histogram counts since the kubelet started).
    # 411 MB is above 100 MiB, below 500 MiB: "100MB-500MB". Mean 62.5 s; 1 of 2 at or under le=30.
    assert d["kubeletHistogram"] == [
        {"pool": "a", "imageSize": "100MB-500MB", "pulls": 2, "meanSeconds": 62.5, "medianAtMostSeconds": 30.0, "nodes": 1}
    ]
    table = perf(pulls_cluster, "--pulls", "--since", "1h").stdout
    row = next(line for line in table.splitlines() if line.startswith("a ") and "100MB-500MB" in line)
    assert row.split() == ["a", "100MB-500MB", "2", "1m02s", "<=", "30.0s", "1"]


def test_kubelet_histogram_forbidden_is_one_note(sim_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(copy.deepcopy(NODES + PODS + EVENTS)))
    sim = sim_factory("--objects", str(path), "--forbid-cluster-list", "nodes/proxy")
    ran = perf(sim, "--pulls", "-o", "json")
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.count("nodes/proxy is forbidden") == 1 and json.loads(ran.stdout)["kubeletHistogram"] == []
    assert json.loads(ran.stdout)["pulls"]  # the events still answer


def test_sim_kubelet_histogram_agrees_with_its_events(small_generated: Sim) -> None:
    d = doc(small_generated, "--pulls")
    assert sum(h["pulls"] for h in d["kubeletHistogram"]) == sum(p["pulls"] for p in d["pulls"])


def test_imagecache_names_complete_from_the_cluster(fledged_cluster: Sim) -> None:
    from kubectl_perf.completion import complete

    found, directive = complete(["images", "--kubeconfig", str(fledged_cluster.kubeconfig), "--imagecache", ""])
    assert (sorted(found), directive) == ([("tools", "other"), ("web-cache", "kube-fledged")], 4)
    found, _ = complete(["images", "--kubeconfig", str(fledged_cluster.kubeconfig), "--imagecache", "we"])
    assert found == [("web-cache", "kube-fledged")]


EVENT_HEADER = ["NAMESPACE", "LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]  # kubectl get events -A, as a real API server prints it


def test_kubectl_get_events_on_the_sim(small_generated: Sim) -> None:
    out = kubectl(small_generated, "get", "events", "-A", "--field-selector", "reason=Pulled").stdout.splitlines()
    assert out[0].split() == EVENT_HEADER and len(out) == 1 + 16
    assert out[1].split()[2:5] == ["Normal", "Pulled", "pod/kube-proxy-" + out[1].split()[4].split("-")[-1]]
