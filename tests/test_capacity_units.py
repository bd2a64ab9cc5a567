"""Issue 8 items 7, 8 and 9: how capacity prints numbers, run in-process (test_capacity.perf).

Tables: cpu always in millicores, rounded away from zero as kubectl top's MilliValue() (issue 20:
30350m where the plugin printed 30349m), byte amounts always in Mi truncated toward zero, as its
Value()/(1024*1024); percentages truncated, cpu's from whole millicores as kubectl top works them
out; negative figures keep their sign.
csv/tsv: exact millicores and bytes, pending pods under SECTION pending, one header whether or
not metrics are there. Every expected figure below is worked out by hand from UNITS."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Sim
from kubectl_perf.render import exact, percent_text, truncated
from test_capacity import perf

N = 10**9
Mi = 2**20

# n1: 44 cores, 16Gi. p1 asks 29333m (66.67% of 44 cores) and 1073700864 bytes (1023.96Mi), limits 44
# cores and 1Gi; p2 asks 1 core and 256Mi. Usage: p1 29333.5m (0.5m over its request) and 1Gi + 300Ki
# (340Ki over); p2 320.6m and 257.5Mi (1.5Mi over). n1 uses 31500m and 12Gi - 1 byte (served as 12Gi - 1Ki:
# perf-sim, like metrics-server, reports memory in whole Ki). n2: 2 cores,
# 1Gi, no pods, uses 500m and 512Mi. `waiting` is pending (500m, 100Mi).
UNITS = """
apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  allocatable: {cpu: "44", memory: 16Gi, pods: "110"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status:
  allocatable: {cpu: "2", memory: 1Gi, pods: "110"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Namespace
    metadata: {name: units}
  - apiVersion: v1
    kind: Pod
    metadata: {name: p1, namespace: units}
    spec:
      nodeName: n1
      containers: [{name: c, image: x, resources: {requests: {cpu: 29333m, memory: "1073700864"}, limits: {cpu: "44", memory: 1Gi}}}]
    status: {phase: Running}
  - apiVersion: v1
    kind: Pod
    metadata: {name: p2, namespace: units}
    spec:
      nodeName: n1
      containers: [{name: c, image: x, resources: {requests: {cpu: "1", memory: 256Mi}}}]
    status: {phase: Running}
  - apiVersion: v1
    kind: Pod
    metadata: {name: waiting, namespace: units}
    spec:
      containers: [{name: c, image: x, resources: {requests: {cpu: 500m, memory: 100Mi}}}]
    status: {phase: Pending}
  - apiVersion: metrics.k8s.io/v1beta1
    kind: NodeMetrics
    metadata: {name: n1}
    timestamp: "2026-11-27T10:00:00Z"
    window: 20s
    usage: {cpu: 31500m, memory: "12884901887"}
  - apiVersion: metrics.k8s.io/v1beta1
    kind: NodeMetrics
    metadata: {name: n2}
    timestamp: "2026-11-27T10:00:00Z"
    window: 20s
    usage: {cpu: 500m, memory: 512Mi}
  - apiVersion: metrics.k8s.io/v1beta1
    kind: PodMetrics
    metadata: {name: p1, namespace: units}
    timestamp: "2026-11-27T10:00:00Z"
    window: 20s
    containers: [{name: c, usage: {cpu: 29333500000n, memory: "1074049024"}}]
  - apiVersion: metrics.k8s.io/v1beta1
    kind: PodMetrics
    metadata: {name: p2, namespace: units}
    timestamp: "2026-11-27T10:00:00Z"
    window: 20s
    containers: [{name: c, usage: {cpu: 320600000n, memory: "270008320"}}]
"""


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("units") / "units.yaml"
    path.write_text(UNITS)
    return path


@pytest.fixture(scope="module")
def units(sim_factory: Any, objects: Path) -> Sim:
    return sim_factory("--objects", str(objects))


@pytest.fixture(scope="module")
def no_metrics(sim_factory: Any, objects: Path) -> Sim:
    return sim_factory("--objects", str(objects), "--no-metrics-server")


def cells(out: str) -> dict[str, dict[str, str]]:
    """The first table of a text output by NODE (and POD), then header. Columns are three
    spaces apart and a header holds single spaces only, so each header's start is its column's."""
    lines = out.split("\n\n")[0].splitlines()
    found = list(re.finditer(r"\S+(?: \S+)*", lines[0]))
    starts, names = [m.start() for m in found], [m.group() for m in found]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        row = {n: line[s:e].strip() for n, s, e in zip(names, starts, [*starts[1:], None], strict=True)}
        key = " ".join(row[n] for n in names if n in ("NODE", "POD") and row.get(n))
        rows[key] = row
    return rows


# -- item 8: one unit per column ------------------------------------------------------------
def test_cpu_in_millicores_and_memory_in_mi_throughout(units: Sim) -> None:
    result = perf(units, "--util", "-o", "wide")
    assert result.returncode == 0, result.stderr
    rows = cells(result.stdout)
    # 44 cores print as 44000m (kubectl top and kube-capacity), 16Gi as 16384Mi
    assert rows["n1"]["CPU LIMITS"] == "44000m (100%)" and rows["n1"]["CPU ALLOCATABLE"] == "44000m"
    assert rows["n1"]["MEMORY ALLOCATABLE"] == "16384Mi" and rows["n2"]["MEMORY ALLOCATABLE"] == "1024Mi"
    assert rows["n2"]["CPU REQUESTS"] == "0m (0%)" and rows["n2"]["CPU ALLOCATABLE"] == "2000m"
    assert rows["*"]["CPU ALLOCATABLE"] == "46000m" and rows["*"]["MEMORY ALLOCATABLE"] == "17408Mi"
    pending = result.stdout.split("\n\n")[1]
    assert pending.splitlines()[1].split() == ["units", "waiting", "500m", "100Mi"]


def test_html_uses_the_same_units(units: Sim) -> None:
    html = perf(units, "--util", "-o", "html").stdout
    # n1: requests 30333m and 1279.96Mi, limits 44 cores and 1Gi, usage 31500m and 12Gi - 1Ki, of 44 cores and 16Gi
    assert "cpu: req 30333m / lim 44000m / use 31500m of 44000m" in html
    assert "memory: req 1279Mi / lim 1024Mi / use 12287Mi of 16384Mi" in html


# -- item 7: rounding ------------------------------------------------------------------------
def test_node_figures_truncate_like_kubectl_top(units: Sim) -> None:
    rows = cells(perf(units, "--util").stdout)
    n1, total = rows["n1"], rows["*"]
    assert n1["CPU REQUESTS"] == "30333m (68%)"  # 30333/44000 = 68.9%
    assert n1["CPU UTIL"] == "31500m (71%)"  # 71.6%
    assert n1["MEMORY REQUESTS"] == "1279Mi (7%)"  # 1279.96Mi, 7.81%
    assert n1["MEMORY LIMITS"] == "1024Mi (6%)"  # 6.25%
    assert n1["MEMORY UTIL"] == "12287Mi (74%)"  # 12Gi - 1 byte: 12287.999...Mi, 74.999...%
    assert n1["PADDING"] == "ok" and n1["MEM TARGET"] == "75%"  # 1 byte under 75% of 16Gi
    assert total["CPU REQUESTS"] == "30333m (65%)"  # of 46000m: 65.9%
    assert total["CPU UTIL"] == "32000m (69%)"  # 69.6%
    assert total["MEMORY UTIL"] == "12799Mi (73%)"  # 13421772799 bytes of 17408Mi: 73.5%


def test_pod_figures_slack_and_signs(units: Sim) -> None:
    rows = cells(perf(units, "--pods", "--util").stdout)
    p1, p2 = rows["n1 p1"], rows["n1 p2"]
    assert p1["CPU REQUESTS"] == "29333m (66%)"  # 66.67% of 44 cores, truncated
    assert p1["MEMORY REQUESTS"] == "1023Mi (6%)"  # 1023.96Mi never prints as 1024Mi
    assert p1["CPU UTIL"] == "29334m (66%, 100% of req)"  # 29333.5m, rounded up as kubectl top does
    # slack from exact figures, rounded once; an overrun keeps its sign even under one unit
    assert p1["CPU SLACK"] == "-1m"  # 29333m - 29333.5m = -0.5m, away from zero as MilliValue()
    assert p1["MEMORY SLACK"] == "-0Mi"  # -340Ki
    assert p2["CPU UTIL"] == "321m (0%, 32% of req)"  # 320.6m up to 321m: 0.72% of the node, 32.1% of 1 core
    assert p2["CPU SLACK"] == "680m"  # 1000m - 320.6m = 679.4m, rounded up once
    assert p2["MEMORY UTIL"] == "257Mi (1%, 100% of req)"  # 257.5Mi
    assert p2["MEMORY SLACK"] == "-1Mi"  # -1.5Mi, truncated toward zero


def test_available_cells_use_the_column_units(units: Sim) -> None:
    rows = cells(perf(units, "--available").stdout)
    # n1: 44000m - 30333m; 16384Mi - 1279.96Mi = 15104.04Mi
    assert rows["n1"]["CPU REQUESTS"] == "13667m/44000m" and rows["n1"]["MEMORY REQUESTS"] == "15104Mi/16384Mi"


# -- item 9: csv and tsv ---------------------------------------------------------------------
def table(sim: Sim, fmt: str, *args: str) -> tuple[list[str], list[dict[str, str]]]:
    out = perf(sim, "-o", fmt, *args).stdout
    reader = csv.DictReader(io.StringIO(out), delimiter="," if fmt == "csv" else "\t")
    rows = list(reader)
    return list(reader.fieldnames or []), rows


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_delimited_figures_are_exact_base_units(units: Sim, fmt: str) -> None:
    _, rows = table(units, fmt, "--pods", "--util")
    by = {(r["SECTION"], r["NODE"], r["POD"]): r for r in rows}
    n1, p1, p2 = by[("node", "n1", "*")], by[("pod", "n1", "p1")], by[("pod", "n1", "p2")]
    assert (n1["CPU REQUESTS"], n1["CPU LIMITS"], n1["MEMORY REQUESTS"]) == ("30333", "44000", str(1073700864 + 256 * Mi))
    # whole bytes, never 1.28849e+10: 12Gi - 1 byte as the metrics API gives it, in whole Ki (as metrics-server)
    assert n1["MEMORY UTIL"] == str((12 * 2**30 - 1) // 1024 * 1024)
    assert (p2["CPU UTIL"], p2["CPU SLACK"]) == ("320.6", "679.4")  # millicores, exact
    assert (p1["CPU UTIL"], p1["CPU SLACK"], p1["MEMORY SLACK"]) == ("29333.5", "-0.5", "-348160")
    assert p2["MEMORY SLACK"] == str(256 * Mi - 270008320)
    assert by[("cluster", "*", "*")]["CPU UTIL"] == "32000"


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
@pytest.mark.parametrize("view", [[], ["--pods"], ["--containers"], ["--by", "namespace"]])
def test_delimited_output_carries_the_pending_pods(units: Sim, fmt: str, view: list[str]) -> None:
    headers, rows = table(units, fmt, *view)
    assert headers[0] == "SECTION"
    pending = [r for r in rows if r["SECTION"] == "pending"]
    assert len(pending) == 1 and pending[0]["NAMESPACE"] == "units" and pending[0]["POD"] == "waiting"
    assert (pending[0]["CPU REQUESTS"], pending[0]["MEMORY REQUESTS"]) == ("500", str(100 * Mi))
    assert pending[0].get("NODE", "") == ""


@pytest.mark.parametrize("view", [[], ["--pods"], ["--by", "namespace"]])
def test_delimited_header_does_not_depend_on_metrics(units: Sim, no_metrics: Sim, view: list[str]) -> None:
    with_metrics, _ = table(units, "csv", "--util", *view)
    # --usage-source metrics-server: usage missing (auto would read the kubelets: test_usage)
    headers, rows = table(no_metrics, "csv", "--util", "--usage-source", "metrics-server", *view)
    assert headers == with_metrics and "CPU UTIL" in headers and "MEMORY UTIL" in headers
    assert all(r["CPU UTIL"] == "" and r["MEMORY UTIL"] == "" for r in rows)
    assert perf(no_metrics, "--util", "--usage-source", "metrics-server", "-o", "csv", *view).returncode == 3  # still says usage is missing


# -- the display rules themselves, against figures worked out by hand --------------------------
@pytest.mark.parametrize(
    ("nanos", "unit", "text"),
    [
        (1073700864 * N, Mi * N, "1023"),  # 1023.96Mi
        (-(2**20 + 2**19) * N, Mi * N, "-1"),  # -1.5Mi: toward zero
        (-500_000, 10**6, "-0"),  # -0.5m keeps its sign
        (44 * N, 10**6, "44000"),
        (0, 10**6, "0"),
    ],
)
def test_truncated(nanos: int, unit: int, text: str) -> None:
    assert truncated(nanos, unit) == text


@pytest.mark.parametrize(
    ("value", "whole", "text"),
    [(29333, 44000, "66%"), (12760, 44000, "29%"), (2, 3, "66%"), (-1, 300, "-0%"), (44, 44, "100%"), (1, 0, None)],
)
def test_percent_text(value: int, whole: int, text: str | None) -> None:
    # 12760/44000 is exactly 29%: a float ratio (0.29 * 100 = 28.999...) would truncate to 28%
    assert percent_text(value, whole) == text


@pytest.mark.parametrize(
    ("nanos", "unit", "value"),
    [
        (320_600_000, 10**6, "320.6"),
        (-500_000, 10**6, "-0.5"),
        (44 * N, 10**6, 44000),
        (12884901887 * N, N, 12884901887),
        (1, N, "0.000000001"),
    ],
)
def test_exact(nanos: int, unit: int, value: int | str) -> None:
    assert exact(nanos, unit) == value
