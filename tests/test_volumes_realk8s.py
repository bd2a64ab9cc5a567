"""`kubectl perf volumes` against the real kube-apiserver: the claim, volume and class reads.

The real server serves PersistentVolumes, PersistentVolumeClaims and StorageClasses as a
cluster does; it has no kubelet, so /stats/summary is never answered (perf-sim covers the
figures: tests/test_volumes.py). Here: the claim data and the unused/released sections come
from the real API, a node read fails in the API server's own way (one note per node), and a
user granted everything but nodes/proxy gets the proxy's 403, before any kubelet: one note."""

from __future__ import annotations

import json
from typing import Any

from inproc import perf

GI = 2**30
NS = "vol-real"

OBJECTS: list[dict[str, Any]] = [
    {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fast"},
        "provisioner": "ebs.csi.aws.com",
    },
    # no address: the API server has nowhere to send a proxied request (500)
    {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "vol-node", "labels": {"eks.amazonaws.com/nodegroup": "web"}},
        "status": {"allocatable": {"memory": "16Gi"}, "capacity": {"memory": "16Gi"}},
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "vol-real-data"},
        "spec": {
            "capacity": {"storage": "12Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "fast",
            "claimRef": {"namespace": NS, "name": "data"},
            "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"},
        },
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "vol-real-released"},
        "spec": {
            "capacity": {"storage": "30Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "fast",
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": NS, "name": "gone"},
            "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-2"},
        },
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": NS},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "fast",
            "resources": {"requests": {"storage": "10Gi"}},
            "volumeName": "vol-real-data",
        },
    },
    {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "pending", "namespace": NS},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast", "resources": {"requests": {"storage": "20Gi"}}},
    },
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "db-0", "namespace": NS},
        "spec": {
            "nodeName": "vol-node",
            "containers": [{"name": "db", "image": "postgres:17"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
        },
        "status": {"phase": "Running"},
    },
]

# Everything the plugin reads except nodes/proxy.
READER = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "volumes-reader"},
        "rules": [
            {"apiGroups": [""], "resources": ["pods", "nodes", "persistentvolumes", "persistentvolumeclaims"], "verbs": ["get", "list"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get", "list"]},
            # the pods' workloads by owner references (owner_lists.read_owners)
            {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["list"]},
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list"]},
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "volumes-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "volumes-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "user1"}],
    },
]


def set_status(server: Any, path: str, status: dict[str, Any]) -> None:
    code, raw = server.request(path)
    assert code == 200, raw
    obj = json.loads(raw)
    obj["status"] = status
    code, raw = server.request(path + "/status", "PUT", obj)
    assert code == 200, raw


def test_claims_and_volumes_from_the_real_api_server(realk8s_factory: Any) -> None:
    server = realk8s_factory()
    server.load([*OBJECTS, *READER])
    # no controller binds or releases: write the phases a cluster's controllers would
    set_status(server, "/api/v1/persistentvolumes/vol-real-data", {"phase": "Bound"})
    set_status(server, "/api/v1/persistentvolumes/vol-real-released", {"phase": "Released"})
    set_status(
        server,
        f"/api/v1/namespaces/{NS}/persistentvolumeclaims/data",
        {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "12Gi"}},
    )
    # the reads the plugin makes, as the real server answers them (a get of one claim too)
    code, raw = server.request(f"/api/v1/namespaces/{NS}/persistentvolumeclaims/data")
    assert code == 200 and json.loads(raw)["status"]["capacity"] == {"storage": "12Gi"}

    ran = perf(server.kubeconfig, "volumes", "--kubeconfig", str(server.kubeconfig), "-n", NS, "-o", "json")
    assert ran.returncode == 0 and "Traceback" not in ran.stderr, ran.stderr
    report = json.loads(ran.stdout)
    [row] = report["volumes"]
    assert (row["pod"], row["volume"], row["type"], row["node"]) == ("db-0", "data", "pvc", "vol-node")
    assert row["claim"] == {
        "name": "data",
        "storageClass": "fast",
        "accessModes": ["ReadWriteOnce"],
        "requestBytes": 10 * GI,
        "capacityBytes": 12 * GI,
        "volumeName": "vol-real-data",
        "volumeCapacityBytes": 12 * GI,
    }
    # no kubelet: no figures, and the size is the PV's
    assert (row["stats"], row["basisBytes"], row["usedRatio"], row["status"]) == (None, 12 * GI, None, None)
    assert [(u["kind"], u["name"], u["state"], u["capacityBytes"]) for u in report["unused"]] == [
        ("PersistentVolumeClaim", "pending", "Pending", 20 * GI),
        ("PersistentVolume", "vol-real-released", "Released", 30 * GI),
    ]
    # the node has no address: the API server answers 500, one note for the node
    notes = [line for line in ran.stderr.splitlines() if line.startswith("note: node vol-node")]
    assert len(notes) == 1 and "(500)" in notes[0], ran.stderr

    # user1 may read everything but nodes/proxy: the proxy's 403 comes before any kubelet, one note
    user = server.user_kubeconfig
    ran = perf(user, "volumes", "--kubeconfig", str(user), "-n", NS)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: no volume figures: reading the kubelet's /stats/summary needs get on nodes/proxy")
    assert 'cannot get resource "nodes/proxy"' in lines[0]
    assert "db-0" in ran.stdout and "<unknown>" in ran.stdout
