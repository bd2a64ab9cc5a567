"""The simulated API server's objects: generated ones addressed by index, plus
objects loaded from files or created through the API, with resource versions
and a bounded event history for watches."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .generate import Generated
from .selectors import SelectorError, label_matcher, parse_fields
from .workloads import Indexed, Workloads

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
HISTORY = 10000  # watch events kept; older resource versions answer 410 Gone
METRICS_API_SERVICE = "v1beta1.metrics.k8s.io"

NAME_FIELDS = ("metadata.name", "metadata.namespace")
RW = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Kind:
    resource: str  # the plural in URLs
    kind: str
    namespaced: bool
    group_version: str = "v1"
    fields: tuple[str, ...] = NAME_FIELDS  # field selectors the API server accepts
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = RW
    categories: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]


# Built-in resources by collection name: the plural (metrics.k8s.io's get names of their own).
KINDS = {
    "namespaces": Kind(
        "namespaces",
        "Namespace",
        False,
        fields=("metadata.name", "status.phase"),
        short_names=("ns",),
        verbs=tuple(v for v in RW if v != "deletecollection"),
    ),
    "nodes": Kind("nodes", "Node", False, fields=("metadata.name", "spec.unschedulable"), short_names=("no",)),
    "pods": Kind(
        "pods",
        "Pod",
        True,
        fields=(
            *NAME_FIELDS,
            "spec.nodeName",
            "status.phase",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.podIP",
            "status.nominatedNodeName",
        ),
        short_names=("po",),
        categories=("all",),
    ),
    "configmaps": Kind("configmaps", "ConfigMap", True, short_names=("cm",)),
    "limitranges": Kind("limitranges", "LimitRange", True, short_names=("limits",)),  # read by perf-webhook for templates
    # core v1 Events, with the field selectors the API server's event strategy offers
    "events": Kind(
        "events",
        "Event",
        True,
        fields=(
            *NAME_FIELDS,
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ),
        short_names=("ev",),
    ),
    "services": Kind(
        "services", "Service", True, fields=(*NAME_FIELDS, "spec.clusterIP", "spec.type"), short_names=("svc",), categories=("all",)
    ),
    "deployments": Kind("deployments", "Deployment", True, "apps/v1", short_names=("deploy",), categories=("all",)),
    "statefulsets": Kind("statefulsets", "StatefulSet", True, "apps/v1", short_names=("sts",), categories=("all",)),
    "daemonsets": Kind("daemonsets", "DaemonSet", True, "apps/v1", short_names=("ds",), categories=("all",)),
    "replicasets": Kind("replicasets", "ReplicaSet", True, "apps/v1", short_names=("rs",), categories=("all",)),
    "jobs": Kind("jobs", "Job", True, "batch/v1", (*NAME_FIELDS, "status.successful"), categories=("all",)),
    "cronjobs": Kind("cronjobs", "CronJob", True, "batch/v1", short_names=("cj",), categories=("all",)),
    # Storage (issue 26): claims, volumes and classes, loaded from --objects files or created through the API.
    "persistentvolumes": Kind("persistentvolumes", "PersistentVolume", False, fields=("metadata.name",), short_names=("pv",)),
    "persistentvolumeclaims": Kind("persistentvolumeclaims", "PersistentVolumeClaim", True, short_names=("pvc",)),
    "storageclasses": Kind("storageclasses", "StorageClass", False, "storage.k8s.io/v1", ("metadata.name",), ("sc",)),
    "horizontalpodautoscalers": Kind(
        "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, "autoscaling/v2", short_names=("hpa",), categories=("all",)
    ),
    "runtimeclasses": Kind("runtimeclasses", "RuntimeClass", False, "node.k8s.io/v1", ("metadata.name",)),
    "apiservices": Kind(
        "apiservices", "APIService", False, "apiregistration.k8s.io/v1", ("metadata.name",), categories=("api-extensions",)
    ),
    "customresourcedefinitions": Kind(
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        "apiextensions.k8s.io/v1",
        ("metadata.name",),
        ("crd", "crds"),
        categories=("api-extensions",),
    ),
    "nodemetrics": Kind("nodes", "NodeMetrics", False, "metrics.k8s.io/v1beta1", ("metadata.name",), verbs=("get", "list")),
    "podmetrics": Kind("pods", "PodMetrics", True, "metrics.k8s.io/v1beta1", verbs=("get", "list")),
}
LOCAL_GROUPS = (
    "",
    "apps",
    "batch",
    "autoscaling",
    "node.k8s.io",
    "storage.k8s.io",
    "apiregistration.k8s.io",
    "apiextensions.k8s.io",
)  # served by the API server itself


class ApiStatus(Exception):
    """An error answered as a Kubernetes Status object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details
        self.list_meta: dict[str, Any] = {}

    def body(self) -> dict[str, Any]:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": self.list_meta,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(resource: str, name: str, group: str = "") -> ApiStatus:
    what = f"{resource}.{group}" if group else resource
    return ApiStatus(404, "NotFound", f'{what} "{name}" not found', {"name": name, "kind": resource, **({"group": group} if group else {})})


