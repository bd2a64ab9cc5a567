"""volumes/compute.py with plain dicts: what the perf-sim fixture does not reach."""

from __future__ import annotations

from datetime import datetime, timezone

from kubectl_perf.volumes.compute import (
    NodeStats,
    StoragePolicy,
    Thresholds,
    build,
    fs_stats,
    node_rows,
    pod_volumes,
    signal_amount,
)

GI = 2**30
POLICY = StoragePolicy(Thresholds(0.75, 0.9))
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def test_eviction_thresholds_as_quantities_and_counts() -> None:
    # a kubelet may set absolute thresholds: nodefs.available<1Gi, nodefs.inodesFree<1000
    assert signal_amount("1Gi", 100 * GI) == GI
    assert signal_amount("1000", 10**6) == 1000
    assert signal_amount("12.5%", 8 * GI) == GI
    assert signal_amount("10%", None) is None and signal_amount("bogus", GI) is None
    stats = NodeStats(fs_stats({"capacityBytes": 10 * GI, "availableBytes": GI // 2, "inodes": 5000, "inodesFree": 999}), None, {})
    [row] = node_rows("n1", {"karpenter.sh/nodepool": "spot"}, stats, {"nodefs.available": "1Gi", "nodefs.inodesFree": "1000"}, POLICY)
    assert row.pool == "spot" and row.source == "configz" and row.filesystem == "nodefs"  # no imageFs in the summary: no row
    assert [(s.name, s.amount, s.observed, s.met) for s in row.signals] == [
        ("nodefs.available", GI, GI // 2, True),
        ("nodefs.inodesFree", 1000, 999, True),
    ]
    # an evictionHard without storage signals: none to meet, graded by the shares (9.5Gi of 10Gi: 95%)
    [row] = node_rows("n1", {}, stats, {"memory.available": "100Mi"}, POLICY)
    assert row.signals == () and row.level == "crit" and row.used_share == 0.95


def test_generic_ephemeral_volume_claim_and_unread_node() -> None:
    pod = {
        "metadata": {"name": "job-1", "namespace": "ml", "ownerReferences": [{"kind": "Job", "name": "train", "controller": True}]},
        "spec": {
            "nodeName": "n9",
            "containers": [{"name": "c", "resources": {"limits": {"ephemeral-storage": "3Gi"}}}],
            "volumes": [
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "50Gi"}}}}}},
                {"name": "config", "configMap": {"name": "x"}},
            ],
        },
    }
    claim = {
        "metadata": {"name": "job-1-scratch", "namespace": "ml", "creationTimestamp": "2026-05-31T00:00:00Z"},
        "spec": {"storageClassName": "local", "resources": {"requests": {"storage": "50Gi"}}, "volumeName": "pv-9"},
        "status": {"phase": "Bound", "capacity": {"storage": "50Gi"}},
    }
    pv = {"metadata": {"name": "pv-9"}, "spec": {"capacity": {"storage": "60Gi"}}, "status": {"phase": "Bound"}}
    report = build(
        [pod_volumes(pod)], [claim], [pv], {}, {}, {}, POLICY, sort="used%", storage_class=None, namespace=None, unused_shown=True, now=NOW
    )
    # the claim <pod>-<volume> is the pod's, so it is not unused; the configMap is no row; no
    # figures on either row, so they sort by name
    assert [(r.volume, r.type, r.claim, r.basis, r.stats, r.level) for r in report.volumes] == [
        ("(ephemeral)", "ephemeral", None, 3 * GI, None, ""),  # a limit alone: a row, against the limit
        ("scratch", "pvc", "job-1-scratch", 60 * GI, None, ""),  # no figures: the PV's size
    ]
    # (the API server would have defaulted the request from the limit; this dict is as written)
    assert report.volumes[0].request is None and report.volumes[1].workload == "Job/ml/train"
    assert report.unused == [] and report.nodes == []
