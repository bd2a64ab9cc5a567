"""`kubectl perf report` and `capacity --context a,b` against a real kube-apiserver beside perf-sim:
one context each, merged as kubectl merges two kubeconfig files. The real server has no
metrics-server and no kubelets: the sections that need them say so, the others are made."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DATA, KUBECTL, Sim, env_for
from realk8s import RealK8s, loaded
from test_capacity_realk8s import GVISOR, RBAC


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    # the fixture test_capacity_realk8s loads (its pods need the gvisor RuntimeClass): one server for both modules
    with loaded(
        tmp_path_factory.mktemp("realk8s-report"), [GVISOR, *yaml.safe_load_all((DATA / "cluster.yaml").read_text()), *RBAC]
    ) as k8s:
        yield k8s


def renamed(config: dict[str, Any], name: str, base: Path, out: Path) -> Path:
    """One cluster's kubeconfig with its cluster, user and context named `name`; file references made
    absolute against `base`, the directory of the file they came from."""
    cluster = dict(config["clusters"][0]["cluster"])
    if cluster.get("certificate-authority"):
        cluster["certificate-authority"] = str(base / cluster["certificate-authority"])
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": config["users"][0]["user"]}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    path = out / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def kubeconfig(server: RealK8s, sim: Sim, tmp: Path) -> str:
    real = renamed(yaml.safe_load(server.kubeconfig.read_text()), "real", server.kubeconfig.parent, tmp)
    simulated = renamed(sim.config, "sim", sim.kubeconfig.parent, tmp)
    return f"{real}{os.pathsep}{simulated}"


def perf(config: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBECTL, "perf", *args], capture_output=True, text=True, env=env_for(None, KUBECONFIG=config), timeout=300)


def test_report_over_the_real_server_and_perf_sim(server: RealK8s, fixture_cluster: Sim, tmp_path: Path) -> None:
    config = kubeconfig(server, fixture_cluster, tmp_path)
    run = perf(config, "report", "-o", "json", "--cadvisor-interval", "0", "--all-contexts")
    assert run.returncode == 0, run.stderr
    by = {c["cluster"]: c for c in json.loads(run.stdout)["clusters"]}
    assert sorted(by) == ["real", "sim"]
    real, sim = by["real"], by["sim"]
    # the same three nodes on both (tests/data/cluster.yaml loaded into each)
    assert real["summary"]["nodes"] == sim["summary"]["nodes"] == 3
    assert real["capacity"]["total"]["resources"]["cpu"]["allocatable"] == sim["capacity"]["total"]["resources"]["cpu"]["allocatable"]
    # no metrics-server on the real server: capacity still sums requests and limits, and says why usage is absent
    assert "usage" not in real["capacity"]["total"]["resources"]["memory"]
    assert any("metrics-server" in n for n in real["capacity"]["notes"]), real["capacity"]["notes"]
    # no kubelets behind the real server's node proxy: the cAdvisor section is missing, with the reason
    assert "missing" in real["cadvisor"] and "cadvisor" in run.stderr
    assert real["summary"]["throttledContainers"] is None
    assert "missing" not in sim["cadvisor"]
    assert "missing" not in real["audit"] and "missing" not in real["images"]


def test_capacity_over_the_real_server_and_perf_sim(server: RealK8s, fixture_cluster: Sim, tmp_path: Path) -> None:
    config = kubeconfig(server, fixture_cluster, tmp_path)
    run = perf(config, "capacity", "-o", "json", "--context", "sim,real")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert [n["cluster"] for n in doc["nodes"]] == ["sim"] * 3 + ["real"] * 3
    assert [t["cluster"] for t in doc["totals"]] == ["sim", "real"]
    # the same nodes on either server: the same allocatable, summed per cluster
    assert [t["resources"]["cpu"]["allocatable"] for t in doc["totals"]] == [27.91, 27.91]  # 4 + 7.91 + 16 cores
