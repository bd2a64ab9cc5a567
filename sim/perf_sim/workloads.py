"""The rest of a generated cluster: the controllers that own its pods, its Services
and ConfigMaps. Like pods, each object is built from its index on demand; names are
kept, the pod counts per controller (one pass over the pods, made the first time a
controller is asked for), and each object's JSON once it has been served (Indexed.json)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .catalog import (
    CLAIM_SIZE,
    CLAIM_TEMPLATE,
    CLAIM_VOLUME,
    DAEMONSETS,
    FILLER,
    GPU_PLUGIN,
    METRICS_SERVER,
    STORAGE_CLASS,
    WORKLOADS,
    Workload,
)
from .generate import Generated, suffix, template_spec, timestamp

Key = tuple[str, str]
PROXY_MODES = ("", "ipvs", "nftables", "iptables")  # kube-proxy's config.conf `mode`, by seed ("" = iptables)
CREATED = timestamp(-86400 * 30)


@dataclass
class Indexed:
    """One generated resource: keys by index, and a builder for index -> object."""

    keys: list[Key]
    build: Callable[[int], dict[str, Any]]
    labels: Callable[[int], dict[str, str]]
    # Each object's JSON once served. Its builder reads nothing that changes (the pod counts are taken
    # once), and building it again for every list made the sim's costs lie: a page of 500 Jobs cost it
    # 55 ms of CPU against 22 ms for 500 pods twice their size (pods are filled into a kept template), where
    # the API server answers both from its watch cache at a cost that follows the bytes. A report's lists
    # of controllers then stood in the way of its pod list on the sim's one core.
    _text: dict[int, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {k: i for i, k in enumerate(self.keys)}

    def json(self, i: int) -> str:
        text = self._text.get(i)
        if text is None:
            text = self._text[i] = json.dumps(self.build(i), separators=(",", ":"))
        return text


class Workloads:
    """Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, Services and ConfigMaps."""

    def __init__(self, g: Generated) -> None:
        self.g = g
        every = (*DAEMONSETS, GPU_PLUGIN, *WORKLOADS, FILLER) + ((METRICS_SERVER,) if g.metrics_replicas else ())
        self.workloads = sorted(every, key=lambda w: (w.namespace, w.name))
        self._census: tuple[Counter[str], Counter[str], Counter[str]] | None = None
        self._lock = threading.Lock()
        self._claims_made: list[tuple[str, str, str, str]] | None = None
        self.proxy_mode = PROXY_MODES[g.seed % len(PROXY_MODES)]

    # -- pod counts -------------------------------------------------------
    def census(self) -> tuple[Counter[str], Counter[str], Counter[str]]:
        """(pods, running pods, succeeded pods) per owning controller "namespace/name"."""
        with self._lock:
            if self._census is None:
                g = self.g
                pods: Counter[str] = Counter()
                running: Counter[str] = Counter()
                done: Counter[str] = Counter()
                owners = {w: f"{w.namespace}/{g.owner_name(w)}" for w in self.workloads if w.owner_kind != "Job"}
                for i in range(g.pod_count):
                    w = g.workload(i)
                    key = owners.get(w) or f"{w.namespace}/{g.pod_name(i, w).rsplit('-', 1)[0]}"
                    pods[key] += 1
                    phase = g.phase(i, w)
                    if phase == "Running":
                        running[key] += 1
                    elif phase == "Succeeded":
                        done[key] += 1
                self._census = (pods, running, done)
            return self._census

    def jobs(self) -> list[tuple[Workload, str]]:
        """Every Job some pod belongs to: (workload, job name), sorted by name."""
        pods = self.census()[0]
        by_name = {w.name: w for w in self.workloads if w.owner_kind == "Job"}
        found = []
        for key in pods:
            ns, _, job = key.partition("/")
            w = by_name.get(job.rsplit("-", 1)[0])
            if w is not None and w.namespace == ns:
                found.append((w, job))
        return sorted(found, key=lambda p: (p[0].namespace, p[1]))

    # -- resources --------------------------------------------------------
    def resources(self) -> dict[str, Callable[[], Indexed]]:
        """Collection name -> a builder of its Indexed source (called once, on first use)."""
        return {
            "deployments": lambda: self._controllers("Deployment"),
            "replicasets": lambda: self._controllers("ReplicaSet"),
            "statefulsets": lambda: self._controllers("StatefulSet"),
            "daemonsets": lambda: self._controllers("DaemonSet"),
            "cronjobs": lambda: self._controllers("CronJob"),
            "jobs": self._jobs,
            "services": self._services,
            "configmaps": self._configmaps,
            "persistentvolumeclaims": self._claims,
            "persistentvolumes": self._volumes,
            "storageclasses": self._classes,
        }

    def _controllers(self, kind: str) -> Indexed:
        chosen = []
        for w in self.workloads:
            if kind == "Deployment" and w.owner_kind == "ReplicaSet" and w is not FILLER:
                chosen.append((w, w.name))
            elif kind == "ReplicaSet" and w.owner_kind == "ReplicaSet":
                chosen.append((w, self.g.owner_name(w)))
            elif kind in ("StatefulSet", "DaemonSet") and w.owner_kind == kind:
                chosen.append((w, w.name))
            elif kind == "CronJob" and w.outcome == "Job":
                chosen.append((w, w.name))
        build = {
            "Deployment": self.deployment,
            "ReplicaSet": self.replicaset,
            "StatefulSet": self.statefulset,
            "DaemonSet": self.daemonset,
            "CronJob": self.cronjob,
        }[kind]
        return Indexed(
            [(w.namespace, name) for w, name in chosen],
            lambda i: build(chosen[i][0]),
            lambda i: self.labels(chosen[i][0]),
        )

    def _jobs(self) -> Indexed:
        jobs = self.jobs()
        return Indexed([(w.namespace, name) for w, name in jobs], lambda i: self.job(*jobs[i]), lambda i: self.job_labels(*jobs[i]))

    # -- objects ----------------------------------------------------------
    @staticmethod
    def labels(w: Workload) -> dict[str, str]:
        return {"app.kubernetes.io/name": w.name, "team": w.namespace}

    def meta(self, kind: str, w: Workload, name: str, **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": w.namespace,
            "uid": self.g.owner_uid(kind, w.namespace, name),
            "resourceVersion": "1",
            "generation": 1,
            "creationTimestamp": CREATED,
            "labels": self.labels(w),
            **extra,
        }

    def template(self, w: Workload, labels: dict[str, str]) -> dict[str, Any]:
        spec = template_spec(w.spec)
        if CLAIM_VOLUME in (w.spec.get("volumes") or []):  # the controller adds it to each pod, named for the pod
            spec["volumes"] = [v for v in spec["volumes"] if v.get("name") != CLAIM_TEMPLATE]
        return {"metadata": {"labels": labels}, "spec": spec}

    def owner(self, kind: str, api_version: str, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            {
                "apiVersion": api_version,
                "kind": kind,
                "name": name,
                "uid": self.g.owner_uid(kind, namespace, name),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]

    def _counts(self, w: Workload, owner: str) -> tuple[int, int, int]:
        pods, running, done = self.census()
        key = f"{w.namespace}/{owner}"
        return pods[key], running[key], done[key]

    def deployment(self, w: Workload) -> dict[str, Any]:
        n, ready, _ = self._counts(w, self.g.owner_name(w))
        replicas = self.g.metrics_replicas if w is METRICS_SERVER else n
        labels = self.labels(w)
        return {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": self.meta("Deployment", w, w.name, annotations={"deployment.kubernetes.io/revision": "1"}),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}},
                "template": self.template(w, labels),
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
            "status": {
                "observedGeneration": 1,
                "replicas": n,
                "updatedReplicas": n,
                "readyReplicas": ready,
                "availableReplicas": ready,
                **({"unavailableReplicas": n - ready} if n > ready else {}),
                "conditions": [
                    condition(
                        "Available", "True" if ready else "False", "MinimumReplicasAvailable", "Deployment has minimum availability."
                    ),
                    condition(
                        "Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{self.g.owner_name(w)}" has successfully progressed.'
                    ),
                ],
            },
        }

    def replicaset(self, w: Workload) -> dict[str, Any]:
        name = self.g.owner_name(w)
        n, ready, _ = self._counts(w, name)
        labels = {**self.labels(w), "pod-template-hash": self.g.template_hash(w)}
        extra: dict[str, Any] = {"labels": labels}
        if w is not FILLER:  # the filler is a bare ReplicaSet: nothing owns it
            extra["annotations"] = {
                "deployment.kubernetes.io/desired-replicas": str(n),
                "deployment.kubernetes.io/max-replicas": str(n + (n + 3) // 4),
                "deployment.kubernetes.io/revision": "1",
            }
            extra["ownerReferences"] = self.owner("Deployment", "apps/v1", w.namespace, w.name)
        return {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": self.meta("ReplicaSet", w, name, **extra),
            "spec": {
                "replicas": n,
                "selector": {"matchLabels": {"app.kubernetes.io/name": w.name, "pod-template-hash": self.g.template_hash(w)}},
                "template": self.template(w, labels),
            },
            "status": {
                "replicas": n,
                "fullyLabeledReplicas": n,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": 1,
            },
        }

    def statefulset(self, w: Workload) -> dict[str, Any]:
        n, ready, _ = self._counts(w, w.name)
        revision = f"{w.name}-{self.g.template_hash(w)[:10]}"
        return {
            "kind": "StatefulSet",
            "apiVersion": "apps/v1",
            "metadata": self.meta("StatefulSet", w, w.name),
            "spec": {
                "replicas": n,
                "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}},
                "template": self.template(w, self.labels(w)),
                "serviceName": w.name,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "revisionHistoryLimit": 10,
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                **({"volumeClaimTemplates": [self.claim_template()]} if CLAIM_VOLUME in (w.spec.get("volumes") or []) else {}),
            },
            "status": {
                "observedGeneration": 1,
                "replicas": n,
                "readyReplicas": ready,
                "currentReplicas": n,
                "updatedReplicas": n,
                "availableReplicas": ready,
                "currentRevision": revision,
                "updateRevision": revision,
                "collisionCount": 0,
            },
        }

    # -- storage ----------------------------------------------------------
    @staticmethod
    def claim_template() -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": CLAIM_TEMPLATE},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": STORAGE_CLASS,
                "resources": {"requests": {"storage": CLAIM_SIZE}},
                "volumeMode": "Filesystem",
            },
        }

    def claim_list(self) -> list[tuple[str, str, str, str]]:
        """(namespace, claim, phase, the PV bound or "") of every generated claim: one per pod of a
        StatefulSet with a claim template; claims of pods since scaled away (Bound, mounted by
        none: 2 + one per 200 nodes) and never provisioned (Pending: 1 + one per 500 nodes)."""
        with self._lock:
            if self._claims_made is not None:
                return self._claims_made
        out = []
        for i in range(self.g.pod_count):
            w = self.g.workload(i)
            if CLAIM_VOLUME in (w.spec.get("volumes") or []):
                name = f"{CLAIM_TEMPLATE}-{self.g.pod_name(i, w)}"
                out.append((w.namespace, name, "Bound", f"pvc-{self.g.uid(7, i)}"))
        for j in range(2 + self.g.nodes // 200):
            out.append(("data", f"{CLAIM_TEMPLATE}-postgres-old-{j}", "Bound", f"pvc-{self.g.uid(8, j)}"))
        for j in range(1 + self.g.nodes // 500):
            out.append(("analytics", f"scratch-{j}", "Pending", ""))
        out.sort(key=lambda c: (c[0], c[1]))
        with self._lock:
            self._claims_made = out
        return out

    def claim(self, namespace: str, name: str, phase: str, pv: str) -> dict[str, Any]:
        size = "500Gi" if name.startswith("scratch-") else CLAIM_SIZE
        spec: dict[str, Any] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            "storageClassName": STORAGE_CLASS,
            "volumeMode": "Filesystem",
        }
        status: dict[str, Any] = {"phase": phase}
        if pv:
            spec["volumeName"] = pv
            status.update({"accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}})
        return {
            "kind": "PersistentVolumeClaim",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": self.g.owner_uid("PersistentVolumeClaim", namespace, name),
                "resourceVersion": "1",
                "creationTimestamp": CREATED,
                "finalizers": ["kubernetes.io/pvc-protection"],
                **({"annotations": {"pv.kubernetes.io/bind-completed": "yes"}} if pv else {}),
            },
            "spec": spec,
            "status": status,
        }

    def _claims(self) -> Indexed:
        claims = self.claim_list()
        return Indexed([(c[0], c[1]) for c in claims], lambda i: self.claim(*claims[i]), lambda i: {})

    def volume_list(self) -> list[tuple[str, str, str, str]]:
        """(PV, claim namespace, claim, phase): one per bound claim, and Released ones whose claim
        was deleted under the Retain policy (1 + one per 250 nodes)."""
        out = [(pv, ns, name, "Bound") for ns, name, _phase, pv in self.claim_list() if pv]
        out += [(f"pvc-released-{j}", "data", f"{CLAIM_TEMPLATE}-postgres-gone-{j}", "Released") for j in range(1 + self.g.nodes // 250)]
        return sorted(out)

    def volume(self, name: str, namespace: str, claim: str, phase: str) -> dict[str, Any]:
        return {
            "kind": "PersistentVolume",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": self.g.owner_uid("PersistentVolume", "", name),
                "resourceVersion": "1",
                "creationTimestamp": CREATED,
                "finalizers": ["kubernetes.io/pv-protection"],
            },
            "spec": {
                "capacity": {"storage": CLAIM_SIZE},
                "accessModes": ["ReadWriteOnce"],
                "claimRef": {"kind": "PersistentVolumeClaim", "namespace": namespace, "name": claim, "apiVersion": "v1"},
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": STORAGE_CLASS,
                "volumeMode": "Filesystem",
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": f"vol-{name[-12:]}"},
            },
            "status": {"phase": phase, "lastPhaseTransitionTime": CREATED},
        }

    def _volumes(self) -> Indexed:
        pvs = self.volume_list()
        return Indexed([("", v[0]) for v in pvs], lambda i: self.volume(*pvs[i]), lambda i: {})

    def _classes(self) -> Indexed:
        classes = [
            (STORAGE_CLASS, "ebs.csi.aws.com", {"storageclass.kubernetes.io/is-default-class": "true"}),
            ("io2", "ebs.csi.aws.com", {}),
        ]

        def build(i: int) -> dict[str, Any]:
            name, provisioner, notes = classes[i]
            return {
                "kind": "StorageClass",
                "apiVersion": "storage.k8s.io/v1",
                "metadata": {
                    "name": name,
                    "uid": self.g.owner_uid("StorageClass", "", name),
                    "resourceVersion": "1",
                    "creationTimestamp": CREATED,
                    **({"annotations": notes} if notes else {}),
                },
                "provisioner": provisioner,
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "WaitForFirstConsumer",
                "allowVolumeExpansion": True,
            }

        return Indexed([("", c[0]) for c in classes], build, lambda i: {})

    def daemonset(self, w: Workload) -> dict[str, Any]:
        n, ready, _ = self._counts(w, w.name)
        return {
            "kind": "DaemonSet",
            "apiVersion": "apps/v1",
            "metadata": self.meta("DaemonSet", w, w.name, annotations={"deprecated.daemonset.template.generation": "1"}),
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}},
                "template": self.template(w, self.labels(w)),
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "revisionHistoryLimit": 10,
            },
            "status": {
                "currentNumberScheduled": n,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": n,
                "numberReady": ready,
                "observedGeneration": 1,
                "updatedNumberScheduled": n,
                "numberAvailable": ready,
            },
        }

    def job_spec(self, w: Workload) -> dict[str, Any]:
        return {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "suspend": False,
            "template": self.template(w, self.labels(w)),
        }

    def job_labels(self, w: Workload, name: str) -> dict[str, str]:
        return {**self.labels(w), "batch.kubernetes.io/job-name": name}

    def job(self, w: Workload, name: str) -> dict[str, Any]:
        n, running, done = self._counts(w, name)
        failed = n - running - done
        uid = self.g.owner_uid("Job", w.namespace, name)
        spec = self.job_spec(w)
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        spec["template"]["metadata"]["labels"].update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name})
        extra: dict[str, Any] = {"labels": self.job_labels(w, name)}
        if w.outcome == "Job":  # scheduled by the CronJob of the same name
            extra["ownerReferences"] = self.owner("CronJob", "batch/v1", w.namespace, w.name)
        status: dict[str, Any] = {"startTime": CREATED, "active": running, "succeeded": done, "failed": failed, "ready": running}
        if n and not running:
            ok = done > 0
            status["completionTime"] = CREATED
            status["conditions"] = [condition("Complete" if ok else "Failed", "True", "" if ok else "BackoffLimitExceeded", "")]
        return {"kind": "Job", "apiVersion": "batch/v1", "metadata": self.meta("Job", w, name, **extra), "spec": spec, "status": status}

    def cronjob(self, w: Workload) -> dict[str, Any]:
        return {
            "kind": "CronJob",
            "apiVersion": "batch/v1",
            "metadata": self.meta("CronJob", w, w.name),
            "spec": {
                "schedule": "0 2 * * *",
                "concurrencyPolicy": "Allow",
                "suspend": False,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {"metadata": {}, "spec": self.job_spec(w)},
            },
            "status": {"lastScheduleTime": CREATED, "lastSuccessfulTime": CREATED},
        }

    # -- services and configmaps -----------------------------------------
    def service_count(self) -> int:
        """One per Deployment and StatefulSet, plus about one per 40 pods: thousands on a big cluster."""
        return max(0, self.g.pod_count // 40 - len(self._app_services()))

    def _app_services(self) -> list[Workload]:
        return [w for w in self.workloads if w.owner_kind in ("ReplicaSet", "StatefulSet") and w is not FILLER]

    def _services(self) -> Indexed:
        apps = self._app_services()
        namespaces = sorted({w.namespace for w in WORKLOADS})
        keys = [("default", "kubernetes"), ("kube-system", "kube-dns")] + [(w.namespace, w.name) for w in apps]
        keys += [(namespaces[n % len(namespaces)], f"api-{suffix(n + 7)}") for n in range(self.service_count())]

        def build(i: int) -> dict[str, Any]:
            ns, name = keys[i]
            app = apps[i - 2] if 2 <= i < 2 + len(apps) else None
            headless = app is not None and app.owner_kind == "StatefulSet"
            port = {"kubernetes": 443, "kube-dns": 53}.get(name, 8080 if app is None else 80)
            spec: dict[str, Any] = {
                "type": "ClusterIP",
                "clusterIP": "None" if headless else f"10.96.{i // 250}.{i % 250 + 1}",
                "ports": [
                    {
                        "name": "https" if port == 443 else "dns" if port == 53 else "http",
                        "port": port,
                        "protocol": "UDP" if port == 53 else "TCP",
                        "targetPort": port,
                    }
                ],
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
            }
            spec["clusterIPs"] = [spec["clusterIP"]]
            if name != "kubernetes":
                spec["selector"] = {"app.kubernetes.io/name": app.name if app else {"kube-dns": "coredns"}.get(name, name)}
            return {
                "kind": "Service",
                "apiVersion": "v1",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "uid": self.g.owner_uid("Service", ns, name),
                    "resourceVersion": "1",
                    "creationTimestamp": CREATED,
                    "labels": service_labels(name),
                },
                "spec": spec,
                "status": {"loadBalancer": {}},
            }

        return Indexed(keys, build, lambda i: service_labels(keys[i][1]))

    def _configmaps(self) -> Indexed:
        keys = [(ns, "kube-root-ca.crt") for ns in self.g.namespaces] + [("kube-system", "coredns"), ("kube-system", "kube-proxy")]
        keys.sort()
        data = {
            "kube-root-ca.crt": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIBperfsim\n-----END CERTIFICATE-----\n"},
            "coredns": {
                "Corefile": ".:53 {\n    errors\n    health\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n    forward . /etc/resolv.conf\n    cache 30\n}\n"
            },
            "kube-proxy": {"config.conf": kube_proxy_config(self.proxy_mode), "kubeconfig.conf": "apiVersion: v1\nkind: Config\n"},
        }

        def build(i: int) -> dict[str, Any]:
            ns, name = keys[i]
            return {
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "uid": self.g.owner_uid("ConfigMap", ns, name),
                    "resourceVersion": "1",
                    "creationTimestamp": CREATED,
                    **({"labels": {"app": "kube-proxy"}} if name == "kube-proxy" else {}),
                },
                "data": data[name],
            }

        return Indexed(keys, build, lambda i: {"app": "kube-proxy"} if keys[i][1] == "kube-proxy" else {})


def condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
    out = {"type": kind, "status": status, "lastUpdateTime": CREATED, "lastTransitionTime": CREATED}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def service_labels(name: str) -> dict[str, str]:
    if name == "kubernetes":
        return {"component": "apiserver", "provider": "kubernetes"}
    if name == "kube-dns":
        return {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
    return {"app.kubernetes.io/name": name}


def kube_proxy_config(mode: str) -> str:
    """kubeadm's KubeProxyConfiguration, trimmed to what matters here."""
    return (
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
        "kind: KubeProxyConfiguration\n"
        "bindAddress: 0.0.0.0\n"
        "clientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\n"
        "clusterCIDR: 10.64.0.0/10\n"
        f'mode: "{mode}"\n'
        'ipvs:\n  scheduler: ""\n'
        "nftables:\n  syncPeriod: 0s\n"
    )


def generated_hpas(g: Generated, count: int = 3) -> list[dict[str, Any]]:
    """A few autoscaling/v2 HPAs on cpu over the generated Deployments outside kube-system (every
    third, at most `count`), so tools that must leave HPA-scaled workloads alone have some to find."""
    deployments = [
        w for w in sorted(WORKLOADS, key=lambda w: (w.namespace, w.name)) if w.owner_kind == "ReplicaSet" and w.namespace != "kube-system"
    ]
    out = []
    for w in deployments[::3][:count]:
        out.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": w.name, "namespace": w.namespace, "creationTimestamp": CREATED},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": w.name},
                    "minReplicas": 1,
                    "maxReplicas": 10,
                    "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
                    ],
                },
            }
        )
    return out
