"""Build the krew archives and fill krew-manifests/perf.yaml from them: `./dev release`.

Each platform's `.tar.gz` holds `kubectl-perf` (a launcher run by the system's python3),
`kubectl_complete-perf` (kubectl's plugin completion hook), LICENSE, and `lib/`: the suite's
package and every runtime dependency, vendored from the wheels pinned in constraints.txt.
Pure-Python wheels go in as they are; rpds-py (under jsonschema) is compiled, so each archive
carries that platform's build for every Python minor version in `lib/_native/cpXY/`; PyYAML's
optional C accelerator is left out (it falls back to pure Python).

The same sources give byte-identical archives: entries sorted, fixed mtime, owner and modes,
and a gzip header without a time or name.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = Path(__file__).resolve().parent / "constraints.txt"
MANIFEST = ROOT / "krew-manifests" / "perf.yaml"
PACKAGE = ROOT / "plugins" / "kubectl_perf"
HOMEPAGE = "https://github.com/kubectl-perf/kubectl-perf"
BASE_URL = f"{HOMEPAGE}/releases/download"
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
MTIME = 315532800  # 1980-01-01, the earliest time zip (and so wheels) can hold
NATIVE = {"rpds-py"}  # compiled, no pure fallback: one build per platform and Python
STRIP_NATIVE = {"pyyaml"}  # compiled accelerator optional: keep only the pure-Python part

# What the archive installs as commands: file name -> the module whose main() it runs.
# Adding a standalone `kubectl-perf-<sub>` here is a one-line change; krew links only `bin`.
LAUNCHERS = {"kubectl-perf": "launch", "kubectl_complete-perf": "completion"}

LAUNCHER = '''#!/usr/bin/env python3
"""{name} from the kubectl-perf krew archive: the vendored suite, run by the system's python3."""

import os
import sys

if sys.version_info < (3, 10):
    sys.exit(f"error: kubectl perf needs python3 >= 3.10 on PATH (this one is {{sys.version.split()[0]}})")

# krew links this file into its bin folder: find the archive's files through the link.
_lib = os.path.join(os.path.dirname(os.path.realpath(__file__)), "lib")
# Compiled dependencies ship one build per Python minor version.
sys.path[:0] = [_lib, os.path.join(_lib, "_native", f"cp{{sys.version_info[0]}}{{sys.version_info[1]}}")]

from kubectl_perf.{module} import main  # noqa: E402

