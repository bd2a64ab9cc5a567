"""kubectl perf cadvisor on dump files: in this process (tests/inproc.py), and once each
through kubectl's plugin lookup and the standalone kubectl-perf-cadvisor script. The dump
streams bytes through stdout's and stdin's buffers, which a captured stream lacks: its
tests run a real process.

tests/data/cadvisor-before.txt and cadvisor-after.txt are a hand-written pair of
scrapes of one node, 10 s apart by their sample timestamps (1700000000000 and
1700000010000 ms). Every expected figure below is worked out by hand from them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BIN, DATA, KUBECTL, env_for
from inproc import Ran, perf

BEFORE, AFTER, PODS = DATA / "cadvisor-before.txt", DATA / "cadvisor-after.txt", DATA / "cadvisor-pods.json"
Mi, Gi = 2**20, 2**30


def run(*args: str, via: str = "kubectl", stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """A real process: through kubectl's plugin lookup, or the console script (via="script")."""
    cmd = [KUBECTL, "perf", "cadvisor", *args] if via == "kubectl" else [str(BIN / "kubectl-perf-cadvisor"), *args]
    return subprocess.run(cmd, capture_output=True, env=env_for(None), input=stdin, timeout=120)


def cadvisor(*args: str) -> Ran:
    """`kubectl perf cadvisor ARGS` in this process (no cluster: these read files)."""
    return perf(None, "cadvisor", *args)


def summary(*args: str, via: str = "inproc") -> dict[str, Any]:
    if via == "inproc":
        ran = cadvisor("--summary", "-o", "json", *args)
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)
    result = run("--summary", "-o", "json", *args, via=via)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def rows(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["pod"], c["container"]): c for c in doc["containers"]}


