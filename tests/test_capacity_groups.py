"""`kubectl perf capacity --by node-label:KEY` (issue 8 item 15), run in-process
(test_capacity.perf) against perf-sim's fixture cluster (tests/data/cluster.yaml).

Expected figures are test_capacity's per-node sums, added up by hand per label value:
zone-a = node-a + node-gpu, zone-b = node-b."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import yaml
from conftest import Sim
from test_capacity import NODE_B, POLICY, Gi, Mi, close, perf

ZONE = "node-label:topology.kubernetes.io/zone"
ZONE_A = {  # node-a + node-gpu
    "cpu": {"allocatable": 4 + 16, "requests": 3.55 + 4, "limits": 1.95 + 0},
    "memory": {"allocatable": 80 * Gi, "requests": (3640 * Mi) + 16 * Gi, "limits": 4608 * Mi + 20 * Gi},
}
ZONE_B = NODE_B  # node-b alone


def groups(sim: Sim, *args: str) -> dict[str, dict[str, Any]]:
    result = perf(sim, "-o", "json", *args)
    assert result.returncode in (0, 1), result.stderr
    return {g["name"]: g for g in json.loads(result.stdout)["groups"]}


def check(resources: dict[str, Any], expected: dict[str, dict[str, float]]) -> None:
    for resource in ("cpu", "memory"):
        for part, value in expected[resource].items():
            assert close(resources[resource][part], value), (resource, part, resources[resource][part], value)


def test_hand_worked_sums_per_zone(fixture_cluster: Sim) -> None:
    by = groups(fixture_cluster, "--by", ZONE)
    assert list(by) == ["zone-a", "zone-b"]
    assert (by["zone-a"]["nodes"], by["zone-a"]["pods"]) == (2, 5)  # node-a 3 pods, node-gpu 2
    assert (by["zone-b"]["nodes"], by["zone-b"]["pods"]) == (1, 2)
    check(by["zone-a"]["resources"], ZONE_A)
    check(by["zone-b"]["resources"], ZONE_B)
    # without --util node-b's 10Gi of limits fit 0.75 x 16Gi = 12Gi: nothing breaches
    assert by["zone-a"]["paddingBreachingNodes"] == [] and by["zone-b"]["paddingBreachingNodes"] == []


def test_padding_is_judged_per_node(fixture_cluster: Sim, tmp_path: Path) -> None:
    # with --util node-b's 13Gi of usage passes its 12Gi budget; node-a (6Gi of 16Gi) does not
    by = groups(fixture_cluster, "--util", "--by", ZONE)
    assert by["zone-b"]["paddingBreachingNodes"] == ["node-b"] and by["zone-a"]["paddingBreachingNodes"] == []
    assert by["zone-b"]["resources"]["memory"]["usage"] == 13 * Gi
    # a policy at 0.5 for workload=io: node-b's 10Gi limits pass 8Gi; by instance type, only i3.large is overcommitted
    # (committed limits are overcommit, not a breach, under the default padding.limits: warn; issue 20)
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY))
    table = perf(fixture_cluster, "--policy", str(policy), "--by", "node-label:node.kubernetes.io/instance-type")
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:] if line.strip() and not line.startswith("NAMESPACE")}
    assert rows["i3.large"].rstrip().split()[-4:] == ["50%", "overcommit", "1/1", "nodes"]  # MEM TARGET, PADDING
    assert rows["m5.xlarge"].rstrip().endswith("ok") and rows["p3.2xlarge"].rstrip().endswith("ok")
    assert table.stdout.splitlines()[0].split()[:3] == ["INSTANCE-TYPE", "NODES", "PODS"]


def test_nodes_without_the_label_and_csv(fixture_cluster: Sim) -> None:
    result = perf(fixture_cluster, "--by", "node-label:example.com/absent", "-o", "csv")
    assert result.returncode == 0, result.stderr
    rows = [r for r in csv.DictReader(io.StringIO(result.stdout)) if r["SECTION"] == "group"]  # pending pods: SECTION pending
    assert len(rows) == 1 and rows[0]["ABSENT"] == "<none>"
    row = rows[0]
    assert (row["NODES"], row["PODS"], row["PADDING"], row["MEM TARGET"]) == ("3", "7", "ok", "0.75")
    # every node: allocatable 4 + 7.91 + 16 cores, limits 4608Mi + 10Gi + 20Gi
    assert (row["CPU ALLOCATABLE"], row["CPU REQUESTS"]) == ("27910", "10550")  # millicores: 4 + 7.91 + 16, 3.55 + 3 + 4
    assert int(row["MEMORY LIMITS"]) == 4608 * Mi + 30 * Gi and int(row["MEMORY ALLOCATABLE"]) == 96 * Gi


def test_sort_applies_to_groups(fixture_cluster: Sim) -> None:
    # by requests zone-a leads (7.55 > 3 cores); as a share of the group's allocatable zone-b does
    # (3 / 7.91 = 37.9% > 7.55 / 20 = 37.75%)
    assert list(groups(fixture_cluster, "--by", ZONE, "--sort", "cpu.requests")) == ["zone-a", "zone-b"]
    assert list(groups(fixture_cluster, "--by", ZONE, "--sort", "cpu.requests.percent")) == ["zone-b", "zone-a"]
    table = perf(fixture_cluster, "--by", ZONE, "--sort", "cpu.request.percentage", "-o", "wide")
    lines = [line.split()[0] for line in table.stdout.splitlines()[1:4]]
    assert lines == ["*", "zone-b", "zone-a"] and "CPU ALLOCATABLE" in table.stdout.splitlines()[0]  # the cluster row first
    # cells read as shares of the group's own allocatable, not the cluster's: zone-b's memory
    # requests 8Gi of 16Gi (50%, of the cluster's 96Gi 8%), zone-a's 19.5625Gi of 80Gi (24%, else 20%)
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[2:4]}
    assert "(50%)" in rows["zone-b"] and "(24%)" in rows["zone-a"], table.stdout


def test_yaml_matches_json(fixture_cluster: Sim) -> None:
    as_yaml = yaml.safe_load(perf(fixture_cluster, "-o", "yaml", "--by", ZONE).stdout)
    assert as_yaml["groups"] == json.loads(perf(fixture_cluster, "-o", "json", "--by", ZONE).stdout)["groups"]


def test_html_names_breaching_nodes(fixture_cluster: Sim, tmp_path: Path) -> None:
    from test_html_report import CHROMIUM, browser

    html = perf(fixture_cluster, "--util", "--by", ZONE, "-o", "html").stdout
    if CHROMIUM:
        page = tmp_path / "zones.html"
        page.write_text(html)
        html = browser(tmp_path, "--dump-dom", page.as_uri())
    # the pool table: zone, nodes, pods, padding (counts only: no node names in a cell, issue 23)
    found = re.findall(r'<tr data-group="([^"]+)"><td>[^<]*</td><td>(\d+)</td><td>(\d+)</td><td><span [^>]*>([^<]*)</span>', html)
    assert found == [("zone-a", "2", "5", "ok"), ("zone-b", "1", "2", "BREACH 1/1 nodes")]
    # node-b is named in the breaching section, which comes before every other node
    breaching = html[html.index('id="breaching"') : html.index('id="other-nodes"')]
    assert re.findall(r'data-node="([^"]+)"', breaching) == ["node-b"]


def test_bad_by_is_a_flag_error(fixture_cluster: Sim) -> None:
    result = perf(fixture_cluster, "--by", "node-label:")
    assert result.returncode == 2 and "node-label:KEY" in result.stderr and "Traceback" not in result.stderr


def test_completion_offers_node_label(fixture_cluster: Sim) -> None:
    from test_completion import complete

    values, directive = complete(fixture_cluster, "capacity", "--by", "")
    assert values == ["namespace", "label:", "node-label:"] and directive == ":6"  # no space after a prefix
    keys, _ = complete(fixture_cluster, "capacity", "--by", "node-label:topology")
    assert keys == ["node-label:topology.kubernetes.io/zone"]


def test_node_groups_sit_under_the_cluster_row(fixture_cluster: Sim) -> None:
    """--by node-label:KEY had no cluster row in the table and csv: with --only-breaching or --top the
    whole scope's count (BREACH n/m nodes) was gone. The `*` row sums every group, as the node view's."""
    rows = list(csv.DictReader(io.StringIO(perf(fixture_cluster, "--by", ZONE, "-o", "csv").stdout)))
    assert [r["SECTION"] for r in rows] == ["cluster", "group", "group", "pending"]  # one pending pod (tests/data/cluster.yaml)
    total, groups = rows[0], rows[1:3]
    for column in ("NODES", "PODS", "CPU REQUESTS", "MEMORY REQUESTS", "MEMORY LIMITS", "MEMORY ALLOCATABLE"):
        assert float(total[column]) == sum(float(g[column]) for g in groups), column
    assert list(total.values())[1] == "*"  # the group column (after SECTION) reads * on the cluster row
    top = perf(fixture_cluster, "--by", ZONE, "--top", "1")
    lines = top.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:3]] == ["*", "zone-a"] and len(lines[1].split()) > 3, top.stdout
