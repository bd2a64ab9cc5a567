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

# Images as pods write them -> (the name the kubelet lists, fully qualified; size as
# containerd reports it: compressed, linux/amd64, from docker-library/repo-info and the
# registries). Pods write some short and some long, as people do.
IMAGES: dict[str, tuple[str, int]] = {
    "registry.k8s.io/pause:3.10": ("registry.k8s.io/pause:3.10", 320_000),
    "registry.k8s.io/kube-proxy:v1.32.4": ("registry.k8s.io/kube-proxy:v1.32.4", 30_900_000),
    "fluent/fluent-bit:3.1.9": ("docker.io/fluent/fluent-bit:3.1.9", 35_100_000),
    "quay.io/prometheus/node-exporter:v1.8.2": ("quay.io/prometheus/node-exporter:v1.8.2", 11_400_000),
    "docker.io/library/node:22": ("docker.io/library/node:22", 409_000_000),
    "python:3.12": ("docker.io/library/python:3.12", 411_000_000),
    "python:3.12-slim": ("docker.io/library/python:3.12-slim", 43_000_000),
    "nginx:1.27": ("docker.io/library/nginx:1.27", 70_500_000),
    "docker.io/envoyproxy/envoy:v1.31.2": ("docker.io/envoyproxy/envoy:v1.31.2", 62_300_000),
    "docker.io/library/postgres:16": ("docker.io/library/postgres:16", 152_000_000),
    "docker.io/library/redis:7.4": ("docker.io/library/redis:7.4", 45_200_000),
    "busybox": ("docker.io/library/busybox:latest", 2_160_000),
    "docker.io/library/busybox:1.36": ("docker.io/library/busybox:1.36", 2_160_000),
    "docker.io/apache/spark:3.5.3": ("docker.io/apache/spark:3.5.3", 398_000_000),
    "docker.io/tensorflow/tensorflow:2.17.0-gpu": ("docker.io/tensorflow/tensorflow:2.17.0-gpu", 3_640_000_000),
    "nvcr.io/nvidia/k8s-device-plugin:v0.16.2": ("nvcr.io/nvidia/k8s-device-plugin:v0.16.2", 131_000_000),
    "gcr.io/distroless/static-debian12:nonroot": ("gcr.io/distroless/static-debian12:nonroot", 1_030_000),
    "golang:1.23": ("docker.io/library/golang:1.23", 292_000_000),
    "eclipse-temurin:21-jre": ("docker.io/library/eclipse-temurin:21-jre", 121_000_000),
    "registry.example.com/ml/recommender:2.3.1": ("registry.example.com/ml/recommender:2.3.1", 512_000_000),
    "node:22-alpine": ("docker.io/library/node:22-alpine", 56_400_000),
    "registry.k8s.io/metrics-server/metrics-server:v0.7.2": ("registry.k8s.io/metrics-server/metrics-server:v0.7.2", 19_500_000),
}
SYSTEM_IMAGES = ("registry.k8s.io/pause:3.10",)
MAX_NODE_IMAGES = 50  # the kubelet's nodeStatusMaxImages default


def _versions(repo: str, versions: range, fmt: str, size: int, step: int) -> dict[str, int]:
    return {f"{repo}:{fmt.format(v)}": size + step * (v % 7) for v in versions}


# What nodes of a pool keep from pods that ran there before: older tags, old app builds.
# A node keeps each with a fixed probability, so nodes of one pool hold different sets,
# and all but GPU nodes (few, young, replaced often) pass the kubelet's cap of 50: their
# smallest images go unlisted, and an image only general nodes run (distroless payments)
# is listed by no node at all.
LEFTOVERS: dict[str, dict[str, int]] = {
    "general": {
        "docker.io/library/node:20": 401_000_000,
        "docker.io/library/python:3.11": 399_000_000,
        "docker.io/library/nginx:1.26": 69_800_000,
        "docker.io/envoyproxy/envoy:v1.30.6": 61_000_000,
        **_versions("registry.example.com/shop/checkout", range(64), "1.4.{}", 36_000_000, 150_000),
        **_versions("registry.example.com/shop/cart", range(12), "2.2.{}", 118_000_000, 410_000),
    },
    "io": {
        "docker.io/library/postgres:15": 149_000_000,
        "docker.io/library/redis:7.2": 41_900_000,
        **_versions("registry.example.com/data/etl", range(60), "3.1.{}", 28_000_000, 260_000),
    },
    "compute": {
        "docker.io/apache/spark:3.5.1": 395_000_000,
        "docker.io/apache/spark:3.4.3": 377_000_000,
        **_versions("registry.example.com/analytics/features", range(60), "0.9.{}", 24_000_000, 300_000),
    },
    "gpu": {"docker.io/tensorflow/tensorflow:2.16.1-gpu": 3_510_000_000},
}
LEFTOVER_PERCENT = 75


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
# A StatefulSet's claim as its pods mount it: the controller names it <template>-<pod> (generate.py
# fills @stsname@ with the pod's name); the StatefulSet itself carries a volumeClaimTemplate instead.
CLAIM_TEMPLATE = "data"
CLAIM_VOLUME: dict[str, Any] = {"name": CLAIM_TEMPLATE, "persistentVolumeClaim": {"claimName": f"{CLAIM_TEMPLATE}-@stsname@"}}
CLAIM_SIZE = "20Gi"
STORAGE_CLASS = "gp3"
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
        "containers": [container("nvidia-device-plugin", "nvcr.io/nvidia/k8s-device-plugin:v0.16.2", {"cpu": "50m", "memory": "64Mi"})],
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
        "containers": [container("shell", "busybox", command=["sleep", "infinity"])],
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
                    "docker.io/library/node:22",
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
            "containers": [container("app", "python:3.12", {"cpu": "100m", "memory": "256Mi"})],
        },
        weight=3,
    ),
    Workload(
        "shop",
        "frontend",
        "ReplicaSet",
        ("general",),
        {
            "containers": [container("nginx", "nginx:1.27", imagePullPolicy="Always")],
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
                container("model", "registry.example.com/ml/recommender:2.3.1"),
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
                    volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}, {"name": "data", "mountPath": "/var/lib/postgresql"}],
                )
            ],
            # data: from the StatefulSet's volumeClaimTemplates (data-<pod>); @stsname@ is the pod's name
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}, CLAIM_VOLUME],
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
            "containers": [container("report", "golang:1.23", {"cpu": "500m", "memory": "1Gi"}, {"memory": "1Gi"})],
            "restartPolicy": "Never",
        },
        outcome="Job",
    ),
    Workload(
        "shop",
        "orders",
        "ReplicaSet",
        ("general",),
        {"containers": [container("app", "eclipse-temurin:21-jre", {"cpu": "500m", "memory": "1Gi"}, {"memory": "1536Mi"})]},
        weight=2,
    ),
    Workload(
        "shop",
        "notifier",
        "ReplicaSet",
        ("general",),
        {"containers": [container("app", "node:22-alpine", {"cpu": "50m", "memory": "128Mi"}, {"memory": "256Mi"})]},
    ),
    Workload(
        "analytics",
        "notebook",
        "ReplicaSet",
        ("compute",),
        {
            "containers": [container("lab", "python:3.12-slim", {"cpu": "1", "memory": "2Gi"}, {"memory": "4Gi"})],
            "nodeSelector": {"workload": "compute"},
        },
    ),
)
