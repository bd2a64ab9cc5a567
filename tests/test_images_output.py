"""Small pieces of kubectl perf images: size flags, human sizes, the ImageCache builder."""

from __future__ import annotations

import argparse

import pytest
from kubectl_perf.cli import byte_size as size
from kubectl_perf.images.compute import ImageInventory, PrePull
from kubectl_perf.images.output import human, image_cache
from kubectl_perf.owners import Workload


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200MB", 200_000_000),
        ("1.5GB", 1_500_000_000),
        ("300Mi", 300 * 2**20),
        ("250000000", 250_000_000),
        ("2G", 2 * 10**9),
        ("500k", 500_000),
        ("1GiB", 2**30),
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert size(text) == expected


@pytest.mark.parametrize("bad", ["", "lots", "-1MB", "1 XB", "MB"])
def test_bad_sizes(bad: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        size(bad)


def test_human_sizes() -> None:
    assert [human(n) for n in (None, 0, 999, 1000, 2_160_000, 411_000_000, 3_640_000_000, 12_345_000_000_000)] == [
        "?",
        "0 B",
        "999 B",
        "1 kB",
        "2.16 MB",
        "411 MB",
        "3.64 GB",
        "12.3 TB",
    ]


def test_image_cache_groups_by_pool_and_skips_unlabelled_nodes() -> None:
    from kubectl_perf.images.compute import ImageReport

    w = [Workload("DaemonSet", "x", "d")]
    plan = [
        PrePull("docker.io/library/a:1", 900, "p1", {"pool": "p1"}, 3, 2, 0, ["DaemonSet/x/d"], w),
        PrePull("docker.io/library/b:1", 800, "p2", {"pool": "p2"}, 3, 1, 0, ["DaemonSet/x/d"], w),
        PrePull("docker.io/library/c:1", 700, "p1", {"pool": "p1"}, 3, 1, 0, ["DaemonSet/x/d"], w),
        PrePull("docker.io/library/d:1", 600, "", {}, 1, 1, 0, ["DaemonSet/x/d"], w),  # nodes without the pool label
    ]
    labelled = ImageInventory()
    labelled.pool_label = "pool"
    cache = image_cache(ImageReport(labelled, [], [], plan), "ns")
    assert cache is not None
    assert cache["spec"]["cacheSpec"] == [
        {"images": ["docker.io/library/a:1", "docker.io/library/c:1"], "nodeSelector": {"pool": "p1"}},
        {"images": ["docker.io/library/b:1"], "nodeSelector": {"pool": "p2"}},
    ]
    assert image_cache(ImageReport(labelled, [], [], plan[3:]), "ns") is None
    # no node carries any pool label: one entry without nodeSelector, every node
    bare = image_cache(ImageReport(ImageInventory(), [], [], plan[3:]), "ns")
    assert bare is not None and bare["spec"]["cacheSpec"] == [{"images": ["docker.io/library/d:1"]}]
