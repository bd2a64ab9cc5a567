"""Issue 20, section 2: capacity, audit and cadvisor on ONE generated perf-sim cluster give every
node the same padding verdict, in the same words (padding.judge). Before, capacity called limits
over target a breach, audit a committed warning, and cadvisor judged the sum of container working
sets rather than the node's own figure.

Each plugin's own figures are checked against the definition by hand as well: usage over
target x allocatable is a breach, committed limits over it overcommit (or a breach under
padding.limits: breach)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import inproc
import pytest
import yaml
from conftest import Sim


def run(sim: Sim, *argv: str) -> Any:
    ran = inproc.perf(sim.kubeconfig, *argv[:1], "--kubeconfig", str(sim.kubeconfig), *argv[1:])
    assert ran.returncode in (0, 1), ran.stderr  # audit exits 1 on a failed check
    return json.loads(ran.stdout)


POLICIES = {
    # 50% by default (written as a percentage), 90% on the compute pool: a mix of breaches, overcommits and ok
    "mixed": {"padding": {"memory": "50%", "nodeTargets": [{"selector": {"matchLabels": {"node-pool": "compute"}}, "memory": 0.9}]}},
    # committed limits and requests as breaches
    "strict": {"padding": {"memory": 0.75, "limits": "breach", "requests": "warn"}},
}


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_capacity_audit_and_cadvisor_agree_on_every_node(generated: Sim, tmp_path: Path, name: str) -> None:
    policy_doc = POLICIES[name]
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(policy_doc))
    capacity = run(generated, "capacity", "--util", "--policy", str(policy), "-o", "json")
    audit = run(generated, "audit", "--show-pass", "--policy", str(policy), "-o", "json")
    cadvisor = run(generated, "cadvisor", "--summary", "--all-nodes", "--once", "--policy", str(policy), "-o", "json")

    # capacity, checked by hand against the definition from its own figures
    cap: dict[str, tuple[str, list[str], list[str]]] = {}
    limits_level = policy_doc["padding"].get("limits", "warn")
    requests_level = policy_doc["padding"].get("requests", "off")
    for n in capacity["nodes"]:
        memory = n["resources"]["memory"]
        budget = memory["allocatable"] * n["paddingTarget"]  # bytes; the code rounds nanos down, a float is close enough here
        over = {"usage": memory["usage"] > budget, "limits": memory["limits"] > budget, "requests": memory["requests"] > budget}
        level = {"usage": "breach", "limits": limits_level, "requests": requests_level}
        breaches = [f for f in ("usage", "limits", "requests") if over[f] and level[f] == "breach"]
        overcommits = [f for f in ("usage", "limits", "requests") if over[f] and level[f] == "warn"]
        assert (n["paddingBreaches"], n["paddingOvercommits"]) == (breaches, overcommits), n["name"]
        cap[n["name"]] = (n["padding"], n["paddingBreaches"], n["paddingOvercommits"])
    assert len(cap) == 6
    states = {state for state, _b, _o in cap.values()}
    assert len(states) >= 2, f"the policy should give the nodes different verdicts: {cap}"

    # cadvisor: the node's own working set (the root cgroup) and the same verdict
    cad = {n["name"]: (n["padding"], n["paddingBreaches"], n["paddingOvercommits"]) for n in cadvisor["nodes"]}
    assert cad == cap
    assert {n["workingSetSource"] for n in cadvisor["nodes"]} == {"node"}
    for n in cadvisor["nodes"]:
        cap_memory = next(c for c in capacity["nodes"] if c["name"] == n["name"])["resources"]["memory"]
        assert n["memoryLimitsBytes"] == cap_memory["limits"] and n["memoryRequestsBytes"] == cap_memory["requests"]
        # metrics.k8s.io (perf-sim) reports the same figure in whole KiB
        assert 0 <= n["workingSetBytes"] - cap_memory["usage"] < 1024

    # audit: node-padding fails exactly where usage breaches, committed warns or fails as the limits and
    # requests count, and every node result carries capacity's words for the node
    results = {
        (r["rule"], r["resource"]["name"]): r for r in audit["results"] if r["rule"] in ("node-padding", "committed") and r["resource"]
    }
    expected_text: dict[str, str] = {}
    for node, (state, breaches, overcommits) in cap.items():
        padding, committed = results[("node-padding", node)], results[("committed", node)]
        assert padding["result"] == ("fail" if "usage" in breaches else "pass"), node
        committed_figures = ("limits", "requests")
        want = (
            "fail"
            if any(f in breaches for f in committed_figures)
            else "warn"
            if any(f in overcommits for f in committed_figures)
            else "pass"
        )
        assert committed["result"] == want, node
        assert padding["properties"]["padding"] == committed["properties"]["padding"] == state
        expected_text[node] = padding["properties"]["verdict"]
    # capacity's table prints the same words
    table = inproc.perf(generated.kubeconfig, "capacity", "--kubeconfig", str(generated.kubeconfig), "--util", "--policy", str(policy))
    rows = {line.split()[0]: line.rstrip() for line in table.stdout.splitlines()[1:8] if line.strip()}
    for node, text in expected_text.items():
        assert rows[node].endswith(f"   {text}"), (node, rows[node], text)
    cad_table = inproc.perf(
        generated.kubeconfig,
        "cadvisor",
        "--kubeconfig",
        str(generated.kubeconfig),
        "--summary",
        "--all-nodes",
        "--once",
        "--policy",
        str(policy),
    )
    node_lines = {line.split()[0]: line.rstrip() for line in cad_table.stdout.split("\n\n")[-1].splitlines()[1:] if line.strip()}
    for node, text in expected_text.items():
        assert node_lines[node].endswith(f"   {text}"), (node, node_lines[node], text)


def test_a_node_the_metrics_leave_out_is_unknown_where_its_usage_is_not_read(sim_factory: Any, tmp_path: Path) -> None:
    """metrics-server leaves one node out (perf-sim --metrics-skip). capacity called it `ok` on its committed
    memory, while cadvisor, reading the node's own working set from its kubelet, could call it a breach:
    now capacity says `usage unknown` and counts it apart, audit's node-padding skips it and says why,
    and the report counts it apart from the breaches; cadvisor still judges it (it has the figure)."""
    skipped = "general-00001"  # 86% of its memory in use on its kubelet: a breach metrics-server does not report
    sim = sim_factory("--nodes", "6", "--pods-per-node", "25", "--seed", "3", "--metrics-skip", skipped)
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICIES["mixed"]))  # committed limits only warn: no breach is known for it
    capacity = run(sim, "capacity", "--util", "--policy", str(policy), "-o", "json")
    nodes = {n["name"]: n for n in capacity["nodes"]}
    assert skipped in nodes and nodes[skipped]["resources"]["memory"].get("usage") is None  # not measured: no figure
    assert nodes[skipped]["padding"] == "unknown" and nodes[skipped]["paddingBreaches"] == []
    assert {n for n, v in nodes.items() if v["padding"] == "unknown"} == {skipped}  # the others are measured
    assert capacity["total"]["paddingUnknownNodes"] == [skipped]
    table = inproc.perf(sim.kubeconfig, "capacity", "--kubeconfig", str(sim.kubeconfig), "--util", "--policy", str(policy))
    row = next(line for line in table.stdout.splitlines() if line.startswith(skipped))
    assert row.rstrip().endswith("usage unknown"), row
    assert "usage unknown 1/6" in table.stdout.splitlines()[1]  # the cluster row counts it
    page = inproc.perf(sim.kubeconfig, "capacity", "--kubeconfig", str(sim.kubeconfig), "--util", "--policy", str(policy), "-o", "html")
    block = re.search(rf'data-node="{skipped}".*?<span class="([a-z]+)" data-padding="([a-z]+)">([^<]*)<', page.stdout, re.S)
    assert block and block.groups()[:2] == ("warn", "unknown") and block.group(3).endswith("usage unknown"), block  # amber, not green

    audit = run(sim, "audit", "--show-pass", "--policy", str(policy), "-o", "json")
    by_node = {
        (r["rule"], r["resource"]["name"]): r for r in audit["results"] if r["rule"] in ("node-padding", "committed") and r["resource"]
    }
    assert by_node[("node-padding", skipped)]["result"] == "skip" and "unknown" in by_node[("node-padding", skipped)]["message"]
    assert by_node[("committed", skipped)]["properties"]["padding"] == "unknown"  # the node's whole verdict, capacity's word
    assert all(by_node[("node-padding", n)]["result"] in ("pass", "fail") for n in nodes if n != skipped)

    cadvisor = run(sim, "cadvisor", "--summary", "--all-nodes", "--once", "--policy", str(policy), "-o", "json")
    assert next(n for n in cadvisor["nodes"] if n["name"] == skipped)["padding"] in ("breach", "overcommit", "ok")

    report = run(sim, "report", "-o", "json", "--cadvisor-interval", "0", "--sections", "capacity", "--policy", str(policy))
    summary = report["clusters"][0]["summary"]
    breaching = [n for n, v in nodes.items() if v["padding"] == "breach"]
    assert (summary["paddingBreachingNodes"], summary["paddingUnknownNodes"]) == (len(breaching), 1)


def test_no_usage_at_all_is_not_zero_breaches(sim_factory: Any) -> None:
    """No metrics-server and no kubelet reads: the report's first screen said "0 padding breaches" and "No
    node breaches its padding target"; no node's usage is known, so the count is unknown (null, "–")."""
    sim = sim_factory("--nodes", "6", "--pods-per-node", "25", "--seed", "3", "--no-metrics-server", "--forbid-cluster-list", "nodes/proxy")
    report = run(sim, "report", "-o", "json", "--cadvisor-interval", "0", "--sections", "capacity")
    summary = report["clusters"][0]["summary"]
    assert (summary["paddingBreachingNodes"], summary["paddingUnknownNodes"]) == (None, 6)
    page = inproc.perf(sim.kubeconfig, "report", "--kubeconfig", str(sim.kubeconfig), "--cadvisor-interval", "0", "--sections", "capacity")
    assert re.search(r'data-figure="padding-breaches" title="[^"]*usage unknown on 6 of 6 nodes[^"]*"><b>–</b>', page.stdout), page.stdout[
        :3000
    ]
    assert "No node is known to breach its memory padding target: 6 of 6 have no usage figures." in page.stdout
    assert "No node breaches" not in page.stdout
