"""Shell completion, asked the way kubectl asks it: `kubectl __complete perf ...` runs kubectl_complete-perf."""

from __future__ import annotations

import subprocess

from conftest import KUBECTL, env_for


def complete(sim, *words: str) -> tuple[list[str], str]:
    """What kubectl hands the shell: candidate values, and the directive line."""
    result = subprocess.run([KUBECTL, "__complete", "perf", *words], capture_output=True, text=True, env=env_for(sim), timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    return [line.split("\t")[0] for line in lines[:-1]], lines[-1]


def test_subcommands(fixture_cluster):
    values, directive = complete(fixture_cluster, "")
    assert {"capacity", "version"} <= set(values)
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
