"""capacity for a user who may not list nodes (issue 8 item 3, kube-capacity #161), run
in-process (test_capacity.perf) against perf-sim answering 403 to cluster-wide lists of nodes and pods.
The real API server's RBAC is exercised in test_capacity_nsonly_realk8s.

Expected figures are test_capacity's, worked out by hand: shop runs web-1 (requests cpu 2,
memory 1152Mi; limits memory 2304Mi) and web-2 (requests cpu 1.2, memory 2304Mi; limits cpu
1.5, memory 2304Mi) on node-a; web-1's PodMetrics give app 300m/900Mi and proxy 20m/100Mi."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, Sim
from test_capacity import Mi, close, perf

WEB_1 = {"cpu": {"requests": 2, "limits": 0}, "memory": {"requests": 1152 * Mi, "limits": 2304 * Mi}}
WEB_2 = {"cpu": {"requests": 1.2, "limits": 1.5}, "memory": {"requests": 2304 * Mi, "limits": 2304 * Mi}}


@pytest.fixture(scope="module")
def no_nodes(sim_factory: Any) -> Sim:
    return sim_factory("--objects", str(DATA / "cluster.yaml"), "--forbid-cluster-list", "nodes", "--forbid-cluster-list", "pods")


def check(resources: dict[str, Any], expected: dict[str, dict[str, float]]) -> None:
    for resource, parts in expected.items():
        for part, value in parts.items():
            assert close(resources[resource][part], value), (resource, part, resources[resource][part], value)


def test_pods_of_the_namespace_without_node_columns(no_nodes: Sim) -> None:
    result = perf(no_nodes, "-n", "shop")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[:2] == ["NAMESPACE", "POD"] and "NODE" not in header and "PADDING" not in header
    assert [line.split()[1] for line in result.stdout.splitlines()[1:4]] == ["*", "web-1", "web-2"]
    notes = [line for line in result.stderr.splitlines() if "cannot list nodes" in line]
    assert len(notes) == 1 and "forbidden" in notes[0] and "without node columns" in notes[0]


def test_json_lists_pods_with_their_node(no_nodes: Sim) -> None:
    result = perf(no_nodes, "-n", "shop", "--util", "-o", "json")
    assert result.returncode == 0, result.stderr
    d = json.loads(result.stdout)
    assert d["nodes"] == []
    pods = {p["name"]: p for p in d["pods"]}
    assert set(pods) == {"web-1", "web-2"} and {p["node"] for p in pods.values()} == {"node-a"}
    check(pods["web-1"]["resources"], WEB_1)
    check(pods["web-2"]["resources"], WEB_2)
    # the namespace's own pod metrics: web-1 = app 300m + proxy 20m, 900Mi + 100Mi
    assert close(pods["web-1"]["resources"]["cpu"]["usage"], 0.32) and pods["web-1"]["resources"]["memory"]["usage"] == 1000 * Mi
    check(d["total"]["resources"], {"cpu": {"requests": 3.2, "limits": 1.5}, "memory": {"requests": 3456 * Mi, "limits": 4608 * Mi}})
    assert [p["name"] for p in d["pending"]] == ["pending-big"]


def test_csv_and_sort(no_nodes: Sim) -> None:
    result = perf(no_nodes, "-n", "shop", "-o", "csv", "--sort", "memory.requests")
    assert result.returncode == 0, result.stderr
    rows = [r for r in csv.DictReader(io.StringIO(result.stdout)) if r["SECTION"] != "pending"]  # pending-big: SECTION pending
    assert "NODE" not in rows[0] and [r["POD"] for r in rows] == ["*", "web-2", "web-1"]  # 2304Mi before 1152Mi
    assert int(rows[1]["MEMORY REQUESTS"]) == 2304 * Mi


def test_node_flags_are_refused(no_nodes: Sim) -> None:
    for flags in (["-L", "topology.kubernetes.io/zone"], ["--by", "node-label:zone"], ["--fail-on-breach"]):
        result = perf(no_nodes, "-n", "shop", *flags)
        assert result.returncode == 1 and "needs the nodes" in result.stderr and "Traceback" not in result.stderr, flags
        assert len(result.stderr.strip().splitlines()) == 1


def test_extended_resources_are_not_refused(no_nodes: Sim) -> None:
    # no node to say it advertises nvidia.com/gpu: the name is taken on trust, shop requests none
    d = json.loads(perf(no_nodes, "-n", "shop", "--resources", "cpu,nvidia.com/gpu", "-o", "json").stdout)
    assert {p["resources"]["nvidia.com/gpu"]["requests"] for p in d["pods"]} == {0}


def test_group_by_namespace_still_works(no_nodes: Sim) -> None:
    d = json.loads(perf(no_nodes, "-n", "shop", "--by", "label:app", "-o", "json").stdout)
    groups = {g["name"]: g for g in d["groups"]}
    assert list(groups) == ["web"] and groups["web"]["pods"] == 2
    assert close(groups["web"]["resources"]["cpu"]["requests"], 3.2)


def test_html_lists_the_pods(no_nodes: Sim, tmp_path: Path) -> None:
    from test_html_report import CHROMIUM, browser

    html = perf(no_nodes, "-n", "shop", "-o", "html").stdout
    if CHROMIUM:  # as a browser reads it
        page = tmp_path / "pods.html"
        page.write_text(html)
        html = browser(tmp_path, "--dump-dom", page.as_uri())
    assert 'data-pod="shop/web-1"' in html and 'data-pod="shop/web-2"' in html
    assert "Nodes could not be listed" in html and "0 nodes, 2 pods" in html
