"""The image audit's compute step on plain dicts; every figure worked out by hand."""

from __future__ import annotations

from typing import Any

from kubectl_perf.images.compute import ImageInventory, InventorySettings
from kubectl_perf.owners import Workload

M = 1_000_000
P = "sha256:" + "1" * 64  # python:3.12
N = "sha256:" + "2" * 64  # node:22
Z = "sha256:" + "3" * 64  # pause


def node(
    name: str, pool: str, images: list[tuple[list[str], int]], runtime: str = "containerd://1.7.23", taints: Any = None
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"node-pool": pool, "kubernetes.io/hostname": name}},
        "spec": {"taints": taints} if taints else {},
        "status": {"nodeInfo": {"containerRuntimeVersion": runtime}, "images": [{"names": n, "sizeBytes": s} for n, s in images]},
    }


PY = [f"docker.io/library/python@{P}", "docker.io/library/python:3.12"]
NODE = [f"docker.io/library/node@{N}", "docker.io/library/node:22"]
PAUSE = [f"registry.k8s.io/pause@{Z}", "registry.k8s.io/pause:3.10"]
TAINT = [{"key": "dedicated", "value": "b", "effect": "NoSchedule"}]
NODES = [
    node("n1", "a", [(PY, 411 * M), (NODE, 409 * M), (PAUSE, 700_000)]),
    node("n2", "a", [(PY, 411 * M), (PAUSE, 700_000)]),
    node("n3", "b", [(PY, 1020 * M)], "cri-o://1.31.1", TAINT),
    node("n4", "a", []),  # a fresh node
]


