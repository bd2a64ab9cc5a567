"""The simulated API server's objects: generated ones addressed by index, plus
objects loaded from files or created through the API, with resource versions
and a bounded event history for watches."""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .generate import Generated
from .selectors import SelectorError, label_matcher, parse_fields

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
HISTORY = 10000  # watch events kept; older resource versions answer 410 Gone

FIELDS = {
    "pods": (
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "status.phase",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "nodes": ("metadata.name", "spec.unschedulable"),
    "namespaces": ("metadata.name", "status.phase"),
    "nodemetrics": ("metadata.name",),
    "podmetrics": ("metadata.name", "metadata.namespace"),
}


@dataclass(frozen=True)
class Kind:
    resource: str
    kind: str
    namespaced: bool
    group_version: str = "v1"


KINDS = {
    "namespaces": Kind("namespaces", "Namespace", False),
    "nodes": Kind("nodes", "Node", False),
    "pods": Kind("pods", "Pod", True),
    "nodemetrics": Kind("nodes", "NodeMetrics", False, "metrics.k8s.io/v1beta1"),
    "podmetrics": Kind("pods", "PodMetrics", True, "metrics.k8s.io/v1beta1"),
}
BY_KIND = {k.kind: name for name, k in KINDS.items()}


class ApiStatus(Exception):
    """An error answered as a Kubernetes Status object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def body(self) -> dict[str, Any]:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
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

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind = KINDS[name]
        self.gen_count = 0
        self.gen_key: Callable[[int], Key] = lambda i: ("", "")
        self.gen_labels: Callable[[int], Mapping[str, str]] = lambda i: {}
        self.gen_fields: Callable[[int], Mapping[str, str]] = lambda i: {}
        self.gen_json: Callable[[int], str] = lambda i: "{}"
        self.gen_index: Callable[[Key], int | None] = lambda key: None
        self.overrides: dict[int, dict[str, Any] | None] = {}  # index -> replaced object, or None if deleted
        self.extras: dict[Key, dict[str, Any]] = {}
        self._sorted: list[Key] | None = None

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
            terms = parse_fields(fields, FIELDS[self.name]) if fields else []
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

        first_gen = start[1] if start and start[0] == "g" else (self.gen_count if start else 0)
        for i in range(first_gen, self.gen_count):
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
        self.compacted_rv = self.rv
        self.changed = threading.Condition()
        self.events: deque[tuple[int, str, str, dict[str, Any]]] = deque(maxlen=HISTORY)
        self.collections = {name: Collection(name) for name in KINDS}
        if generated:
            self._attach(generated)

    def _attach(self, g: Generated) -> None:
        nodes, pods = self.collections["nodes"], self.collections["pods"]
        nodes.gen_count = g.nodes
        nodes.gen_key = lambda k: ("", g.node_name(k))
        nodes.gen_labels = g.node_labels
        nodes.gen_fields = lambda k: {"metadata.name": g.node_name(k), "spec.unschedulable": ""}
        nodes.gen_json = g.node_json
        nodes.gen_index = lambda key: g.node_index(key[1]) if not key[0] else None
        pods.gen_count = g.pod_count

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
        for ns in g.namespaces:
            self.collections["namespaces"].put(namespace_object(ns, "1"))

    # -- reads ------------------------------------------------------------
    def list(
        self, name: str, namespace: str | None, labels: str | None, fields: str | None, limit: int, token: str | None
    ) -> tuple[list[str | dict[str, Any]], str]:
        """One page: (objects, continue token or "")."""
        coll = self.collections[name]
        with self.changed:
            rv = self.rv
        start = None
        if token:
            state = decode_token(token)
            if state["rv"] < self.compacted_rv:
                raise ApiStatus(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.",
                )
            start = (state["pos"][0], state["pos"][1] if state["pos"][0] == "x" else int(state["pos"][1]))
            rv = state["rv"]
        items: list[str | dict[str, Any]] = []
        last = None
        it = coll.select(namespace, labels, fields, start)
        for pos, obj in it:
            if limit and len(items) >= limit:
                return items, encode_token(rv, last)
            items.append(obj)
            last = (pos[0], pos[1] + 1) if pos[0] == "g" else pos
        return items, ""

    # -- writes -----------------------------------------------------------
    def write(self, name: str, obj: dict[str, Any], event: str | None = None) -> dict[str, Any]:
        coll = self.collections[name]
        with self.changed:
            self.rv += 1
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            kind = event or coll.put(obj)
            if event == "DELETED":
                coll.remove(coll.key_of(obj))
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


def namespace_object(name: str, rv: str) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
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
        raise ApiStatus(400, "BadRequest", "continue key is not valid: illegal base64 data or format") from None
