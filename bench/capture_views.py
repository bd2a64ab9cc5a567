"""Capture what the four plugins print for a fixed set of views, one file per view, to compare two trees.

A restructuring must not change a byte of output: capture before, capture after, `diff -r`.

    .venv/bin/python bench/capture_views.py /tmp/views-before
    ... change the code ...
    .venv/bin/python bench/capture_views.py /tmp/views-after
    diff -r /tmp/views-before /tmp/views-after

Each view runs through the real kubectl plugin lookup (the venv's console scripts first on PATH) against
two perf-sim clusters: the hand-written fixture cluster (tests/data/cluster.yaml) and a generated one
(seeded, so the same every run). Each file holds the exit status, stdout and stderr. Columns and fields
and perf-sim run under libfaketime (Debian's `faketime`) with one frozen wall clock, so ages, timestamps and
cAdvisor counters are the same every run; the monotonic clock is left real so time-outs still work. What is
random all the same (object uids, the server's port) is masked.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl", path="/usr/bin") or "kubectl"
POLICY = str(ROOT / "examples" / "policy.yaml")
DUMP_BEFORE, DUMP_AFTER, PODS = (str(DATA / n) for n in ("cadvisor-before.txt", "cadvisor-after.txt", "cadvisor-pods.json"))

# (file name, cluster, argv after `kubectl perf`); cluster "fix" = tests/data/cluster.yaml, "gen" = generated, "-" = none
VIEWS: list[tuple[str, str, list[str]]] = []


def views(cluster: str, prefix: str, *argvs: list[str]) -> None:
    for argv in argvs:
        VIEWS.append((f"{prefix}-{len(VIEWS):03d}", cluster, argv))


FORMATS = ["table", "wide", "json", "yaml", "csv", "tsv", "html"]
views("fix", "capacity", *(["capacity", "--util", "-o", f] for f in FORMATS))
views("gen", "capacity", *(["capacity", "--util", "-o", f] for f in FORMATS))
views(
    "fix",
    "capacity",
    ["capacity"],
    ["capacity", "--pods"],
    ["capacity", "--containers"],
    ["capacity", "--pods", "--containers", "-o", "wide"],
    ["capacity", "--containers", "-n", "shop", "-o", "json"],
    ["capacity", "--containers", "-o", "csv"],
    ["capacity", "--resources", "cpu,memory,ephemeral-storage,nvidia.com/gpu,pods"],
    ["capacity", "--resources", "cpu,memory,ephemeral-storage,nvidia.com/gpu,pods", "-o", "json"],
    ["capacity", "--resources", "cpu,memory,ephemeral-storage", "-o", "wide"],
    ["capacity", "--pods", "--resources", "cpu,memory,ephemeral-storage", "-o", "json"],
    ["capacity", "--available"],
    ["capacity", "--available", "--pods", "-o", "wide"],
    ["capacity", "--hide-requests", "--util"],
    ["capacity", "--hide-limits", "--pod-count"],
    ["capacity", "--show-labels"],
    ["capacity", "-n", "shop", "--pods", "--util"],
    ["capacity", "-l", "app=web", "--pods"],
    ["capacity", "--node-selector", "workload=general"],
    ["capacity", "--no-taint"],
    ["capacity", "-t", "nvidia.com/gpu=present:NoSchedule"],
    ["capacity", "--by", "namespace", "--util"],
    ["capacity", "--by", "namespace", "-o", "json"],
    ["capacity", "--by", "label:app", "-o", "wide"],
    ["capacity", "--by", "node-label:workload", "--util"],
    ["capacity", "--by", "node-label:workload", "-o", "json"],
    ["capacity", "--by", "node-label:workload", "-o", "csv"],
    ["capacity", "--sort", "memory.requests.percent"],
    ["capacity", "--sort", "cpu.limits", "--pods"],
    ["capacity", "--sort", "name", "--containers"],
    ["capacity", "--padding-target", "0.5", "--util"],
    ["capacity", "--padding-target", "0.5", "--util", "--fail-on-breach"],
    ["capacity", "--policy", POLICY, "--util", "-o", "json"],
    ["capacity", "--util", "-L", "workload", "-o", "tsv"],
    ["capacity", "--pods", "-o", "yaml"],
    ["capacity", "--pods", "-o", "html"],
    ["capacity", "--sort", "bogus"],
    ["capacity", "-l", "a in"],
    ["capacity", "--by", "nope"],
)
views(
    "gen",
    "capacity",
    ["capacity", "--util", "--policy", POLICY],
    ["capacity", "--util", "--pods", "-n", "data", "--sort", "memory.util"],
    ["capacity", "--util", "--by", "node-label:node-pool", "-o", "wide"],
    ["capacity", "--util", "--by", "namespace", "--sort", "cpu.requests"],
    ["capacity", "--util", "--containers", "-n", "shop", "-o", "csv"],
    ["capacity", "--util", "-L", "topology.kubernetes.io/zone", "--sort", "memory.util.percent"],
    ["capacity", "--util", "--schedulable-only", "-o", "json"],
    ["capacity", "--util", "--fail-on-breach", "--policy", POLICY],
)
views(
    "fix",
    "images",
    *(["images", "-o", f] for f in ("table", "wide", "json", "yaml", "csv", "html", "imagecache")),
    ["images", "--sort", "nodes"],
    ["images", "--sort", "waste", "-o", "wide"],
    ["images", "-n", "shop"],
    ["images", "--top", "2"],
)
views(
    "gen",
    "images",
    ["images"],
    ["images", "-o", "json"],
    ["images", "--top", "5", "--sort", "pods"],
    ["images", "-o", "imagecache"],
    ["images", "--min-size", "50MB", "-o", "imagecache"],
    ["images", "-o", "html"],
)
views(
    "-",
    "cadvisor",
    ["cadvisor", "-f", DUMP_BEFORE],
    ["cadvisor", "-f", DUMP_BEFORE, "-o", "json"],
    ["cadvisor", "-f", DUMP_BEFORE, "--metric", "container_memory_.*"],
    ["cadvisor", "-f", DUMP_BEFORE, "--drop-pod-cgroups", "-o", "jsonl"],
    *(["cadvisor", "--summary", "-f", DUMP_BEFORE, "-f", DUMP_AFTER, "--pods-file", PODS, "-o", f] for f in FORMATS),
    ["cadvisor", "--summary", "-f", DUMP_BEFORE, "-f", DUMP_AFTER],
    ["cadvisor", "--summary", "-f", DUMP_AFTER, "--once", "--pods-file", PODS],
    ["cadvisor", "--summary", "-f", DUMP_BEFORE, "-f", DUMP_AFTER, "--pods-file", PODS, "--sort", "memory", "--top", "3"],
    ["cadvisor", "--summary", "-f", DUMP_BEFORE, "-f", DUMP_AFTER, "--pods-file", PODS, "--pod-rows", "-o", "wide"],
    ["cadvisor", "--summary", "-f", DUMP_BEFORE, "-f", DUMP_AFTER, "--pods-file", PODS, "--policy", POLICY],
    ["cadvisor", "--summary", "-f", DUMP_BEFORE, "-f", DUMP_AFTER, "--throttle-threshold", "0.1", "--padding-target", "0.5"],
    ["cadvisor", "--summary", "-f", DUMP_BEFORE, "-f", DUMP_AFTER, "--pod", "web.*", "--container", "app"],
    ["cadvisor", "-f", "/nonexistent/dump"],
)
views(
    "fix",
    "cadvisor",
    ["cadvisor", "--all-nodes", "--summary", "--once", "-o", "json"],
    ["cadvisor", "node-a", "--endpoint", "resource"],
    ["cadvisor", "node-a", "--metric", "container_cpu_usage_seconds_total"],
    ["cadvisor", "--node-selector", "workload=general", "--summary", "--once", "-o", "json", "--pod-rows"],
)
views(
    "fix",
    "audit",
    *(["audit", "-o", f] for f in ("table", "wide", "json", "yaml", "csv", "html")),
    ["audit", "--show-pass"],
    ["audit", "--policy", POLICY, "-o", "json"],
    ["audit", "--disable", "requests"],
    ["audit", "--fail-on", "warn"],
    ["audit", "-o", "policyreport"],
)
views(
    "gen",
    "audit",
    ["audit"],
    ["audit", "-o", "json", "--show-pass"],
    ["audit", "--policy", POLICY, "-o", "wide"],
    ["audit", "-o", "policyreport"],
)

views(
    "gen",
    "volumes",
    *(["volumes", "-o", f] for f in ("table", "wide", "json", "csv")),
    ["volumes", "--sort", "available", "-n", "data"],
    ["volumes", "--storage-class", "gp3", "--fail-on", "warn"],
)

# Random on every start of perf-sim: masked so two runs of the same code compare equal.
MASKS = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uid>"),
    (re.compile(r"[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}\b"), "<uid>"),  # in cgroup paths
    (re.compile(r"\b[0-9a-f]{64}\b"), "<container-id>"),
    (re.compile(r"https://127\.0\.0\.1:\d+"), "https://127.0.0.1:<port>"),
    # perf-sim draws each live container's throttled time, OOM events and disk use from its random uid, so the
    # live cAdvisor views are JSON (masked here) and the ephemeral-storage views leave out --util
    (re.compile(r'("(?:throttledSeconds|oomEvents)": )[0-9.]+'), r"\1<random>"),
]
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
FROZEN = {
    "LD_PRELOAD": str(LIBFAKETIME),
    "FAKETIME": "2026-12-01 12:00:00",
    "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    "TZ": "UTC",
}


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NO_COLOR")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **FROZEN, **extra}


def start_sim(tmp: Path, *args: str) -> tuple[Path, subprocess.Popen[bytes]]:
    kubeconfig = tmp / "kubeconfig"
    proc = subprocess.Popen([str(BIN / "perf-sim"), "--kubeconfig", str(kubeconfig), *args], env=environ(), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not kubeconfig.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit("perf-sim did not start")
        time.sleep(0.02)
    return kubeconfig, proc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path, help="directory to write one file per view into (emptied first)")
    p.add_argument("--only", metavar="PREFIX", help="only views whose file name starts with PREFIX")
    args = p.parse_args()
    if not LIBFAKETIME.exists():
        sys.exit(f"capture_views: needs {LIBFAKETIME} (apt-get install faketime) to freeze the clock")
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        sims = {
            "fix": start_sim(Path(tmp) / "fix", "--objects", str(DATA / "cluster.yaml")),
            "gen": start_sim(Path(tmp) / "gen", "--nodes", "12", "--pods-per-node", "20", "--seed", "7"),
        }
        try:
            for name, cluster, argv in VIEWS:
                if args.only and not name.startswith(args.only):
                    continue
                kubeconfig = str(sims[cluster][0]) if cluster != "-" else str(Path(tmp) / "none")
                env = environ(HOME=tmp, KUBECONFIG=kubeconfig)
                r = subprocess.run([KUBECTL, "perf", *argv], capture_output=True, text=True, env=env, timeout=120)
                text = f"$ kubectl perf {' '.join(argv)}\nexit {r.returncode}\n--- stdout\n{r.stdout}--- stderr\n{r.stderr}"
                for pattern, repl in MASKS:
                    text = pattern.sub(repl, text)
                (args.out / f"{name}.txt").write_text(text.replace(str(ROOT), "<root>"))
        finally:
            for _, proc in sims.values():
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)
    print(f"{len(VIEWS)} views written to {args.out}")


if __name__ == "__main__":
    main()
