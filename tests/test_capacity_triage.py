"""Triage flags of `kubectl perf capacity` (issue 23): --sort breach, --only-breaching, --top, in
every format, run in-process against perf-sim on a small cluster written here.

Six nodes of 16Gi allocatable memory; the default target 75% gives each a 12Gi budget. Usage and
committed limits, worked by hand (usage / 16Gi):
  a-ok-low     usage  2Gi (12.5%)                  ok
  b-breach-81  usage 13Gi (81.25%) > 12Gi          BREACH usage 81%
  c-over       usage  4Gi (25%),   limits 13Gi     overcommit limits 81%
  d-breach-93  usage 15Gi (93.75%) > 12Gi          BREACH usage 93%
  e-ok-high    usage 11Gi (68.75%)                 ok
  f-over-low   usage  1Gi (6.25%), limits 14Gi     overcommit limits 87%
--sort breach: breaches by usage (d, b), overcommits by usage (c, f), the rest by usage (e, a).
Pools: alpha = a, b, c; beta = d, f; gamma = e."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Sim
from test_capacity import Gi, perf

BREACH_ORDER = ["d-breach-93", "b-breach-81", "c-over", "f-over-low", "e-ok-high", "a-ok-low"]
POOLS = {"a-ok-low": "alpha", "b-breach-81": "alpha", "c-over": "alpha", "d-breach-93": "beta", "f-over-low": "beta", "e-ok-high": "gamma"}
USAGE_GI = {"a-ok-low": 2, "b-breach-81": 13, "c-over": 4, "d-breach-93": 15, "e-ok-high": 11, "f-over-low": 1}
LIMITS_GI = {"c-over": 13, "f-over-low": 14}


def pod(name: str, node: str | None, limit_gi: int = 0) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": {"cpu": "100m", "memory": "1Gi"}}
    if limit_gi:
        resources["limits"] = {"memory": f"{limit_gi}Gi"}
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "app", "resources": resources}]}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
        "spec": spec,
        "status": {"phase": "Running" if node else "Pending"},
    }


def objects() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name in sorted(USAGE_GI):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": {"pool": POOLS[name]}},
                "status": {
                    "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                    "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
    items: list[dict[str, Any]] = []
    for name in sorted(USAGE_GI):
        if name != "b-breach-81":
            items.append(pod(f"{name}-app", name, LIMITS_GI.get(name, 0)))
        items.append(
            {"apiVersion": "metrics.k8s.io/v1beta1", "kind": "NodeMetrics", "metadata": {"name": name}, "timestamp": "2026-12-05T10:00:00Z",
             "window": "20s", "usage": {"cpu": "1", "memory": f"{USAGE_GI[name]}Gi"}}
        )  # fmt: skip
    # b-breach-81 holds two pods, the larger user second by name: --sort breach puts it first
    items += [pod("b-1-small", "b-breach-81"), pod("b-2-large", "b-breach-81"), pod("waiting", None)]
    for name, used in (("b-1-small", "1Gi"), ("b-2-large", "5Gi")):
        items.append(
            {"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics", "metadata": {"name": name, "namespace": "shop"},
             "timestamp": "2026-12-05T10:00:00Z", "window": "20s", "containers": [{"name": "app", "usage": {"cpu": "10m", "memory": used}}]}
        )  # fmt: skip
    return [*docs, {"apiVersion": "v1", "kind": "List", "items": items}]


@pytest.fixture(scope="module")
def triage(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    path: Path = tmp_path_factory.mktemp("triage") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(objects()))
    return sim_factory("--objects", str(path))


def doc(sim: Sim, *args: str) -> dict[str, Any]:
    result = perf(sim, "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def names(sim: Sim, *args: str) -> list[str]:
    return [n["name"] for n in doc(sim, *args)["nodes"]]


def test_sort_breach_orders_breach_overcommit_then_usage(triage: Sim) -> None:
    assert names(triage, "--util", "--sort", "breach") == BREACH_ORDER
    # the table too: the cluster row first, then the same order
    table = perf(triage, "--util", "--sort", "breach")
    assert table.returncode == 0, table.stderr
    main = table.stdout.split("\n\n")[0]  # the pending pods' table follows a blank line
    assert [line.split()[0] for line in main.splitlines()[2:]] == BREACH_ORDER
    # without --util the verdict still weighs usage: --sort breach reads the node metrics itself
    assert names(triage, "--sort", "breach") == BREACH_ORDER


def test_sort_breach_orders_pods_by_memory_use(triage: Sim) -> None:
    node = next(n for n in doc(triage, "--util", "--pods", "--sort", "breach")["nodes"] if n["name"] == "b-breach-81")
    assert [p["name"] for p in node["podDetails"]] == ["b-2-large", "b-1-small"]  # 5Gi before 1Gi


def test_only_breaching_keeps_totals_over_the_whole_scope(triage: Sim) -> None:
    out = doc(triage, "--util", "--only-breaching", "--sort", "breach")
    assert [n["name"] for n in out["nodes"]] == ["d-breach-93", "b-breach-81"]
    total = out["total"]
    assert total["resources"]["memory"]["allocatable"] == 6 * 16 * Gi  # every node, not the two shown
    assert total["resources"]["memory"]["usage"] == (2 + 13 + 4 + 15 + 11 + 1) * Gi
    assert total["pods"] == 7 and sorted(total["paddingBreachingNodes"]) == ["b-breach-81", "d-breach-93"]
    assert out["pending"] == []  # a pending pod breaches nothing
    # without --sort: name order, still only the breaching
    assert names(triage, "--util", "--only-breaching") == ["b-breach-81", "d-breach-93"]


def test_only_breaching_in_csv_and_table(triage: Sim) -> None:
    rows = list(csv.DictReader(io.StringIO(perf(triage, "--util", "--only-breaching", "-o", "csv").stdout)))
    assert [(r["SECTION"], r["NODE"]) for r in rows] == [("cluster", "*"), ("node", "b-breach-81"), ("node", "d-breach-93")]
    assert rows[0]["PADDING"] == "BREACH 2/6 nodes; overcommit 2/6"
    # one node left: the cluster row still shows (it sums six nodes, not the one shown)
    table = perf(triage, "--util", "--only-breaching", "--sort", "breach", "--top", "1")
    lines = table.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["*", "d-breach-93"], table.stdout
    assert "BREACH usage 93%" in lines[2]


def test_only_breaching_with_pods_and_node_groups(triage: Sim) -> None:
    out = doc(triage, "--util", "--only-breaching", "--pods")
    assert {n["name"]: [p["name"] for p in n["podDetails"]] for n in out["nodes"]} == {
        "b-breach-81": ["b-1-small", "b-2-large"],
        "d-breach-93": ["d-breach-93-app"],
    }
    groups = doc(triage, "--util", "--only-breaching", "--by", "node-label:pool", "--sort", "breach")["groups"]
    # alpha uses (2+13+4)/48 = 39.6%, beta (15+1)/32 = 50%: beta first; gamma has no breach
    assert [(g["name"], g["paddingBreachingNodes"]) for g in groups] == [("beta", ["d-breach-93"]), ("alpha", ["b-breach-81"])]


def test_top(triage: Sim) -> None:
    assert names(triage, "--util", "--sort", "breach", "--top", "3") == BREACH_ORDER[:3]
    assert names(triage, "--top", "2") == ["a-ok-low", "b-breach-81"]  # by name without --sort
    groups = doc(triage, "--by", "node-label:pool", "--top", "1")["groups"]
    assert [g["name"] for g in groups] == ["alpha"]


def test_bad_triage_flags(triage: Sim) -> None:
    for args, words in (
        (("--top", "0"), "at least 1"),
        (("--only-breaching", "--by", "namespace"), "not groups of pods"),
        (("--sort", "breaches"), "use breach, name"),
    ):
        result = perf(triage, *args)
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


def test_triage_flags_that_would_do_nothing_are_flag_errors() -> None:
    # --fit's view has no node list to trim, the cAdvisor dump no rows: both ignored these silently
    from inproc import perf as run

    for argv, words in (
        (("capacity", "--fit", "cpu=1,memory=1Gi", "--only-breaching"), "it does not take --only-breaching"),
        (("capacity", "--fit", "cpu=1,memory=1Gi", "--top", "2"), "it does not take --top"),
        (("cadvisor", "node-a", "--top", "1"), "--top goes with --summary"),
        (("cadvisor", "node-a", "--sort", "cpu", "--once"), "--once, --sort go with --summary"),
        (("cadvisor", "node-a", "--only-breaching"), "--only-breaching goes with --summary"),
    ):
        result = run(None, *argv)
        assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr, (argv, result.stderr)
    assert run(None, "cadvisor", "node-a", "--help").returncode == 0


def test_only_breaching_says_when_nothing_breaches(triage: Sim, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"padding": {"memory": 1.0}}))  # 16Gi budgets: no usage passes them
    result = perf(triage, "--util", "--only-breaching", "--policy", str(policy))
    assert result.returncode == 0 and "no node breaches" in result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["*"]


def test_cadvisor_sort_breach_and_only_breaching(triage: Sim) -> None:
    """cadvisor's node table judges the same verdict on the node's own working set (the sim's cAdvisor
    root series is the NodeMetrics figure above): the same order as capacity's."""
    from inproc import perf as run

    def summary(*args: str) -> dict[str, Any]:
        result = run(triage.kubeconfig, "cadvisor", "--kubeconfig", str(triage.kubeconfig), "--summary", "--once", "-o", "json", *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    out = summary("--all-nodes", "--sort", "breach")
    assert [n["name"] for n in out["nodes"]] == BREACH_ORDER
    # containers follow their node's rank: d's first, a's last
    hosts = list(dict.fromkeys(c["node"] for c in out["containers"]))
    assert hosts == BREACH_ORDER, hosts
    out = summary("--all-nodes", "--only-breaching", "--sort", "breach", "--top", "1")
    assert [n["name"] for n in out["nodes"]] == ["d-breach-93"]
    out = summary("--all-nodes", "--only-breaching")
    assert [n["name"] for n in out["nodes"]] == ["b-breach-81", "d-breach-93"]
    assert {c["node"] for c in out["containers"]} == {"b-breach-81", "d-breach-93"}
    bad = run(None, "cadvisor", "--summary", "--once", "-f", "dump.txt", "--only-breaching")
    assert bad.returncode == 2 and "needs live nodes" in bad.stderr


def test_html_page_opens_on_the_pool_table(triage: Sim) -> None:
    """Without a browser: the page's order and its hand-worked figures (the chromium checks of the
    first screen are in test_triage_browser.py)."""
    html = perf(triage, "--util", "--by", "node-label:pool", "-o", "html").stdout
    pools_at, breaching_at, others_at = html.index('<table class="pools"'), html.index('id="breaching"'), html.index('id="other-nodes"')
    assert pools_at < breaching_at < others_at
    rows = dict(re.findall(r'<tr data-group="([^"]+)">(.*?)</tr>', html))
    cells = {name: re.findall(r"<td>(.*?)</td>", row) for name, row in rows.items()}
    # pool, nodes, pods, padding, target, headroom: budgets 12Gi per node minus usage
    # alpha 36Gi - (2+13+4)Gi = 17Gi = 17408Mi; beta 24Gi - 16Gi = 8192Mi; gamma 12Gi - 11Gi = 1024Mi
    assert [c[:3] + c[4:6] for c in (cells["alpha"], cells["beta"], cells["gamma"])] == [
        ["alpha", "3", "4", "75%", "17408Mi"],
        ["beta", "2", "2", "75%", "8192Mi"],
        ["gamma", "1", "1", "75%", "1024Mi"],
    ]
    assert "BREACH 1/3 nodes; overcommit 1/3" in cells["alpha"][3] and "ok" in cells["gamma"][3]
    # memory usage as a share of allocatable: alpha 19Gi of 48Gi = 39.58% -> 39%
    assert '39%<br><span class="num">19456Mi</span>' in rows["alpha"]
    total = re.search(r'<tr data-node="\*" class="total">(.*?)</tr>', html)
    assert total and "BREACH 2/6 nodes; overcommit 2/6" in total.group(1) and "<td>26624Mi</td>" in total.group(1)  # 72Gi - 46Gi
    # the breaching section: d (93.75%) then b (81.25%), the rest collapsed
    section = html[breaching_at:others_at]
    assert re.findall(r'<div class="node breach" data-node="([^"]+)"', section) == ["d-breach-93", "b-breach-81"]
    assert "<details" in html[others_at - 20 : others_at + 5] and "c-over" in html[others_at:]


def test_completion_offers_the_triage_flags(triage: Sim) -> None:
    from test_completion import complete

    assert "breach" in complete(triage, "capacity", "--sort", "")[0]
    assert "breach" in complete(triage, "cadvisor", "--summary", "--sort", "")[0]
    assert "--only-breaching" in complete(triage, "capacity", "--only")[0]


def test_html_top_keeps_the_first_of_the_pages_own_order(triage: Sim) -> None:
    """Without --sort the page ranks nodes as --sort breach does; --top cut them by name before (the first two
    by name, a-ok-low and b-breach-81, left d-breach-93 out of a page that opens on breaching nodes)."""
    html = perf(triage, "--util", "--top", "3", "-o", "html").stdout
    assert re.findall(r'<div class="node[^"]*" data-node="([^"]+)"', html) == BREACH_ORDER[:3]
    assert "Breaching nodes (2 of the 3 shown)" in html
    total = re.search(r'<tr data-node="\*" class="total">(.*?)</tr>', html)
    assert total and "BREACH 2/6 nodes; overcommit 2/6" in total.group(1)  # the cluster row still counts all six
    # other formats keep name order without --sort (test_top)
    assert names(triage, "--util", "--top", "3") == ["a-ok-low", "b-breach-81", "c-over"]


def test_cadvisor_html_top_keeps_flagged_containers_and_breaching_nodes_first(triage: Sim) -> None:
    from inproc import perf as run

    def summary(*args: str) -> str:
        # a 1% memory threshold flags the containers with a memory limit (on c-over and f-over-low) alone
        cmd = ("cadvisor", "--kubeconfig", str(triage.kubeconfig), "--summary", "--once", "--all-nodes", "--memory-threshold", "1%")
        result = run(triage.kubeconfig, *cmd, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    every = json.loads(summary("-o", "json"))
    flagged = [c for c in every["containers"] if c["flags"]]
    assert flagged and len(flagged) < len(every["containers"])  # the fixture has both (else this checks nothing)
    html = summary("-o", "html", "--top", "1")
    # the one container kept is a flagged one, and the header says what the cut left out
    assert f"1 of {len(every['containers'])} containers shown (--top), {len(flagged)} flagged" in html
    assert "No container is flagged" not in html and re.search(r"<h3>[^<]*: 1 flagged</h3>", html)
    nodes = re.findall(r'<tr class="node"[^>]*><td>([^<]+)</td>', html)
    assert nodes == ["d-breach-93"], nodes  # the node table: the first by verdict, not a-ok-low by name


def test_node_groups_rank_by_their_breaching_nodes_as_the_reports_pool_table(sim_factory: Any) -> None:
    """--by node-label:KEY --sort breach ranked breaching groups by their summed usage, the report's pool
    table by how many nodes breach: on this cluster capacity put compute (3 breaching) before general (6).
    Both now rank by the verdict, then the most breaching nodes, then usage."""
    from inproc import perf as run

    sim = sim_factory("--nodes", "40", "--pods-per-node", "5", "--seed", "1")
    capacity = run(sim.kubeconfig, "capacity", "--util", "--by", "node-label:node-pool", "--sort", "breach", "-o", "json")
    assert capacity.returncode == 0, capacity.stderr
    groups = [(g["name"], len(g["paddingBreachingNodes"])) for g in json.loads(capacity.stdout)["groups"]]
    counts = [n for _name, n in groups]
    assert counts == sorted(counts, reverse=True) and len(set(counts)) > 2, groups  # distinct counts: the order says something
    report = run(sim.kubeconfig, "report", "--cadvisor-interval", "0", "--sections", "capacity", "--pool-label", "node-pool")
    assert report.returncode == 0, report.stderr
    assert re.findall(r'<tr data-pool="([^"]+)">', report.stdout) == [name for name, _n in groups]


def test_pod_views_show_why_a_node_is_listed(triage: Sim) -> None:
    """--only-breaching --pods listed the breaching nodes with no verdict on them (the pod views had no
    PADDING column): now the cluster and node rows carry it, the pod rows nothing."""
    table = perf(triage, "--util", "--only-breaching", "--pods", "--sort", "breach")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.split("\n\n")[0].splitlines()
    at = lines[0].index("PADDING")
    cells = [(line.split()[0], line.split()[2], line[at:].split("  ")[0].strip()) for line in lines[1:]]
    # hand-worked in the module docstring: d 15Gi of 16Gi (93%), b 13Gi (81%); 2 breaching and 2 overcommitted of 6
    assert [c for c in cells if c[1] == "*"] == [
        ("*", "*", "BREACH 2/6 nodes; overcommit 2/6"),
        ("d-breach-93", "*", "BREACH usage 93%"),
        ("b-breach-81", "*", "BREACH usage 81%"),
    ]
    assert all(padding == "" for _node, pod, padding in cells if pod != "*")
    rows = list(csv.DictReader(io.StringIO(perf(triage, "--util", "--only-breaching", "--containers", "-o", "csv").stdout)))
    assert {(r["SECTION"], r["NODE"], r["PADDING"]) for r in rows if r["SECTION"] in ("cluster", "node")} == {
        ("cluster", "*", "BREACH 2/6 nodes; overcommit 2/6"),
        ("node", "b-breach-81", "BREACH usage 81%"),
        ("node", "d-breach-93", "BREACH usage 93%"),
    }
