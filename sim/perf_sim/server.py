"""HTTP front of the simulated API server: routing, auth, lists, watches,
writes, metrics.k8s.io and the kubelet proxy paths, answered as Kubernetes does."""

from __future__ import annotations

import json
import re
import ssl
import sys
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from . import discovery, protobuf, writes
from .metrics import Metrics, dumps
from .selectors import SelectorError, label_matcher, parse_fields
from .store import LOCAL_GROUPS, ApiStatus, Kind, Store, dotted, field_terms, not_found, now_rfc3339
from .tables import table

MAX_BODY = 3 * 1024 * 1024
PATCH_TYPES = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "application/apply-patch+cbor",
)


class Config:
    def __init__(
        self, store: Store, token: str, forbid_cluster_list: set[str], metrics_age: float = 10.0, metrics_skip: frozenset[str] = frozenset()
    ) -> None:
        self.store = store
        self.metrics = Metrics(store, metrics_age)
        self.metrics_skip = metrics_skip  # nodes metrics-server has no figures for (their kubelets unscraped)
        self.token = token
        self.forbid_cluster_list = forbid_cluster_list


METRICS_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), name)
    for p, name in [
        (r"^/apis/metrics\.k8s\.io/v1beta1/(?P<res>nodes|pods)$", "metrics_list"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/namespaces/(?P<ns>[^/]+)/pods$", "metrics_ns_pods"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/nodes/(?P<name>[^/]+)$", "metrics_node"),
        (r"^/apis/metrics\.k8s\.io/v1beta1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)$", "metrics_pod"),
    ]
]
RESOURCE_PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))/(?P<rest>.+)$")
NOT_FOUND = ApiStatus(404, "NotFound", "the server could not find the requested resource", {})


