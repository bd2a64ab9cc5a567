"""HTTP front of the simulated API server: routing, auth, lists, watches,
writes, metrics.k8s.io and the kubelet proxy paths, answered as Kubernetes does."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .metrics import Metrics, dumps
from .selectors import SelectorError, label_matcher, parse_fields
from .store import FIELDS, KINDS, ApiStatus, Store, dotted, namespace_object, not_found, now_rfc3339
from .tables import table

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:02:27Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}
MAX_BODY = 3 * 1024 * 1024


class Config:
    def __init__(self, store: Store, token: str, metrics_server: bool, forbid_cluster_list: set[str]) -> None:
        self.store = store
        self.metrics = Metrics(store)
        self.token = token
        self.metrics_server = metrics_server
        self.forbid_cluster_list = forbid_cluster_list


def resource_list(group_version: str, resources: list[tuple[str, str, bool, list[str]]]) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": n,
                "singularName": "" if "/" in n else k.lower(),
                "namespaced": ns,
                "kind": k,
                "verbs": v,
                **(
                    {"shortNames": {"pods": ["po"], "nodes": ["no"], "namespaces": ["ns"]}[n]}
                    if n in ("pods", "nodes", "namespaces")
                    else {}
                ),
            }
            for n, k, ns, v in resources
        ],
    }


RW = ["create", "delete", "get", "list", "patch", "update", "watch"]
CORE = resource_list(
    "v1",
    [
        ("namespaces", "Namespace", False, RW),
        ("nodes", "Node", False, RW),
        ("nodes/proxy", "NodeProxyOptions", False, ["get"]),
        ("pods", "Pod", True, RW),
    ],
)
METRICS = resource_list(
    "metrics.k8s.io/v1beta1", [("nodes", "NodeMetrics", False, ["get", "list"]), ("pods", "PodMetrics", True, ["get", "list"])]
)
METRICS_GROUP = {
    "name": "metrics.k8s.io",
    "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
    "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"},
}

ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), name)
    for p, name in [
        (r"^/api/v1/(?P<resource>namespaces|nodes|pods)$", "collection"),
        (r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$", "ns_pods"),
        (r"^/api/v1/namespaces/(?P<name>[^/]+)$", "namespace"),
        (r"^/api/v1/nodes/(?P<name>[^/]+)$", "node"),
        (r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)$", "pod"),
        (r"^/api/v1/nodes/(?P<name>[^/]+)/proxy/(?P<rest>.*)$", "proxy"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/(?P<res>nodes|pods)$", "metrics_list"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/namespaces/(?P<ns>[^/]+)/pods$", "metrics_ns_pods"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/nodes/(?P<name>[^/]+)$", "metrics_node"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)$", "metrics_pod"),
    ]
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect of an API server
    server_version = "perf-sim"
    cfg: Config

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stderr for real errors only
        pass

    # -- plumbing ---------------------------------------------------------
    def _send(self, code: int, body: bytes | str, ctype: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, code: int, obj: Any) -> None:
        self._send(code, dumps(obj))

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiStatus(413, "RequestEntityTooLarge", "request entity too large")
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            raise ApiStatus(400, "BadRequest", "the body of the request was in an unknown format") from None

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path.rstrip("/") or "/"
        try:
            if self.headers.get("Authorization") != f"Bearer {self.cfg.token}":
                self._drain()
                raise ApiStatus(401, "Unauthorized", "Unauthorized")
            self._route(path)
        except ApiStatus as status:
            self._json(status.code, status.body())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drain(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= MAX_BODY:
            self.rfile.read(length)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    # -- routing ----------------------------------------------------------
    def _route(self, path: str) -> None:
        cfg = self.cfg
        if self.command == "POST" and path == "/sim/compact":
            self._json(200, {"resourceVersion": str(cfg.store.compact())})
            return
        static: dict[str, Callable[[], Any]] = {
            "/version": lambda: VERSION,
            "/api": lambda: {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.headers.get("Host", "")}],
            },
            "/apis": lambda: {"kind": "APIGroupList", "apiVersion": "v1", "groups": [METRICS_GROUP] if cfg.metrics_server else []},
            "/api/v1": lambda: CORE,
        }
        if cfg.metrics_server:
            static["/apis/metrics.k8s.io"] = lambda: {"kind": "APIGroup", "apiVersion": "v1", **METRICS_GROUP}
            static["/apis/metrics.k8s.io/v1beta1"] = lambda: METRICS
        if path in ("/healthz", "/livez", "/readyz"):
            self._send(200, "ok", "text/plain; charset=utf-8")
            return
        if path in static:
            self._only("GET")
            self._json(200, static[path]())
            return
        for pattern, name in ROUTES:
            match = pattern.match(path)
            if match:
                args = {k: unquote(v) for k, v in match.groupdict().items()}
                if name.startswith("metrics") and not cfg.metrics_server:
                    break
                getattr(self, f"r_{name}")(**args)
                return
        raise ApiStatus(404, "NotFound", "the server could not find the requested resource", {})

    def _only(self, *methods: str) -> None:
        if self.command not in methods and not (self.command == "HEAD" and "GET" in methods):
            raise ApiStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    # -- core resources ---------------------------------------------------
    def r_collection(self, resource: str) -> None:
        if self.command == "POST" and resource in ("namespaces", "nodes"):
            self._create(resource, None)
            return
        self._only("GET")
        if resource in self.cfg.forbid_cluster_list:
            raise ApiStatus(
                403,
                "Forbidden",
                f'{resource} is forbidden: User "perf-sim-user" cannot '
                f'{"watch" if self._watching() else "list"} resource "{resource}" in API group "" at the cluster scope',
                {"kind": resource},
            )
        self._list(resource, None)

    def r_ns_pods(self, ns: str) -> None:
        if self.command == "POST":
            self._create("pods", ns)
            return
        self._only("GET")
        self._list("pods", ns)

    def r_namespace(self, name: str) -> None:
        self._item("namespaces", ("", name))

    def r_node(self, name: str) -> None:
        self._item("nodes", ("", name))

    def r_pod(self, ns: str, name: str) -> None:
        self._item("pods", (ns, name))

    def _watching(self) -> bool:
        return self.query.get("watch") in ("true", "1")

    def _list(self, resource: str, ns: str | None) -> None:
        q = self.query
        if self._watching():
            self._watch(resource, ns)
            return
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise ApiStatus(400, "BadRequest", f"invalid limit {q.get('limit')!r}") from None
        items, token = self.cfg.store.list(resource, ns, q.get("labelSelector"), q.get("fieldSelector"), max(limit, 0), q.get("continue"))
        meta = {"resourceVersion": str(self.cfg.store.rv), **({"continue": token} if token else {})}
        if "as=Table" in (self.headers.get("Accept") or ""):
            objs = [json.loads(o) if isinstance(o, str) else o for o in items]
            self._json(200, table(resource, objs, meta, q.get("includeObject", "PartialObjectMetadata")))
            return
        kind = KINDS[resource]
        head = f'{{"kind":"{kind.kind}List","apiVersion":"v1","metadata":{dumps(meta)},"items":['
        body = head + ",".join(o if isinstance(o, str) else dumps(o) for o in items) + "]}"
        self._send(200, body)

    def _item(self, resource: str, key: tuple[str, str]) -> None:
        store = self.cfg.store
        coll = store.collections[resource]
        if self.command in ("GET", "HEAD"):
            obj = coll.get(key)
            if obj is None:
                raise not_found(resource, key[1])
            if "as=Table" in (self.headers.get("Accept") or ""):
                self._json(
                    200,
                    table(
                        resource,
                        [obj],
                        {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                        self.query.get("includeObject", "PartialObjectMetadata"),
                    ),
                )
            else:
                self._json(200, obj)
            return
        if self.command == "DELETE":
            self._drain()
            with store.changed:
                obj = coll.get(key)
                if obj is None:
                    raise not_found(resource, key[1])
                store.write(resource, obj, "DELETED")
            self._json(200, obj)
            return
        if self.command in ("PUT", "PATCH"):
            body = self._body()
            if not isinstance(body, dict):
                raise ApiStatus(400, "BadRequest", "the body of the request must be a JSON object")
            with store.changed:
                old = coll.get(key)
                if old is None:
                    raise not_found(resource, key[1])
                if self.command == "PUT":
                    new = body
                else:
                    ctype = (self.headers.get("Content-Type") or "").split(";")[0]
                    if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                        raise ApiStatus(415, "UnsupportedMediaType", f"the server does not support patch type {ctype!r}")
                    new = merge_patch(old, body)
                meta = new.setdefault("metadata", {})
                if (meta.get("name"), meta.get("namespace", key[0]) if KINDS[resource].namespaced else "") != (key[1], key[0]):
                    raise ApiStatus(400, "BadRequest", "the name of the object does not match the name on the URL")
                rv = (body.get("metadata") or {}).get("resourceVersion")
                if self.command == "PUT" and rv and rv != old["metadata"].get("resourceVersion"):
                    raise ApiStatus(
                        409, "Conflict", f'Operation cannot be fulfilled on {resource} "{key[1]}": the object has been modified'
                    )
                for keep in ("uid", "creationTimestamp"):
                    if keep in old["metadata"]:
                        meta[keep] = old["metadata"][keep]
                store.write(resource, new, "MODIFIED")
            self._json(200, new)
            return
        raise ApiStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _create(self, resource: str, ns: str | None) -> None:
        obj = self._body()
        if not isinstance(obj, dict) or obj.get("kind") != KINDS[resource].kind:
            raise ApiStatus(400, "BadRequest", f"expected a {KINDS[resource].kind} object")
        try:
            prepare(obj, resource, ns)
        except ValueError as err:
            raise ApiStatus(422, "Invalid", str(err)) from None
        store = self.cfg.store
        key = store.collections[resource].key_of(obj)
        with store.changed:
            if store.collections[resource].get(key) is not None:
                raise ApiStatus(409, "AlreadyExists", f'{resource} "{key[1]}" already exists', {"name": key[1], "kind": resource})
            if self.query.get("dryRun") != "All":
                store.write(resource, obj)
        self._json(201, obj)

    # -- watch ------------------------------------------------------------
    def _watch(self, resource: str, ns: str | None) -> None:
        q = self.query
        store = self.cfg.store
        try:
            timeout = float(q.get("timeoutSeconds") or 1800)
            match_labels = label_matcher(q.get("labelSelector"))
            terms = parse_fields(q.get("fieldSelector") or "", FIELDS[resource])
            since = int(q.get("resourceVersion") or 0)
        except (ValueError, SelectorError) as err:
            raise ApiStatus(400, "BadRequest", str(err)) from None
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        kind = KINDS[resource]

        def matches(obj: dict[str, Any]) -> bool:
            meta = obj.get("metadata") or {}
            if ns and meta.get("namespace") != ns:
                return False
            return all((dotted(obj, f) == v) == eq for f, eq, v in terms) and match_labels(meta.get("labels") or {})

        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def emit(event: str, obj: Any) -> None:
            data = (f'{{"type":"{event}","object":' + (obj if isinstance(obj, str) else dumps(obj)) + "}\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        deadline = time.monotonic() + timeout
        with store.changed:
            start_rv = store.rv
            too_old = since and since < store.compacted_rv
        if too_old:
            emit("ERROR", ApiStatus(410, "Expired", f"too old resource version: {since} ({store.compacted_rv})").body())
        else:
            if not since:  # no resourceVersion: start with the current state as ADDED events
                for _pos, obj in store.collections[resource].select(ns, q.get("labelSelector"), q.get("fieldSelector")):
                    emit("ADDED", obj)
                since = start_rv
            last_bookmark = time.monotonic()
            while True:
                with store.changed:
                    pending = [e for e in store.events if e[0] > since and e[1] == resource]
                    if not pending:
                        store.changed.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                        pending = [e for e in store.events if e[0] > since and e[1] == resource]
                    current = store.rv
                for rv, _res, event, obj in pending:
                    since = rv
                    if matches(obj):
                        emit(event, obj)
                if not pending:
                    since = max(since, current)
                if time.monotonic() >= deadline:
                    break
                if bookmarks and time.monotonic() - last_bookmark > 5:
                    emit("BOOKMARK", {"kind": kind.kind, "apiVersion": kind.group_version, "metadata": {"resourceVersion": str(since)}})
                    last_bookmark = time.monotonic()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- kubelet proxy ----------------------------------------------------
    def r_proxy(self, name: str, rest: str) -> None:
        self._only("GET")
        node = self.cfg.store.collections["nodes"].get(("", name))
        if node is None:
            raise not_found("nodes", name)
        metrics = self.cfg.metrics
        if rest == "metrics/cadvisor":
            self._send(200, metrics.cadvisor(node), "text/plain; version=0.0.4; charset=utf-8")
        elif rest == "metrics/resource":
            self._send(200, metrics.resource_metrics(node), "text/plain; version=0.0.4; charset=utf-8")
        elif rest == "stats/summary":
            self._json(200, metrics.stats_summary(node))
        elif rest == "healthz":
            self._send(200, "ok", "text/plain; charset=utf-8")
        else:
            self._send(404, "404 page not found\n", "text/plain; charset=utf-8")

    # -- metrics.k8s.io ---------------------------------------------------
    def _metrics_list(self, kind: str, items: list[dict[str, Any]]) -> None:
        self._json(200, {"kind": f"{kind}List", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items})

    def _metrics_filter(self) -> tuple[Callable[[dict[str, str]], bool], list[tuple[str, bool, str]]]:
        try:
            return label_matcher(self.query.get("labelSelector")), parse_fields(
                self.query.get("fieldSelector") or "", ("metadata.name", "metadata.namespace")
            )
        except SelectorError as err:
            raise ApiStatus(400, "BadRequest", str(err)) from None

    def r_metrics_list(self, res: str) -> None:
        self._only("GET")
        if f"metrics.k8s.io/{res}" in self.cfg.forbid_cluster_list:  # RBAC for the metrics group is its own
            raise ApiStatus(
                403,
                "Forbidden",
                f'{res}.metrics.k8s.io is forbidden: User "perf-sim-user" cannot list resource "{res}" '
                'in API group "metrics.k8s.io" at the cluster scope',
                {"kind": res, "group": "metrics.k8s.io"},
            )
        if res == "pods":
            self.r_metrics_ns_pods("")
            return
        match_labels, terms = self._metrics_filter()
        items = []
        for _pos, obj in self.cfg.store.collections["nodes"].select(None, self.query.get("labelSelector"), None):
            node = json.loads(obj) if isinstance(obj, str) else obj
            if all((node["metadata"]["name"] == v) == eq for _f, eq, v in terms):
                items.append(self.cfg.metrics.node_metrics(node))
        self._metrics_list("NodeMetrics", items)

    def r_metrics_ns_pods(self, ns: str) -> None:
        self._only("GET")
        match_labels, terms = self._metrics_filter()
        items = []
        for p in self.cfg.metrics.running_pods(namespace=ns or None):
            facts = {"metadata.name": p.name, "metadata.namespace": p.namespace}
            if match_labels(p.labels) and all((facts[f] == v) == eq for f, eq, v in terms):
                items.append(self.cfg.metrics.pod_metrics(p))
        self._metrics_list("PodMetrics", items)

    def r_metrics_node(self, name: str) -> None:
        self._only("GET")
        node = self.cfg.store.collections["nodes"].get(("", name))
        if node is None:
            raise not_found("nodes", name, "metrics.k8s.io")
        self._json(200, self.cfg.metrics.node_metrics(node))

    def r_metrics_pod(self, ns: str, name: str) -> None:
        self._only("GET")
        for p in self.cfg.metrics.running_pods(namespace=ns):
            if p.name == name:
                self._json(200, self.cfg.metrics.pod_metrics(p))
                return
        raise not_found("pods", name, "metrics.k8s.io")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (strategic merge patches are applied the same way)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def prepare(obj: dict[str, Any], resource: str, ns: str | None) -> None:
    """Fill what the API server fills on create: names, uid, timestamps, pod phase."""
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ValueError("metadata must be an object")
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
    if not meta.get("name") or not isinstance(meta["name"], str):
        raise ValueError(f"{KINDS[resource].kind} is invalid: metadata.name: Required value")
    if KINDS[resource].namespaced:
        if ns and meta.get("namespace") not in (None, ns):
            raise ValueError("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = ns or meta.get("namespace") or "default"
    else:
        meta.pop("namespace", None)
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("creationTimestamp", now_rfc3339())
    if resource == "pods":
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Running" if (obj.get("spec") or {}).get("nodeName") else "Pending")


def load_objects(store: Store, docs: list[Any]) -> None:
    """Put objects from --objects files into the store, as given."""
    namespaces = set()
    for doc in docs:
        for obj in (doc.get("items") or []) if doc.get("kind", "").endswith("List") else [doc]:
            kind = obj.get("kind")
            resource = {
                "Namespace": "namespaces",
                "Node": "nodes",
                "Pod": "pods",
                "NodeMetrics": "nodemetrics",
                "PodMetrics": "podmetrics",
            }.get(kind)
            if resource is None:
                raise ValueError(f"unsupported kind {kind!r} (perf-sim serves Namespace, Node, Pod, NodeMetrics, PodMetrics)")
            prepare(obj, resource, None)
            if resource in ("pods", "podmetrics"):
                namespaces.add(obj["metadata"]["namespace"])
            store.write(resource, obj)
    for ns in sorted(namespaces - {k[1] for k in store.collections["namespaces"].extras}):
        store.write("namespaces", namespace_object(ns, "1"))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
