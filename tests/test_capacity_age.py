"""Issue 8 item 18: AGE for nodes and pods in -o wide, as kubectl prints it.

kubectl's AGE is apimachinery's duration.HumanDuration; the expected strings below are worked
out by hand from that rule (seconds under 2 minutes; minutes and seconds under 10 minutes;
minutes under 3 hours; hours and minutes under 8 hours; hours under 2 days; days and hours
under 8 days; days under 2 years; years and days under 8 years; then years)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import Sim
from kubectl_perf.render import age_seconds, human_age
from test_capacity import perf

M, H, D = 60, 3600, 86400


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-2.5, "<invalid>"),
        (-1.5, "0s"),  # up to a second of clock skew is "now"
        (0, "0s"),
        (45, "45s"),
        (119.9, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (9 * M + 59, "9m59s"),
        (10 * M + 59, "10m"),
        (179 * M + 59, "179m"),
        (3 * H, "3h"),
        (3 * H + 12 * M + 30, "3h12m"),
        (8 * H + 59 * M, "8h"),
        (47 * H + 59 * M, "47h"),
        (48 * H, "2d"),
        (5 * D + 3 * H + 59 * M, "5d3h"),
        (8 * D - 1, "7d23h"),
        (8 * D, "8d"),
        (400 * D, "400d"),
        (730 * D - 1, "729d"),
        (730 * D, "2y"),
        (730 * D + 45 * D, "2y45d"),
        (8 * 365 * D, "8y"),
        (12 * 365 * D + 100 * D, "12y"),
    ],
)
def test_human_age(seconds: float, text: str) -> None:
    assert human_age(seconds) == text


def test_age_seconds_reads_creation_timestamps() -> None:
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
    assert age_seconds("2026-11-27T11:00:00Z", now) == 25 * H
    assert age_seconds("", now) is None and age_seconds("yesterday", now) is None


def stamp(ago: timedelta) -> str:
    return (datetime.now(timezone.utc) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def aged(sim_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """old: a node 400 days old running a pod 5d3h old and one 20 minutes old; young: a node 30 hours old.
    The ages stay what the tests expect for minutes (20m lasts a minute; the others an hour or more)."""
    objects = f"""
apiVersion: v1
kind: Node
metadata: {{name: old, creationTimestamp: "{stamp(timedelta(days=400))}"}}
status: {{allocatable: {{cpu: "4", memory: 16Gi, pods: "110"}}, conditions: [{{type: Ready, status: "True"}}]}}
---
apiVersion: v1
kind: Node
metadata: {{name: young, creationTimestamp: "{stamp(timedelta(hours=30))}"}}
status: {{allocatable: {{cpu: "4", memory: 16Gi, pods: "110"}}, conditions: [{{type: Ready, status: "True"}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: week, namespace: default, creationTimestamp: "{stamp(timedelta(days=5, hours=3))}"}}
spec: {{nodeName: old, containers: [{{name: c, image: x, resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}}}]}}
status: {{phase: Running}}
---
apiVersion: v1
kind: Pod
metadata: {{name: fresh, namespace: default, creationTimestamp: "{stamp(timedelta(minutes=20))}"}}
spec: {{nodeName: old, containers: [{{name: c, image: x, resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}}}]}}
status: {{phase: Running}}
"""
    path = tmp_path_factory.mktemp("aged") / "aged.yaml"
    path.write_text(objects)
    return sim_factory("--objects", str(path))


def test_wide_node_view_has_age(aged: Sim) -> None:
    out = perf(aged, "-o", "wide").stdout
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line}
    assert rows["old"].endswith(" 400d") and rows["young"].endswith(" 30h")
    assert rows["*"].rstrip().endswith("ok")  # the cluster row has no age
    assert "AGE" not in perf(aged).stdout.splitlines()[0]  # wide only


def test_wide_pod_and_container_views_have_age(aged: Sim) -> None:
    pods = {tuple(line.split()[:3]): line.split()[-1] for line in perf(aged, "--pods", "-o", "wide").stdout.splitlines()[1:] if line}
    # fresh is 20m old when the cluster starts: "20m" for a minute, "21m" on a machine slow enough to take longer
    assert pods[("old", "default", "week")] == "5d3h" and pods[("old", "default", "fresh")] in ("20m", "21m")
    assert pods[("old", "*", "*")] == "400d" and pods[("young", "*", "*")] == "30h"
    out = perf(aged, "--containers", "-o", "wide").stdout.splitlines()
    age_at = out[0].index("AGE")
    week = [(line.split()[3:5], line[age_at:].strip()) for line in out if " week " in line]
    assert week == [(["*", "pod"], "5d3h"), (["c", "app"], "")]  # the pod line carries the pod's age; a container none


def test_age_in_csv_is_seconds_and_json_has_the_timestamp(aged: Sim) -> None:
    rows = list(csv.DictReader(io.StringIO(perf(aged, "--pods", "-o", "csv").stdout)))
    week = next(r for r in rows if r["POD"] == "week")
    assert 5 * D + 3 * H <= int(week["AGE"]) < 5 * D + 3 * H + 600
    assert next(r for r in rows if r["SECTION"] == "cluster")["AGE"] == ""
    d = json.loads(perf(aged, "--pods", "-o", "json").stdout)
    old = next(n for n in d["nodes"] if n["name"] == "old")
    created = datetime.fromisoformat(old["creationTimestamp"].replace("Z", "+00:00"))
    assert timedelta(days=400) <= datetime.now(timezone.utc) - created < timedelta(days=400, minutes=10)
    assert {p["name"] for p in old["podDetails"] if p.get("creationTimestamp")} == {"week", "fresh"}


def test_node_ages_in_the_html_report(aged: Sim) -> None:
    html = perf(aged, "-o", "html").stdout
    assert "age 400d" in html and "age 30h" in html