def bookmark(kind: Kind, rv: int) -> dict[str, Any]:
    """A BOOKMARK's object: an empty object of the kind, as Go serializes one."""
    obj: dict[str, Any] = {"kind": kind.kind, "apiVersion": kind.group_version, "metadata": {"resourceVersion": str(rv)}}
    if kind.kind == "Pod":
        obj.update(spec={"containers": None}, status={})
    elif kind.kind == "Node":
        obj.update(spec={}, status={"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}, "nodeInfo": {}})
    return obj


def wrong_kind(obj: dict[str, Any], kind: Kind) -> None:
    """A body of another kind or version: refused as the API server's decoder words it."""
    sent_kind, sent_version = obj.get("kind") or kind.kind, obj.get("apiVersion") or kind.group_version
    if (sent_kind, sent_version) == (kind.kind, kind.group_version):
        return
    if sent_version != kind.group_version and sent_kind == kind.kind:
        why = f'no kind "{sent_kind}" is registered for version "{sent_version}"'
    else:
        internal = kind.group.split(".")[0] if kind.group else "core"
        why = f"converting ({sent_version.rpartition('/')[2]}.{sent_kind}) to ({internal}.{kind.kind}): unknown conversion"
    raise ApiStatus(
        400, "BadRequest", f'{sent_kind} in version "{sent_version.rpartition("/")[2]}" cannot be handled as a {kind.kind}: {why}'
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect of an API server
    # A response goes out as several writes (status and headers, then the body). With Nagle's
    # algorithm on, the body of every answer on a kept-alive connection waited for the client's
    # delayed ACK of the headers: 40 ms a request that kube-apiserver (Go, one buffered write, and
    # TCP_NODELAY as Go sets on every connection) never spends.
    disable_nagle_algorithm = True
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

    def _body(self, yaml_ok: bool = False) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiStatus(413, "RequestEntityTooLarge", "request entity too large")
        raw = self.rfile.read(length) if length else b""
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() == protobuf.MEDIA_TYPE:
            # kubectl's typed clients (kubectl create namespace/configmap/deployment...) send built-in kinds so
            try:
                return protobuf.decode_object(raw)
            except protobuf.ProtobufError as err:
                if err.unsupported:  # the real server's answer for a kind it has no protobuf for (custom resources)
                    raise ApiStatus(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
                    ) from None
                raise ApiStatus(400, "BadRequest", str(err)) from None
        try:
            return json.loads(raw or b"null")
        except ValueError:
            if yaml_ok:  # an apply patch may be YAML
                try:
                    return yaml.safe_load(raw)
                except yaml.YAMLError:
                    pass
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
        if path in ("/healthz", "/livez", "/readyz"):
            self._send(200, "ok", "text/plain; charset=utf-8")
            return
        if path == "/apis/metrics.k8s.io" or path.startswith("/apis/metrics.k8s.io/"):
            self._metrics_route(path)
            return
        doc = discovery.static(cfg.store, path, self.headers.get("Host", ""))
        if doc is not None:
            self._only("GET")
            self._json(200, doc)
            return
        match = RESOURCE_PATH.match(path)
        if not match:
            raise NOT_FOUND
        group = match["group"] or ""
        version = match["version"] or "v1"
        parts = [unquote(p) for p in match["rest"].split("/")]
        ns = None
        if parts[0] == "namespaces" and len(parts) >= 3 and not (len(parts) == 3 and parts[2] in ("status", "finalize")):
            ns, parts = parts[1], parts[2:]
        if group and not any(k.group == group for k in cfg.store.kinds.values()):
            self._send(404, "404 page not found\n", "text/plain; charset=utf-8")
            return
        name = cfg.store.collection_for(group, parts[0])
        if name is None or cfg.store.kinds[name].group_version != (f"{group}/{version}" if group else version):
            raise NOT_FOUND
        kind = cfg.store.kinds[name]
        if ns is not None and not kind.namespaced:
            raise NOT_FOUND
        if len(parts) == 1:
            self._collection(name, ns)
        elif len(parts) == 2:
            self._item(name, (ns or "", parts[1]))
        elif name == "nodes" and parts[2] == "proxy" and ns is None:
            self.r_proxy(parts[1], "/".join(parts[3:]))
        elif len(parts) == 3 and parts[2] == "status" and kind.namespaced == (ns is not None):
            self._item(name, (ns or "", parts[1]), status_only=True)
        else:
            raise NOT_FOUND

    def _metrics_route(self, path: str) -> None:
        state = self.cfg.store.metrics_state()
        if state == "absent":  # no APIService: nothing answers the group, as kube-apiserver's mux says
            self._send(404, "404 page not found\n", "text/plain; charset=utf-8")
            return
        if state == "unavailable":  # the aggregator cannot reach metrics-server
            self._send(503, "service unavailable\n", "text/plain; charset=utf-8")
            return
        doc = discovery.static(self.cfg.store, path, "")
        if doc is not None:
            self._only("GET")
            self._json(200, doc)
            return
        for pattern, handler in METRICS_ROUTES:
            match = pattern.match(path)
            if match:
                getattr(self, f"r_{handler}")(**{k: unquote(v) for k, v in match.groupdict().items()})
                return
        raise NOT_FOUND

    def _only(self, *methods: str) -> None:
        if self.command not in methods and not (self.command == "HEAD" and "GET" in methods):
            raise ApiStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    # -- resources --------------------------------------------------------
    def _collection(self, name: str, ns: str | None) -> None:
        kind = self.cfg.store.kinds[name]
        if self.command == "POST" and (ns is not None or not kind.namespaced):
            self._create(name, ns)
            return
        if self.command == "DELETE" and "deletecollection" in kind.verbs:
            self._delete_collection(name, ns)
            return
        self._only("GET")
        if ns is None and kind.resource in self.cfg.forbid_cluster_list:
            group = f' in API group "{kind.group}"' if kind.group else ' in API group ""'
            raise ApiStatus(
                403,
                "Forbidden",
                f'{kind.resource} is forbidden: User "perf-sim-user" cannot '
                f'{"watch" if self._watching() else "list"} resource "{kind.resource}"{group} at the cluster scope',
                {"kind": kind.resource, **({"group": kind.group} if kind.group else {})},
            )
        self._list(name, ns)

    def _delete_collection(self, resource: str, ns: str | None) -> None:
        self._drain()
        store = self.cfg.store
        kind = store.kinds[resource]
        with store.changed:
            doomed = [
                json.loads(o) if isinstance(o, str) else o
                for _p, o in store.collections[resource].select(ns, self.query.get("labelSelector"), self.query.get("fieldSelector"))
            ]
            if self.query.get("dryRun") != "All":
                for obj in doomed:
                    store.write(resource, obj, "DELETED")
        self._json(
            200,
            {"kind": f"{kind.kind}List", "apiVersion": kind.group_version, "metadata": {"resourceVersion": str(store.rv)}, "items": doomed},
        )

    def _watching(self) -> bool:
        return self.query.get("watch") in ("true", "1")

    def _list(self, resource: str, ns: str | None) -> None:
        q = self.query
        if self._watching():
            self._watch(resource, ns)
            return
        store = self.cfg.store
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise ApiStatus(400, "BadRequest", f'strconv.ParseInt: parsing "{q.get("limit")}": invalid syntax') from None
        rv = q.get("resourceVersion")
        if q.get("resourceVersionMatch") and not rv:
            why = "resourceVersionMatch is forbidden unless resourceVersion is provided"
            raise ApiStatus(
                422,
                "Invalid",
                f'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: {why}',
                {
                    "group": "meta.k8s.io",
                    "kind": "ListOptions",
                    "causes": [{"reason": "FieldValueForbidden", "message": f"Forbidden: {why}", "field": "resourceVersionMatch"}],
                },
            )
        if rv:
            if not rv.isdigit():
                raise ApiStatus(
                    400,
                    "BadRequest",
                    f'invalid resource version: resourceVersion: Invalid value: "{rv}": strconv.ParseUint: parsing "{rv}": invalid syntax',
                )
            if int(rv) > store.rv:
                raise ApiStatus(
                    504,
                    "Timeout",
                    f"Timeout: Too large resource version: {rv}, current: {store.rv}",
                    {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1},
                )
            if rv == "0" and not q.get("continue"):
                limit = 0  # served whole from the watch cache, which does not page
        items, token, remaining = store.list(resource, ns, q.get("labelSelector"), q.get("fieldSelector"), max(limit, 0), q.get("continue"))
        meta: dict[str, Any] = {"resourceVersion": str(store.rv)}
        if store.kinds[resource].group not in LOCAL_GROUPS:
            meta["continue"] = token  # custom resource lists always carry it, "" on the last page
        if token:
            meta["continue"] = token
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        if "as=Table" in (self.headers.get("Accept") or ""):
            objs = [json.loads(o) if isinstance(o, str) else o for o in items]
            self._json(200, table(store.collections[resource], objs, meta, q.get("includeObject", "PartialObjectMetadata")))
            return
        kind = store.kinds[resource]
        head = f'{{"kind":"{kind.kind}List","apiVersion":"{kind.group_version}","metadata":{dumps(meta)},"items":['
        if kind.group in LOCAL_GROUPS:  # built-in list items carry no kind or apiVersion; custom resources do
            prefix = f'{{"kind":"{kind.kind}","apiVersion":"{kind.group_version}",'
            text = [
                ("{" + o[len(prefix) :] if o.startswith(prefix) else o)
                if isinstance(o, str)
                else dumps({k: v for k, v in o.items() if k not in ("kind", "apiVersion")})
                for o in items
            ]
        else:
            text = [o if isinstance(o, str) else dumps(o) for o in items]
        self._send(200, head + ",".join(text) + "]}")

    def _item(self, resource: str, key: tuple[str, str], status_only: bool = False) -> None:
        store = self.cfg.store
        coll = store.collections[resource]
        kind = coll.kind
        if self.command in ("GET", "HEAD"):
            obj = coll.get(key)
            if obj is None:
                raise not_found(kind.resource, key[1], kind.group)
            if "as=Table" in (self.headers.get("Accept") or ""):
                meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
                self._json(200, table(coll, [obj], meta, self.query.get("includeObject", "PartialObjectMetadata")))
            else:
                self._json(200, obj)
            return
        if self.command == "DELETE" and not status_only:
            self._drain()
            with store.changed:
                obj = coll.get(key)
                if obj is None:
                    raise not_found(kind.resource, key[1], kind.group)
                if resource == "pods":  # stamped (a MODIFIED event), then gone at once: no kubelet to wait for
                    obj = {**obj, "metadata": {**obj["metadata"], "deletionTimestamp": now_rfc3339(), "deletionGracePeriodSeconds": 0}}
                    obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
                    if self.query.get("dryRun") != "All":
                        store.write(resource, obj, "MODIFIED")
                if self.query.get("dryRun") != "All":
                    store.write(resource, obj, "DELETED")
            if kind.group and kind.group not in LOCAL_GROUPS:  # custom resources answer a Status
                meta = obj["metadata"]
                details = {"name": key[1], "group": kind.group, "kind": kind.resource, "uid": meta.get("uid", "")}
                self._json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
            else:
                self._json(200, obj)
            return
        if self.command in ("PUT", "PATCH"):
            self._update(resource, key, status_only)
            return
        raise ApiStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    def _update(self, resource: str, key: tuple[str, str], status_only: bool) -> None:
        store = self.cfg.store
        coll = store.collections[resource]
        kind = coll.kind
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if self.command == "PATCH" and ctype not in PATCH_TYPES:
            if kind.group in LOCAL_GROUPS:
                raise ApiStatus(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
            raise ApiStatus(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            )
        applying = ctype.startswith("application/apply-patch")
        body = self._body(yaml_ok=applying)
        if applying and not isinstance(body, dict):
            raise ApiStatus(400, "BadRequest", "error decoding YAML: the body of an apply patch must be an object")
        if applying and not self.query.get("fieldManager"):
            cause = {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}
            raise ApiStatus(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
                {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [cause]},
            )
        with store.changed:
            old = coll.get(key)
            if old is None and not applying:
                raise not_found(kind.resource, key[1], kind.group)
            if applying:
                self._check_identity(body, key, kind)
                new = writes.apply(old, body, self.query["fieldManager"], self.query.get("force") == "true", kind.group_version)
            elif self.command == "PUT":
                if not isinstance(body, dict):
                    raise ApiStatus(400, "BadRequest", "the body of the request must be a JSON object")
                new = body
            elif ctype == "application/json-patch+json":
                new = writes.json_patch(old or {}, body)
            else:
                if not isinstance(body, dict):
                    raise ApiStatus(400, "BadRequest", "the body of the request must be a JSON object")
                new = writes.merge_patch(old, body)
            if old is None:  # apply creates
                try:
                    writes.prepare(new, coll, key[0] or None, store)
                except ValueError as err:
                    raise ApiStatus(422, "Invalid", str(err)) from None
                writes.validate(new, coll)
                self._namespace_exists(kind, key[0])
                if self.query.get("dryRun") != "All":
                    store.write(resource, new)
                self._json(201, new)
                return
            if status_only:  # the status subresource changes status alone
                new = {**old, "status": new.get("status")}
            meta = new.setdefault("metadata", {})
            self._check_identity(new, key, kind)
            rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
            if rv and rv != old["metadata"].get("resourceVersion"):
                what = f"{kind.resource}.{kind.group}" if kind.group else kind.resource
                raise ApiStatus(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {what} "{key[1]}": the object has been modified; please apply your changes to the latest version and try again',
                    {"name": key[1], "kind": kind.resource, **({"group": kind.group} if kind.group else {})},
                )
            for keep in ("uid", "creationTimestamp", "generation"):
                if keep in old["metadata"]:
                    meta[keep] = old["metadata"][keep]
            spec_of = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}  # noqa: E731
            if "generation" in meta and spec_of(new) != spec_of(old):
                meta["generation"] += 1
            new.setdefault("apiVersion", kind.group_version)
            new.setdefault("kind", kind.kind)
            if kind.kind == "CustomResourceDefinition":
                try:
                    writes.crd_status(new)
                except ValueError as err:
                    raise ApiStatus(422, "Invalid", str(err)) from None
            writes.validate(new, coll)
            if self.query.get("dryRun") != "All":
                store.write(resource, new, "MODIFIED")
        self._json(200, new)

    def _check_identity(self, obj: dict[str, Any], key: tuple[str, str], kind: Kind) -> None:
        meta = obj.get("metadata") or {}
        if meta.get("name") not in (None, key[1]):
            raise ApiStatus(400, "BadRequest", "the name of the object does not match the name on the URL")
        if kind.namespaced and meta.get("namespace") not in (None, "", key[0]):
            raise ApiStatus(400, "BadRequest", "the namespace of the object does not match the namespace on the request")
        wrong_kind(obj, kind)
        meta = obj.setdefault("metadata", {})
        meta["name"] = key[1]
        if kind.namespaced:
            meta["namespace"] = key[0]

    def _namespace_exists(self, kind: Kind, ns: str) -> None:
        if kind.namespaced and self.cfg.store.collections["namespaces"].get(("", ns)) is None:
            raise not_found("namespaces", ns)

    def _create(self, resource: str, ns: str | None) -> None:
        coll = self.cfg.store.collections[resource]
        kind = coll.kind
        obj = self._body()
        if not isinstance(obj, dict):
            raise ApiStatus(400, "BadRequest", "the body of the request must be a JSON object")
        wrong_kind(obj, kind)
        try:
            writes.prepare(obj, coll, ns, self.cfg.store)
        except ValueError as err:
            raise ApiStatus(422, "Invalid", str(err)) from None
        writes.validate(obj, coll)
        store = self.cfg.store
        key = coll.key_of(obj)
        self._namespace_exists(kind, key[0])
        with store.changed:
            if coll.get(key) is not None:
                what = f"{kind.resource}.{kind.group}" if kind.group else kind.resource
                raise ApiStatus(
                    409,
                    "AlreadyExists",
                    f'{what} "{key[1]}" already exists',
                    {"name": key[1], "kind": kind.resource, **({"group": kind.group} if kind.group else {})},
                )
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
            terms = field_terms(store.kinds[resource], q.get("fieldSelector"))
            since = int(q.get("resourceVersion") or 0)
        except (ValueError, SelectorError) as err:
            raise ApiStatus(400, "BadRequest", str(err)) from None
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        kind = store.kinds[resource]

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
            too_old = since and store.first_rv <= since < store.compacted_rv
        if too_old:
            emit("ERROR", ApiStatus(410, "Expired", f"too old resource version: {since} ({store.compacted_rv})").body())
        else:
            # no resourceVersion: the current state as ADDED events. A version from before the
            # store's history replays all of it, as a young watch cache does.
            if not since:
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
                    emit("BOOKMARK", bookmark(kind, since))
                    last_bookmark = time.monotonic()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- kubelet proxy ----------------------------------------------------
    def r_proxy(self, name: str, rest: str) -> None:
        self._only("GET")
        # Authorization comes before the lookup, as in the API server: without nodes/proxy (granted
        # apart from nodes) a node that does not exist is a 403 too, never a 404 telling it apart.
        if "nodes/proxy" in self.cfg.forbid_cluster_list:
            raise ApiStatus(
                403,
                "Forbidden",
                f'nodes "{name}" is forbidden: User "perf-sim-user" cannot get resource "nodes/proxy" in API group "" at the cluster scope',
                {"name": name, "kind": "nodes"},
            )
        node = self.cfg.store.collections["nodes"].get(("", name))
        if node is None:
            raise not_found("nodes", name)
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in node["status"].get("conditions") or []):
            # the API server's answer when the kubelet does not listen (an unready node)
            raise ApiStatus(503, "", "error trying to reach service: dial tcp 10.0.0.1:10250: connect: connection refused")
        metrics = self.cfg.metrics
        if rest == "metrics/cadvisor":
            self._send(200, metrics.cadvisor(node), "text/plain; version=0.0.4; charset=utf-8")
        elif rest == "metrics/resource":
            self._send(200, metrics.resource_metrics(node), "text/plain; version=0.0.4; charset=utf-8")
        elif rest == "stats/summary":
            self._json(200, metrics.stats_summary(node))
        elif rest == "configz":
            config = metrics.configz(node)
            if config is None:
                self._send(404, "404 page not found\n", "text/plain; charset=utf-8")
            else:
                self._json(200, config)
        elif rest == "metrics":
            self._send(200, metrics.kubelet_metrics(node), "text/plain; version=0.0.4; charset=utf-8")
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
            if node["metadata"]["name"] in self.cfg.metrics_skip:
                continue
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
        if node is None or name in self.cfg.metrics_skip:
            raise not_found("nodes", name, "metrics.k8s.io")
        self._json(200, self.cfg.metrics.node_metrics(node))

    def r_metrics_pod(self, ns: str, name: str) -> None:
        self._only("GET")
        for p in self.cfg.metrics.running_pods(namespace=ns):
            if p.name == name:
                self._json(200, self.cfg.metrics.pod_metrics(p))
                return
        raise not_found("pods", name, "metrics.k8s.io")


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that prints nothing for a client gone mid-request (the tests' small servers
    use it too)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-request (reset, closed, its TLS torn down) is not the server's error: the API
        server prints nothing for it, and socketserver's traceback for each one filled the stderr of a
        sim that served a test session. Anything else is printed as socketserver prints it."""
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Server(QuietServer):
    allow_reuse_address = True
    request_queue_size = 128
