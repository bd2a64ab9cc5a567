"""Contention in `kubectl perf cadvisor --summary` (issue 24 section 3): pressure stall
information (PSI, KEP-4205) per container and node, joined with CFS throttling and working set
against limit, and the CONTENTION column (own-limit, neighbours, memory-pressure, ok).

A hand-written pair of scrapes (every share worked out beside it), the real kind v1.35 dump
with its PSI series (tests/data/cadvisor-real, origin in its README), a dump without PSI (one
note), and perf-sim's live kubelets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, Sim
from inproc import perf
from test_cadvisor import AFTER, BEFORE, cadvisor, near, rows, summary


def close(a: float | None, b: float) -> bool:
    """To a millionth: the timestamps are milliseconds on an epoch of 1.78e9 s, which a float carries to ~1e-7 s."""
    return a is not None and abs(a - b) <= 1e-6 * max(1.0, abs(b))


PSI_DUMP = DATA / "cadvisor-real" / "k8s-1.35-containerd-2.2-psi.txt"

# One node, two scrapes 10 s apart (sample timestamps 1,000,000 ms and 1,010,000 ms).
# root (id="/"): CPU waiting 10 -> 13 s: 30% of the interval, a busy node.
# a: 500m limit (quota 50000 / period 100000), 100 -> 200 periods, 50 of them throttled (50%),
#    CPU waiting 0 -> 4 s (40%): throttled and waiting -> own-limit
# b: no limit, CPU waiting 1 -> 3 s (20%), on the busy node -> neighbours
# c: memory limit 100 MiB, working set 95 MiB (95% > 90%), memory waiting 0 -> 1.5 s (15%),
#    memory stalled 0 -> 0.5 s (5%) -> memory-pressure
# d: CPU waiting 0 -> 0.5 s (5%), below 10% -> ok
MiB = 1048576


def scrape(at: int, root: float, a: tuple[float, int, int], b: float, c: tuple[float, float], d: float) -> str:
    ts = f" {at}"
    lab = 'container="{0}",id="/kubepods/pod1/{0}",image="img",name="{0}",namespace="ns",pod="p"'
    lines = [
        f'container_pressure_cpu_waiting_seconds_total{{container="",id="/",image="",name="",namespace="",pod=""}} {root}{ts}',
        f'container_cpu_usage_seconds_total{{{lab.format("a")},cpu="total"}} {at / 2000}{ts}',
        f"container_cpu_cfs_periods_total{{{lab.format('a')}}} {a[1]}{ts}",
        f"container_cpu_cfs_throttled_periods_total{{{lab.format('a')}}} {a[2]}{ts}",
        f"container_spec_cpu_quota{{{lab.format('a')}}} 50000",
        f"container_spec_cpu_period{{{lab.format('a')}}} 100000",
        f"container_pressure_cpu_waiting_seconds_total{{{lab.format('a')}}} {a[0]}{ts}",
        f'container_cpu_usage_seconds_total{{{lab.format("b")},cpu="total"}} {at / 4000}{ts}',
        f"container_pressure_cpu_waiting_seconds_total{{{lab.format('b')}}} {b}{ts}",
        f"container_memory_working_set_bytes{{{lab.format('c')}}} {95 * MiB}{ts}",
        f"container_spec_memory_limit_bytes{{{lab.format('c')}}} {100 * MiB}",
        f"container_pressure_memory_waiting_seconds_total{{{lab.format('c')}}} {c[0]}{ts}",
        f"container_pressure_memory_stalled_seconds_total{{{lab.format('c')}}} {c[1]}{ts}",
        f'container_cpu_usage_seconds_total{{{lab.format("d")},cpu="total"}} {at / 8000}{ts}',
        f"container_pressure_cpu_waiting_seconds_total{{{lab.format('d')}}} {d}{ts}",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def pair(tmp_path: Path) -> tuple[str, str]:
    first, second = tmp_path / "before.txt", tmp_path / "after.txt"
    first.write_text(scrape(1_000_000, 10, (0, 100, 0), 1, (0, 0), 0))
    second.write_text(scrape(1_010_000, 13, (4, 200, 50), 3, (1.5, 0.5), 0.5))
    return str(first), str(second)


def by_container(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["container"]: c for c in doc["containers"]}


def test_shares_and_contention_by_hand(pair: tuple[str, str]) -> None:
    ran = cadvisor("--summary", "-o", "json", "-f", pair[0], "-f", pair[1])
    assert ran.returncode == 0, ran.stderr
    assert "PSI" not in ran.stderr  # the dumps have PSI series: no note
    doc = json.loads(ran.stdout)
    got = by_container(doc)
    assert near(got["a"]["pressure"]["cpu"]["some"], 4 / 10) and near(got["a"]["throttledRatio"], 50 / 100)
    assert near(got["b"]["pressure"]["cpu"]["some"], 2 / 10)
    assert near(got["c"]["pressure"]["memory"]["some"], 1.5 / 10) and near(got["c"]["pressure"]["memory"]["full"], 0.5 / 10)
    assert got["c"]["pressure"]["io"] == {"some": None, "full": None}  # no io series in the dump
    assert near(got["d"]["pressure"]["cpu"]["some"], 0.5 / 10)
    assert {k: v["contention"] for k, v in got.items()} == {"a": "own-limit", "b": "neighbours", "c": "memory-pressure", "d": "ok"}
    (node,) = doc["nodes"]
    assert near(node["pressure"]["cpu"]["some"], 3 / 10)
    # --sort pressure: the largest `some` share first: a 40%, b 20%, c 15%, d 5%
    order = summary("-f", pair[0], "-f", pair[1], "--sort", "pressure")
    assert [c["container"] for c in order["containers"]] == ["a", "b", "c", "d"]


def test_the_threshold_flag_moves_the_line(pair: tuple[str, str]) -> None:
    # at 35%: a (40%) still own-limit; the node (30%) is no longer busy, so b (20%) is ok; c (15%) ok
    doc = summary("-f", pair[0], "-f", pair[1], "--pressure-threshold", "35%")
    assert {k: v["contention"] for k, v in by_container(doc).items()} == {"a": "own-limit", "b": "ok", "c": "ok", "d": "ok"}
    bad = cadvisor("--summary", "-f", pair[0], "--pressure-threshold", "lots")
    assert bad.returncode == 2 and "--pressure-threshold" in bad.stderr and "Traceback" not in bad.stderr


def test_the_table_shows_the_columns(pair: tuple[str, str]) -> None:
    ran = cadvisor("--summary", "-f", pair[0], "-f", pair[1])
    lines = ran.stdout.splitlines()
    assert lines[0].split()[-8:] == ["CPU", "SOME", "MEMORY", "SOME", "IO", "SOME", "CONTENTION", "FLAGS"]
    row_a = next(line for line in lines if line.split()[:3] == ["ns", "p", "a"])
    assert "40%" in row_a and "own-limit" in row_a and "throttling" in row_a
    node_header = next(line for line in lines if line.startswith("NODE") and "CONTAINERS" in line)
    assert node_header.split()[-8:] == ["CPU", "SOME", "MEMORY", "SOME", "IO", "SOME", "TARGET", "PADDING"]
    # the html page: each container's cpu / memory / io `some` shares and its contention
    html = cadvisor("--summary", "-f", pair[0], "-f", pair[1], "-o", "html").stdout
    assert "<td>40% / - / -</td>" in html and 'data-contention="own-limit"' in html and 'data-contention="neighbours"' in html


def test_a_dump_without_psi_says_so_once() -> None:
    ran = cadvisor("--summary", "-o", "json", "-f", str(BEFORE), "-f", str(AFTER))
    assert ran.returncode == 0, ran.stderr
    notes = [line for line in ran.stderr.splitlines() if "PSI" in line]
    assert len(notes) == 1 and "no PSI series (container_pressure_*)" in notes[0]
    doc = json.loads(ran.stdout)
    assert all(c["pressure"] is None and c["contention"] is None for c in doc["containers"])


def test_the_real_dump_with_psi() -> None:
    """kind v1.35 (cgroup v2, kernel 6.12; KubeletPSI beta and on by default since 1.34): one scrape,
    so the shares are of the time since each cgroup started."""
    ran = cadvisor("--summary", "-o", "json", "--once", "-f", str(PSI_DUMP))
    assert ran.returncode == 0 and "PSI" not in ran.stderr, ran.stderr
    doc = json.loads(ran.stdout)
    pi = rows(doc)[("e2e-deployment-79967c5968-8bnn8", "compute-pi-digits")]
    # container_pressure_cpu_waiting_seconds_total{...8bnn8} 25.280048 at 1782468869183 ms;
    # container_start_time_seconds 1.782468833e+09: 25.280048 / 36.183 s
    assert close(pi["pressure"]["cpu"]["some"], 25.280048 / 36.183)
    # its 80m limit throttles every period (357 of 357) and its tasks wait 70% of the time: own-limit
    assert pi["contention"] == "own-limit"
    # the root cgroup: waiting 34.335662 s at 1782468875486 ms, started 1.78246872e+09: 34.335662 / 155.486
    (node,) = doc["nodes"]
    assert close(node["pressure"]["cpu"]["some"], 34.335662 / 155.486)
    assert close(node["pressure"]["memory"]["some"], 1.5e-05 / 155.486)
    # coredns: 0.001977 s of waiting, far below 10%, unthrottled: ok
    coredns = next(c for c in doc["containers"] if c["container"] == "coredns")
    assert coredns["contention"] == "ok"
    table = cadvisor("--summary", "--once", "-f", str(PSI_DUMP)).stdout
    assert "CPU SOME SINCE START" in table.splitlines()[0]


def test_perf_sim_serves_psi(fixture_cluster: Sim) -> None:
    ran = perf(
        fixture_cluster.kubeconfig,
        "cadvisor",
        "--kubeconfig",
        str(fixture_cluster.kubeconfig),
        "--summary",
        "--all-nodes",
        "--interval",
        "1",
        "-o",
        "json",
    )
    assert ran.returncode == 0 and "PSI" not in ran.stderr, ran.stderr
    doc = json.loads(ran.stdout)
    assert all(
        c["pressure"] is not None and c["contention"] in ("own-limit", "neighbours", "memory-pressure", "ok") for c in doc["containers"]
    )
    assert all(n["pressure"] is not None for n in doc["nodes"])
    # the sim stalls a task for the share of its runnable time it is throttled: own-limit follows throttling
    for c in doc["containers"]:
        if c["contention"] == "own-limit":
            assert "throttling" in c["flags"]
