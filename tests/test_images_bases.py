"""The distroless saving counts the base only (issue 22, "Images: savings that hold up").

Application images are pushed to a real registry (Debian's docker-registry) on top of the real
configs of official bases (tests/data/images-real: history and layer sizes as docker-library
publishes them); the application layers on top are this test's own. Every expected figure is
worked by hand from those files: base bytes = the sum of the base's layer sizes, saving = base
bytes - the distroless image's size in imageref.DISTROLESS_SIZES (compressed, containerd)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Sim
from test_images_registry import REGISTRY, Server, images_in_process, start_registry

pytestmark = pytest.mark.skipif(
    not os.path.exists(REGISTRY) and not os.environ.get("CI"), reason="docker-registry is not installed (./dev test installs it)"
)
BASES = json.loads((Path(__file__).parent / "data" / "images-real" / "bases.json").read_text())

# name -> (base, extra labels, the application's own history entries with the bytes of each layer they make)
APPS: dict[str, tuple[str, dict[str, str], list[tuple[str, int]]]] = {
    "shop/py-app": (
        "python:3.12-slim",
        {},
        [
            ("COPY requirements.txt . # buildkit", 1_200),
            ("RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt # buildkit", 180_000_000),
            ("COPY . . # buildkit", 2_500_000),
            ('CMD ["gunicorn", "app:app"]', 0),
        ],
    ),
    "shop/node-app": (
        "node:22-slim",
        {},
        [
            ("COPY package.json package-lock.json ./ # buildkit", 900),
            ("RUN /bin/sh -c npm ci --omit=dev # buildkit", 95_000_000),
            ("COPY . . # buildkit", 1_500_000),
            ('CMD ["node", "server.js"]', 0),
        ],
    ),
    "shop/jvm-app": (
        "eclipse-temurin:21-jre",
        {},
        [("COPY target/app.jar /app/app.jar # buildkit", 20_000_000), ('ENTRYPOINT ["java", "-jar", "/app/app.jar"]', 0)],
    ),
    "shop/native-app": (
        "ubuntu:24.04",
        {
            "org.opencontainers.image.base.name": "docker.io/library/ubuntu:24.04",
            "org.opencontainers.image.base.digest": "sha256:496754492fb28b4d3049432f2ca787449331e23fb14f0dd3fffea86bf5a93eb4",
        },
        [
            ("RUN /bin/sh -c apt-get update && apt-get install -y libpq5 # buildkit", 12_000_000),
            ("COPY server /usr/local/bin/server # buildkit", 8_000_000),
            ('CMD ["server"]', 0),
        ],
    ),
    "shop/alpine-app": (
        "python:3.12-alpine",
        {},
        [("RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt # buildkit", 150_000_000), ("COPY . . # buildkit", 1_000_000)],
    ),
}


def app_image(name: str) -> tuple[dict[str, Any], list[int]]:
    """The config (base history + the app's) and layer sizes of one application image."""
    base_name, labels, own = APPS[name]
    base = BASES[base_name]
    config = copy.deepcopy(base["config"])
    if labels:
        config["Labels"] = {**(config.get("Labels") or {}), **labels}
    history = copy.deepcopy(base["history"]) + [
        {"created": "2026-10-01T10:00:00Z", "created_by": line, **({} if size else {"empty_layer": True})} for line, size in own
    ]
    sizes = [size for _d, size in base["layers"]] + [size for _line, size in own if size]
    return {"config": config, "history": history}, sizes


@pytest.fixture(scope="module")
def bases_cluster(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sim, Server]]:
    proc, registry = start_registry(tmp_path_factory.mktemp("registry-bases"), htpasswd=False)
    try:
        listed = []
        for name in APPS:
            config, sizes = app_image(name)
            registry.image(name, config, sizes, "1")
            listed.append((f"{registry.host}/{name}:1", sum(sizes)))  # containerd lists the compressed layers' sum
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "b1", "labels": {"node-pool": "x"}},
            "status": {
                "nodeInfo": {"containerRuntimeVersion": "containerd://2.1.0", "architecture": "amd64"},
                "images": [{"names": [image], "sizeBytes": size} for image, size in listed],
            },
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "apps", "namespace": "shop"},
            "spec": {"nodeName": "b1", "containers": [{"name": f"c{n}", "image": image} for n, (image, _s) in enumerate(listed)]},
        }
        path = tmp_path_factory.mktemp("bases") / "cluster.yaml"
        path.write_text(yaml.safe_dump_all([node, pod]))
        yield sim_factory("--objects", str(path)), registry
    finally:
        proc.terminate()
        proc.wait(10)


