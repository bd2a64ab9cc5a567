"""Issue 20, section 2: one vocabulary of units and csv conventions across plugins. Before, cadvisor
printed `1` next to `500m` and `3.9Gi` where capacity printed millicores and Mi, and its csv headers
were lower case with cpu in cores where capacity's are upper case with millicores.

The vocabulary (README, "Units"): tables print cpu in millicores rounded up and bytes in Mi
truncated, as kubectl top does; csv/tsv headers are the table's headers (upper case, as kubectl
prints them), cpu in exact millicores, bytes in bytes, shares as fractions.

tests/data/cluster.yaml: web-1 on node-a runs `app` (requests 500m and 1Gi, limit 2Gi memory, no
cpu limit) and `proxy` (requests 100m and 128Mi, limit 256Mi); web-2's `app` has a 1-core limit."""

from __future__ import annotations

import csv
import io
import re

import inproc
from conftest import Sim

Gi, Mi = 2**30, 2**20


def run(sim: Sim, plugin: str, *args: str) -> inproc.Ran:
    ran = inproc.perf(sim.kubeconfig, plugin, "--kubeconfig", str(sim.kubeconfig), *args)
    assert ran.returncode in (0, 1), ran.stderr
    return ran


def table(text: str) -> list[dict[str, str]]:
    """A kubectl-style table as dicts, first block only: columns are three spaces apart, so a row
    splits on runs of 2+ spaces (cells such as `500m (12%)` keep their one space)."""
    lines = [line for line in text.split("\n\n")[0].splitlines() if line.strip()]
    names = re.split(r"\s{2,}", lines[0].strip())
    return [dict(zip(names, re.split(r"\s{2,}", line.strip()), strict=False)) for line in lines[1:]]


def test_tables_print_cpu_in_millicores_and_memory_in_mi(fixture_cluster: Sim) -> None:
    cad = {(r["POD"], r["CONTAINER"]): r for r in table(run(fixture_cluster, "cadvisor", "node-a", "--summary", "--once").stdout)}
    app, limited = cad[("web-1", "app")], cad[("web-2", "app")]
    assert (app["CPU REQ"], app["MEM LIM"]) == ("500m", "2048Mi")  # before: 500m and 2Gi
    assert limited["CPU LIM"] == "1000m"  # before: 1
    cap = {(r["POD"], r["CONTAINER"]): r for r in table(run(fixture_cluster, "capacity", "--containers", "-n", "shop").stdout)}
    assert cap[("web-1", "app")]["CPU REQUESTS"].split()[0] == "500m" and cap[("web-1", "app")]["MEMORY LIMITS"].split()[0] == "2048Mi"
    # every cpu and memory cell of both plugins' tables speaks the one vocabulary
    for rows, cpu_cols, mem_cols in (
        (cad.values(), ("CPU", "CPU REQ", "CPU LIM"), ("MEM WS", "MEM LIM")),
        (cap.values(), ("CPU REQUESTS", "CPU LIMITS"), ("MEMORY REQUESTS", "MEMORY LIMITS")),
    ):
        for r in rows:
            assert all(re.fullmatch(r"-|\d+m", r[c].split()[0]) for c in cpu_cols), r
            assert all(re.fullmatch(r"-|\d+Mi", r[c].split()[0]) for c in mem_cols), r
    nodes = table(run(fixture_cluster, "cadvisor", "node-a", "--summary", "--once").stdout.split("\n\n")[1])
    assert re.fullmatch(r"\d+Mi", nodes[0]["WORKING SET"]) and nodes[0]["ALLOCATABLE"] == "16384Mi"


def test_csv_headers_and_units_agree_across_plugins(fixture_cluster: Sim) -> None:
    cad = list(csv.DictReader(io.StringIO(run(fixture_cluster, "cadvisor", "node-a", "--summary", "--once", "-o", "csv").stdout)))
    cap = list(csv.DictReader(io.StringIO(run(fixture_cluster, "capacity", "--containers", "-n", "shop", "-o", "csv").stdout)))
    c_app = next(r for r in cad if (r["POD"], r["CONTAINER"]) == ("web-1", "app"))
    k_app = next(r for r in cap if (r["POD"], r["CONTAINER"]) == ("web-1", "app"))
    assert c_app["CPU REQ"] == k_app["CPU REQUESTS"] == "500"  # millicores in both
    assert int(c_app["MEM LIM"]) == int(k_app["MEMORY LIMITS"]) == 2 * Gi  # bytes in both
    headers = {
        "cadvisor": list(cad[0]),
        "capacity": list(cap[0]),
        "images": list(csv.DictReader(io.StringIO(run(fixture_cluster, "images", "-o", "csv").stdout)).fieldnames or []),
    }
    for plugin, names in headers.items():
        assert names and names == [h.upper() for h in names], (plugin, names)
