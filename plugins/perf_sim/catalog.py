"""What the generated cluster is made of: node pools, images and workloads.

Sizes follow common cloud instance types and the published sizes of popular
images, so audits and capacity views see a cluster that looks like a real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GI = 1024**3
MI = 1024**2


@dataclass(frozen=True)
class Pool:
    name: str
    instance_type: str
    cpu: int  # cores of capacity
    memory_gi: int
    pods: int
    labels: dict[str, str]
    taints: tuple[dict[str, str], ...] = ()
    extended: dict[str, int] = field(default_factory=dict)


POOLS = {
    "general": Pool("general", "m5.2xlarge", 8, 32, 110, {"workload": "general"}),
    "io": Pool("io", "i3.2xlarge", 8, 61, 110, {"workload": "io"}, ({"key": "dedicated", "value": "io", "effect": "NoSchedule"},)),
    "compute": Pool("compute", "c5.18xlarge", 72, 144, 250, {"workload": "compute"}),
    "gpu": Pool(
        "gpu",
        "p3.8xlarge",
        32,
        244,
        110,
        {"workload": "gpu", "nvidia.com/gpu.present": "true"},
        ({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},),
        {"nvidia.com/gpu": 4},
    ),
}
# Node k belongs to POOL_PATTERN[k % 10]: three nodes already span three pools.
POOL_PATTERN = ("general", "io", "compute", "general", "general", "io", "general", "compute", "gpu", "general")
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")

# (reference, size in bytes): sizes as the registries report them, uncompressed.
IMAGES: dict[str, int] = {
    "registry.k8s.io/pause:3.10": 736_000,
    "registry.k8s.io/kube-proxy:v1.32.4": 30_900_000,
    "fluent/fluent-bit:3.1.9": 88_200_000,
    "quay.io/prometheus/node-exporter:v1.8.2": 23_600_000,
    "docker.io/library/node:20": 1_100_000_000,
    "docker.io/library/python:3.12": 1_020_000_000,
    "docker.io/library/nginx:1.27": 192_000_000,
    "docker.io/envoyproxy/envoy:v1.31.2": 181_000_000,
    "docker.io/library/postgres:16": 432_000_000,
    "docker.io/library/redis:7.4": 117_000_000,
    "docker.io/library/busybox:1.36": 4_260_000,
    "docker.io/apache/spark:3.5.3": 1_020_000_000,
    "docker.io/tensorflow/tensorflow:2.17.0-gpu": 7_450_000_000,
    "docker.io/nvidia/k8s-device-plugin:v0.16.2": 310_000_000,
    "gcr.io/distroless/static-debian12:nonroot": 2_150_000,
    "docker.io/library/golang:1.23": 823_000_000,
    "docker.io/library/busybox:latest": 4_270_000,
    "registry.k8s.io/metrics-server/metrics-server:v0.7.2": 67_400_000,
}
SYSTEM_IMAGES = ("registry.k8s.io/pause:3.10",)


def container(name: str, image: str, req: dict[str, str] | None = None, lim: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if req:
        resources["requests"] = req
    if lim:
        resources["limits"] = lim
    spec: dict[str, Any] = {"name": name, "image": image, "resources": resources}
    spec.update(extra)
    return spec


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: specs are dicts
class Workload:
    namespace: str
    name: str
    owner_kind: str  # ReplicaSet, DaemonSet, StatefulSet, Job
    pools: tuple[str, ...]
    spec: dict[str, Any]  # the pod spec template (without nodeName)
    weight: int = 1
    outcome: str = "Running"  # Running, or "Job" for pods that run to completion


SIDECAR = dict(restartPolicy="Always")
DAEMONSETS = (
    Workload(
        "kube-system",
        "kube-proxy",
        "DaemonSet",
        tuple(POOLS),
        {
            "containers": [
                container(
                    "kube-proxy",
                    "registry.k8s.io/kube-proxy:v1.32.4",
                    {"cpu": "100m"},
                    # kubeadm's layout: the mode lives in the kube-proxy ConfigMap, mounted here
                    command=["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"],
                    volumeMounts=[{"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"}],
                )
            ],
            "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}],
            "priorityClassName": "system-node-critical",
            "tolerations": [{"operator": "Exists"}],
        },
    ),
    Workload(
        "kube-system",
        "fluent-bit",
        "DaemonSet",
        tuple(POOLS),
        {
            "containers": [container("fluent-bit", "fluent/fluent-bit:3.1.9", {"cpu": "50m", "memory": "100Mi"}, {"memory": "200Mi"})],
            "tolerations": [{"operator": "Exists"}],
        },
    ),
    Workload(
        "monitoring",
        "node-exporter",
        "DaemonSet",
        tuple(POOLS),
        {
            "containers": [
                container("node-exporter", "quay.io/prometheus/node-exporter:v1.8.2", {"cpu": "20m", "memory": "32Mi"}, {"memory": "64Mi"})
            ],
            "tolerations": [{"operator": "Exists"}],
        },
    ),
)
GPU_PLUGIN = Workload(
    "kube-system",
    "nvidia-device-plugin",
    "DaemonSet",
    ("gpu",),
    {
        "containers": [container("nvidia-device-plugin", "docker.io/nvidia/k8s-device-plugin:v0.16.2", {"cpu": "50m", "memory": "64Mi"})],
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "nodeSelector": {"workload": "gpu"},
    },
)

# The metrics pipeline: placed on the first untainted nodes, one or two replicas by seed.
METRICS_SERVER = Workload(
    "kube-system",
    "metrics-server",
    "ReplicaSet",
    ("general", "compute"),
    {
        "containers": [
            container(
                "metrics-server",
                "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
                {"cpu": "100m", "memory": "200Mi"},
                args=["--cert-dir=/tmp", "--secure-port=10250", "--kubelet-preferred-address-types=InternalIP", "--metric-resolution=15s"],
            )
        ],
        "priorityClassName": "system-cluster-critical",
    },
)

# Fills slots a node has no room left for: asks for nothing, tolerates everything. A bare
# ReplicaSet someone created by hand, on an untagged image: what audits love to find.
FILLER = Workload(
    "default",
    "debug-shell",
    "ReplicaSet",
    tuple(POOLS),
    {
        "containers": [container("shell", "docker.io/library/busybox:latest", command=["sleep", "infinity"])],
        "tolerations": [{"operator": "Exists"}],
    },
)

WORKLOADS = (
    Workload(
        "shop",
        "checkout",
        "ReplicaSet",
        ("general",),
        {
            "containers": [
                container(
                    "app",
                    "docker.io/library/node:20",
                    {"cpu": "250m", "memory": "512Mi"},
                    {"memory": "1Gi"},
                    volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}],
                )
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],  # no sizeLimit, no ephemeral-storage request
            "initContainers": [
                container("envoy", "docker.io/envoyproxy/envoy:v1.31.2", {"cpu": "50m", "memory": "64Mi"}, {"memory": "128Mi"}, **SIDECAR)
            ],
        },
        weight=4,
    ),
    Workload(
        "shop",
        "cart",
        "ReplicaSet",
        ("general",),
        {
            "containers": [container("app", "docker.io/library/python:3.12", {"cpu": "100m", "memory": "256Mi"})],
        },
        weight=3,
    ),
    Workload(
        "shop",
        "frontend",
        "ReplicaSet",
        ("general",),
        {
            "containers": [container("nginx", "docker.io/library/nginx:1.27", imagePullPolicy="Always")],
        },
        weight=3,
    ),
    Workload(
        "shop",
        "recommender",
        "ReplicaSet",
        ("general", "compute"),
        {
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "3Gi"}},
            "containers": [
                container("model", "docker.io/library/python:3.12"),
                container("cache", "docker.io/library/redis:7.4"),
            ],
        },
    ),
    Workload(
        "shop",
        "payments",
        "ReplicaSet",
        ("general",),
        {
            "runtimeClassName": "gvisor",
            "overhead": {"cpu": "250m", "memory": "120Mi"},
            "containers": [
                container(
                    "app",
                    "gcr.io/distroless/static-debian12:nonroot",
                    {"cpu": "200m", "memory": "128Mi"},
                    {"cpu": "500m", "memory": "256Mi"},
                )
            ],
        },
    ),
    Workload(
        "data",
        "postgres",
        "StatefulSet",
        ("io",),
        {
            "containers": [
                container(
                    "postgres",
                    "docker.io/library/postgres:16",
                    {"cpu": "1", "memory": "4Gi", "ephemeral-storage": "2Gi"},
                    {"memory": "4Gi"},
                    volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}],
                )
            ],
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
            "initContainers": [
                container("init-perms", "docker.io/library/busybox:1.36", {"cpu": "10m", "memory": "16Mi"}, {"memory": "16Mi"})
            ],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "io", "effect": "NoSchedule"}],
            "nodeSelector": {"workload": "io"},
        },
        weight=2,
    ),
    Workload(
        "data",
        "redis",
        "StatefulSet",
        ("io",),
        {
            "containers": [
                container("redis", "docker.io/library/redis:7.4", {"cpu": "500m", "memory": "2Gi"}, {"cpu": "1", "memory": "2Gi"})
            ],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "io", "effect": "NoSchedule"}],
            "nodeSelector": {"workload": "io"},
        },
        weight=2,
    ),
    Workload(
        "analytics",
        "spark-exec",
        "ReplicaSet",
        ("compute",),
        {
            "containers": [
                container(
                    "executor",
                    "docker.io/apache/spark:3.5.3",
                    {"cpu": "4", "memory": "8Gi"},
                    {"cpu": "4", "memory": "10Gi"},
                    volumeMounts=[{"name": "spark-local", "mountPath": "/var/spark"}],
                )
            ],
            # shuffle files in tmpfs without a sizeLimit: they count against the memory limit
            "volumes": [{"name": "spark-local", "emptyDir": {"medium": "Memory"}}],
            "initContainers": [container("fetch-deps", "docker.io/library/busybox:1.36", {"cpu": "6", "memory": "1Gi"})],
            "nodeSelector": {"workload": "compute"},
        },
        weight=3,
    ),
    Workload(
        "ml",
        "trainer",
        "Job",
        ("gpu",),
        {
            "containers": [
                container(
                    "train",
                    "docker.io/tensorflow/tensorflow:2.17.0-gpu",
                    {"cpu": "6", "memory": "48Gi", "nvidia.com/gpu": "1"},
                    # a limit sized to the machine: past any padding budget on the GPU pool
                    {"memory": "200Gi", "nvidia.com/gpu": "1"},
                )
            ],
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "nodeSelector": {"workload": "gpu"},
            "restartPolicy": "Never",
        },
        outcome="Running",
    ),
    Workload(
        "batch",
        "nightly-report",
        "Job",
        ("general", "compute"),
        {
            "containers": [container("report", "docker.io/library/golang:1.23", {"cpu": "500m", "memory": "1Gi"}, {"memory": "1Gi"})],
            "restartPolicy": "Never",
        },
        outcome="Job",
    ),
)