def dotted(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, Mapping) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Collection:
    """One resource: generated objects (by index) then explicit ones (by key)."""

    def __init__(self, name: str, kind: Kind) -> None:
        self.name = name
        self.kind = kind
        self.gen_size: Callable[[], int] = lambda: 0
        self.gen_key: Callable[[int], Key] = lambda i: ("", "")
        self.gen_labels: Callable[[int], Mapping[str, str]] = lambda i: {}
        self.gen_fields: Callable[[int], Mapping[str, str]] = lambda i: {}
        self.gen_json: Callable[[int], str] = lambda i: "{}"
        self.gen_index: Callable[[Key], int | None] = lambda key: None
        # The generated indices bound to a node (spec.nodeName), ascending; None: not indexed. The API
        # server's watch cache indexes pods by node (each kubelet lists its own), so such a list costs it
        # the node's pods, not a walk of the cluster's: a walk made one list 0.4-0.7 s of the sim's CPU at 30,000.
        self.gen_on_node: Callable[[str], range] | None = None
        self.overrides: dict[int, dict[str, Any] | None] = {}  # index -> replaced object, or None if deleted
        self.extras: dict[Key, dict[str, Any]] = {}
        self._sorted: list[Key] | None = None
        self.schema: dict[str, Any] | None = None  # a custom resource's openAPIV3Schema
        self.printer_columns: list[dict[str, Any]] = []  # and its additionalPrinterColumns

    @property
    def gen_count(self) -> int:
        return self.gen_size()

    def key_of(self, obj: Mapping[str, Any]) -> Key:
        meta = obj.get("metadata") or {}
        return (meta.get("namespace") or "") if self.kind.namespaced else "", meta.get("name") or ""

    def sorted_extras(self) -> list[Key]:
        if self._sorted is None:
            self._sorted = sorted(self.extras)
        return self._sorted

    def get(self, key: Key) -> dict[str, Any] | None:
        if key in self.extras:
            return self.extras[key]
        i = self.gen_index(key)
        if i is None:
            return None
        if i in self.overrides:
            return self.overrides[i]
        return json.loads(self.gen_json(i))

    def select(
        self, namespace: str | None, labels: str | None, fields: str | None, start: tuple[str, Any] | None = None
    ) -> Iterator[tuple[tuple[str, Any], str | dict[str, Any]]]:
        """Yield (position, object) for matching objects from `start` on; a generated
        object comes as JSON text (built only once it matches), others as dicts."""
        try:
            match_labels = label_matcher(labels)
            terms = field_terms(self.kind, fields)
        except SelectorError as err:
            raise ApiStatus(400, "BadRequest", str(err)) from None
        if namespace and self.kind.namespaced:
            terms = [("metadata.namespace", True, namespace)] + terms

        def object_ok(obj: Mapping[str, Any]) -> bool:
            return all((dotted(obj, f) == v) == eq for f, eq, v in terms) and match_labels(obj["metadata"].get("labels") or {})

        def generated_ok(i: int) -> bool:
            facts = self.gen_fields(i)  # cheap facts first; the object is built only for rarer fields
            built: dict[str, Any] = {}
            for f, eq, v in terms:
                if f not in facts and not built:
                    built.update(json.loads(self.gen_json(i)))
                if ((facts[f] if f in facts else dotted(built, f)) == v) != eq:
                    return False
            return match_labels(self.gen_labels(i))

        count = self.gen_count
        first_gen = start[1] if start and start[0] == "g" else (count if start else 0)
        indices: Iterable[int] = range(first_gen, count)
        node = next((v for f, eq, v in terms if f == "spec.nodeName" and eq), "")
        if node and self.gen_on_node is not None:
            bound = self.gen_on_node(node)  # and any replaced by a write: it may be bound anywhere now
            indices = sorted({*range(max(first_gen, bound.start), bound.stop), *(i for i in self.overrides if i >= first_gen)})
        for i in indices:
            if i in self.overrides:
                obj = self.overrides[i]
                if obj is not None and object_ok(obj):
                    yield ("g", i), obj
            elif generated_ok(i):
                yield ("g", i), self.gen_json(i)
        after = start[1] if start and start[0] == "x" else None
        for key in self.sorted_extras():
            if after is not None and tuple(key) <= tuple(after):
                continue
            extra = self.extras.get(key)
            if extra is not None and object_ok(extra):
                yield ("x", list(key)), extra

    def remaining(self, namespace: str | None, after: tuple[str, Any]) -> int | None:
        """How many objects follow position `after` (a continue position), as the API
        server counts them for remainingItemCount; None where that would mean a scan."""
        ns = namespace if self.kind.namespaced else None
        count = 0
        if after[0] == "g":
            if ns and self.gen_count:
                return None
            count = self.gen_count - after[1] - sum(1 for i, o in self.overrides.items() if o is None and i >= after[1])
        for key in self.sorted_extras():
            if (after[0] == "g" or tuple(key) > tuple(after[1])) and (not ns or key[0] == ns):
                count += 1
        return count

    def put(self, obj: dict[str, Any]) -> str:
        """Store an object; returns the event type (ADDED or MODIFIED)."""
        key = self.key_of(obj)
        i = self.gen_index(key)
        if i is not None and key not in self.extras:
            existed = self.overrides.get(i, {}) is not None
            self.overrides[i] = obj
            return "MODIFIED" if existed else "ADDED"
        existed = key in self.extras
        self.extras[key] = obj
        if not existed:
            self._sorted = None
        return "MODIFIED" if existed else "ADDED"

    def remove(self, key: Key) -> None:
        if key in self.extras:
            del self.extras[key]
            self._sorted = None
        else:
            i = self.gen_index(key)
            if i is not None:
                self.overrides[i] = None


