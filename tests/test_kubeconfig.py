"""kubectl's kubeconfig rules: which files, which context, cluster, user and namespace.

Each case of the table runs the real `kubectl config view --minify --raw` under the same
environment and flags and compares what it chose with what the plugins choose; the repro of
issue 20 then runs `kubectl perf capacity` and `audit --apply` against two perf-sim clusters.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import KUBECTL, Sim, env_for, kubectl
from inproc import perf
from kubectl_perf.kubeconfig import KubeconfigError, Overrides, resolve
from test_reports import CRDS


def _config(current: str | None, clusters: dict[str, str], users: dict[str, str], contexts: dict[str, dict[str, str]]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": s}} for n, s in clusters.items()],
        "users": [{"name": n, "user": {"token": t}} for n, t in users.items()],
        "contexts": [{"name": n, "context": c} for n, c in contexts.items()],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    """Four kubeconfigs that disagree on purpose: the same names with different contents."""
    docs = {
        "a": _config(
            "ctx-a",
            {"c1": "https://a1.example:6443"},
            {"u1": "token-a"},
            {"ctx-a": {"cluster": "c1", "user": "u1", "namespace": "team-a"}, "shared": {"cluster": "c1", "user": "u1"}},
        ),
        "b": _config(
            "ctx-b",
            {"c1": "https://b1.example:6443", "c2": "https://b2.example:6443"},
            {"u1": "token-b", "u2": "token-b2"},
            {"ctx-b": {"cluster": "c2", "user": "u2"}, "shared": {"cluster": "c2", "user": "u2", "namespace": "from-b"}},
        ),
        "nocurrent": _config(None, {"c2": "https://n2.example:6443"}, {}, {"ctx-n": {"cluster": "c2", "user": "u1"}}),
        "emptycurrent": _config("", {}, {"u2": "token-e"}, {}),
    }
    out = {}
    for name, doc in docs.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc))
        out[name] = path
    (tmp_path / "empty.yaml").write_text("")
    out["empty"] = tmp_path / "empty.yaml"
    out["missing"] = tmp_path / "missing.yaml"
    return out


# (KUBECONFIG as names joined by ':', --kubeconfig, --context)
CASES = [
    ("a:b", None, None),  # issue 20: current-context from the first file that sets it
    ("b:a", None, None),
    ("missing:b:a", None, None),  # a missing file in the list is skipped
    ("a:missing:b", None, "ctx-b"),  # the context from b, its cluster c2 from b, its user u2 from b
    ("b:a", None, "ctx-a"),  # ctx-a's cluster c1 and user u1 are b's (first to define them), not a's
    ("a:b", None, "shared"),  # the first file's definition of a context name wins
    ("b:a", None, "shared"),  # ... and brings its namespace
    ("nocurrent:b", None, None),  # a file that sets no current-context leaves it to the next; c2 is nocurrent's
    ("emptycurrent:b:a", None, None),  # an empty current-context is not set
    ("empty:a", None, None),  # an empty file is an empty config
    ("a:a:b", None, None),  # a repeated path is read once
    ("a", "b", None),  # --kubeconfig replaces the list
    ("b", "a", "shared"),
]


def _kubectl_view(files: dict[str, Path], listed: str, explicit: str | None, context: str | None, home: Path) -> dict[str, Any]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "KUBECONFIG": os.pathsep.join(str(files[n]) for n in listed.split(":"))}
    argv = [KUBECTL, "config", "view", "--minify", "--raw", "-o", "json"]
    if explicit:
        argv += ["--kubeconfig", str(files[explicit])]
    if context:
        argv += ["--context", context]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    view: dict[str, Any] = json.loads(result.stdout)
    return view


@pytest.mark.parametrize(("listed", "explicit", "context"), CASES)
def test_the_same_choice_as_kubectl_config_view(
    files: dict[str, Path], tmp_path: Path, listed: str, explicit: str | None, context: str | None
) -> None:
    view = _kubectl_view(files, listed, explicit, context, tmp_path)
    environ = {"KUBECONFIG": os.pathsep.join(str(files[n]) for n in listed.split(":"))}
    ours = resolve(Overrides(kubeconfig=str(files[explicit]) if explicit else None, context=context), environ)
    assert ours.config["current-context"] == view["current-context"]
    assert ours.config["contexts"] == view["contexts"]
    assert ours.config["clusters"] == view["clusters"]
    assert ours.config["users"] == view["users"]
    assert ours.namespace == (view["contexts"][0]["context"].get("namespace") or "default")


def test_worked_cases_by_hand(files: dict[str, Path]) -> None:
    """The table's key answers, worked out from the files above rather than read from kubectl."""
    env = {"KUBECONFIG": f"{files['a']}{os.pathsep}{files['b']}"}
    chosen = resolve(Overrides(), env)
    assert (chosen.context, chosen.server, chosen.namespace) == ("ctx-a", "https://a1.example:6443", "team-a")
    chosen = resolve(Overrides(context="ctx-b"), env)
    assert (chosen.server, chosen.config["users"][0]["user"]["token"], chosen.namespace) == (
        "https://b2.example:6443",
        "token-b2",
        "default",
    )
    chosen = resolve(Overrides(context="ctx-b", namespace="ns1"), env)
    assert chosen.namespace == "ns1"  # -n wins over the context's


