"""`kubectl perf capacity --fit`, `--fit-pod` and `--fit-workload` (issue 24 section 1), run in-process
(tests/inproc.py) against perf-sim serving tests/data/fit-cluster.yaml.

Every figure is worked out by hand from the file. Budgets are allocatable x 75% (the default target):
gen-1, gen-2, cordoned-1 16Gi -> 12Gi; io-1 8Gi -> 6Gi; big-1 32Gi -> 24Gi.

  node        alloc cpu/mem/pods   requested cpu/mem/pods      usage mem
  gen-1       4 / 16Gi / 110       1 / 4Gi / 1 (done: finished) 9Gi
  gen-2       8 / 16Gi / 4         3 / 3Gi / 2                 4Gi
  cordoned-1  4 / 16Gi / 110       0 / 0 / 0   (cordoned)       1Gi
  io-1        4 / 8Gi / 110        4 / 2Gi / 1 (taint io)       3Gi
  big-1       16 / 32Gi / 110      2 / 25Gi / 1                20Gi
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DATA, Sim
from test_capacity import Gi, perf

FILE = DATA / "fit-cluster.yaml"


@pytest.fixture(scope="module")
def fit_cluster(sim_factory: Any) -> Sim:
    return sim_factory("--objects", str(FILE))


@pytest.fixture(scope="module")
def fit_cluster_bare(sim_factory: Any) -> Sim:
    """The same cluster without metrics-server: no node usage."""
    return sim_factory("--objects", str(FILE), "--no-metrics-server")


def fit_doc(sim: Sim, *args: str) -> dict[str, Any]:
    result = perf(sim, "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in doc["nodes"]}


def figures(node: dict[str, Any]) -> tuple[Any, ...]:
    return (node["fit"], node["fitWithinPadding"], node["limitedBy"], node["fitLimitedBy"], node["paddingBasis"])


# --fit cpu=500m,memory=1Gi (no tolerations: io-1's taint refuses it; cordoned-1 is cordoned)
#  gen-1: cpu (4-1)/0.5 = 6, memory (16-4)/1 = 12, pods 109 -> fit 6 (cpu); padding on requests (12-4)/1 = 8,
#         on usage (12-9)/1 = 3 -> 3 within (usage binds), limited by padding
#  gen-2: cpu (8-3)/0.5 = 10, memory 13, pods 4-2 = 2 -> fit 2 (pods); padding (12-3) = 9, (12-4) = 8 -> 2 within
#  big-1: cpu 28, memory (32-25)/1 = 7 -> fit 7 (memory); padding on requests 24-25 < 0 -> 0, on usage (24-20) = 4:
#         requests bind -> 0 within, limited by padding
RESOURCES_EXPECTED = {
    "gen-1": (6, 3, "padding", "cpu", "usage"),
    "gen-2": (2, 2, "pods", "pods", "usage"),
    "cordoned-1": (0, 0, "unschedulable", "unschedulable", "usage"),  # usage 1Gi: (12-1) < (12-0)
    "io-1": (0, 0, "taints", "taints", "usage"),  # (6-3)/1 = 3 < (6-2)/1 = 4
    "big-1": (7, 0, "padding", "memory", "requests"),
}


def test_fit_resources_per_node_pool_and_cluster(fit_cluster: Sim) -> None:
    doc = fit_doc(fit_cluster, "--fit", "cpu=500m,memory=1Gi")
    assert doc["shape"] == {"from": "--fit cpu=500m,memory=1Gi", "requests": {"cpu": 0.5, "memory": Gi, "pods": 1}, "limits": {}}
    assert doc["usageKnown"] is True
    nodes = by_name(doc)
    assert {name: figures(n) for name, n in nodes.items()} == RESOURCES_EXPECTED
    assert [n["name"] for n in doc["nodes"]] == ["big-1", "cordoned-1", "gen-1", "gen-2", "io-1"]
    assert nodes["gen-1"]["pool"] == "general" and nodes["io-1"]["pool"] == "io"
    # free figures: gen-1 3 cores, 12Gi of allocatable, 3Gi within padding (12 - max(4, 9)), 109 slots
    assert nodes["gen-1"]["free"] == {"cpu": 3, "memory": 12 * Gi, "pods": 109} and nodes["gen-1"]["paddingRoom"] == 3 * Gi
    assert nodes["big-1"]["paddingRoom"] == -1 * Gi  # 24 - max(25, 20)
    pools = {p["pool"]: p for p in doc["pools"]}
    assert list(pools) == ["big", "general", "io"]
    # sums: general 6 + 2 + 0 and 3 + 2 + 0; big 7 and 0; io 0
    assert [(p["nodes"], p["fit"], p["fitWithinPadding"]) for p in pools.values()] == [(1, 7, 0), (3, 8, 5), (1, 0, 0)]
    assert pools["general"]["limitedBy"] == {"padding": 1, "pods": 1, "unschedulable": 1}
    # stranded: big-1's memory is past its budget (room -1Gi): its 16 - 2 = 14 unrequested cores are stranded,
    # 14/16 of the pool; io-1's CPU is fully requested (4 of 4): its 6 - max(2, 3) = 3Gi of room is stranded, 3/8
    assert pools["big"]["strandedCpu"] == {"cores": 14, "share": 14 / 16}
    assert pools["big"]["strandedMemory"] == {"bytes": 0, "share": 0}
    assert pools["io"]["strandedMemory"] == {"bytes": 3 * Gi, "share": 3 / 8}
    assert pools["general"]["strandedCpu"]["cores"] == 0 and pools["general"]["strandedMemory"]["bytes"] == 0
    # largest fit: general's most room within padding is gen-2's 12 - max(3, 4) = 8Gi (gen-1 has 3Gi; cordoned-1 takes no pod)
    assert pools["general"]["largestFit"] == {"node": "gen-2", "cpu": 5, "memory": 8 * Gi}
    assert pools["big"]["largestFit"] == {"node": "big-1", "cpu": 14, "memory": 0}
    assert pools["io"]["largestFit"] == {"node": "io-1", "cpu": 0, "memory": 3 * Gi}
    total = doc["total"]
    assert (total["nodes"], total["fit"], total["fitWithinPadding"]) == (5, 15, 5)
    # shares of the cluster's allocatable: 4 + 8 + 4 + 4 + 16 = 36 cores, 16 * 3 + 8 + 32 = 88Gi
    assert total["strandedCpu"] == {"cores": 14, "share": 14 / 36}
    assert total["strandedMemory"] == {"bytes": 3 * Gi, "share": 3 / 88}
    assert total["largestFit"] == {"node": "gen-2", "cpu": 5, "memory": 8 * Gi}


# deploy/web's template: sidecar proxy (100m, 256Mi) declared before init migrate (400m, 768Mi): they run
# together, 500m / 1Gi; the app (400m, 768Mi) beside the sidecar: 500m / 1Gi; the max is 500m / 1Gi, plus
# overhead 500m / 1Gi: cpu 1, memory 2Gi. Limits: memory 1Gi (the app's) + 1Gi overhead (a limit is set).
# It tolerates io's taint and cordoned nodes; its affinity (node-pool In general, io) keeps it off big-1.
#  gen-1: cpu 3/1 = 3, memory 12/2 = 6 -> 3 (cpu); padding (12-4)/2 = 4, (12-9)/2 = 1 -> 1 within (usage)
#  gen-2: cpu 5, memory 13/2 = 6, pods 2 -> 2 (pods); padding (12-3)/2 = 4, (12-4)/2 = 4: a tie, requests named
#  cordoned-1: tolerated; cpu 4, memory 8 -> 4 (cpu); padding 12/2 = 6, (12-1)/2 = 5 -> 4 within
#  io-1: tolerated; cpu (4-4) = 0 -> 0 (cpu); padding (6-2)/2 = 2, (6-3)/2 = 1 (usage)
WORKLOAD_EXPECTED = {
    "gen-1": (3, 1, "padding", "cpu", "usage"),
    "gen-2": (2, 2, "pods", "pods", "requests"),
    "cordoned-1": (4, 4, "cpu", "cpu", "usage"),
    "io-1": (0, 0, "cpu", "cpu", "usage"),
    "big-1": (0, 0, "selector", "selector", "requests"),  # 24-25 < 0 on requests, 4/2 = 2 on usage
}


def test_fit_workload_reads_the_template(fit_cluster: Sim) -> None:
    doc = fit_doc(fit_cluster, "--fit-workload", "deploy/web", "-n", "shop")
    assert doc["shape"]["from"] == "Deployment shop/web"
    assert doc["shape"]["requests"] == {"cpu": 1, "memory": 2 * Gi, "pods": 1}
    assert doc["shape"]["limits"] == {"memory": 2 * Gi}
    assert {name: figures(n) for name, n in by_name(doc).items()} == WORKLOAD_EXPECTED
    assert (doc["total"]["fit"], doc["total"]["fitWithinPadding"]) == (3 + 2 + 4, 1 + 2 + 4)


def test_fit_pod_file_and_stdin(fit_cluster: Sim, tmp_path: Path) -> None:
    # the Deployment's template as a Pod of its own: the same shape and the same figures
    template = next(o for o in yaml.safe_load(FILE.read_text())["items"] if o["kind"] == "Deployment")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "one"}, "spec": template["spec"]}
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump(pod))
    doc = fit_doc(fit_cluster, "--fit-pod", str(path))
    assert doc["shape"]["from"] == f"Pod one in {path}"
    assert {name: figures(n) for name, n in by_name(doc).items()} == WORKLOAD_EXPECTED
    # a workload manifest works too, read from stdin
    from inproc import perf as run

    deployment = next(o for o in yaml.safe_load(FILE.read_text())["items"] if o["kind"] == "Deployment")
    result = run(
        fit_cluster.kubeconfig,
        "capacity",
        "--kubeconfig",
        str(fit_cluster.kubeconfig),
        "--fit-pod",
        "-",
        "-o",
        "json",
        stdin=yaml.safe_dump(deployment),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["shape"]["from"] == "Deployment web in stdin"


def test_without_metrics_padding_weighs_requests(fit_cluster_bare: Sim) -> None:
    # no usage: gen-1 (12-4)/1 = 8 >= fit 6 -> 6 within, limited by cpu; big-1 still 0 (requests past the budget)
    # no metrics-server, and the kubelet fallback not asked for: usage unknown
    result = perf(fit_cluster_bare, "-o", "json", "--fit", "cpu=500m,memory=1Gi", "--usage-source", "metrics-server")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["usageKnown"] is False
    nodes = by_name(doc)
    assert figures(nodes["gen-1"]) == (6, 6, "cpu", "cpu", "requests")
    assert figures(nodes["big-1"]) == (7, 0, "padding", "memory", "requests")
    assert (doc["total"]["fit"], doc["total"]["fitWithinPadding"]) == (15, 6 + 2)
    assert "fitWithinPadding weighs the nodes' memory requests only" in result.stderr
    # --util asks for usage the cluster cannot give: exit 3, as capacity's
    assert perf(fit_cluster_bare, "--fit", "cpu=500m,memory=1Gi", "--util", "--usage-source", "metrics-server").returncode == 3


def test_padding_target_flag(fit_cluster: Sim) -> None:
    # at 50% gen-1's budget is 8Gi: on requests (8-4)/1 = 4, on usage 8-9 < 0 -> 0 within
    nodes = by_name(fit_doc(fit_cluster, "--fit", "cpu=500m,memory=1Gi", "--padding-target", "50%"))
    assert figures(nodes["gen-1"]) == (6, 0, "padding", "cpu", "usage")


def test_table_csv_and_html(fit_cluster: Sim) -> None:
    table = perf(fit_cluster, "--fit", "cpu=500m,memory=1Gi")
    assert table.returncode == 0, table.stderr
    pools_text, nodes_text = table.stdout.split("\n\n")
    assert pools_text.splitlines()[0].split() == [
        "POOL", "NODES", "FIT", "WITHIN", "PADDING", "LIMITED", "BY", "STRANDED", "CPU", "STRANDED", "MEMORY", "LARGEST", "FIT",
    ]  # fmt: skip
    big = next(line for line in pools_text.splitlines() if line.startswith("big "))
    assert "14000m (87%)" in big  # 14 of 16 cores, truncated
    assert "cpu 14000m, memory 0Mi on big-1" in big
    gen1 = next(line for line in nodes_text.splitlines() if line.startswith("gen-1 "))
    assert gen1.split() == ["gen-1", "general", "6", "3", "padding"]
    rows = list(csv.DictReader(io.StringIO(perf(fit_cluster, "--fit", "cpu=500m,memory=1Gi", "-o", "csv").stdout)))
    cluster = next(r for r in rows if r["SECTION"] == "cluster")
    assert (cluster["FIT"], cluster["WITHIN PADDING"], cluster["STRANDED CPU"], cluster["STRANDED MEMORY"]) == (
        "15",
        "5",
        "14000",
        str(3 * Gi),
    )
    node = next(r for r in rows if r["SECTION"] == "node" and r["NODE"] == "gen-1")
    assert (node["PADDING ROOM"], node["CPU FREE"], node["PADDING BASIS"]) == (str(3 * Gi), "3000", "usage")
    yaml_doc = yaml.safe_load(perf(fit_cluster, "--fit", "cpu=500m,memory=1Gi", "-o", "yaml").stdout)
    assert yaml_doc["total"]["fit"] == 15
    html = perf(fit_cluster, "--fit", "cpu=500m,memory=1Gi", "-o", "html").stdout
    assert html.startswith("<!DOCTYPE html>") and 'data-node="gen-1"' in html and 'data-pool="big"' in html
    assert "15 more fit, 5 of them within the memory padding targets" in html


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (("--fit", "cpu=abc"), 2, "invalid quantity"),
        (("--fit", "gpu=1"), 2, "invalid resource 'gpu'"),
        (("--fit", "cpu"), 2, "use RESOURCE=QUANTITY"),
        (("--fit", "cpu=1", "--pods"), 2, "does not take --pods"),
        (("--fit", "cpu=1", "-l", "app=web"), 2, "does not take -l"),
        (("--fit", "cpu=1", "--fit-pod", "x.yaml"), 2, "not allowed with argument"),
        (("--fit-workload", "foo/bar"), 2, "invalid --fit-workload 'foo/bar'"),
        (("--fit-workload", "deploy/absent", "-n", "shop"), 1, "not found"),
        (("--fit-pod", "/nonexistent/pod.yaml"), 2, "cannot read --fit-pod /nonexistent/pod.yaml"),
    ],
)
def test_bad_input_is_one_line(fit_cluster: Sim, args: tuple[str, ...], status: int, words: str) -> None:
    result = perf(fit_cluster, *args)
    assert result.returncode == status, (result.stdout, result.stderr)
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error") or "error:" in line]) == 1


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "holds no Pod"),
        (b"kind: Pod\nspec: {containers: [}\n", "is not YAML"),
        (b"\xff\xfe\x00kind", "not UTF-8 text"),
        (
            b"kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, resources: {requests: {cpu: lots}}}]}\n",
            "invalid quantity 'lots'",
        ),
    ],
)
def test_fit_pod_files_that_hold_no_shape(fit_cluster: Sim, tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = perf(fit_cluster, "--fit-pod", str(path))
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_gpu_shape_fits_nowhere_without_gpus(fit_cluster: Sim) -> None:
    # no node advertises nvidia.com/gpu: NodeResourcesFit refuses every node that passes placement
    nodes = by_name(fit_doc(fit_cluster, "--fit", "cpu=100m,nvidia.com/gpu=1"))
    assert nodes["gen-1"]["fit"] == 0 and nodes["gen-1"]["limitedBy"] == "nvidia.com/gpu"


def test_completion_offers_the_workloads_of_the_namespace(fit_cluster: Sim) -> None:
    from test_completion import complete

    values, directive = complete(fit_cluster, "capacity", "-n", "shop", "--fit-workload", "deploy/")
    assert values == ["deploy/web"] and directive == ":4"
    values, _ = complete(fit_cluster, "capacity", "--fit-workload", "deploy/")  # default holds none
    assert values == []


@pytest.mark.parametrize(
    ("forbidden", "words"),
    [("nodes", "--fit needs the nodes"), ("pods", "--fit weighs every pod on the nodes, so it lists pods in all namespaces")],
)
def test_forbidden_lists_are_one_line(sim_factory: Any, forbidden: str, words: str) -> None:
    sim = sim_factory("--objects", str(FILE), "--forbid-cluster-list", forbidden)
    result = perf(sim, "--fit", "cpu=500m,memory=1Gi")
    assert result.returncode == 1 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "try -n" not in result.stderr


def test_a_pod_bound_to_a_cordoned_node(fit_cluster: Sim, tmp_path: Path) -> None:
    # spec.nodeName bypasses the scheduler: only cordoned-1 is weighed, and its cordon does not stop the kubelet;
    # cpu 4/1 = 4, memory 16/1 = 16 -> 4; padding (12-0)/1 = 12, (12-1)/1 = 11 -> 4 within
    path = tmp_path / "bound.yaml"
    spec = {"nodeName": "cordoned-1", "containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}, "spec": spec}))
    nodes = by_name(fit_doc(fit_cluster, "--fit-pod", str(path)))
    assert figures(nodes["cordoned-1"]) == (4, 4, "cpu", "cpu", "usage")
    assert figures(nodes["gen-1"])[:3] == (0, 0, "selector")


def test_node_filters_choose_the_nodes_weighed(fit_cluster: Sim) -> None:
    # only the general pool: gen-1 6/3, gen-2 2/2, cordoned-1 0/0
    doc = fit_doc(fit_cluster, "--fit", "cpu=500m,memory=1Gi", "--node-selector", "node-pool=general")
    assert [p["pool"] for p in doc["pools"]] == ["general"]
    assert (doc["total"]["nodes"], doc["total"]["fit"], doc["total"]["fitWithinPadding"]) == (3, 8, 5)
    # --schedulable-only leaves cordoned-1 out
    doc = fit_doc(fit_cluster, "--fit", "cpu=500m,memory=1Gi", "--schedulable-only")
    assert "cordoned-1" not in by_name(doc) and doc["total"]["nodes"] == 4
