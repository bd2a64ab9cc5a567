"""How images prints what it knows and what it does not (issue 22): digest pins keep their tag,
static pods are named as such, unknown sizes are `?` and stay out of the top list and the
histogram; -o imagecache keeps the plan on clusters without pool labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from conftest import Sim
from inproc import Ran, perf

D = "abcd1234" + "5" * 56
M = 1_000_000


def run(sim: Sim, *args: str) -> Ran:
    return perf(sim.kubeconfig, "images", "--kubeconfig", str(sim.kubeconfig), *args)


def cluster(sim_factory: Any, tmp_path: Path, *sim_args: str) -> Sim:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {
            "nodeInfo": {"containerRuntimeVersion": "containerd://2.0.0"},
            "images": [{"names": [f"docker.io/library/busybox@sha256:{D}", "docker.io/library/busybox:1.38.0"], "sizeBytes": 2_200_000}],
        },
    }
    pinned = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "tools", "namespace": "shop"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": f"busybox:1.38.0@sha256:{D}"}]},
    }
    static = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "etcd-n1",
            "namespace": "kube-system",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "n", "controller": True}],
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "etcd", "image": "registry.k8s.io/etcd:3.5.15-0"}]},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump_all([node, pinned, static]))
    return sim_factory("--objects", str(tmp_path / "c.yaml"), *sim_args)


def test_pins_static_pods_and_unknown_sizes(sim_factory: Any, tmp_path: Path) -> None:
    sim = cluster(sim_factory, tmp_path)
    ran = run(sim)
    assert ran.returncode == 0, ran.stderr
    images, _summary, top, histogram, *_rest = ran.stdout.split("\n\n")
    rows = {line.split()[0]: line for line in images.splitlines()[1:]}
    assert "busybox:1.38.0@sha256:abcd1234" in rows  # tag and short digest, not busybox@sha256:abcd...5555
    etcd = rows["registry.k8s.io/etcd:3.5.15-0"]
    assert etcd.split()[1] == "?" and "static pod on n1" in etcd and "Node/" not in ran.stdout
    assert "etcd" not in top and "busybox:1.38.0@sha256:abcd1234" in top  # unknown sizes stay out of the top by bytes
    assert [line.split()[-2:] for line in histogram.splitlines() if line.startswith("size unknown")] == [["unknown", "1"]]


def test_nodes_forbidden_gives_question_marks_not_zeros(sim_factory: Any, tmp_path: Path) -> None:
    sim = cluster(sim_factory, tmp_path, "--forbid-cluster-list", "nodes")
    ran = run(sim)
    assert ran.returncode == 0, ran.stderr
    _images, summary, *rest = ran.stdout.split("\n\n")
    header, values = summary.splitlines()
    cells = dict(zip([h.strip() for h in header.split("   ") if h.strip()], values.split(), strict=True))
    assert (cells["UNIQUE SIZE"], cells["CACHED ON NODES"], cells["SIZE UNKNOWN"]) == ("?", "?", "2")
    assert "0 B" not in ran.stdout and "< 10 MB" not in ran.stdout  # no histogram of zeros


def test_imagecache_without_pool_labels_covers_every_node(sim_factory: Any, tmp_path: Path) -> None:
    """Three nodes with no pool label; a 2-replica Deployment runs python:3.12 (411 MB), which n3 lacks."""
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name},
            "status": {
                "nodeInfo": {"containerRuntimeVersion": "containerd://2.0.0"},
                "images": [{"names": ["docker.io/library/python:3.12"], "sizeBytes": 411 * M}] if name != "n3" else [],
            },
        }
        for name in ("n1", "n2", "n3")
    ]
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"web-{n}",
                "namespace": "shop",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "w", "controller": True}],
            },
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "python:3.12"}]},
        }
        for n, node in ((0, "n1"), (1, "n2"))
    ]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump_all(nodes + pods))
    sim = sim_factory("--objects", str(tmp_path / "c.yaml"))
    import json

    plan = json.loads(run(sim, "-o", "json").stdout)["prePull"]
    assert [(p["image"], p["missingOn"], p["nodeSelector"]) for p in plan] == [("docker.io/library/python:3.12", 1, {})]
    ran = run(sim, "-o", "imagecache")
    assert ran.returncode == 0 and "nothing to pre-pull" not in ran.stderr, ran.stderr
    cache = yaml.safe_load(ran.stdout)
    assert cache["spec"]["cacheSpec"] == [{"images": ["docker.io/library/python:3.12"]}]  # no nodeSelector: all nodes
