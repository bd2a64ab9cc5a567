"""What krew checks in a plugin manifest and does to install one, re-implemented for tests.

From kubernetes-sigs/krew `internal/index/validation/validate.go`, `cmd/validate-krew-manifest`
and `internal/installation/install.go` (see ../shared/reference/README.md sections 4 and 10).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

# os/arch pairs krew resolves platforms for (validate-krew-manifest checks each against the selectors).
OS_ARCH = [(o, a) for o in ("linux", "darwin", "windows") for a in ("386", "amd64", "arm", "arm64", "ppc64le", "s390x")]
LICENSE_NAMES = re.compile(r"^(LICEN[CS]E|COPYING)(\..*)?$|^LICENSES", re.IGNORECASE)


def validate(manifest: dict[str, Any], file_name: str) -> list[str]:
    """Every rule krew's validator and the index's reviewers apply; returns the broken ones."""
    errors = []
    spec = manifest.get("spec") or {}
    name = (manifest.get("metadata") or {}).get("name", "")
    if manifest.get("apiVersion") != "krew.googlecontainertools.github.com/v1alpha2" or manifest.get("kind") != "Plugin":
        errors.append("apiVersion/kind")
    if not re.fullmatch(r"[\w-]+", name) or name != Path(file_name).stem or not file_name.endswith(".yaml"):
        errors.append(f"name {name!r} vs file {file_name!r}")
    if name.startswith("kube-") or name != name.lower():
        errors.append("name style")
    if not re.fullmatch(r"v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?", str(spec.get("version", ""))):
        errors.append("version is not semver vX.Y.Z")
    short = spec.get("shortDescription") or ""
    if not short or "\n" in short.strip() or len(short) > 50:
        errors.append("shortDescription: one non-empty line of at most 50 characters")
    for key in ("description", "caveats"):
        if any(len(line) > 80 for line in (spec.get(key) or "").splitlines()):
            errors.append(f"{key} not wrapped at 80 columns")
    if not spec.get("homepage"):
        errors.append("homepage")
    platforms = spec.get("platforms") or []
    if not platforms:
        errors.append("no platforms")
    for i, platform in enumerate(platforms):
        selector = platform.get("selector") or {}
        labels = selector.get("matchLabels") or {}
        if not selector or set(labels) - {"os", "arch"} or selector.get("matchExpressions"):
            errors.append(f"platform {i}: selector must be matchLabels on os/arch only")
        if not platform.get("uri"):
            errors.append(f"platform {i}: uri")
        if not re.fullmatch(r"[a-f0-9]{64}", str(platform.get("sha256", ""))):
            errors.append(f"platform {i}: sha256")
        if not platform.get("bin"):
            errors.append(f"platform {i}: bin")
        files = platform.get("files")
        if files is not None and (not files or any(not f.get("from") or not f.get("to") for f in files)):
            errors.append(f"platform {i}: files")
    for os_name, arch in OS_ARCH:
        matching = [p for p in platforms if _matches(p, os_name, arch)]
        if len(matching) > 1:
            errors.append(f"platforms overlap on {os_name}/{arch}")
    return errors


def _matches(platform: dict[str, Any], os_name: str, arch: str) -> bool:
    labels = (platform.get("selector") or {}).get("matchLabels") or {}
    return labels.get("os", os_name) == os_name and labels.get("arch", arch) == arch


def platform_for(manifest: dict[str, Any], os_name: str, arch: str) -> dict[str, Any]:
    found = [p for p in manifest["spec"]["platforms"] if _matches(p, os_name, arch)]
    assert len(found) == 1, f"{len(found)} platforms match {os_name}/{arch}"
    return found[0]


def install(manifest: dict[str, Any], archive: Path, root: Path, os_name: str = "linux", arch: str = "amd64") -> Path:
    """krew install --manifest --archive: verify, extract, apply `files`, link `bin`; returns the bin folder."""
    platform = platform_for(manifest, os_name, arch)
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == platform["sha256"], "sha256 mismatch"
    extracted = root / "download"
    with tarfile.open(archive) as tar:
        tar.extractall(extracted, filter="data")
    assert any(LICENSE_NAMES.match(p.name) for p in extracted.iterdir()), "the archive extracts no LICENSE"
    store = root / "store" / manifest["metadata"]["name"] / manifest["spec"]["version"]
    store.mkdir(parents=True)
    for rule in platform.get("files") or [{"from": "*", "to": "."}]:
        target = (store / rule["to"]).resolve()
        target.mkdir(parents=True, exist_ok=True)
        for match in sorted(glob.glob(str(extracted / rule["from"]))):
            shutil.move(match, target / os.path.basename(match))
    binary = store / platform["bin"]
    assert binary.is_file() and os.access(binary, os.X_OK), f"bin {platform['bin']} missing or not executable"
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / f"kubectl-{manifest['metadata']['name']}").symlink_to(binary)
    return bin_dir