def test_relative_file_references_follow_the_file_that_defines_them(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    for name in ("one/ca.crt", "two/client.crt", "two/client.key"):
        (tmp_path / name).write_text("x")
    (tmp_path / "one" / "kc").write_text(
        yaml.safe_dump(
            {
                "current-context": "x",
                "clusters": [{"name": "c", "cluster": {"server": "https://h:1", "certificate-authority": "ca.crt"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    (tmp_path / "two" / "kc").write_text(
        yaml.safe_dump(
            {
                "users": [
                    {
                        "name": "u",
                        "user": {"client-certificate": "client.crt", "client-key": "client.key", "exec": {"command": "./bin/cred"}},
                    }
                ]
            }
        )
    )
    chosen = resolve(Overrides(), {"KUBECONFIG": f"{tmp_path / 'one' / 'kc'}{os.pathsep}{tmp_path / 'two' / 'kc'}"})
    assert chosen.config["clusters"][0]["cluster"]["certificate-authority"] == str(tmp_path / "one" / "ca.crt")
    user = chosen.config["users"][0]["user"]
    assert user["client-certificate"] == str(tmp_path / "two" / "client.crt")
    assert user["client-key"] == str(tmp_path / "two" / "client.key")
    assert user["exec"]["command"] == str(tmp_path / "two" / "bin" / "cred")  # a path, so relative to its file


def test_errors_in_kubectls_words(files: dict[str, Path], tmp_path: Path) -> None:
    env = {"KUBECONFIG": str(files["a"])}
    with pytest.raises(KubeconfigError, match=r'^context "nope" does not exist$'):
        resolve(Overrides(context="nope"), env)
    with pytest.raises(KubeconfigError, match=r'^no server found for cluster "nope"$'):
        resolve(Overrides(cluster="nope"), env)
    with pytest.raises(KubeconfigError) as err:
        resolve(Overrides(kubeconfig=str(tmp_path / "absent")), env)
    assert str(err.value) == f"stat {tmp_path / 'absent'}: no such file or directory"


# -- issue 20's repro: two perf-sim clusters, the second's names changed with sed ------------------
@pytest.fixture(scope="module")
def two_clusters(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Sim, Sim, Path, Path]:
    ten = sim_factory("--nodes", "10", "--pods-per-node", "2", "--seed", "20")
    three = sim_factory("--nodes", "3", "--pods-per-node", "2", "--seed", "21")
    kc3b = tmp_path_factory.mktemp("kc3b") / "kc3b"
    kc3b.write_text(three.kubeconfig.read_text().replace("perf-sim", "sim3"))  # sed 's/perf-sim/sim3/g'
    return ten, three, ten.kubeconfig, kc3b


def _nodes(out: str) -> int:
    return len(json.loads(out)["nodes"])


def test_capacity_talks_to_the_cluster_kubectl_talks_to(two_clusters: tuple[Sim, Sim, Path, Path]) -> None:
    ten, three, kc10, kc3b = two_clusters
    listed = f"{kc10}{os.pathsep}{kc3b}"
    got = kubectl(None, "get", "nodes", "-o", "name", env={**env_for(ten), "KUBECONFIG": listed}).stdout.split()
    assert len(got) == 10  # kubectl's own answer: the first file's current-context
    result = perf(listed, "capacity", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert _nodes(result.stdout) == 10
    # the other order: the renamed file is first, so its context (the 3-node cluster) is current
    result = perf(f"{kc3b}{os.pathsep}{kc10}", "capacity", "-o", "json")
    assert _nodes(result.stdout) == 3
    # --context names the second file's context; --kubeconfig replaces the list
    assert _nodes(perf(listed, "capacity", "-o", "json", "--context", "sim3").stdout) == 3
    assert _nodes(perf(listed, "capacity", "-o", "json", "--kubeconfig", str(kc3b)).stdout) == 3


def test_audit_apply_writes_to_the_cluster_kubectl_talks_to(two_clusters: tuple[Sim, Sim, Path, Path]) -> None:
    ten, three, kc10, kc3b = two_clusters
    for sim in (ten, three):
        kubectl(sim, "apply", "-f", str(CRDS))
    result = perf(f"{kc10}{os.pathsep}{kc3b}", "audit", "--apply", "-o", "json")
    assert "Traceback" not in result.stderr and result.returncode in (0, 1), result.stderr
    assert json.loads(kubectl(ten, "get", "clusterpolicyreports", "-o", "json").stdout)["items"], "the 10-node cluster got no report"
    assert json.loads(kubectl(three, "get", "clusterpolicyreports", "-o", "json").stdout)["items"] == []
    assert json.loads(kubectl(three, "get", "policyreports", "-A", "-o", "json").stdout)["items"] == []


def _pods(out: str) -> set[tuple[str, str]]:
    return {(p["namespace"], p["name"]) for n in json.loads(out)["nodes"] for p in n["podDetails"]}


def test_the_contexts_namespace_is_the_default_for_n(fixture_cluster: Sim, tmp_path: Path) -> None:
    config = fixture_cluster.config
    config["contexts"][0]["context"]["namespace"] = "ml"
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(config))
    listed = kubectl(None, "get", "pods", "-o", "name", env={**env_for(None), "KUBECONFIG": str(path)}).stdout.split()
    assert sorted(listed) == ["pod/besteffort", "pod/trainer"]  # kubectl reads the context's namespace: the fixture's ml pods
    result = perf(path, "capacity", "--pods", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert _pods(result.stdout) == {("ml", "besteffort"), ("ml", "trainer")}
    assert "note: namespace ml only, the context's (-A for all namespaces)" in result.stderr
    # -n and -A win over the context's namespace
    assert {ns for ns, _ in _pods(perf(path, "capacity", "--pods", "-o", "json", "-n", "shop").stdout)} == {"shop"}
    everywhere = perf(path, "capacity", "--pods", "-o", "json", "-A")
    assert {ns for ns, _ in _pods(everywhere.stdout)} == {"shop", "ml", "data", "secure"} and "namespace" not in everywhere.stderr
