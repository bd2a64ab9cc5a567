#!/usr/bin/env python3
"""Benchmark: how long `kubectl perf` takes to start, beside kubectl itself, in one run.

    .venv/bin/python bench/startup.py [--runs 15] [--nodes 3]

Issue 20's targets, on a 3-node perf-sim (30 pods a node): `kubectl perf capacity` within 2.5x
`kubectl get nodes`, and `kubectl perf --help` and `kubectl perf capacity --help` within 1.5x
`kubectl get --help`. Every command goes through the real kubectl (its plugin lookup and exec
included, as a user types it) in a fresh process; each pair runs alternately, after one warm-up
run of each, so load from other work hits both alike. Prints the medians (wall seconds) and the
ratio beside the baseline measured in the same run, and, for the capacity run, whether the
`kubernetes` client was imported (a plain token/certificate kubeconfig should not need it).

The plugins run as a user's install runs them, not as this checkout's editable install: a
throw-away virtual environment whose console scripts are the ones pip writes (from
pyproject.toml's [project.scripts]), with this checkout's sources and the development venv's
dependencies on sys.path, and the sources compiled to bytecode first (pip compiles on install).
The editable install's import hook (setuptools' finder, 10-40 ms on every start here) and
PYTHONDONTWRITEBYTECODE (set in this workplace: every start would compile every module) are
costs a user's install does not have. `--dev-venv` measures the development venv's scripts as
they are.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capacity import BIN, KUBECTL, print_table, start_sim  # noqa: E402  (bench/capacity.py, beside this file)

PAIRS: list[tuple[list[str], list[str], float | None]] = [  # (ours, baseline, target ratio)
    (["perf", "capacity"], ["get", "nodes"], 2.5),
    (["perf", "--help"], ["get", "--help"], 1.5),
    (["perf", "capacity", "--help"], ["get", "--help"], 1.5),
    # the floor: a Python plugin that does nothing (`pass`), run by kubectl from the same venv
    (["startfloor"], ["get", "--help"], None),
    # a second floor: the least a Python plugin can do for `kubectl perf capacity` (MINIMAL below)
    (["startminimal"], ["get", "nodes"], None),
]

# The least a Python `kubectl perf capacity` could be, with the standard library and the same
# kubeconfig reader: parse flags, load the kubeconfig (PyYAML's C loader), trust its CA alone, list
# nodes and pods over one kept-alive HTTPS connection (http.client), print a line per node. No
# typed options, policy, padding verdicts or units: what is left between this and our plugin is the
# suite's own cost; what lies between this and kubectl is Python's.
MINIMAL = """#!{python}
import argparse, base64, http.client, json, os, ssl
from urllib.parse import urlsplit

import yaml

argparse.ArgumentParser(prog="kubectl-startminimal").parse_args()
with open(os.environ["KUBECONFIG"], encoding="utf-8") as f:
    config = yaml.load(f, Loader=yaml.CSafeLoader)
cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
server = urlsplit(cluster["server"])
conn = http.client.HTTPSConnection(server.hostname, server.port, context=ctx)
headers = {{"Authorization": "Bearer " + user["token"], "Accept": "application/json"}}


def get(path):
    conn.request("GET", path, headers=headers)
    return json.loads(conn.getresponse().read())


nodes, pods = get("/api/v1/nodes?limit=500"), get("/api/v1/pods?limit=500")
count = {{}}
for pod in pods["items"]:
    count[pod["spec"].get("nodeName")] = count.get(pod["spec"].get("nodeName"), 0) + 1
print("NODE PODS")
for node in nodes["items"]:
    print(node["metadata"]["name"], count.get(node["metadata"]["name"], 0))
