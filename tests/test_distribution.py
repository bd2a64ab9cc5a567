"""Distribution: the krew archives (reproducible, valid, installable and runnable with nothing but the
system python3 and kubectl), the wheel through pipx, and one version everywhere."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import krew
import kubectl_perf
import pytest
import yaml
from conftest import DATA, KUBECTL, ROOT
from kubectl_perf.launch import PLUGINS

BUILD = ROOT / "release" / "build.py"
SYSTEM_PYTHON = "/usr/bin/python3"
MAX_ARCHIVE = 15_000_000


def release(tmp: Path, *platforms: str) -> tuple[dict, list[Path]]:
    """Run the documented release command into tmp; returns the manifest it wrote and the archives."""
    cache = ROOT / ".pytest_cache" / "wheels"  # downloads are pinned, so a cache changes nothing built
    args = [sys.executable, str(BUILD), "--out", str(tmp), "--manifest", str(tmp / "perf.yaml"), "--cache", str(cache)]
    for p in platforms:
        args += ["--platform", p]
    result = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load((tmp / "perf.yaml").read_text()), sorted(tmp.glob("*.tar.gz"))


@pytest.fixture(scope="module")
def linux_release(tmp_path_factory):
    return release(tmp_path_factory.mktemp("release"), "linux/amd64")


def test_same_sources_give_byte_identical_archives(linux_release, tmp_path):
    _, first = linux_release
    _, second = release(tmp_path, "linux/amd64")
    assert [p.name for p in first] == [p.name for p in second]
    assert first[0].read_bytes() == second[0].read_bytes()
    with tarfile.open(first[0]) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(315532800, 0, 0, "", "")}
    assert first[0].read_bytes()[4:8] == b"\0\0\0\0"  # gzip header MTIME


def test_every_platform_validates_and_carries_its_own_native_builds(tmp_path):
    manifest, archives = release(tmp_path, "linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64")
    assert krew.validate(manifest, "perf.yaml") == []
    assert manifest["spec"]["version"] == f"v{kubectl_perf.__version__}"
    by_sha = {hashlib.sha256(a.read_bytes()).hexdigest(): a for a in archives}
    wheel_platform = {"linux/amd64": "x86_64", "linux/arm64": "aarch64", "darwin/amd64": "macosx", "darwin/arm64": "arm64"}
    for platform in manifest["spec"]["platforms"]:
        labels = platform["selector"]["matchLabels"]
        archive = by_sha[platform["sha256"]]  # the manifest's sha256 is the archive's
        assert archive.name in platform["uri"] and archive.stat().st_size < MAX_ARCHIVE
        with tarfile.open(archive) as tar:
            names = tar.getnames()
            wheel_tags = [tar.extractfile(n).read().decode() for n in names if n.startswith("lib/_native/") and n.endswith("/WHEEL")]
        assert {"LICENSE", "kubectl-perf", "kubectl_complete-perf", "lib/kubectl_perf/cli.py"} <= set(names)
        assert {n.split("/")[2] for n in names if n.startswith("lib/_native/")} == {"cp310", "cp311", "cp312", "cp313", "cp314"}
        assert wheel_tags and all(wheel_platform[f"{labels['os']}/{labels['arch']}"] in t for t in wheel_tags)
        print(f"{archive.name}: {archive.stat().st_size / 1e6:.1f} MB")


def test_committed_manifest_follows_krews_rules():
    path = ROOT / "krew-manifests" / "perf.yaml"
    manifest = yaml.safe_load(path.read_text())
    assert krew.validate(manifest, path.name) == []
    assert manifest["spec"]["version"] == f"v{kubectl_perf.__version__}"
    assert {(p["selector"]["matchLabels"]["os"], p["selector"]["matchLabels"]["arch"]) for p in manifest["spec"]["platforms"]} == {
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
    }


def test_validator_catches_what_krew_rejects():
    good = yaml.safe_load((ROOT / "krew-manifests" / "perf.yaml").read_text())
    broken = yaml.safe_load((ROOT / "krew-manifests" / "perf.yaml").read_text())
    broken["spec"]["version"] = "0.1"
    broken["spec"]["shortDescription"] = "x" * 51
    broken["spec"]["platforms"].append(dict(good["spec"]["platforms"][0]))  # overlaps linux/amd64
    broken["spec"]["platforms"][1]["sha256"] = "ABC"
    errors = krew.validate(broken, "perf.yaml")
    assert any("version" in e for e in errors) and any("shortDescription" in e for e in errors)
    assert any("overlap on linux/amd64" in e for e in errors) and any("sha256" in e for e in errors)
    assert krew.validate(good, "other.yaml") != []


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason="needs the system python3 at /usr/bin/python3")
def test_krew_install_runs_with_only_system_python_and_kubectl(linux_release, fixture_cluster, tmp_path):
    manifest, archives = linux_release
    bin_dir = krew.install(manifest, archives[0], tmp_path / "krew")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(fixture_cluster.kubeconfig)}

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=120)

    # The interpreter that runs it is the system's, with no virtualenv and no site-packages of ours.
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print(sys.prefix == sys.base_prefix)"], capture_output=True, text=True, env=env
    )
    assert probe.stdout.strip() == "True"
    listed = kubectl("plugin", "list")
    assert str(bin_dir / "kubectl-perf") in listed.stdout
    version = kubectl("perf", "version")
    assert version.returncode == 0 and kubectl_perf.__version__ in version.stdout
    for sub in PLUGINS:
        helped = kubectl("perf", sub, "--help")
        assert helped.returncode == 0 and f"kubectl perf {sub}" in helped.stdout, helped.stderr
    # A real run against the fixture cluster: every node the fixture file declares.
    run = kubectl("perf", "capacity", "-o", "json")
    assert run.returncode == 0, run.stderr
    declared = sorted(d["metadata"]["name"] for d in yaml.safe_load_all((DATA / "cluster.yaml").read_text()) if d and d["kind"] == "Node")
    assert sorted(n["name"] for n in yaml.safe_load(run.stdout)["nodes"]) == declared
    # Every other subcommand runs for real too, from the archive's vendored dependencies alone.
    for sub, (args, keys) in SMOKE.items():
        if sub in PLUGINS:
            result = kubectl("perf", sub, *args)
            assert result.returncode in (0, 1) and result.stdout, (sub, result.stderr)
            assert keys <= set(yaml.safe_load(result.stdout)), (sub, result.stdout[:300])


# What each subcommand's JSON document holds at its top level (the README's machine output contracts).
SMOKE = {
    "images": (["-o", "json"], {"summary", "images", "prePull"}),
    "cadvisor": (["--summary", "--all-nodes", "--once", "-o", "json"], {"containers", "nodes"}),
    "audit": (["-o", "json"], {"summary", "results"}),
    "volumes": (["-o", "json"], {"thresholds", "summary", "volumes", "nodes", "unused"}),
    "rightsize": (["-o", "json", "--duration", "1", "--interval", "1"], {"source", "strategy", "workloads", "totals"}),
}


def test_wheel_installs_with_pipx(tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(dist.glob("*.whl"))
    assert next(dist.glob("*.tar.gz"))
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"), "PIPX_MAN_DIR": str(tmp_path / "man")}
    installed = subprocess.run(
        [sys.executable, "-m", "pipx", "install", f"{wheel}[sim,webhook]"], capture_output=True, text=True, env=env, timeout=900
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    bin_dir = tmp_path / "bin"
    for sub in PLUGINS:
        for cmd in ([f"kubectl-perf-{sub}", "--help"], ["kubectl-perf", sub, "--help"]):
            result = subprocess.run([str(bin_dir / cmd[0]), *cmd[1:]], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0 and f"kubectl perf {sub}" in result.stdout, (cmd, result.stderr)
    for server in ("perf-sim", "perf-webhook"):
        assert subprocess.run([str(bin_dir / server), "--help"], capture_output=True, timeout=60).returncode == 0
    version = subprocess.run([str(bin_dir / "kubectl-perf"), "version"], capture_output=True, text=True, timeout=60)
    assert kubectl_perf.__version__ in version.stdout
    # Package data came along: the policy schema validates a policy file in the installed copy.
    policy = tmp_path / "policy.yaml"
    policy.write_text("padding: {memory: 2}\n")
    bad = subprocess.run([str(bin_dir / "kubectl-perf"), "capacity", "--policy", str(policy)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "padding.memory" in bad.stderr