sys.exit(main())
'''


@dataclass(frozen=True)
class Platform:
    os: str
    arch: str
    wheel_tag: str  # what pip's --platform asks for

    @property
    def name(self) -> str:
        return f"{self.os}/{self.arch}"


# Windows is left out: krew links `bin` as is, and a Python script is no Windows executable.
PLATFORMS = (
    Platform("linux", "amd64", "manylinux2014_x86_64"),
    Platform("linux", "arm64", "manylinux2014_aarch64"),
    Platform("darwin", "amd64", "macosx_14_0_x86_64"),
    Platform("darwin", "arm64", "macosx_14_0_arm64"),
)


def version() -> str:
    ns: dict[str, str] = {}
    exec((PACKAGE / "__init__.py").read_text(), ns)
    return ns["__version__"]


def pins() -> dict[str, str]:
    out = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, ver = line.partition("==")
            out[name.lower()] = ver
    return out


def pip_download(dest: Path, specs: list[str], platform: str, python: str, native: bool) -> None:
    """Fetch pinned wheels into dest; those already there are not asked for again (pins make them exact)."""
    specs = [s for s in specs if not _cached(dest, *s.split("=="))]
    if not specs:
        return
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:"]
    cmd += ["--dest", str(dest), "--platform", platform, "--python-version", python]
    if native:
        abi = "cp" + python.replace(".", "")
        cmd += ["--implementation", "cp", "--abi", abi]
    result = subprocess.run([*cmd, *specs], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: pip download {' '.join(specs)} for {platform} py{python} failed: {result.stderr.strip()[-400:]}")


def wheels(cache: Path, platform: Platform) -> dict[str, list[Path]]:
    """Download (or find in the cache) every pinned wheel; returns target folder in lib/ -> wheels."""
    pinned = pins()
    pure = [f"{n}=={v}" for n, v in pinned.items() if n not in NATIVE and n not in STRIP_NATIVE]
    pure_dir = cache / "pure"
    pip_download(pure_dir, pure, "any", "3.10", native=False)
    out: dict[str, list[Path]] = {"": [_find(pure_dir, n, v) for n, v in pinned.items() if n not in NATIVE | STRIP_NATIVE]}
    stripped_dir = cache / "stripped"
    for name in sorted(STRIP_NATIVE):
        pip_download(stripped_dir, [f"{name}=={pinned[name]}"], "manylinux2014_x86_64", "3.10", native=True)
        out[""].append(_find(stripped_dir, name, pinned[name]))
    for py in PYTHONS:
        tag = "cp" + py.replace(".", "")
        native_dir = cache / platform.wheel_tag / tag
        specs = [f"{n}=={pinned[n]}" for n in sorted(NATIVE)]
        pip_download(native_dir, specs, platform.wheel_tag, py, native=True)
        out[f"_native/{tag}/"] = [_find(native_dir, n, pinned[n]) for n in sorted(NATIVE)]
    return out


def _cached(folder: Path, name: str, ver: str) -> list[Path]:
    stem = name.replace("-", "_").lower()
    return sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(f"{stem}-{ver}-"))


def _find(folder: Path, name: str, ver: str) -> Path:
    found = _cached(folder, name, ver)
    if not found:
        raise SystemExit(f"error: no wheel for {name}=={ver} in {folder}")
    return found[-1]


def entries(platform: Platform, cache: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file of the archive: path -> (content, executable)."""
    files: dict[str, tuple[bytes, bool]] = {}
    license_text = (ROOT / "LICENSE").read_bytes()
    files["LICENSE"] = (license_text, False)
    for name, module in LAUNCHERS.items():
        files[name] = (LAUNCHER.format(name=name, module=module).encode(), True)
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".json"):
            files[f"lib/kubectl_perf/{path.relative_to(PACKAGE).as_posix()}"] = (path.read_bytes(), False)
    for target, found in wheels(cache, platform).items():
        for wheel in found:
            strip = any(wheel.name.lower().startswith(n.replace("-", "_")) for n in STRIP_NATIVE)
            with zipfile.ZipFile(wheel) as zf:
                for info in zf.infolist():
                    if info.is_dir() or (strip and info.filename.endswith((".so", ".pyd"))):
                        continue
                    files[f"lib/{target}{info.filename}"] = (zf.read(info), False)
    return files


def write_archive(files: dict[str, tuple[bytes, bool]], out: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
        for name in sorted([*dirs, *files]):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
            if name in files:
                data, executable = files[name]
                info.size, info.mode = len(data), 0o755 if executable else 0o644
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
    with open(out, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())


def archive_name(ver: str, platform: Platform) -> str:
    return f"kubectl-perf_v{ver}_{platform.os}_{platform.arch}.tar.gz"


def manifest(ver: str, built: dict[Platform, str], base_url: str) -> str:
    description = textwrap.fill(
        "Performance views of a Kubernetes cluster, with the scheduler's own arithmetic: "
        "capacity shows requests, limits and live usage per node against allocatable and "
        "memory padding targets; images audits image sizes, suggests distroless bases and "
        "plans pre-pulls (kube-fledged); cadvisor summarises the kubelet's cAdvisor metrics "
        "(CPU throttling, memory against limits); volumes shows how full PVCs, emptyDirs and "
        "node filesystems are, against eviction thresholds, and lists unused claims; audit "
        "checks what already runs against the padding policy and writes PolicyReports; "
        "rightsize recommends requests and limits from observed usage that the padding policy admits; "
        "report puts them on one page for a cluster or several.",
        width=76,  # with the 4-space indent, no line passes 80 columns
    )
    lines = [
        "apiVersion: krew.googlecontainertools.github.com/v1alpha2",
        "kind: Plugin",
        "metadata:",
        "  name: perf",
        "spec:",
        f"  version: v{ver}",
        f"  homepage: {HOMEPAGE}",
        "  shortDescription: Capacity, images and cAdvisor views of a cluster",
        "  description: |",
        *[f"    {line}" for line in description.splitlines()],
        "  caveats: |",
        "    Needs python3 >= 3.10 on PATH: the plugin is Python, run by your python3.",
        "    Shell completion of `kubectl perf ...` (kubectl >= 1.26): put the",
        "    kubectl_complete-perf file from the plugin's folder on your PATH, e.g.",
        "      ln -s ~/.krew/store/perf/v*/kubectl_complete-perf ~/.krew/bin/",
        "  platforms:",
    ]
    for platform, sha in built.items():
        lines += [
            "  - selector:",
            "      matchLabels:",
            f"        os: {platform.os}",
            f"        arch: {platform.arch}",
            f"    uri: {base_url}/v{ver}/{archive_name(ver, platform)}",
            f"    sha256: {sha}",
            "    files:",
            '    - from: "*"',
            "      to: .",
            "    bin: kubectl-perf",
        ]
    return "\n".join(lines) + "\n"


def build(out_dir: Path, platforms: list[Platform], cache: Path, manifest_path: Path, base_url: str) -> dict[Platform, Path]:
    ver = version()
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[Platform, Path] = {}
    for platform in platforms:
        path = out_dir / archive_name(ver, platform)
        write_archive(entries(platform, cache), path)
        built[platform] = path
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    shas = {p: hashlib.sha256(path.read_bytes()).hexdigest() for p, path in built.items()}
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(manifest(ver, shas, base_url))
    print(f"{manifest_path}  v{ver}", file=sys.stderr)
    return built


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="./dev release", description="Build the krew archives and fill the krew manifest from them.")
    p.add_argument("--out", type=Path, default=ROOT / "dist", help="where the archives go (default dist/)")
    p.add_argument("--platform", action="append", choices=[pl.name for pl in PLATFORMS], help="only these (default: all)")
    p.add_argument("--manifest", type=Path, default=MANIFEST, help="the manifest to write (default krew-manifests/perf.yaml)")
    p.add_argument("--base-url", default=BASE_URL, help="where the archives will be published (the manifest's uri prefix)")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kubectl-perf-wheels", help="wheel download cache")
    args = p.parse_args(argv)
    platforms = [pl for pl in PLATFORMS if not args.platform or pl.name in args.platform]
    build(args.out, platforms, args.cache, args.manifest, args.base_url.rstrip("/"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