"""


ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """#!{python}
import re
import sys
from {module} import {function}
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit({function}())
"""


FLOORS = {
    "startfloor": "floor: kubectl startfloor (a Python plugin that only starts)",
    "startminimal": "floor: kubectl startminimal (the least a Python capacity could do: MINIMAL)",
}


def installed_like(work: Path) -> Path:
    """A venv laid out as `pipx install kubectl-perf` leaves it (see the module docstring); its bin."""
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # plain path entries: the development venv's site-packages is added to sys.path, its .pth files
    # (the editable finder among them) are not run
    (purelib / "kubectl-perf-bench.pth").write_text(f"{ROOT / 'plugins'}\n{sysconfig.get_path('purelib')}\n")
    table = (ROOT / "pyproject.toml").read_text().split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    scripts = dict(re.findall(r'^([\w-]+) = "([\w.]+:\w+)"', table, re.M))  # tomllib is 3.11+, the suite 3.10+
    for name, target in scripts.items():
        module, function = target.split(":")
        path = venv / "bin" / name
        path.write_text(SCRIPT.format(python=venv / "bin" / "python", module=module, function=function))
        path.chmod(0o755)
    compileall.compile_dir(str(ROOT / "plugins"), quiet=1)
    return venv / "bin"


def wall(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run, output discarded; a failure stops the benchmark."""
    start = time.perf_counter()
    result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    took = time.perf_counter() - start
    if result.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed with status {result.returncode}: {result.stderr.decode()[:300]}")
    return took


def alternate(ours: list[str], base: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    wall(ours, env), wall(base, env)  # warm-up: page cache, the simulator's first plan of its nodes
    a, b = [], []
    for _ in range(runs):
        a.append(wall(ours, env))
        b.append(wall(base, env))
    return a, b


def client_imported(env: dict[str, str]) -> bool:
    """Whether `kubectl perf capacity` imports the kubernetes client (in-process, same kubeconfig)."""
    probe = "import io, sys, contextlib\nfrom kubectl_perf import capacity\nwith contextlib.redirect_stdout(io.StringIO()):\n"
    probe += "    capacity.main([])\nprint('kubernetes' in sys.modules)\n"
    python = Path(env["PATH"].split(os.pathsep)[0]) / "python"
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, env=env, check=True).stdout
    return out.strip() == "True"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=15, help="alternating runs of each pair (default 15)")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--dev-venv", action="store_true", help="run the development venv's console scripts (editable install) instead")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, kubeconfig, _ = start_sim(Path(tmp), "--nodes", str(args.nodes), "--pods-per-node", "30")
        scripts = BIN if args.dev_venv else installed_like(Path(tmp))
        floor = Path(tmp) / "floor"
        floor.mkdir()
        (floor / "kubectl-startfloor").write_text(f"#!{scripts / 'python'}\npass\n")
        (floor / "kubectl-startfloor").chmod(0o755)
        (floor / "kubectl-startminimal").write_text(MINIMAL.format(python=scripts / "python"))
        (floor / "kubectl-startminimal").chmod(0o755)
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": os.pathsep.join([str(scripts), str(floor), os.environ.get("PATH", "")])}
        rows: list[tuple[str, str, str]] = []
        try:
            for ours, base, target in PAIRS:
                a, b = alternate([KUBECTL, *ours], [KUBECTL, *base], env, args.runs)
                ma, mb = statistics.median(a), statistics.median(b)
                verdict = "" if target is None else "met" if ma / mb <= target else "not met"
                name = FLOORS.get(ours[0], f"kubectl {' '.join(ours)}")
                rows += [
                    (name, f"{ma * 1000:.0f} ms", "" if target is None else f"<= {target}x baseline"),
                    (f"baseline: kubectl {' '.join(base)}", f"{mb * 1000:.0f} ms", ""),
                    ("ratio", f"{ma / mb:.2f}x", verdict),
                ]
            rows.append(("kubernetes client imported by capacity", str(client_imported(env)), "False"))
        finally:
            proc.terminate()
            proc.wait()
    load = os.getloadavg()[0]
    layout = "development venv (editable)" if args.dev_venv else "installed layout"
    print_table(f"median of {args.runs} alternating runs, {args.nodes} nodes x 30 pods, {layout}; load {load:.1f}", rows)


if __name__ == "__main__":
    main()