M = 1_000_000


def test_saving_is_the_base_minus_distroless(bases_cluster: tuple[Sim, Server]) -> None:
    sim, registry = bases_cluster
    result = images_in_process(sim, "--inspect", "-o", "json")
    assert result.returncode == 0, result.stderr
    got = {i["image"].rsplit("/", 2)[-2] + "/" + i["image"].rsplit("/", 1)[-1]: i for i in json.loads(result.stdout)["images"]}

    def figures(name: str) -> tuple[Any, ...]:
        s = got[name]["suggestion"]
        return (s["image"].rsplit("/", 1)[-1], s["savingBytes"], s["savingBasis"], s["baseBytes"], s["appBytes"], s["estimate"])

    # python:3.12-slim: 29,780,765 + 1,293,276 + 12,113,733 + 249 = 43,188,023 B of base (its history ends at
    # CMD ["python3"] after PYTHON_VERSION); app 1,200 + 180,000,000 + 2,500,000 = 182,501,200; python3 22 MB.
    # The whole image (225,689,223) less 22 MB would have promised 203,689,223.
    assert got["shop/py-app:1"]["sizeBytes"] == 225_689_223
    assert figures("shop/py-app:1") == ("python3-debian13", 21_188_023, "inspected-history", 43_188_023, 182_501_200, False)
    # node:22-slim: 28,238,443 + 3,311 + 49,938,232 + 1,713,012 + 447 = 79,893,445 (ENTRYPOINT then CMD end it); nodejs22 45 MB.
    assert figures("shop/node-app:1") == ("nodejs22-debian13", 34_893_445, "inspected-history", 79_893_445, 96_500_900, False)
    # eclipse-temurin:21-jre (on ubuntu 26.04): 41,602,703 + 394 + 26,432,501 + 53,097,833 + 159 + 2,464 = 121,136,054; java21 80 MB.
    assert figures("shop/jvm-app:1") == ("java21-debian13", 41_136_054, "inspected-history", 121_136_054, 20_000_000, False)
    # ubuntu:24.04 named by the base-name label: one layer of 29,764,116 B; base-debian13 8.5 MB.
    assert figures("shop/native-app:1") == ("base-debian13", 21_264_116, "base-label", 29_764_116, 20_000_000, False)
    assert got["shop/native-app:1"]["suggestion"]["baseImage"] == "docker.io/library/ubuntu:24.04"
    # python:3.12-alpine: the base's first layer is alpine's 3,849,738 B rootfs: distroless Debian would be bigger.
    alpine = got["shop/alpine-app:1"]
    assert alpine["suggestion"] is None
    assert alpine["notes"] == ["inspected: alpine-sized base (first layer 3.85 MB): gcr.io/distroless/python3-debian13 would be bigger"]


def test_sort_waste_ranks_on_the_base_saving(bases_cluster: tuple[Sim, Server]) -> None:
    sim, _registry = bases_cluster
    result = images_in_process(sim, "--inspect", "--sort", "waste", "-o", "json")
    order = [i["image"].rsplit("/", 1)[-1] for i in json.loads(result.stdout)["images"]]
    # one node each: temurin 41.1 MB > node 34.9 MB > ubuntu 21,264,116 > python 21,188,023 > alpine (none).
    # On the whole image it was python (203.7 MB) first, then node, temurin, ubuntu.
    assert order == ["jvm-app:1", "node-app:1", "native-app:1", "py-app:1", "alpine-app:1"]