def near(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


@pytest.mark.parametrize("via", ["kubectl", "script"])
def test_two_dumps_give_rates_and_throttling(via: str) -> None:
    doc = summary("-f", str(BEFORE), "-f", str(AFTER), via=via)
    by = rows(doc)
    # only the three containers: not the pod cgroup, the containerd pause row, docker's POD, or the root and system slices
    assert set(by) == {("web-1", "app"), ("web-1", "proxy"), ("web-2", "app")}
    app = by[("web-1", "app")]
    assert near(app["cpuCores"], (104 - 100) / 10)  # 0.4 cores
    assert near(app["throttledRatio"], (240 - 200) / (1100 - 1000))  # 40% of periods
    assert near(app["throttledSeconds"], 21.5 - 20)
    # quota/period; no request from the 512 shares without pod specs (lossy on cgroup v2)
    assert near(app["cpuLimitCores"], 100000 / 100000) and app["cpuRequestCores"] is None
    assert app["memoryWorkingSetBytes"] == 1900 * Mi and app["memoryLimitBytes"] == 2 * Gi
    assert near(app["memoryLimitRatio"], 1900 / 2048) and app["memoryRssBytes"] == 800_000_000
    assert app["flags"] == ["throttling", "memory"]  # 40% > 25%, 92.8% > 90%
    assert app["throttledRatioSinceStart"] is None  # two scrapes: the interval figures only
    proxy = by[("web-1", "proxy")]
    assert near(proxy["cpuCores"], (10.2 - 10) / 10)
    assert proxy["throttledRatio"] is None and proxy["cpuLimitCores"] is None  # no CPU limit, no CFS series
    assert proxy["oomEvents"] == 2 and near(proxy["memoryLimitRatio"], 100 / 256) and proxy["flags"] == []
    web2 = by[("web-2", "app")]  # restarted between the scrapes: counters count again from zero
    assert near(web2["cpuCores"], 3 / 10) and near(web2["throttledRatio"], 10 / 100) and near(web2["throttledSeconds"], 0.5)
    assert near(web2["cpuLimitCores"], 0.5) and web2["flags"] == []
    (node,) = doc["nodes"]
    # the node's own working set, the root cgroup's 8Gi (issue 20: what metrics-server reports), not its
    # three containers' 1900 + 100 + 200 Mi
    assert node["workingSetBytes"] == 8 * Gi and node["workingSetSource"] == "node" and node["containers"] == 3
    assert node["allocatableMemoryBytes"] is None and node["paddingBreach"] is None


def test_one_dump_gives_averages_since_each_container_started() -> None:
    doc = summary("--once", "-f", str(AFTER), "--pods-file", str(PODS), "--pod-rows")
    by = rows(doc)
    app = by[("web-1", "app")]
    # 104 cpu-seconds since 1699999000 at 1700000010: 1010 s
    assert near(app["cpuCores"], 104 / 1010) and app["throttledRatio"] is None and app["throttledSeconds"] is None
    # one scrape: the CFS counters' totals since the start, 240 of 1100 periods and 21.5 s
    assert near(app["throttledRatioSinceStart"], 240 / 1100) and near(app["throttledSecondsSinceStart"], 21.5)
    # requests and limits come from the pods file now: 250m / 1 core, 1Gi / 2Gi
    assert near(app["cpuRequestCores"], 0.25) and app["memoryRequestBytes"] == Gi and near(app["memoryRequestRatio"], 1900 / 1024)
    assert near(by[("web-2", "app")]["cpuCores"], 3 / 5)  # restarted at 1700000005
    pod = by[("web-1", "")]  # the pod cgroup: effective pod values, 250m + 100m requested, 2Gi + 256Mi limit
    assert (
        near(pod["cpuRequestCores"], 0.35)
        and pod["memoryLimitBytes"] == 2 * Gi + 256 * Mi
        and pod["memoryWorkingSetBytes"] == 2_100_000_000
    )


def test_dumps_are_ordered_by_their_sample_timestamps(tmp_path: Path) -> None:
    oldest_first = summary("node-x", "-f", str(BEFORE), "-f", str(AFTER))  # named: the stem would differ
    newest_first = summary("node-x", "-f", str(AFTER), "-f", str(BEFORE))
    assert newest_first == oldest_first and near(rows(newest_first)[("web-1", "app")]["cpuCores"], 0.4)
    # --once takes the newest whatever the order: web-2's app restarted at 1700000005, 3 s by 1700000010
    once = summary("--once", "-f", str(AFTER), "-f", str(BEFORE))
    assert near(rows(once)[("web-2", "app")]["cpuCores"], 3 / 5)


def test_truncated_dump_is_read_with_a_count() -> None:
    result = cadvisor("--summary", "--once", "-f", str(AFTER))
    assert result.returncode == 0
    assert "1 malformed lines skipped" in result.stderr and "Traceback" not in result.stderr


def test_thresholds_sort_and_top() -> None:
    doc = summary("-f", str(BEFORE), "-f", str(AFTER), "--throttle-threshold", "50%", "--memory-threshold", "0.95")
    assert all(c["flags"] == [] for c in doc["containers"])  # 40% < 50%, 92.8% < 95%
    doc = summary("-f", str(BEFORE), "-f", str(AFTER), "--sort", "throttling", "--top", "2")
    assert [(c["pod"], c["container"]) for c in doc["containers"]] == [("web-1", "app"), ("web-2", "app")]
    doc = summary("-f", str(BEFORE), "-f", str(AFTER), "--sort", "cpu", "--container", "app", "--pod", "web-2")
    assert [(c["pod"], c["container"]) for c in doc["containers"]] == [("web-2", "app")]


def test_stdin_and_table_csv_yaml() -> None:
    result = run("--summary", "--once", "-f", "-", "node-x", stdin=AFTER.read_bytes())  # stdin's buffer: a real process
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].split()[:4] == ["NAMESPACE", "POD", "CONTAINER", "CPU"]
    assert any(line.split()[:3] == ["shop", "web-1", "app"] and line.endswith("memory") for line in lines)
    assert any(line.startswith("node-x") for line in lines)  # the node table names the node
    table = list(csv.DictReader(io.StringIO(cadvisor("--summary", "-f", str(BEFORE), "-f", str(AFTER), "-o", "csv").stdout)))
    # the table's own headers, upper case, and capacity's csv units: cpu in millicores, bytes (issue 20)
    app = next(r for r in table if r["POD"] == "web-1" and r["CONTAINER"] == "app")
    assert float(app["THROTTLED"]) == 0.4 and int(app["MEM WS"]) == 1900 * Mi and app["FLAGS"] == "throttling,memory"
    assert float(app["CPU"]) == 400 and app["CPU LIM"] == "1000"  # 0.4 cores, a 1-core limit
    doc = yaml.safe_load(cadvisor("--summary", "-f", str(BEFORE), "-f", str(AFTER), "-o", "yaml").stdout)
    assert {c["container"] for c in doc["containers"]} == {"app", "proxy"}


