"""The krew archive: sizes, and `kubectl perf --help` from it through kubectl (target < 0.2 s).

    .venv/bin/python bench/dist.py [--runs 15]

Builds every platform's archive (./dev release into a temporary folder), extracts the host's,
and times `kubectl perf --help` through /usr/bin/kubectl with nothing but the system python3
(env -i), beside the baseline of the bare interpreter starting (`python3 -c pass`) and of kubectl
running a plugin that does nothing. Medians; each run is a fresh process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=15)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dist"
        subprocess.run(
            [sys.executable, str(ROOT / "release" / "build.py"), "--out", str(out), "--manifest", str(out / "perf.yaml")], check=True
        )
        print("archive sizes:")
        for archive in sorted(out.glob("*.tar.gz")):
            print(f"  {archive.name:<45} {archive.stat().st_size / 1e6:6.1f} MB")
        install = Path(tmp) / "install"
        with tarfile.open(next(out.glob("*_linux_amd64.tar.gz"))) as tar:
            tar.extractall(install, filter="data")
        noop = install / "kubectl-noop"
        noop.write_text("#!/bin/sh\n")
        noop.chmod(0o755)
        env = {"PATH": f"{install}:/usr/bin:/bin", "HOME": tmp}
        subprocess.run(["kubectl", "perf", "--help"], env=env, capture_output=True, check=True)  # writes __pycache__
        rows = [
            ("kubectl perf --help (krew archive, system python3)", ["kubectl", "perf", "--help"]),
            ("kubectl perf capacity --help", ["kubectl", "perf", "capacity", "--help"]),
            ("baseline: python3 -c pass", ["python3", "-c", "pass"]),
            ("baseline: kubectl noop (a plugin that does nothing)", ["kubectl", "noop"]),
        ]
        print(f"\nmedian of {args.runs} runs:")
        for label, cmd in rows:
            print(f"  {label:<55} {timed(cmd, env, args.runs) * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