class Store:
    def __init__(self, generated: Generated | None) -> None:
        self.generated = generated
        self.rv = 1000
        self.compacted_rv = self.first_rv = self.rv  # watches from before first_rv start from the current state
        self.changed = threading.Condition()
        self.events: deque[tuple[int, str, str, dict[str, Any]]] = deque(maxlen=HISTORY)
        self.kinds: dict[str, Kind] = dict(KINDS)  # grows and shrinks with CustomResourceDefinitions
        self.collections = {name: Collection(name, kind) for name, kind in KINDS.items()}
        for ns in ("default", "kube-node-lease", "kube-public", "kube-system"):  # what every API server creates
            self.collections["namespaces"].put(namespace_object(ns, "1"))
        for group in LOCAL_GROUPS:
            self.collections["apiservices"].put(api_service(group, "v1"))
        for obj in bootstrap_objects(kubernetes_service=generated is None):  # generated clusters have their own Service
            self.collections[obj["kind"].lower() + "s"].put(obj)
        if generated:
            self._attach(generated)

    def collection_for(self, group: str, resource: str) -> str | None:
        """The collection serving a resource of an API group, if it is served."""
        for name, kind in self.kinds.items():
            if kind.group == group and kind.resource == resource:
                return name
        return None

    def name_for_kind(self, api_version: str, kind: str) -> str | None:
        for name, k in self.kinds.items():
            if k.kind == kind and (k.group_version == api_version or (not api_version and not k.group)):
                return name
        return None

    def metrics_state(self) -> str:
        """metrics.k8s.io as the aggregator sees it: "available", "unavailable" or "absent"."""
        svc = self.collections["apiservices"].get(("", METRICS_API_SERVICE))
        if svc is None:
            return "absent"
        conditions = (svc.get("status") or {}).get("conditions") or []
        return "available" if any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions) else "unavailable"

    def _attach(self, g: Generated) -> None:
        nodes, pods = self.collections["nodes"], self.collections["pods"]
        nodes.gen_size = lambda: g.nodes
        nodes.gen_key = lambda k: ("", g.node_name(k))
        nodes.gen_labels = g.node_labels
        nodes.gen_fields = lambda k: {"metadata.name": g.node_name(k), "spec.unschedulable": ""}
        nodes.gen_json = g.node_json
        nodes.gen_index = lambda key: g.node_index(key[1]) if not key[0] else None
        pods.gen_size = lambda: g.pod_count

        def pod_fields(i: int) -> dict[str, str]:
            f = g.pod_facts(i)
            return {
                "metadata.name": f.name,
                "metadata.namespace": f.namespace,
                "spec.nodeName": f.node,
                "status.phase": f.phase,
                "spec.schedulerName": "default-scheduler",
                "spec.serviceAccountName": "default",
                "spec.hostNetwork": "false",
                "status.nominatedNodeName": "",
            }

        pods.gen_key = lambda i: (g.pod_facts(i).namespace, g.pod_facts(i).name)
        pods.gen_labels = lambda i: g.pod_facts(i).labels
        pods.gen_fields = pod_fields
        pods.gen_json = g.pod_json
        pods.gen_index = lambda key: g.pod_index(*key)
        pods.gen_on_node = g.pods_on_node
        events = self.collections["events"]  # one kubelet Pulled event per scheduled pod (generate.pod_pull)

        def event_fields(i: int) -> dict[str, str]:
            f = g.pod_facts(i)
            return {
                "metadata.name": g.event_name(i),
                "metadata.namespace": f.namespace,
                "reason": "Pulled",
                "type": "Normal",
                "reportingComponent": "kubelet",
                "involvedObject.kind": "Pod",
                "involvedObject.namespace": f.namespace,
                "involvedObject.name": f.name,
            }

        events.gen_size = g.event_count
        events.gen_key = lambda i: (g.pod_facts(i).namespace, g.event_name(i))
        events.gen_fields = event_fields
        events.gen_json = g.event_json
        events.gen_index = lambda key: g.event_index(*key)
        for ns in g.namespaces:
            self.collections["namespaces"].put(namespace_object(ns, "1"))
        for name, make in Workloads(g).resources().items():
            attach_indexed(self.collections[name], make)

    # -- custom resources -------------------------------------------------
    def _crd_changed(self, crd: dict[str, Any], deleted: bool) -> None:
        """Serve (or stop serving) the resource a CustomResourceDefinition defines."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, plural = spec.get("group", ""), names.get("plural", "")
        name = f"{plural}.{group}"
        versions = [v for v in spec.get("versions") or [] if v.get("served")]
        if deleted or not versions:
            self.kinds.pop(name, None)
            self.collections.pop(name, None)
            if not any(k.group == group for k in self.kinds.values()):
                self.collections["apiservices"].remove(("", f"{versions[0]['name'] if versions else 'v1'}.{group}"))
            return
        version = next((v for v in versions if v.get("storage")), versions[0])
        kind = Kind(
            plural,
            names.get("kind", ""),
            spec.get("scope") == "Namespaced",
            f"{group}/{version['name']}",
            fields=NAME_FIELDS if spec.get("scope") == "Namespaced" else ("metadata.name",),
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            verbs=("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"),  # apiextensions' order
        )
        self.kinds[name] = kind
        if name not in self.collections or self.collections[name].kind != kind:
            self.collections[name] = Collection(name, kind)
        self.collections[name].schema = (version.get("schema") or {}).get("openAPIV3Schema")
        self.collections[name].printer_columns = version.get("additionalPrinterColumns") or []
        self.collections["apiservices"].put(api_service(group, version["name"]))

    # -- reads ------------------------------------------------------------
    def list(
        self, name: str, namespace: str | None, labels: str | None, fields: str | None, limit: int, token: str | None
    ) -> tuple[list[str | dict[str, Any]], str, int | None]:
        """One page: (objects, continue token or "", remaining item count when cheap to know)."""
        coll = self.collections[name]
        with self.changed:
            rv = self.rv
        start = None
        if token:
            state = decode_token(token)
            if state["rv"] < self.compacted_rv:
                # with a token to carry on regardless (inconsistently), as the API server offers one
                expired = ApiStatus(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
                    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
                    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
                    "modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                )
                expired.list_meta = {"continue": encode_token(rv, state["pos"])}
                raise expired
            start = (state["pos"][0], state["pos"][1] if state["pos"][0] == "x" else int(state["pos"][1]))
            rv = state["rv"]
        items: list[str | dict[str, Any]] = []
        last: Any = None
        for pos, obj in coll.select(namespace, labels, fields, start):
            if limit and len(items) >= limit:
                remaining = None if labels or fields else coll.remaining(namespace, last)
                return items, encode_token(rv, last), remaining
            items.append(obj)
            last = (pos[0], pos[1] + 1) if pos[0] == "g" else pos
        return items, "", None

    # -- writes -----------------------------------------------------------
    def write(self, name: str, obj: dict[str, Any], event: str | None = None) -> dict[str, Any]:
        coll = self.collections[name]
        with self.changed:
            self.rv += 1
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            if event == "DELETED":
                coll.remove(coll.key_of(obj))
                kind = event
            else:
                kind = coll.put(obj)
            if name == "customresourcedefinitions":
                self._crd_changed(obj, event == "DELETED")
            self.events.append((self.rv, name, kind, obj))
            if len(self.events) == HISTORY:
                self.compacted_rv = max(self.compacted_rv, self.events[0][0] - 1)
            self.changed.notify_all()
        return obj

    def compact(self) -> int:
        """Forget all history: outstanding continue tokens and old watches get 410."""
        with self.changed:
            self.rv += 1
            self.compacted_rv = self.rv
            self.events.clear()
            self.changed.notify_all()
            return self.rv


def field_terms(kind: Kind, text: str | None) -> list[tuple[str, bool, str]]:
    """A field selector's terms, refused in the words the API server uses for this kind."""
    try:
        return parse_fields(text or "", kind.fields)
    except SelectorError as err:
        prefix = "field label not supported: "
        field = str(err)[len(prefix) :]
        if not str(err).startswith(prefix) or kind.resource in ("pods", "nodes", "namespaces", "services"):
            raise
        if kind.kind == "Job":
            raise SelectorError(f'field label "{field}" not supported for Job') from None
        only = ", ".join(f'"{f}"' for f in NAME_FIELDS)
        raise SelectorError(f'"{field}" is not a known field selector: only {only}') from None