def test_dump_passes_through_unchanged_and_filters() -> None:
    result = run("-f", str(BEFORE))
    assert result.returncode == 0 and result.stdout == BEFORE.read_bytes()
    text = run("-f", str(BEFORE), "--metric", "working_set", "--drop-pod-cgroups").stdout.decode()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    # app, proxy, web-2 app and the root cgroup (not a pod's); the pod cgroup, pause and POD rows are gone
    assert len(samples) == 4 and all(line.startswith("container_memory_working_set_bytes{") for line in samples)
    assert "# TYPE container_memory_working_set_bytes gauge" in text and "# HELP container_memory_rss" not in text
    text = run("-f", str(BEFORE), "-n", "shop", "--container", "^proxy$").stdout.decode()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples and all('container="proxy"' in line for line in samples)


def test_dump_as_json_objects() -> None:
    result = run("-f", str(BEFORE), "--metric", "^container_oom_events_total$", "-o", "jsonl")
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["labels"]["pod"], o["labels"]["container"], o["value"], o["timestamp"]) for o in objs] == [
        ("web-1", "app", 0, 1700000000000),
        ("web-1", "proxy", 1, 1700000000000),
        ("web-2", "app", 0, 1700000000000),
    ]
    doc = json.loads(run("-f", str(BEFORE), "--metric", "spec_cpu_quota", "-o", "json").stdout)
    assert [(o["metric"], o["value"], o["timestamp"]) for o in doc] == [("container_spec_cpu_quota", 100000, None)] * 1 + [
        ("container_spec_cpu_quota", 50000, None)
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "name a NODE"),
        (["node-a", "--metric", "("], "invalid regular expression"),
        (["node-a", "-o", "html"], "use --summary"),
        (["--summary", "-o", "jsonl", "node-a"], "--summary prints"),
        (["--summary", "-f", "/nonexistent/dump.txt"], "cannot read /nonexistent/dump.txt"),
        (["--summary", "-f", str(AFTER), "--pods-file", str(BEFORE)], "cannot read --pods-file"),
        (["--summary", "--throttle-threshold", "150%", "-f", str(AFTER)], "between 0 and 1"),
        (["--summary", "--all-nodes", "-f", str(AFTER)], "-f reads dumps of one node"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args: list[str], message: str) -> None:
    result = cadvisor(*args)
    err = result.stderr
    assert result.returncode == 2 and message in err and "Traceback" not in err, err


def test_html_is_self_contained(tmp_path: Path) -> None:
    html = cadvisor("--summary", "-f", str(BEFORE), "-f", str(AFTER), "-o", "html").stdout
    assert html.startswith("<!doctype html>") and "<script" not in html and "http" not in html
    assert 'data-thr="40.0"' in html and f'data-mem="{1900 / 2048 * 100:.1f}"' in html and 'data-flags="throttling, memory"' in html


def test_html_in_a_real_browser(tmp_path: Path) -> None:
    from test_html_report import CHROMIUM, browser

    if not CHROMIUM:
        pytest.skip("chromium is not installed (./dev test installs it)")
    page = tmp_path / "cadvisor.html"
    page.write_text(cadvisor("--summary", "-f", str(BEFORE), "-f", str(AFTER), "-o", "html").stdout)
    dom = browser(tmp_path, "--dump-dom", page.as_uri())
    # the browser built one row per container, with the bars' figures worked out by hand
    assert dom.count('<tr class="container"') == 3
    assert 'data-thr="40.0"' in dom and 'data-thr="10.0"' in dom and 'data-thr="none"' in dom  # proxy: no CPU limit
    assert f'data-mem="{100 / 256 * 100:.1f}"' in dom and "no memory limit" not in dom
    shot = tmp_path / "shot.png"
    browser(tmp_path, f"--screenshot={shot}", "--window-size=1400,600", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
