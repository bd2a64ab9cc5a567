"""`kubectl perf volumes` through its entry point against perf-sim serving tests/data/volumes.yaml.

Every expected figure is worked out here by hand from the fixture's annotations (perf-sim's
documented model: sim/perf_sim/metrics.py, Metrics.volume_stats and node_filesystem)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, Sim
from inproc import Ran, perf

GI, MI = 2**30, 2**20
FIXTURE = str(DATA / "volumes.yaml")


@pytest.fixture(scope="module")
def cluster(sim_factory: Any) -> Sim:
    sim: Sim = sim_factory("--objects", FIXTURE)
    return sim


def volumes(sim: Sim, *args: str) -> Ran:
    return perf(sim.kubeconfig, "volumes", *args)


def doc(sim: Sim, *args: str) -> dict[str, Any]:
    ran = volumes(sim, "-o", "json", *args)
    assert ran.returncode == 0, ran.stderr
    out: dict[str, Any] = json.loads(ran.stdout)
    return out


def by_volume(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(v["pod"], v["volume"]): v for v in report["volumes"]}


def test_each_volume_against_what_fills_it(cluster: Sim) -> None:
    rows = by_volume(doc(cluster))
    assert sorted(rows) == [
        ("db-0", "(ephemeral)"),
        ("db-0", "cache"),
        ("db-0", "data"),
        ("job-x", "(ephemeral)"),
        ("web-1", "(ephemeral)"),
        ("web-1", "tmp"),
        ("web-1", "uploads"),
    ]
    # data-db-0: 9Gi of its 10Gi PV; inodes one per 16 KiB: 10Gi / 16384 = 655360, 1000 used
    data = rows[("db-0", "data")]
    assert data["type"] == "pvc" and data["node"] == "node-a"
    assert data["claim"] == {
        "name": "data-db-0",
        "storageClass": "fast",
        "accessModes": ["ReadWriteOnce"],
        "requestBytes": 10 * GI,
        "capacityBytes": 10 * GI,
        "volumeName": "pv-data-db-0",
        "volumeCapacityBytes": 10 * GI,
    }
    assert data["stats"] == {
        "capacityBytes": 10 * GI,
        "usedBytes": 9 * GI,
        "availableBytes": 1 * GI,
        "inodes": 655360,
        "inodesUsed": 1000,
        "inodesFree": 654360,
    }
    assert data["usedRatio"] == 0.9 and data["inodesRatio"] == 1000 / 655360
    assert data["status"] == "crit"  # 90% is at the default critical share, 90%
    # uploads: a 5Gi claim bound to an 8Gi PV; 2Gi used (25%) but 491520 of 8Gi/16384 = 524288 inodes
    uploads = rows[("web-1", "uploads")]
    assert (uploads["claim"]["requestBytes"], uploads["claim"]["volumeCapacityBytes"]) == (5 * GI, 8 * GI)
    assert uploads["basisBytes"] == 8 * GI and uploads["usedRatio"] == 0.25
    assert uploads["inodesRatio"] == 491520 / 524288 == 0.9375 and uploads["status"] == "crit"
    # a Memory emptyDir: 256Mi of its 1Gi sizeLimit
    cache = rows[("db-0", "cache")]
    assert cache["emptyDir"] == {"medium": "Memory", "sizeLimitBytes": GI}
    assert (cache["basisBytes"], cache["stats"]["usedBytes"], cache["usedRatio"], cache["status"]) == (GI, 256 * MI, 0.25, "ok")
    # a disk emptyDir without sizeLimit: against the node filesystem (node-b's 50Gi)
    tmp = rows[("web-1", "tmp")]
    assert (tmp["basisBytes"], tmp["stats"]["usedBytes"], tmp["usedRatio"]) == (50 * GI, 3 * GI, 3 / 50)
    # the pod's ephemeral storage against its limit: 1536Mi of 2Gi = 75% (warn), 950Mi of 1Gi = 92.77% (crit)
    eph = rows[("db-0", "(ephemeral)")]
    assert eph["ephemeralStorage"] == {"requestBytes": GI, "limitBytes": 2 * GI}
    assert (eph["stats"]["usedBytes"], eph["usedRatio"], eph["status"]) == (1536 * MI, 0.75, "warn")
    job = rows[("job-x", "(ephemeral)")]
    assert (job["ephemeralStorage"], job["usedRatio"], job["status"]) == ({"requestBytes": 500 * MI, "limitBytes": GI}, 950 / 1024, "crit")
    # writable layers and logs (1Gi) plus the disk emptyDir (3Gi); no limit, so no share
    web = rows[("web-1", "(ephemeral)")]
    assert (web["stats"]["usedBytes"], web["usedRatio"], web["status"]) == (4 * GI, None, "ok")


def test_node_filesystems_against_the_kubelets_eviction_thresholds(cluster: Sim) -> None:
    nodes = {(n["node"], n["filesystem"]): n for n in doc(cluster)["nodes"]}
    assert sorted(nodes) == [("node-a", "imagefs"), ("node-a", "nodefs"), ("node-b", "imagefs"), ("node-b", "nodefs")]
    # node-a: 8Gi available of 100Gi is below its configz's nodefs.available<10% (10Gi): the kubelet evicts
    a = nodes[("node-a", "nodefs")]
    assert a["pool"] == "web" and a["eviction"]["source"] == "configz"
    assert a["eviction"]["signals"] == [
        {"signal": "nodefs.available", "threshold": "10%", "amount": 10 * GI, "observed": 8 * GI, "met": True},
        {"signal": "nodefs.inodesFree", "threshold": "5%", "amount": 327680, "observed": 655360, "met": False},
    ]
    assert (a["usedRatio"], a["status"]) == (0.92, "crit")
    # its imagefs: the configz raises imagefs.available to 20% (40Gi); 50Gi left, 75% used: a warning
    ai = nodes[("node-a", "imagefs")]
    assert ai["eviction"]["signals"] == [
        {"signal": "imagefs.available", "threshold": "20%", "amount": 40 * GI, "observed": 50 * GI, "met": False}
    ]
    assert (ai["usedRatio"], ai["status"]) == (0.75, "warn")
    # node-b serves no /configz: the defaults; 98304 inodes free is below 5% of 3276800 (163840)
    b = nodes[("node-b", "nodefs")]
    assert b["pool"] == "batch" and b["eviction"]["source"] == "defaults"
    assert b["eviction"]["signals"] == [
        {"signal": "nodefs.available", "threshold": "10%", "amount": 5 * GI, "observed": 25 * GI, "met": False},
        {"signal": "nodefs.inodesFree", "threshold": "5%", "amount": 163840, "observed": 98304, "met": True},
    ]
    assert b["status"] == "crit"
    # no separate image filesystem: the kubelet reports the node's for both, against the defaults'
    # imagefs.available<15% and imagefs.inodesFree<5% (kubernetes pkg/kubelet/eviction/defaults_linux.go)
    bi = nodes[("node-b", "imagefs")]
    assert bi["stats"] == b["stats"]
    assert bi["eviction"]["signals"] == [
        {"signal": "imagefs.available", "threshold": "15%", "amount": 50 * GI * 15 // 100, "observed": 25 * GI, "met": False},
        {"signal": "imagefs.inodesFree", "threshold": "5%", "amount": 163840, "observed": 98304, "met": True},
    ]


def test_configz_fallback_is_said(cluster: Sim) -> None:
    ran = volumes(cluster)
    assert ran.returncode == 0
    notes = [line for line in ran.stderr.splitlines() if "defaults" in line]
    assert len(notes) == 1 and "1 of 2 nodes" in notes[0] and "node-b" in notes[0] and "404" in notes[0], ran.stderr


def test_claims_no_pod_mounts_and_released_volumes(cluster: Sim) -> None:
    unused = doc(cluster)["unused"]
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)
    age = (datetime.now(timezone.utc) - created).total_seconds()
    assert [(u["kind"], u["namespace"], u["name"], u["state"], u["storageClass"], u["capacityBytes"]) for u in unused] == [
        ("PersistentVolumeClaim", "batch", "scratch", "Pending", "fast", 20 * GI),
        ("PersistentVolumeClaim", "shop", "old-export", "Bound (unused)", "fast", 4 * GI),
        ("PersistentVolume", "shop", "pv-released", "Released", "standard", 30 * GI),
    ]
    for u in unused:
        assert u["creationTimestamp"] == "2026-01-01T00:00:00Z" and abs(u["ageSeconds"] - age) < 120


def cells(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def test_table_fullest_first(cluster: Sim) -> None:
    ran = volumes(cluster)
    blocks = ran.stdout.split("\n\n")
    assert len(blocks) == 3, ran.stdout
    rows = cells(blocks[0])
    assert rows[0] == ["NAMESPACE", "POD", "VOLUME", "TYPE", "STORAGECLASS", "SIZE", "USED", "AVAILABLE", "USE%", "INODES%", "STATUS"]
    # 92.77%, 90%, 75%, then the two at 25% by namespace/pod/volume, 6%, and the one without a limit
    assert [r[1:3] for r in rows[1:]] == [
        ["job-x", "(ephemeral)"],
        ["db-0", "data"],
        ["db-0", "(ephemeral)"],
        ["db-0", "cache"],
        ["web-1", "uploads"],
        ["web-1", "tmp"],
        ["web-1", "(ephemeral)"],
    ]
    assert rows[1] == ["batch", "job-x", "(ephemeral)", "ephemeral", "-", "1Gi", "950Mi", "74Mi", "92%", "-", "CRITICAL"]
    assert rows[2] == ["shop", "db-0", "data", "pvc", "fast", "10Gi", "9Gi", "1Gi", "90%", "0%", "CRITICAL"]
    assert rows[5] == ["shop", "web-1", "uploads", "pvc", "standard", "8Gi", "2Gi", "6Gi", "25%", "93%", "CRITICAL"]
    nodes = cells(blocks[1])
    assert nodes[0][:3] == ["NODE", "POOL", "FILESYSTEM"]
    assert ["node-a", "web", "nodefs", "100Gi", "92Gi", "8Gi", "92%", "90%"] == nodes[1][:8]
    assert "nodefs.available<10% MET" in nodes[1][8]
    unused = cells(blocks[2])
    assert unused[1:] == [
        ["pvc", "batch", "scratch", "Pending", "fast", "20Gi", unused[1][-1]],
        ["pvc", "shop", "old-export", "Bound (unused)", "fast", "4Gi", unused[2][-1]],
        ["pv", "shop", "pv-released", "Released", "standard", "30Gi", unused[3][-1]],
    ]


def test_sort_by_room_left(cluster: Sim) -> None:
    rows = doc(cluster, "--sort", "available")["volumes"]
    # room under the limit for emptyDirs and ephemeral storage, on the filesystem for claims:
    # job-x 74Mi, db-0 eph 512Mi, cache 768Mi, data 1Gi, uploads 6Gi, tmp 47Gi, web-1 eph (no limit: 46Gi free on node-b)
    assert [(r["pod"], r["volume"]) for r in rows] == [
        ("job-x", "(ephemeral)"),
        ("db-0", "(ephemeral)"),
        ("db-0", "cache"),
        ("db-0", "data"),
        ("web-1", "uploads"),
        ("web-1", "(ephemeral)"),
        ("web-1", "tmp"),
    ]
    inodes = doc(cluster, "--sort", "inodes%")["volumes"]
    assert [(r["pod"], r["volume"]) for r in inodes][:3] == [("web-1", "uploads"), ("web-1", "tmp"), ("db-0", "data")]


def test_fail_on_levels(cluster: Sim) -> None:
    assert volumes(cluster).returncode == 0  # --fail-on none is the default
    crit = volumes(cluster, "--fail-on", "crit")
    assert crit.returncode == 1
    error = crit.stderr.strip().splitlines()[-1]
    assert error.startswith("error: 6 volume(s) or node filesystem(s) at or above crit:"), crit.stderr
    for name in ("batch/job-x:(ephemeral)", "shop/db-0:data", "shop/web-1:uploads", "node-a:nodefs", "node-b:nodefs", "node-b:imagefs"):
        assert name in error
    # warn adds db-0's ephemeral storage (75%) and node-a's imagefs (75%)
    warn = volumes(cluster, "--fail-on", "warn", "-o", "json")
    assert warn.returncode == 1 and "error: 8 volume(s)" in warn.stderr
    # raised thresholds: nothing left but what the kubelet itself evicts for (node-a nodefs, node-b's
    # inodes: nodefs.inodesFree<5% and imagefs.inodesFree<5% on the one filesystem)
    high = volumes(cluster, "--fail-on", "warn", "--warn", "99%", "--crit", "100%")
    assert high.returncode == 1 and "error: 3 volume(s)" in high.stderr, high.stderr
    assert "node-a:nodefs, node-b:imagefs, node-b:nodefs" in high.stderr


def test_policy_file_thresholds_per_storage_class(cluster: Sim, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("storage:\n  warn: 0.5\n  crit: 0.8\n  storageClasses:\n    standard: {warn: 0.9, crit: 0.95}\n")
    rows = by_volume(doc(cluster, "--policy", str(policy)))
    # standard: uploads' 93.75% inodes is past 90% but short of 95%: a warning now
    assert rows[("web-1", "uploads")]["thresholds"] == {"warn": 0.9, "crit": 0.95}
    assert rows[("web-1", "uploads")]["status"] == "warn"
    # the file's defaults: db-0's ephemeral 75% is past 50% and short of 80%; job-x's 92.77% past 80%
    assert rows[("db-0", "(ephemeral)")]["status"] == "warn"
    assert rows[("db-0", "cache")]["status"] == "ok"  # 25%
    # --warn/--crit set the default over the file's, the per-class values stay
    flagged = by_volume(doc(cluster, "--policy", str(policy), "--warn", "0.2", "--crit", "0.3"))
    assert flagged[("db-0", "cache")]["status"] == "warn"
    assert flagged[("web-1", "uploads")]["thresholds"] == {"warn": 0.9, "crit": 0.95}


def test_policy_file_thresholds_as_percentages(cluster: Sim, tmp_path: Path) -> None:
    """The schema takes "75%" for storage.warn/crit as for padding targets; the same statuses as 0.5/0.8 above."""
    policy = tmp_path / "policy.yaml"
    policy.write_text('storage:\n  warn: "50%"\n  crit: "80%"\n  storageClasses:\n    standard: {warn: "90%", crit: 0.95}\n')
    report = doc(cluster, "--policy", str(policy))
    assert report["thresholds"] == {"warn": 0.5, "crit": 0.8, "storageClasses": {"standard": {"warn": 0.9, "crit": 0.95}}}
    rows = by_volume(report)
    assert rows[("web-1", "uploads")]["status"] == "warn"  # 93.75% inodes: past 90%, short of 95%
    assert rows[("db-0", "(ephemeral)")]["status"] == "warn" and rows[("job-x", "(ephemeral)")]["status"] == "crit"
    # a class giving crit alone as a percentage takes the file's warn (50%)
    policy.write_text('storage:\n  warn: 0.5\n  storageClasses:\n    fast: {crit: "95%"}\n')
    assert doc(cluster, "--policy", str(policy))["thresholds"]["storageClasses"] == {"fast": {"warn": 0.5, "crit": 0.95}}


def test_bad_thresholds_name_the_file_and_the_field_or_the_flag(cluster: Sim, tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    for text, words in [
        ('storage:\n  warn: "75 percent"\n', 'storage.warn: threshold "75 percent" must be a fraction (0.75) or a percentage ("75%")'),
        ('storage:\n  crit: "150%"\n', 'storage.crit: threshold "150%" must be above 0 and at most 1 (100%)'),
        (
            'storage:\n  storageClasses:\n    fast: {crit: "high"}\n',
            'storage.storageClasses.fast.crit: threshold "high" must be a fraction',
        ),
        (
            'storage:\n  storageClasses:\n    fast: {warn: "95%"}\n',
            "storage.storageClasses.fast: warn (0.95) must not be above crit (0.9, the default)",
        ),
        # the review's: the default's origin said at the top level as in a class
        ('storage:\n  crit: "50%"\n', "storage: warn (0.75, the default) must not be above crit (0.5)"),
        # YAML's spellings of the values, not Python's
        ("storage:\n  warn: true\n", 'storage.warn: threshold true must be a fraction (0.75) or a percentage ("75%")'),
        ("storage:\n  warn: null\n", 'storage.warn: threshold null must be a fraction (0.75) or a percentage ("75%")'),
        # a percentage without its sign, number or string alike: what to write instead
        ("storage:\n  warn: 75\n", 'storage.warn: 75 is not a share: write 0.75 or "75%"'),
        ('storage:\n  warn: "75"\n', 'storage.warn: "75" is not a share: write 0.75 or "75%"'),
        ("storage:\n  storageClasses:\n    fast: {crit: 90}\n", 'storage.storageClasses.fast.crit: 90 is not a share: write 0.9 or "90%"'),
        ("storage:\n  warn: 0\n", "storage.warn: threshold 0 must be above 0 and at most 1 (100%)"),
    ]:
        policy.write_text(text)
        ran = volumes(cluster, "--policy", str(policy))
        assert ran.returncode == 2 and ran.stdout == "" and "Traceback" not in ran.stderr, (text, ran.stderr)
        assert ran.stderr.startswith(f"error: {policy}: {words}") and ran.stderr.count("\n") == 1, (text, ran.stderr)
    # a flag over the default (or the file's) other level: the message names the flag, not the file
    for args, line in [
        (["--warn", "95%"], "error: --warn (0.95) must not be above the critical share (0.9, the default): give --crit too"),
        (["--crit", "50%"], "error: --crit (0.5) must not be below the warning share (0.75, the default): give --warn too"),
    ]:
        ran = volumes(cluster, *args)
        assert ran.returncode == 2 and ran.stderr.strip() == line, (args, ran.stderr)
    policy.write_text("storage:\n  crit: 0.9\n")
    ran = volumes(cluster, "--policy", str(policy), "--warn", "95%")
    assert ran.returncode == 2 and ran.stderr.strip() == (
        "error: --warn (0.95) must not be above the critical share (0.9, the policy file's storage.crit): give --crit too"
    )


def test_bad_input_is_one_line_and_status_2(cluster: Sim, tmp_path: Path) -> None:
    for args, words in [
        (["--warn", "0.9", "--crit", "0.5"], "--warn (0.9) must not be above --crit (0.5)"),
        (["--warn", "150%"], "must be above 0 and at most 1"),
        (["--sort", "size"], "invalid choice"),
        (["--storage-class", "Not_A_Class"], "invalid StorageClass name"),
        (["--fail-on", "error"], "invalid choice"),
    ]:
        ran = volumes(cluster, *args)
        assert ran.returncode == 2 and words in ran.stderr and ran.stdout == "", (args, ran.stderr)
    policy = tmp_path / "bad.yaml"
    policy.write_text("storage:\n  warn: 0.9\n  crit: 0.5\n")
    ran = volumes(cluster, "--policy", str(policy))
    assert ran.returncode == 2 and ran.stderr.strip() == f"error: {policy}: storage: warn (0.9) must not be above crit (0.5)"
    policy.write_text("storage:\n  critical: 0.5\n")
    ran = volumes(cluster, "--policy", str(policy))
    assert ran.returncode == 2 and "storage: unknown key(s) ('critical' was unexpected)" in ran.stderr and "Traceback" not in ran.stderr


def test_namespace_selector_and_storage_class(cluster: Sim) -> None:
    batch = doc(cluster, "-n", "batch")
    assert [(v["pod"], v["volume"]) for v in batch["volumes"]] == [("job-x", "(ephemeral)")]
    assert {n["node"] for n in batch["nodes"]} == {"node-b"}  # the nodes hosting the namespace's pods
    assert [u["name"] for u in batch["unused"]] == ["scratch"]  # pv-released's claim was in shop
    # -l: a claim a pod left out mounts would look unused, so that section is not given
    ran = volumes(cluster, "-l", "app=db", "-o", "json")
    assert ran.returncode == 0 and json.loads(ran.stdout)["unused"] is None
    assert "claims no pod mounts are not listed under -l" in ran.stderr
    fast = doc(cluster, "--storage-class", "fast")
    assert [(v["pod"], v["volume"]) for v in fast["volumes"]] == [("db-0", "data")]
    assert [u["name"] for u in fast["unused"]] == ["scratch", "old-export"]
    ran = volumes(cluster, "--storage-class", "gp3")
    assert ran.returncode == 0 and "no StorageClass named gp3 (the cluster has fast, standard)" in ran.stderr


def test_csv_carries_the_three_sections(cluster: Sim) -> None:
    ran = volumes(cluster, "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(ran.stdout)))
    assert [r["SECTION"] for r in rows].count("volume") == 7
    assert [r["SECTION"] for r in rows].count("node") == 4
    assert [r["SECTION"] for r in rows].count("unused") == 3
    data = next(r for r in rows if r["SECTION"] == "volume" and r["VOLUME"] == "data")
    assert (data["USED"], data["AVAILABLE"], data["SIZE"], data["USE%"]) == (str(9 * GI), str(GI), str(10 * GI), "0.9")


def test_csv_and_tsv_cells_are_bytes_and_unrounded_ratios(cluster: Sim) -> None:
    """README: csv and tsv carry bytes as integers and ratios unrounded (as capacity's csv); an absent
    figure is an empty cell, not the table's "-"."""
    for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
        ran = volumes(cluster, "-o", fmt)
        assert ran.returncode == 0, ran.stderr
        rows = list(csv.DictReader(io.StringIO(ran.stdout), delimiter=delimiter))
        vol = {(r["POD"], r["VOLUME"]): r for r in rows if r["SECTION"] == "volume"}
        data, job, cache = vol[("db-0", "data")], vol[("job-x", "(ephemeral)")], vol[("db-0", "cache")]
        assert data["INODES%"] == repr(1000 / 655360) == "0.00152587890625"  # 1000 of 655360 inodes
        assert (data["REQUESTED"], data["PV-CAPACITY"], data["LIMIT"]) == (str(10 * GI), str(10 * GI), "")
        assert (data["CLAIM"], data["ACCESS"], data["PV"], data["WARN/CRIT"]) == ("data-db-0", "RWO", "pv-data-db-0", "0.75/0.9")
        # 950Mi of a 1Gi limit: 950/1024 = 0.927734375 exactly; the pod's request 500Mi, limit 1Gi
        assert (job["USE%"], job["REQUESTED"], job["LIMIT"]) == ("0.927734375", str(500 * MI), str(GI))
        assert (job["STORAGECLASS"], job["CLAIM"], job["INODES%"]) == ("", "", "")
        assert cache["LIMIT"] == str(GI)  # the Memory emptyDir's sizeLimit
        node = {(r["NODE"], r["FILESYSTEM"]): r for r in rows if r["SECTION"] == "node"}
        # node-a's nodefs: 8Gi available against 10Gi (10%): 2Gi under it; 655360 inodes free against 327680 (5%)
        assert node[("node-a", "nodefs")]["HEADROOM"] == f"nodefs.available={-2 * GI},nodefs.inodesFree=327680"
        assert node[("node-a", "imagefs")]["INODES%"] == repr(107200 / 13107200)  # 13107200 - 13000000 used


def test_html_page(cluster: Sim) -> None:
    ran = volumes(cluster, "-o", "html")
    assert ran.returncode == 0 and ran.stdout.startswith("<!DOCTYPE html>")
    for text in ("<h2>Volumes</h2>", "<h2>Node filesystems</h2>", "pv-released", '<tr class="crit">', "nodefs.available&lt;10% MET"):
        assert text in ran.stdout


def test_yaml_and_wide(cluster: Sim) -> None:
    import yaml

    assert set(yaml.safe_load(volumes(cluster, "-o", "yaml").stdout)) == {"thresholds", "summary", "volumes", "nodes", "unused"}
    wide = cells(volumes(cluster, "-o", "wide").stdout.split("\n\n")[0])
    header = wide[0]
    data = dict(zip(header, next(r for r in wide if r[2] == "data"), strict=True))
    assert (data["CLAIM"], data["ACCESS"], data["REQUESTED"], data["PV"], data["PV-CAPACITY"], data["INODES"]) == (
        "data-db-0",
        "RWO",
        "10Gi",
        "pv-data-db-0",
        "10Gi",
        "655360",
    )
    assert data["WORKLOAD"] == "Pod/shop/db-0" and data["WARN/CRIT"] == "75%/90%"


def test_summary_counts(cluster: Sim) -> None:
    assert doc(cluster)["summary"] == {"volumes": 7, "nodeFilesystems": 4, "unused": 3, "ok": 3, "warn": 2, "crit": 6}


@pytest.fixture(scope="module")
def forbidden(sim_factory: Any) -> Sim:
    sim: Sim = sim_factory("--objects", FIXTURE, "--forbid-cluster-list", "nodes/proxy")
    return sim


def test_forbidden_node_proxy_is_one_note(forbidden: Sim) -> None:
    ran = volumes(forbidden)
    assert ran.returncode == 0
    notes = ran.stderr.strip().splitlines()
    assert len(notes) == 1 and notes[0].startswith("note: no volume figures: reading the kubelet's /stats/summary needs get on nodes/proxy")
    rows = cells(ran.stdout.split("\n\n")[0])
    data = next(r for r in rows if r[2] == "data")
    assert data == ["shop", "db-0", "data", "pvc", "fast", "10Gi", "<unknown>", "<unknown>", "-", "-", "<unknown>"]


def test_forbidden_node_proxy_is_said_on_the_html_page(forbidden: Sim) -> None:
    """-o html carries the notes the table's stderr does: the page shows <unknown> figures and why."""
    from html import escape

    ran = volumes(forbidden, "-o", "html")
    assert ran.returncode == 0 and ran.stdout.startswith("<!DOCTYPE html>")
    [line] = ran.stderr.strip().splitlines()  # still on stderr too, once
    assert line.startswith("note: no volume figures: reading the kubelet's /stats/summary needs get on nodes/proxy")
    assert escape(line.removeprefix("note: ")) in ran.stdout and "&lt;unknown&gt;" in ran.stdout


@pytest.fixture(scope="module")
def with_down_node(sim_factory: Any) -> Sim:
    sim: Sim = sim_factory("--objects", FIXTURE, str(DATA / "cadvisor-notready.yaml"))
    return sim


def test_unreadable_node_is_one_note(with_down_node: Sim) -> None:
    ran = volumes(with_down_node, "-o", "json")
    assert ran.returncode == 0
    notes = [line for line in ran.stderr.splitlines() if "node-down" in line]
    assert notes == [
        "note: node node-down: kubelet not reachable through the API server (503): error trying to reach service: "
        "dial tcp 10.0.0.1:10250: connect: connection refused (GET /api/v1/nodes/node-down/proxy/stats/summary: 503 ): "
        "its volumes show no figures"
    ] or (len(notes) == 1 and "503" in notes[0] and "its volumes show no figures" in notes[0]), ran.stderr
    assert {n["node"] for n in json.loads(ran.stdout)["nodes"]} == {"node-a", "node-b"}


GHOST = """\
apiVersion: v1
kind: Pod
metadata: {name: lost-0, namespace: shop, annotations: {perf-sim/ephemeral-used: 100Mi}}
spec:
  nodeName: node-gone
  containers: [{name: c, image: busybox, resources: {limits: {ephemeral-storage: 1Gi}}}]
  volumes: [{name: scratch, emptyDir: {}}]
status: {phase: Running}
"""


@pytest.mark.parametrize("forbid", [(), ("--forbid-cluster-list", "nodes")], ids=["nodes-listed", "nodes-forbidden"])
def test_a_pod_bound_to_a_node_that_does_not_exist(sim_factory: Any, tmp_path: Path, forbid: tuple[str, ...]) -> None:
    """A pod whose spec.nodeName names no node (deleted under it): the note says so, whether the node list
    shows it missing or (nodes forbidden, nodes/proxy granted) the API server answers 404 NotFound for its proxy; a kubelet's own
    404 (an endpoint it does not serve) is another matter."""
    ghost = tmp_path / "ghost.yaml"
    ghost.write_text(GHOST)
    sim = sim_factory("--objects", FIXTURE, str(ghost), *forbid)
    ran = volumes(sim, "-o", "json")
    assert ran.returncode == 0, ran.stderr
    line = "note: pod shop/lost-0 is bound to node node-gone, which does not exist (deleted?): its volumes show no figures"
    assert [n for n in ran.stderr.splitlines() if "node-gone" in n] == [line], ran.stderr
    lost = [v for v in json.loads(ran.stdout)["volumes"] if v["pod"] == "lost-0"]
    assert sorted(v["volume"] for v in lost) == ["(ephemeral)", "scratch"] and all(v["stats"] is None for v in lost)


def test_a_pod_bound_to_a_node_that_does_not_exist_without_nodes_or_nodes_proxy(sim_factory: Any, tmp_path: Path) -> None:
    """Nodes and nodes/proxy forbidden: the API server authorizes before it looks the node up, so the
    gone node's proxy answers 403 as every other node's does (not 404): nothing tells it is gone, and
    the one note is that no kubelet could be read, never "does not exist". The ghost pod alone: its
    node is the only one read."""
    ghost = tmp_path / "ghost.yaml"
    ghost.write_text(GHOST)
    sim = sim_factory("--objects", str(ghost), "--forbid-cluster-list", "nodes", "--forbid-cluster-list", "nodes/proxy")
    ran = volumes(sim, "-o", "json")
    assert ran.returncode == 0, ran.stderr
    assert "does not exist" not in ran.stderr and "needs get on nodes/proxy" in ran.stderr, ran.stderr


def test_generated_cluster_has_claims_unused_claims_and_a_released_volume(generated: Sim) -> None:
    """perf-sim's generated clusters: each postgres StatefulSet pod mounts data-<pod> (gp3, 20Gi),
    two claims of pods scaled away stay Bound, one never provisioned is Pending, one PV is Released
    (6 nodes: 2 + 6 // 200, 1 + 6 // 500, 1 + 6 // 250); the figures agree across reads."""
    first = doc(generated)
    claims = generated.get("/api/v1/persistentvolumeclaims")["items"]
    mounted = [v for v in first["volumes"] if v["type"] == "pvc"]
    assert mounted and all(v["claim"]["name"] == f"data-{v['pod']}" and v["claim"]["storageClass"] == "gp3" for v in mounted)
    assert all(v["stats"]["capacityBytes"] == 20 * GI and 0.05 <= v["usedRatio"] < 0.95 for v in mounted)
    # every claim is either mounted by a running pod or listed as unused
    unused = {(u["name"], u["state"]) for u in first["unused"]}
    assert unused == {
        ("data-postgres-old-0", "Bound (unused)"),
        ("data-postgres-old-1", "Bound (unused)"),
        ("scratch-0", "Pending"),
        ("pvc-released-0", "Released"),
    }
    names = {c["metadata"]["name"] for c in claims}
    assert {v["claim"]["name"] for v in mounted} | {n for n, s in unused if s != "Released"} <= names
    # a get of one claim, and the same figures on a second read
    one = generated.get(f"/api/v1/namespaces/data/persistentvolumeclaims/{mounted[0]['claim']['name']}")
    assert one["spec"]["volumeName"] == mounted[0]["claim"]["volumeName"]
    again = doc(generated)
    assert [(v["pod"], v["volume"], v["stats"] and v["stats"]["usedBytes"]) for v in again["volumes"]] == [
        (v["pod"], v["volume"], v["stats"] and v["stats"]["usedBytes"]) for v in first["volumes"]
    ]


def test_through_kubectls_plugin_lookup(cluster: Sim) -> None:
    """The one run through the real kubectl: `kubectl perf volumes` finds the plugin and gets its status."""
    from conftest import kubectl

    ran = kubectl(cluster, "perf", "volumes", "--fail-on", "crit", check=False)
    assert ran.returncode == 1 and "error: 6 volume(s)" in ran.stderr, ran.stderr
    assert ran.stdout.splitlines()[1].split()[:3] == ["batch", "job-x", "(ephemeral)"]


def test_completion_offers_the_flags_and_the_clusters_storage_classes(cluster: Sim) -> None:
    from kubectl_perf.completion import complete

    flags, _ = complete(["volumes", "--st"])
    assert ("--storage-class", "only claims (and volumes) of this StorageClass") in flags
    classes, _ = complete(["volumes", "--kubeconfig", str(cluster.kubeconfig), "--storage-class", ""])
    assert [c for c, _d in classes] == ["fast", "standard"]
    sorts, _ = complete(["volumes", "--sort", ""])
    assert [s for s, _d in sorts] == ["used%", "available", "inodes%"]


OWNED = """\
apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  capacity: {cpu: "4", memory: 16Gi, pods: "110", ephemeral-storage: 100Gi}
  allocatable: {cpu: "4", memory: 16Gi, pods: "110", ephemeral-storage: 100Gi}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
  # a Deployment's ReplicaSet; an Argo Rollout's, named the same way (<rollout>-<pod-template-hash>)
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: web-7d4b9c
      namespace: shop
      ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
    spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: nginx}]}}}
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: canary-5f6d7
      namespace: shop
      ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: canary, uid: r1, controller: true}]
    spec: {selector: {matchLabels: {app: canary}}, template: {metadata: {labels: {app: canary}}, spec: {containers: [{name: c, image: nginx}]}}}
  # a CronJob's Job, and one made by hand with a name like a CronJob's (<name>-<minutes since the epoch>)
  - apiVersion: batch/v1
    kind: Job
    metadata:
      name: backup-29000123
      namespace: shop
      ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: backup, uid: c1, controller: true}]
    spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}
  - apiVersion: batch/v1
    kind: Job
    metadata: {name: migrate-29000124, namespace: shop}
    spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}
"""


def owned_pod(name: str, kind: str, owner: str, labels: str = "{}") -> str:
    return f"""\
  - apiVersion: v1
    kind: Pod
    metadata:
      name: {name}
      namespace: shop
      labels: {labels}
      ownerReferences: [{{apiVersion: v1, kind: {kind}, name: {owner}, uid: u-{name}, controller: true}}]
    spec:
      nodeName: n1
      containers: [{{name: c, image: busybox}}]
      volumes: [{{name: tmp, emptyDir: {{}}}}]
    status: {{phase: Running}}
"""


@pytest.fixture(scope="module")
def owned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("owned") / "cluster.yaml"
    path.write_text(
        OWNED
        + owned_pod("web-7d4b9c-x1", "ReplicaSet", "web-7d4b9c", "{pod-template-hash: 7d4b9c}")
        + owned_pod("canary-5f6d7-x2", "ReplicaSet", "canary-5f6d7", "{pod-template-hash: 5f6d7}")
        + owned_pod("backup-29000123-x3", "Job", "backup-29000123")
        + owned_pod("migrate-29000124-x4", "Job", "migrate-29000124")
    )
    return path


def workloads(sim: Sim) -> tuple[dict[str, str], str]:
    ran = volumes(sim, "-o", "json")
    assert ran.returncode == 0, ran.stderr
    return {v["pod"]: v["workload"] for v in json.loads(ran.stdout)["volumes"] if v["volume"] == "tmp"}, ran.stderr


def test_workload_from_listed_replicasets_and_jobs(sim_factory: Any, owned: Path) -> None:
    """A pod's workload by owner references through its ReplicaSet or Job, as images and audit name it:
    the naming conventions would call the Rollout's pods a Deployment's and the hand-made Job a CronJob's."""
    found, stderr = workloads(sim_factory("--objects", str(owned)))
    assert found == {
        "web-7d4b9c-x1": "Deployment/shop/web",
        "canary-5f6d7-x2": "Rollout/shop/canary",
        "backup-29000123-x3": "CronJob/shop/backup",
        "migrate-29000124-x4": "Job/shop/migrate-29000124",
    }
    assert "guessed" not in stderr


def test_workload_guessed_where_the_lists_are_forbidden(sim_factory: Any, owned: Path) -> None:
    sim = sim_factory("--objects", str(owned), "--forbid-cluster-list", "replicasets", "--forbid-cluster-list", "jobs")
    found, stderr = workloads(sim)
    assert found == {
        "web-7d4b9c-x1": "Deployment?/shop/web",
        "canary-5f6d7-x2": "Deployment?/shop/canary",
        "backup-29000123-x3": "CronJob?/shop/backup",
        "migrate-29000124-x4": "CronJob?/shop/migrate",
    }
    assert "note: cannot list ReplicaSets (forbidden): the workloads of their pods are guessed from names (marked ?)" in stderr
    assert "note: cannot list Jobs (forbidden): the workloads of their pods are guessed from names (marked ?)" in stderr


def test_pods_on_a_node_that_does_not_exist_are_one_note() -> None:
    from kubectl_perf.volumes.fetch import gone_node

    assert gone_node("n9", ["a/p1", "a/p2", "b/p3", "b/p4"]) == (
        "4 pods (a/p1, a/p2, b/p3 ...) are bound to node n9, which does not exist (deleted?): their volumes show no figures"
    )