def pod(name: str, node_name: str, containers: list[dict[str, Any]], owner: tuple[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "labels": extra.pop("labels", {})}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    spec: dict[str, Any] = {"containers": containers, **extra.pop("spec", {})}
    if node_name:
        spec["nodeName"] = node_name
    return {"metadata": meta, "spec": spec, "status": {"phase": extra.pop("phase", "Running" if node_name else "Pending")}}


def web(name: str, node_name: str) -> dict[str, Any]:
    p = pod(
        name,
        node_name,
        [{"name": "app", "image": "python:3.12", "imagePullPolicy": "IfNotPresent"}],
        ("ReplicaSet", "web-abc"),
        labels={"pod-template-hash": "abc"},
    )
    p["spec"]["initContainers"] = [
        {"name": "setup", "image": "busybox"},  # no tag, no policy: the API server's default is Always
        {"name": "proxy", "image": "envoyproxy/envoy:v1.31", "restartPolicy": "Always", "imagePullPolicy": "IfNotPresent"},
    ]
    return p


PODS = [
    web("web-abc-1", "n1"),
    web("web-abc-2", "n2"),
    pod("nightly-29000100-x", "n1", [{"name": "job", "image": "node:22", "imagePullPolicy": "IfNotPresent"}], ("Job", "nightly-29000100")),
    pod("debug", "", [{"name": "d", "image": f"python:3.12@{P}", "imagePullPolicy": "IfNotPresent"}]),
    pod("old", "n2", [{"name": "g", "image": "golang:1.23"}], ("Job", "old"), phase="Succeeded"),
    pod(
        "db-0",
        "n3",
        [{"name": "db", "image": "docker.io/library/python:3.12", "imagePullPolicy": "IfNotPresent"}],
        ("StatefulSet", "db"),
        spec={"tolerations": [{"key": "dedicated", "operator": "Exists"}]},
    ),
]


def audit(options: InventorySettings | None = None, nodes: list[Any] = NODES, pods: list[Any] = PODS) -> Any:
    a = ImageInventory(options or InventorySettings())
    a.add_nodes(nodes)
    a.add_pods(pods[:3])  # in two pages, as the API hands them over
    a.add_pods(pods[3:])
    return a.report()


def rows(result: Any) -> dict[str, Any]:
    return {r.image: r for r in result.images}


def test_images_joined_with_node_status() -> None:
    result = audit()
    by = rows(result)
    assert set(by) == {
        "docker.io/library/python:3.12",
        f"docker.io/library/python@{P}",
        "docker.io/library/node:22",
        "docker.io/library/busybox:latest",
        "docker.io/envoyproxy/envoy:v1.31",
    }  # golang:1.23 only ran in a Succeeded pod
    py = by["docker.io/library/python:3.12"]
    # Listed by n1, n2 (containerd, compressed) and n3 (CRI-O, uncompressed): the majority's size.
    assert (py.size, py.runtime, py.nodes, py.sizes) == (411 * M, "containerd", 3, {"containerd": 411 * M, "cri-o": 1020 * M})
    assert (py.pods, py.containers, py.policies, py.latest) == (3, 3, {"IfNotPresent": 3}, False)
    # no ReplicaSets or Jobs given (InventorySettings.owners): the conventions answer, marked as guesses
    assert py.workloads == [Workload("Deployment", "shop", "web", guess=True), Workload("StatefulSet", "shop", "db")]
    assert py.suggestion == {
        "base": "python",
        "image": "gcr.io/distroless/python3-debian13",
        "savingBytes": (411 - 22) * M,
        "savingBasis": "image-is-base",  # python:3.12 itself: the whole image is the base
        "estimate": False,
        "baseImage": "python:3.12",
        "why": py.suggestion["why"],
    }
    by_digest = by[f"docker.io/library/python@{P}"]
    assert (by_digest.size, by_digest.nodes, by_digest.pods, by_digest.workloads) == (411 * M, 3, 1, [Workload("Pod", "shop", "debug")])
    assert by_digest.pinned and by_digest.hygiene == "digest"
    js = by["docker.io/library/node:22"]
    assert (js.size, js.nodes, js.workloads) == (409 * M, 1, [Workload("CronJob", "shop", "nightly", guess=True)])
    assert (
        js.suggestion is not None
        and js.suggestion["image"] == "gcr.io/distroless/nodejs22-debian13"
        and js.suggestion["savingBytes"] == (409 - 45) * M
    )
    bb = by["docker.io/library/busybox:latest"]
    assert (bb.size, bb.nodes, bb.latest, bb.hygiene, bb.policies, bb.kinds, bb.suggestion) == (
        None,
        0,
        True,
        "no tag",
        {"Always": 2},
        ["init"],
        None,
    )
    assert bb.notes == ["size unknown: no node lists it"]
    assert by["docker.io/envoyproxy/envoy:v1.31"].kinds == ["sidecar"]


def test_summary_figures() -> None:
    result = audit()
    # python (one image, whether named by tag or digest) + node
    assert result.unique_bytes == 411 * M + 409 * M
    assert result.inventory.cached_bytes == (411 + 409 + 0.7) * M + (411 + 0.7) * M + 1020 * M
    assert dict(result.histogram())["200-500 MB"] == 3 and sum(n for _l, n in result.histogram()) == 3
    by_size, by_cached = result.top(2)
    assert [r.image for r in by_size] == ["docker.io/library/python:3.12", f"docker.io/library/python@{P}"]
    assert [r.image for r in by_cached][0] == "docker.io/library/python:3.12"  # 411 MB x 3 nodes
    # 3 pods first; envoy and busybox tie at 2 pods and unknown size: by name.
    assert [r.image for r in result.sorted_images("pods")][:3] == [
        "docker.io/library/python:3.12",
        "docker.io/envoyproxy/envoy:v1.31",
        "docker.io/library/busybox:latest",
    ]
    assert result.sorted_images("waste")[0].image == "docker.io/library/python:3.12"  # 389 MB saved on 3 nodes


def test_fresh_node_bytes_per_pool() -> None:
    pools = {p.pool: p for p in audit().pools}
    # pool a runs python:3.12, node:22, busybox and envoy: two of known size.
    assert (pools["a"].nodes, pools["a"].runtime, pools["a"].images, pools["a"].fresh_bytes, pools["a"].unknown) == (
        3,
        "containerd",
        4,
        820 * M,
        2,
    )
    # pool b runs python:3.12 on CRI-O: its uncompressed size.
    assert (pools["b"].nodes, pools["b"].runtime, pools["b"].images, pools["b"].fresh_bytes, pools["b"].unknown) == (
        1,
        "cri-o",
        1,
        1020 * M,
        0,
    )


def test_pre_pull_plan() -> None:
    plan = audit().pre_pull
    got = [(p.image, p.pool, p.selector, p.eligible, p.missing, p.uncertain, p.reasons) for p in plan]
    assert got == [
        # node:22 (CronJob) may run on n1, n2, n4 (not the tainted n3); only n1 holds it. 409 MB x 2 first.
        ("docker.io/library/node:22", "a", {"node-pool": "a"}, 3, 2, 0, ["CronJob?/shop/nightly"]),
        # python:3.12 (web has 2 replicas) is missing only on the fresh n4; db (1 replica, no HPA) is no candidate.
        ("docker.io/library/python:3.12", "a", {"node-pool": "a"}, 3, 1, 0, ["Deployment?/shop/web x2"]),
    ]
    assert audit(InventorySettings(min_size=410 * M)).pre_pull[0].image == "docker.io/library/python:3.12"
    hpa = audit(InventorySettings(hpa_targets=frozenset({("StatefulSet", "shop", "db")}))).pre_pull
    assert sorted(hpa[1].reasons) == [
        "Deployment?/shop/web x2",
        "StatefulSet/shop/db (HPA target)",
    ]  # db tolerates n3, which holds it already


def test_capped_nodes_may_hold_more() -> None:
    result = audit(InventorySettings(max_images=3))
    # n1 lists exactly 3 images and runs envoy: it may hold envoy beyond the cut.
    assert rows(result)["docker.io/envoyproxy/envoy:v1.31"].notes == [
        "size unknown: no node lists it; 1 node(s) list the maximum of 3 images and may hold it beyond the cut"
    ]
    # x lists the cap (2) with nothing under 800 MB: a 300 MB image missing from its list may be there.
    nodes = [
        node("x", "a", [([f"big@{P}", "big:1"], 900 * M), ([f"mid@{N}", "mid:1"], 800 * M)]),
        node("y", "a", [([f"docker.io/library/c@{Z}", "c:1"], 300 * M)]),
    ]
    pods = [
        pod(f"c-h-{i}", "y", [{"name": "c", "image": "c:1"}], ("ReplicaSet", "c-h"), labels={"pod-template-hash": "h"}) for i in range(2)
    ]
    capped = audit(InventorySettings(max_images=2), nodes, pods).pre_pull
    assert capped == []  # uncertain on x, so no plan
    plain = audit(InventorySettings(max_images=3), nodes, pods).pre_pull
    assert [(p.image, p.eligible, p.missing, p.uncertain) for p in plain] == [("docker.io/library/c:1", 2, 1, 0)]


def test_pool_label_and_registry_sizes() -> None:
    from kubectl_perf.images.compute import Inspection

    a = ImageInventory(InventorySettings(pool_label="kubernetes.io/hostname"))
    a.add_nodes(NODES)
    a.add_pods(PODS)
    inspected = {"docker.io/envoyproxy/envoy:v1.31": Inspection({"config": {"Env": []}}, 60 * M)}
    result = a.report(inspected)
    assert [p.pool for p in result.pools] == ["n1", "n2", "n3", "n4"]
    envoy = rows(result)["docker.io/envoyproxy/envoy:v1.31"]
    assert (envoy.size, envoy.runtime, envoy.suggestion) == (60 * M, "registry", None)
    assert envoy.notes == ["no node lists it: size from the registry (compressed layers)", "inspected: no known base"]
    assert result.unique_bytes == 411 * M + 409 * M + 60 * M
