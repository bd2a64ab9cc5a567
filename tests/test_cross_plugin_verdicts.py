"""Issue 20, section 2: capacity, audit and cadvisor on ONE generated perf-sim cluster give every
node the same padding verdict, in the same words (padding.judge). Before, capacity called limits
over target a breach, audit a committed warning, and cadvisor judged the sum of container working
sets rather than the node's own figure.

Each plugin's own figures are checked against the definition by hand as well: usage over
target x allocatable is a breach, committed limits over it overcommit (or a breach under
padding.limits: breach)."""

from __future__ import annotations

import json
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