def attach_indexed(coll: Collection, make: Callable[[], Indexed]) -> None:
    """Serve a generated resource, its names computed the first time they are needed."""
    made: list[Indexed] = []

    def src() -> Indexed:
        if not made:
            made.append(make())
        return made[0]

    coll.gen_size = lambda: len(src().keys)
    coll.gen_key = lambda i: src().keys[i]
    coll.gen_labels = lambda i: src().labels(i)
    coll.gen_fields = lambda i: {"metadata.name": src().keys[i][1], "metadata.namespace": src().keys[i][0]}
    coll.gen_json = lambda i: src().json(i)
    coll.gen_index = lambda key: src().index.get(key)


def api_service(group: str, version: str, service: dict[str, Any] | None = None, available: bool = True) -> dict[str, Any]:
    """An APIService as kube-aggregator keeps it: local groups have no service."""
    name = f"{version}.{group}"
    if service:
        condition = {"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed"}
        if not available:
            condition = {
                "type": "Available",
                "status": "False",
                "reason": "FailedDiscoveryCheck",
                "message": f"failing or missing response from https://{service['name']}.{service['namespace']}.svc:443/apis/{group}/{version}",
            }
    else:
        condition = {"type": "Available", "status": "True", "reason": "Local", "message": "Local APIServices are always available"}
    spec: dict[str, Any] = {
        "version": version,
        "groupPriorityMinimum": 100 if service else 18000,
        "versionPriority": 100 if service else 15,
    }
    if group:
        spec["group"] = group
    if service:
        spec.update(service=service, insecureSkipTLSVerify=True)
    labels = {} if service else {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    return {
        "kind": "APIService",
        "apiVersion": "apiregistration.k8s.io/v1",
        "metadata": {
            "name": name,
            "creationTimestamp": "2026-11-01T00:00:00Z",
            "resourceVersion": "1",
            **({"labels": labels} if labels else {}),
        },
        "spec": spec,
        "status": {"conditions": [{**condition, "lastTransitionTime": "2026-11-01T00:00:00Z"}]},
    }


def bootstrap_objects(kubernetes_service: bool) -> list[dict[str, Any]]:
    """What kube-apiserver itself writes at start-up besides namespaces."""

    def meta(ns: str, name: str, **extra: Any) -> dict[str, Any]:
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"perf-sim/{ns}/{name}"))
        return {"name": name, "namespace": ns, "uid": uid, "resourceVersion": "1", "creationTimestamp": "2026-11-01T00:00:00Z", **extra}

    headers = {
        "requestheader-allowed-names": '["front-proxy-client"]',
        "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
        "requestheader-group-headers": '["X-Remote-Group"]',
        "requestheader-username-headers": '["X-Remote-User"]',
    }
    objs: list[dict[str, Any]] = [
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": meta("kube-system", "extension-apiserver-authentication"),
            "data": {
                "client-ca-file": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
                "requestheader-client-ca-file": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
                **headers,
            },
        },
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": meta("kube-system", "kube-apiserver-legacy-service-account-token-tracking"),
            "data": {"since": "2026-11-01"},
        },
    ]
    if kubernetes_service:
        objs.append(
            {
                "kind": "Service",
                "apiVersion": "v1",
                "metadata": meta("default", "kubernetes", labels={"component": "apiserver", "provider": "kubernetes"}),
                "spec": {
                    "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}],
                    "clusterIP": "10.96.0.1",
                    "clusterIPs": ["10.96.0.1"],
                    "type": "ClusterIP",
                    "sessionAffinity": "None",
                    "ipFamilies": ["IPv4"],
                    "ipFamilyPolicy": "SingleStack",
                    "internalTrafficPolicy": "Cluster",
                },
                "status": {"loadBalancer": {}},
            }
        )
    return objs


def namespace_object(name: str, rv: str) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"perf-sim/namespaces/{name}")),
            "resourceVersion": rv,
            "creationTimestamp": "2026-11-01T00:00:00Z",
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def encode_token(rv: int, pos: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "pos": pos}).encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
        if not isinstance(state.get("rv"), int) or not isinstance(state.get("pos"), list):
            raise ValueError
        return state
    except (ValueError, TypeError, AttributeError):
        raise ApiStatus(400, "BadRequest", "invalid continue token: continue key is not valid: illegal base64 data or format") from None
