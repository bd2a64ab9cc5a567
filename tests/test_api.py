"""API access: kubeconfig handling, paginated folds, relist on 410, one-line errors."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Sim
from kubectl_perf.api import ApiError, Cluster, Connection, MetricsUnavailable


def test_fold_pages_through_every_pod(generated: Sim) -> None:
    cluster = Cluster(Connection(str(generated.kubeconfig)))
    seen: list[str] = []
    pages: list[int] = []

    def add(acc: list[str], items: list[dict[str, Any]]) -> None:
        pages.append(len(items))
        acc.extend(i["metadata"]["name"] for i in items)

    result = cluster.fold("/api/v1/pods", lambda: seen, add, limit=17)
    expected = [p["metadata"]["name"] for p in generated.get("/api/v1/pods")["items"]]
    assert result == expected
    assert max(pages) == 17 and len(pages) == -(-len(expected) // 17)


def test_fold_relists_when_the_continue_token_expires(sim_factory: Any) -> None:
    sim = sim_factory("--nodes", "3", "--pods-per-node", "20")
    cluster = Cluster(Connection(str(sim.kubeconfig)))
    starts = 0
    compacted = threading.Event()

    def fresh() -> list[str]:
        nonlocal starts
        starts += 1
        return []

    def add(acc: list[str], items: list[dict[str, Any]]) -> None:
        acc.extend(i["metadata"]["name"] for i in items)
        if not compacted.is_set():
            compacted.set()
            sim.request("/sim/compact", "POST")  # every outstanding continue token now answers 410

    result = cluster.fold("/api/v1/pods", fresh, add, limit=5)
    assert starts == 2
    assert sorted(result) == sorted(p["metadata"]["name"] for p in sim.get("/api/v1/pods")["items"])


def test_context_flag_picks_the_context(generated: Sim, tmp_path: Path) -> None:
    config = generated.config
    config["contexts"].append({"name": "broken", "context": {"cluster": "nowhere", "user": "perf-sim"}})
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
    config["current-context"] = "broken"
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(config))
    assert Cluster(Connection(str(path), "perf-sim")).get("/version")["gitVersion"] == "v1.36.2"
    with pytest.raises(ApiError) as err:
        Cluster(Connection(str(path))).get("/version")
    assert str(err.value) == "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"


def test_kubeconfig_env_var_is_honoured(generated: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(generated.kubeconfig))
    import importlib

    import kubernetes.config.kube_config as kc

    importlib.reload(kc)  # the client reads KUBECONFIG at import time
    try:
        assert Cluster(Connection()).get("/version")["major"] == "1"
    finally:
        monkeypatch.delenv("KUBECONFIG")
        importlib.reload(kc)


def test_missing_kubeconfig_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ApiError) as err:
        Cluster(Connection(str(tmp_path / "absent")))
    assert str(err.value) == f"stat {tmp_path / 'absent'}: no such file or directory"  # kubectl's words


def test_connection_refused_names_the_server(tmp_path: Path, generated: Sim) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = generated.config
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ApiError) as err:
        Cluster(Connection(str(path))).get("/api/v1/nodes")
    assert f"127.0.0.1:{port} was refused" in str(err.value)


def test_forbidden_names_verb_and_resource(sim_factory: Any) -> None:
    sim = sim_factory("--nodes", "1", "--pods-per-node", "2", "--forbid-cluster-list", "pods")
    cluster = Cluster(Connection(str(sim.kubeconfig)))
    with pytest.raises(ApiError) as err:
        cluster.fold("/api/v1/pods", list, lambda acc, items: acc.extend(items))
    assert err.value.status == 403 and 'cannot list resource "pods"' in str(err.value)
    assert cluster.fold("/api/v1/namespaces/shop/pods", list, lambda acc, items: acc.extend(items)) is not None


def test_metrics_api_absent(sim_factory: Any) -> None:
    sim = sim_factory("--nodes", "1", "--pods-per-node", "2", "--no-metrics-server")
    with pytest.raises(MetricsUnavailable) as err:
        Cluster(Connection(str(sim.kubeconfig))).get("/apis/metrics.k8s.io/v1beta1/nodes")
    assert "metrics-server is not installed" in str(err.value)


def test_cadvisor_streams_line_by_line(generated: Sim) -> None:
    cluster = Cluster(Connection(str(generated.kubeconfig)))
    node = generated.get("/api/v1/nodes")["items"][0]["metadata"]["name"]
    lines = list(cluster.stream_lines(f"/api/v1/nodes/{node}/proxy/metrics/cadvisor"))
    status, body = generated.request(f"/api/v1/nodes/{node}/proxy/metrics/cadvisor")

    def series(text_lines: list[str]) -> list[str]:  # counters tick between the two reads; names and labels do not
        return [line.rsplit(" ", 2)[0] if not line.startswith("#") else line for line in text_lines]

    assert status == 200
    assert series([line.decode() for line in lines]) == series(body.decode().rstrip("\n").split("\n"))
