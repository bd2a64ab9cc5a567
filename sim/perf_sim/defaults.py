"""What kube-apiserver adds to an object on create: its defaulting functions and the default
admission plugins (DefaultTolerationSeconds, RuntimeClass, PodTopologyLabels), as measured
against a real v1.36 server by tests/test_differential.py."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from kubectl_perf.model import container_amounts

Obj = dict[str, Any]
NOT_READY = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
TOPOLOGY_LABELS = ("topology.kubernetes.io/zone", "topology.kubernetes.io/region")
_service_ips = itertools.count(10)


def pull_policy(image: str) -> str:
    """Always for :latest or no tag, unless pinned by digest; IfNotPresent otherwise."""
    if "@" in image:
        return "IfNotPresent"
    tail = image.rpartition("/")[2]
    return "IfNotPresent" if ":" in tail and not tail.endswith(":latest") else "Always"


def template_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and the container defaults: what every pod template gets."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        for port in c.get("ports") or []:  # SetDefaults_ContainerPort
            port.setdefault("protocol", "TCP")
        if c.get("image"):
            c.setdefault("imagePullPolicy", pull_policy(c["image"]))


def template(tmpl: Obj) -> None:
    tmpl.setdefault("metadata", {})
    template_spec(tmpl.setdefault("spec", {}))


def pod_spec(spec: Obj) -> None:
    """A pod's spec (not a template's): defaults, requests from limits, DefaultTolerationSeconds."""
    template_spec(spec)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", PRIORITIES.get(spec.get("priorityClassName", ""), 0))
    for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        res = c.setdefault("resources", {})  # always there, if empty, as Go serializes it
        for r, v in (res.get("limits") or {}).items():  # requests default to limits
            res.setdefault("requests", {}).setdefault(r, v)
    tolerations = spec.get("tolerations") or []
    for key in NOT_READY:
        if not any(
            t.get("operator") == "Exists" and t.get("key") in (key, None) and t.get("effect") in ("NoExecute", None) for t in tolerations
        ):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    spec["tolerations"] = tolerations


def pod(obj: Obj, lookup: Callable[[str, str], Obj | None]) -> None:
    """A pod as the API server stores it; lookup(resource, name) reads cluster objects."""
    meta, spec = obj["metadata"], obj.setdefault("spec", {})
    meta.setdefault("generation", 1)
    pod_spec(spec)
    if spec.get("runtimeClassName") and "overhead" not in spec:  # RuntimeClass admission
        rc = lookup("runtimeclasses", spec["runtimeClassName"])
        if rc and (rc.get("overhead") or {}).get("podFixed"):
            spec["overhead"] = dict(rc["overhead"]["podFixed"])
    node = lookup("nodes", spec["nodeName"]) if spec.get("nodeName") else None
    if node:  # PodTopologyLabels: a bound pod carries its node's zone and region
        node_labels = node["metadata"].get("labels") or {}
        for key in TOPOLOGY_LABELS:
            if key in node_labels:
                meta.setdefault("labels", {}).setdefault(key, node_labels[key])
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", qos_class(spec))
    if status.get("podIP") and "podIPs" not in status:
        status["podIPs"] = [{"ip": status["podIP"]}]


def qos_class(spec: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits (pod-level
    resources make a pod Burstable at least)."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    reqs = [container_amounts(c, "requests") for c in containers]
    lims = [container_amounts(c, "limits") for c in containers]
    if not any(r.get(k) or lim.get(k) for r, lim in zip(reqs, lims, strict=True) for k in ("cpu", "memory")) and not spec.get("resources"):
        return "BestEffort"
    guaranteed = all(lim.get(k) and r.get(k, lim[k]) == lim[k] for r, lim in zip(reqs, lims, strict=True) for k in ("cpu", "memory"))
    return "Guaranteed" if guaranteed and not spec.get("resources") else "Burstable"


def service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if "clusterIP" not in spec:
        n = next(_service_ips)
        spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    obj.setdefault("status", {"loadBalancer": {}})


def namespace(obj: Obj) -> None:
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def node(obj: Obj) -> None:
    obj.setdefault("spec", {})
    status = obj.setdefault("status", {})
    status.setdefault("daemonEndpoints", {"kubeletEndpoint": {"Port": 0}})
    status.setdefault(
        "nodeInfo",
        dict.fromkeys(
            (
                "machineID",
                "systemUUID",
                "bootID",
                "kernelVersion",
                "osImage",
                "containerRuntimeVersion",
                "kubeletVersion",
                "kubeProxyVersion",
                "operatingSystem",
                "architecture",
            ),
            "",
        ),
    )


def controller(obj: Obj, resource: str) -> None:
    """Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs."""
    meta, spec = obj["metadata"], obj.setdefault("spec", {})
    meta.setdefault("generation", 1)
    if resource == "cronjobs":
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_template = spec.setdefault("jobTemplate", {})
        job_template.setdefault("metadata", {})
        template(job_template.setdefault("spec", {}).setdefault("template", {}))
        obj.setdefault("status", {})
        return
    template(spec.setdefault("template", {}))
    if resource == "deployments":
        # SetDefaults_Deployment: by field, so an empty strategy (kubectl create deployment sends {}) is filled too
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        obj.setdefault("status", {})
    elif resource == "replicasets":
        obj.setdefault("status", {"replicas": 0})
    elif resource == "statefulsets":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        obj.setdefault("status", {"replicas": 0, "availableReplicas": 0})
    elif resource == "daemonsets":
        meta.setdefault("annotations", {}).setdefault("deprecated.daemonset.template.generation", "1")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
        obj.setdefault("status", {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0})
    elif resource == "jobs":
        uid = meta["uid"]
        labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": meta["name"],
            "controller-uid": uid,
            "job-name": meta["name"],
        }
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("manualSelector", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        meta["labels"] = {**labels, **(meta.get("labels") or {})}
        tmeta = spec["template"]["metadata"]
        tmeta["labels"] = {**labels, **(tmeta.get("labels") or {})}
        obj.setdefault("status", {})


CONTROLLERS = ("deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs")


def apply(obj: Obj, resource: str, lookup: Callable[[str, str], Obj | None]) -> None:
    """Default a new object of `resource` in place."""
    if resource == "pods":
        pod(obj, lookup)
    elif resource == "services":
        service(obj)
    elif resource == "namespaces":
        namespace(obj)
    elif resource == "nodes":
        node(obj)
    elif resource in CONTROLLERS:
        controller(obj, resource)
    elif resource in STORAGE:
        storage(obj, resource)


STORAGE = ("persistentvolumes", "persistentvolumeclaims", "storageclasses")


def storage(obj: Obj, resource: str) -> None:
    """The storage kinds' defaults, as a real v1.36 server adds them (tests/test_differential.py):
    a new claim or volume is Pending until a controller binds it (a fixture's status stands)."""
    if resource == "storageclasses":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
        return
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    # the StorageObjectInUseProtection admission plugin: no delete while in use
    finalizer = "kubernetes.io/pv-protection" if resource == "persistentvolumes" else "kubernetes.io/pvc-protection"
    meta = obj.setdefault("metadata", {})
    meta["finalizers"] = [*(f for f in meta.get("finalizers") or [] if f != finalizer), finalizer]
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    if resource == "persistentvolumes":
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        status.setdefault("lastPhaseTransitionTime", (obj.get("metadata") or {}).get("creationTimestamp"))