def test_wide_and_table_show_the_split_and_why(bases_cluster: tuple[Sim, Server]) -> None:
    sim, _registry = bases_cluster
    wide = images_in_process(sim, "--inspect", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    header, *rows = wide.stdout.split("\n\n")[0].splitlines()
    for column in ("SAVING", "BASIS", "BASE / APP", "WHY"):
        assert column in header
    py = next(r for r in rows if "shop/py-app:1" in r)
    assert "-21.2 MB" in py and "inspected-history" in py and "43.2 MB / 183 MB" in py
    assert "python3-debian13 carries CPython 3.13 without a shell or pip" in py and "(detected from PYTHON_VERSION=3.12.13)" in py
    got_why = "python3-debian13 carries CPython 3.13 without a shell or pip: install dependencies in a build stage (detected from PYTHON_VERSION=3.12.13)"
    table = images_in_process(sim, "--inspect")
    assert "python3-debian13 (-21.2 MB)" in table.stdout and "WHY" not in table.stdout
    assert any(
        line.startswith("note: ") and line.endswith("shop/py-app:1 -> python3-debian13: " + got_why) for line in table.stderr.splitlines()
    ), table.stderr


def test_known_base_table_by_layer_digests() -> None:
    """The image's first layers are exactly python:3.12-slim's (real digests): the base is known
    without history. (Through the library: a registry serves a blob only under its content's digest,
    and the real layers are not here to push.)"""
    from kubectl_perf.image_sizes import Inspected, suggest
    from kubectl_perf.imageref import parse

    base = BASES["python:3.12-slim"]
    layers = tuple((d, s) for d, s in base["layers"]) + (("sha256:" + "a" * 64, 150_000_000),)
    found, _detected = suggest(
        parse("registry.example/shop/app:1"), 193_188_023, "containerd", Inspected({"config": base["config"]}, layers)
    )
    assert found is not None
    assert (found["savingBytes"], found["savingBasis"], found["baseImage"], found["baseBytes"], found["appBytes"]) == (
        21_188_023,
        "known-base-table",
        "python:3.12-slim",
        43_188_023,
        150_000_000,
    )
    # Without history or a table match: an estimate from the family's known base, marked as such.
    found, _ = suggest(
        parse("registry.example/shop/app:1"),
        193_188_023,
        "containerd",
        Inspected({"config": base["config"]}, (("sha256:" + "b" * 64, 40 * M), ("sha256:" + "c" * 64, 153_188_023))),
    )
    assert found is not None and (found["savingBytes"], found["savingBasis"], found["estimate"]) == (21_188_023, "estimate", True)


def test_alpine_bases_keep_static_for_compiled_binaries() -> None:
    """A Go toolchain image over alpine (first layer: alpine's 3,849,738 B rootfs) ships a binary:
    static still fits; a Python app over the same rootfs gets no suggestion, with the reason."""
    from kubectl_perf.image_sizes import Inspected, suggest
    from kubectl_perf.imageref import parse

    alpine_rootfs = tuple((d, s) for d, s in BASES["python:3.12-alpine"]["layers"][:1])
    go = Inspected({"config": {"Env": ["GOLANG_VERSION=1.25.1"]}}, (*alpine_rootfs, ("sha256:" + "d" * 64, 290 * M)))
    found, _ = suggest(parse("registry.example/build/tool:1"), 293_849_738, "containerd", go)
    assert found is not None and found["image"] == "gcr.io/distroless/static-debian13"
    py = Inspected({"config": BASES["python:3.12-alpine"]["config"]}, (*alpine_rootfs, ("sha256:" + "e" * 64, 150 * M)))
    found, detected = suggest(parse("registry.example/shop/app:1"), 153_849_738, "containerd", py)
    assert found is None and detected == "alpine-sized base (first layer 3.85 MB): gcr.io/distroless/python3-debian13 would be bigger"
