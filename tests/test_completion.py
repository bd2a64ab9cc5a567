"""Shell completion, asked the way kubectl asks it: `kubectl __complete perf ...` runs kubectl_complete-perf."""

from __future__ import annotations

import os
import subprocess

from conftest import BIN, KUBECTL, env_for


def complete(sim, *words: str) -> tuple[list[str], str]:
    """What kubectl hands the shell: candidate values, and the directive line."""
    result = subprocess.run([KUBECTL, "__complete", "perf", *words], capture_output=True, text=True, env=env_for(sim), timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    return [line.split("\t")[0] for line in lines[:-1]], lines[-1]


def test_subcommands(fixture_cluster):
    values, directive = complete(fixture_cluster, "")
    # each once (issue 20): kubectl names the kubectl-perf-SUB it finds on PATH, the script the rest
    assert sorted(values) == ["audit", "cadvisor", "capacity", "images", "report", "rightsize", "version", "volumes"]
    assert directive == ":4"
    values, _ = complete(fixture_cluster, "ca")
    # kubectl adds sub-plugins it finds on PATH (kubectl-perf-capacity) to what we answer.
    assert set(values) == {"capacity", "cadvisor"}


def test_flags_come_from_the_plugins_parser(fixture_cluster):
    values, directive = complete(fixture_cluster, "capacity", "--so")
    assert values == ["--sort"] and directive == ":4"
    values, _ = complete(fixture_cluster, "capacity", "--u")
    assert "--util" in values


def test_known_values(fixture_cluster):
    outputs, _ = complete(fixture_cluster, "capacity", "-o", "")
    assert {"table", "wide", "json", "yaml", "csv", "tsv", "html"} <= set(outputs)
    sorts, _ = complete(fixture_cluster, "capacity", "--sort", "memory.u")
    assert sorts == ["memory.util", "memory.util.percent"]
    inline, _ = complete(fixture_cluster, "capacity", "--output=js")
    assert inline == ["--output=json"]


def test_namespaces_from_the_cluster(fixture_cluster):
    # tests/data/cluster.yaml puts pods in these namespaces (perf-sim makes the namespaces from them).
    values, directive = complete(fixture_cluster, "capacity", "-n", "")
    assert {"shop", "data", "secure"} <= set(values)
    assert directive == ":4"
    values, _ = complete(fixture_cluster, "capacity", "-n", "sh")
    assert values == ["shop"]


def test_files_and_an_unreachable_cluster(fixture_cluster, tmp_path):
    _, directive = complete(fixture_cluster, "capacity", "--policy", "")
    assert directive == ":0"  # the shell completes file names
    dead = tmp_path / "kubeconfig"
    dead.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    values, directive = complete(fixture_cluster, "capacity", "--kubeconfig", str(dead), "-n", "")
    assert values == [] and directive == ":4"


# Issue 20 section 3: values after commas, --by label:, selectors, -L and cadvisor -o.
def test_list_values_go_on_after_a_comma(fixture_cluster):
    values, directive = complete(fixture_cluster, "capacity", "--resources", "cpu,")
    assert values == ["cpu,memory", "cpu,ephemeral-storage", "cpu,pods", "cpu,nvidia.com/gpu"]
    assert directive == ":6"  # no file names, no space: another comma may follow
    values, _ = complete(fixture_cluster, "capacity", "--resources=cpu,memory,p")
    assert values == ["--resources=cpu,memory,pods"]
    values, _ = complete(fixture_cluster, "audit", "--disable", "requests,image-l")
    assert values == ["requests,image-latest-tag"]
    values, _ = complete(fixture_cluster, "audit", "--disable", "requests,")
    assert "requests,committed" in values and "requests,requests" not in values


def test_group_by_pod_label_keys(fixture_cluster):
    # the fixture's pods carry the labels app and team (and one a zone label)
    values, directive = complete(fixture_cluster, "capacity", "--by", "label:")
    assert {"label:app", "label:team"} <= set(values) and all(v.startswith("label:") for v in values) and directive == ":4"
    values, _ = complete(fixture_cluster, "capacity", "--by=label:te")
    assert values == ["--by=label:team"]


def test_selectors_offer_keys_then_values(fixture_cluster):
    zone = "topology.kubernetes.io/zone"
    keys, directive = complete(fixture_cluster, "cadvisor", "--node-selector", "")
    assert keys == ["node.kubernetes.io/instance-type=", f"{zone}=", "workload="] and directive == ":6"
    values, _ = complete(fixture_cluster, "capacity", "--node-selector", f"{zone}=")
    assert values == [f"{zone}=zone-a", f"{zone}=zone-b"]
    values, _ = complete(fixture_cluster, "capacity", "--node-selector", f"workload=io,{zone}!=zone-")
    assert values == [f"workload=io,{zone}!=zone-a", f"workload=io,{zone}!=zone-b"]
    values, _ = complete(fixture_cluster, "capacity", "-n", "shop", "-l", "app=")
    assert values == ["app=batch", "app=web"]  # the pods of -n shop only
    values, _ = complete(fixture_cluster, "capacity", "--namespace-labels", "tier=")
    assert values == ["tier=backend", "tier=frontend"]


def test_label_columns_are_node_label_keys(fixture_cluster):
    values, _ = complete(fixture_cluster, "capacity", "-L", "topo")
    assert values == ["topology.kubernetes.io/zone"]
    values, directive = complete(fixture_cluster, "capacity", "-L", "workload,n")
    assert values == ["workload,node.kubernetes.io/instance-type"] and directive == ":6"


def test_cadvisor_output_follows_the_mode(fixture_cluster):
    dump, directive = complete(fixture_cluster, "cadvisor", "node-a", "-o", "")
    assert dump == ["text", "json", "jsonl"] and directive == ":4"
    summary, _ = complete(fixture_cluster, "cadvisor", "--summary", "-o", "")
    assert summary == ["table", "wide", "json", "yaml", "csv", "tsv", "html"]


def test_subcommands_without_the_standalone_plugins(fixture_cluster, tmp_path):
    """Installed as kubectl-perf alone (no kubectl-perf-SUB on PATH), the script names every subcommand."""
    for name in ("kubectl-perf", "kubectl_complete-perf"):
        (tmp_path / name).symlink_to(BIN / name)
    env = env_for(fixture_cluster, PATH=f"{tmp_path}{os.pathsep}{os.path.dirname(KUBECTL)}")
    result = subprocess.run([KUBECTL, "__complete", "perf", ""], capture_output=True, text=True, env=env, timeout=60)
    values = [line.split("\t")[0] for line in result.stdout.strip().splitlines()[:-1]]
    assert sorted(values) == ["audit", "cadvisor", "capacity", "images", "report", "rightsize", "version", "volumes"]


# Issue 24: capacity --fit's values.
def test_fit_flags(fixture_cluster, tmp_path):
    values, directive = complete(fixture_cluster, "capacity", "--fit", "cpu=500m,")
    assert values == ["cpu=500m,memory=", "cpu=500m,ephemeral-storage=", "cpu=500m,nvidia.com/gpu="] and directive == ":6"
    values, directive = complete(fixture_cluster, "capacity", "--fit-workload", "")
    assert values == ["deploy/", "sts/", "ds/", "rs/", "job/", "cj/"] and directive == ":6"
    _, directive = complete(fixture_cluster, "capacity", "--fit-pod", "")
    assert directive == ":0"  # a file name
