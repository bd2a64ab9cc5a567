"""Issue 8 item 5: the container view, run in-process (test_capacity.perf) against perf-sim.

Each pod gets its own line (CONTAINER *, KIND pod) with its effective figures, the ones the
scheduler reserves, and each container a KIND (app, init, sidecar) in every output, so that
container lines visibly need not add up to the pod and node lines. Figures from
tests/data/cluster.yaml, worked out by hand (see test_capacity's NODE_A for the rules)."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import Sim
from test_capacity import perf

Mi = 2**20


def lines_of(out: str, pod: str) -> list[list[str]]:
    """The table lines of one pod, split on the three-space column gaps."""
    rows = [[c.strip() for c in line.split("   ") if c.strip()] for line in out.split("\n\n")[0].splitlines()]
    return [r for r in rows if len(r) > 3 and r[2] == pod]


@pytest.mark.parametrize("fmt", ["table", "wide"])
def test_kind_and_the_pod_line_in_the_table(fixture_cluster: Sim, fmt: str) -> None:
    result = perf(fixture_cluster, "--containers", "-o", fmt)
    assert result.returncode == 0, result.stderr
    head = [c.strip() for c in result.stdout.splitlines()[0].split("   ") if c.strip()]
    assert head[:5] == ["NODE", "NAMESPACE", "POD", "CONTAINER", "KIND"]
    web1 = lines_of(result.stdout, "web-1")
    # web-1: cpu max(init migrate 2, app 500m + sidecar 100m) = 2 cores, 50% of node-a's 4;
    # memory max(512Mi + 128Mi, 1Gi + 128Mi) = 1152Mi (7.03% of 16Gi); limits 2Gi + 256Mi = 2304Mi (14.06%)
    assert web1[0][3:8] == ["*", "pod", "2000m (50%)", "0m (0%)", "1152Mi (7%)"] and web1[0][8] == "2304Mi (14%)"
    # its containers: 2000m + 100m + 500m of cpu requests, more than the pod's 2000m
    assert [r[3:6] for r in web1[1:]] == [
        ["migrate", "init", "2000m (50%)"],
        ["proxy", "sidecar", "100m (2%)"],
        ["app", "app", "500m (12%)"],
    ]
    # sandboxed: 100m + 250m of RuntimeClass overhead (8.75% of 4 cores); 64Mi + 120Mi = 184Mi (1.1%)
    sandboxed = lines_of(result.stdout, "sandboxed")
    assert [r[3:8] for r in sandboxed] == [
        ["*", "pod", "350m (8%)", "450m (11%)", "184Mi (1%)"],
        ["app", "app", "100m (2%)", "200m (5%)", "64Mi (0%)"],
    ]
    # podlevel: pod-level requests (2 cores of node-b's 7.91 = 25.3%, 4Gi of 16Gi) replace its containers'
    podlevel = lines_of(result.stdout, "podlevel")
    assert [r[3:7] for r in podlevel] == [
        ["*", "pod", "2000m (25%)", "0m (0%)"],
        ["a", "app", "100m (1%)", "0m (0%)"],
        ["b", "app", "0m (0%)", "0m (0%)"],
    ]
    node_a = next(r for r in (line.split() for line in result.stdout.splitlines()) if r[0] == "node-a" and r[2] == "*")
    assert node_a[5:7] == ["3550m", "(88%)"]  # web-1 2 + web-2 1.2 + sandboxed 0.35: the pod lines add up, not the containers


def test_pods_and_containers_together_is_the_same_view(fixture_cluster: Sim) -> None:
    assert perf(fixture_cluster, "--pods", "--containers").stdout == perf(fixture_cluster, "--containers").stdout


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_kind_and_sections_in_delimited_output(fixture_cluster: Sim, fmt: str) -> None:
    out = perf(fixture_cluster, "--containers", "-o", fmt).stdout
    rows = list(csv.DictReader(io.StringIO(out), delimiter="," if fmt == "csv" else "\t"))
    web2 = [(r["SECTION"], r["CONTAINER"], r["KIND"], r["CPU REQUESTS"], r["MEMORY REQUESTS"]) for r in rows if r["POD"] == "web-2"]
    # web-2: sidecar proxy (200m, 256Mi) runs beside init setup (1, 2Gi): cpu max(250m + 200m, 1 + 200m) = 1200m,
    # memory max(512Mi + 256Mi, 2Gi + 256Mi) = 2304Mi
    assert web2 == [
        ("pod", "*", "pod", "1200", str(2304 * Mi)),
        ("container", "proxy", "sidecar", "200", str(256 * Mi)),
        ("container", "setup", "init", "1000", str(2048 * Mi)),
        ("container", "app", "app", "250", str(512 * Mi)),
    ]


def test_json_keeps_its_container_kinds(fixture_cluster: Sim) -> None:
    import json

    d = json.loads(perf(fixture_cluster, "--containers", "-o", "json").stdout)
    web1 = next(p for n in d["nodes"] for p in n["podDetails"] if p["name"] == "web-1")
    assert [(c["name"], c["kind"]) for c in web1["containers"]] == [("migrate", "init"), ("proxy", "sidecar"), ("app", "container")]
    assert web1["resources"]["cpu"]["requests"] == 2 and web1["resources"]["memory"]["requests"] == 1152 * Mi


@pytest.mark.parametrize(
    ("argv", "where"),
    [
        ((), "see --containers"),
        (("--containers",), "flagged no-requests in FLAGS"),
        (("--pods",), "flagged no-requests in FLAGS"),
        (("--containers", "-o", "json"), "listed under missingRequests"),
        (("--by", "namespace"), "see --containers without --by"),
    ],
)
def test_missing_requests_note_points_where_this_output_does_not_already(fixture_cluster: Sim, argv: tuple[str, ...], where: str) -> None:
    """Issue 20 section 3: the note said "(see --containers)" even under --containers."""
    result = perf(fixture_cluster, *argv)
    assert result.returncode == 0, result.stderr
    note = next(line for line in result.stderr.splitlines() if "lack cpu/memory requests" in line)
    assert note.endswith(f"requests ({where})"), note
    if argv and argv[0] in ("--containers", "--pods") and "-o" not in argv:
        assert "no-requests:" in result.stdout  # the flag the note points at is there
