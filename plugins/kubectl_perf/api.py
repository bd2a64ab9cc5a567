"""The one place that talks HTTP to a cluster.

Built on the `kubernetes` client for kubeconfig and in-cluster auth, but lists
are read as raw JSON a page at a time and never turned into model classes: a
caller folds each page into a small summary, so memory is bounded by a page.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from queue import Full, Queue
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlencode

from .kubeconfig import KubeconfigError, Overrides, resolve
from .plain_http import Limits

A = TypeVar("A")


def _pick_loads() -> Callable[[bytes], Any]:
    """orjson's decoder where installed (pip and pipx installs pull it in), else the
    standard library's: the krew archive vendors pure-Python dependencies only. orjson
    decodes a page of pods about twice as fast (bench/capacity.py measures it)."""
    try:
        import orjson
    except ImportError:
        return json.loads
    return orjson.loads


_loads: Callable[[bytes], Any] | None = None  # picked on the first large decode
# Below this size the standard library decodes: orjson pays off on list pages (a 500-pod page is
# about 1.5 MB), while importing it (uuid, platform) costs a small cluster's run more than it saves.
SMALL_DOCUMENT = 64 * 1024

DEFAULT_CHUNK_SIZE = 500  # kubectl's --chunk-size default


class ApiError(Exception):
    """A cluster error, already worded as the one line a user should see."""

    def __init__(self, message: str, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


TIMEOUT = "Timeout"  # an ApiError's reason when no answer came within a limit (connection_error's "timed out after")


class MetricsUnavailable(ApiError):
    """metrics.k8s.io is not served (metrics-server absent) or not ready."""


# client-go's transport defaults (k8s.io/apimachinery/pkg/util/net SetTransportDefaults and
# kubectl's dialer): give up on a TCP connect after 30 s and on a TLS handshake after 10 s, so a
# server that accepts and says nothing cannot hang a plugin.
DIAL_TIMEOUT = 30.0
TLS_HANDSHAKE_TIMEOUT = 10.0
# Between two reads of an answer. The API server cuts any non-watch request at 60 s itself
# (kube-apiserver --request-timeout, default 1m), so a slow page of a 150,000-pod list either
# arrives within that or never does; 90 s waits for everything the server can still send.
READ_TIMEOUT = 90.0


@dataclass
class Connection:
    """kubectl's generic connection flags; None or False: not given (the kubeconfig decides)."""

    kubeconfig: str | None = None
    context: str | None = None
    request_timeout: float | None = None  # seconds for a whole request; None: only the phase limits above
    as_user: str | None = None  # impersonation, as kubectl --as
    as_group: str | None = None
    insecure: bool = False  # --insecure-skip-tls-verify
    cluster: str | None = None
    user: str | None = None
    server: str | None = None
    token: str | None = None
    certificate_authority: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    tls_server_name: str | None = None
    verbosity: int = 0  # kubectl -v: 6 logs each request, 8 its headers too

    def overrides(self) -> Overrides:
        return Overrides(
            self.kubeconfig,
            self.context,
            self.cluster,
            self.user,
            self.server,
            self.token,
            self.certificate_authority,
            self.client_certificate,
            self.client_key,
            self.tls_server_name,
            self.insecure,
        )


def _status_message(body: bytes) -> tuple[str, str]:
    """(message, reason) from a Status body, or the raw text when it is not one."""
    try:
        status = json.loads(body)
        return str(status.get("message") or "").strip(), str(status.get("reason") or "")
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace").strip()[:200], ""


# What a kubeconfig may hold for the plain transport below: a server, its CA, and a bearer token or
# a client certificate. Anything else (exec credential plugins, auth providers, basic auth, a
# proxy-url, impersonation in the file) goes to the kubernetes client's loader, which has it all.
PLAIN_CLUSTER = frozenset(
    {"server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name", "extensions"}
)
PLAIN_USER = frozenset(
    {"token", "tokenFile", "client-certificate", "client-certificate-data", "client-key", "client-key-data", "extensions"}
)
# client-go takes a proxy from these (http.ProxyFromEnvironment); so does the kubernetes client.
_PROXY_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@dataclass(frozen=True)
class Transport:
    """How requests reach the server: its URL, a urllib3 pool (TLS, client certificate, proxy),
    the authentication headers (read per request: exec and OIDC tokens refresh), and whether the
    server's certificate is checked."""

    host: str
    pool: Any
    auth: Callable[[], dict[str, str]]
    verify: bool


def plain(config: dict[str, Any]) -> bool:
    """Whether a one-context kubeconfig (kubeconfig.Selected.config) needs nothing the plain
    transport lacks, so the kubernetes client (about 0.5 s of imports) is not loaded."""
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    if not set(cluster) <= PLAIN_CLUSTER or not set(user) <= PLAIN_USER:
        return False
    return not any(os.environ.get(name) for name in _PROXY_ENV)  # proxies: the client's rules (no_proxy...)


def _plain_transport(config: dict[str, Any]) -> Transport:
    """The standard library's HTTP (plain_http.py) configured as the kubernetes client configures
    urllib3 for the same kubeconfig (RESTClientObject: the CA alone trusted, the client certificate,
    tls-server-name, no retries), without importing either."""
    import base64
    import ssl

    from . import __version__
    from .plain_http import Pool

    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    host = str(cluster["server"]).rstrip("/")
    verify = not cluster.get("insecure-skip-tls-verify")
    ctx = None
    if host.startswith("https://"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname checked, certificate required, TLS 1.2 at least
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif cluster.get("certificate-authority-data"):  # as client-go: the kubeconfig's CA alone, not the system's too
            ctx.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        elif cluster.get("certificate-authority"):
            ctx.load_verify_locations(cafile=cluster["certificate-authority"])
        else:
            ctx.load_default_certs()
        cert, key = _pem(user, "client-certificate"), _pem(user, "client-key")
        if cert is not None and key is not None:
            # load_cert_chain reads files only: the data goes through a private directory, gone at once
            import tempfile

            with tempfile.TemporaryDirectory(prefix="kubectl-perf-") as tmp:
                paths = []
                for name, pem in (("cert", cert), ("key", key)):
                    path = os.path.join(tmp, name)
                    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
                        f.write(pem)
                    paths.append(path)
                ctx.load_cert_chain(paths[0], paths[1])
    token = user.get("token") or ""
    if not token and user.get("tokenFile"):
        with open(user["tokenFile"], encoding="utf-8") as f:
            token = f.read().strip()
    headers = {"authorization": f"Bearer {token}"} if token else {}
    pool = Pool(host, ctx, cluster.get("tls-server-name"), (os.cpu_count() or 1) * 5, f"kubectl-perf/{__version__}", _phase)
    return Transport(host, pool, lambda: headers, verify)


def _pem(user: dict[str, Any], key: str) -> bytes | None:
    if user.get(f"{key}-data"):
        import base64

        return base64.b64decode(user[f"{key}-data"])
    if user.get(key):
        with open(user[key], "rb") as f:
            return f.read()
    return None


def _client_transport(config: dict[str, Any] | None) -> Transport:
    """The kubernetes client's loader and pool: exec credential plugins, auth providers, proxies
    (proxy-url and the environment's), in-cluster service accounts (config None)."""
    from kubernetes import client
    from kubernetes.client import rest

    cfg = client.Configuration()
    if config is None:
        from kubernetes import config as loaders

        loaders.load_incluster_config(client_configuration=cfg)
    else:
        from kubernetes.config.kube_config import KubeConfigLoader

        with _logged_errors() as errors:  # the loader logs a failed exec plugin and goes on without credentials
            KubeConfigLoader(config_dict=config, config_base_path="").load_and_set(cfg)
        if errors:  # kubectl stops there, in these words
            raise ApiError(f"Unable to connect to the server: getting credentials: exec: {errors[0]}")
    cfg.retries = 0  # fail fast: kubectl does not retry a refused connection either

    def auth() -> dict[str, str]:
        # Read per request: exec and OIDC credentials refresh their token through this hook.
        settings: Any = cfg.auth_settings()  # a TypedDict in newer clients, a dict in older ones
        return {a["key"]: a["value"] for a in settings.values() if a.get("in") == "header" and a.get("value")}

    if not cfg.verify_ssl:
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the user asked for it, as kubectl
    # The client's own pool (its TLS, client certificate and proxy settings), driven directly:
    # its generated request layer differs between client releases, this does not.
    pool = rest.RESTClientObject(cfg).pool_manager
    _bound_tls_handshake(pool)
    return Transport(cfg.host, pool, auth, bool(cfg.verify_ssl))


@contextlib.contextmanager
def _logged_errors() -> Iterator[list[str]]:
    """The error lines the kubernetes client logs (on the root logger) while the block runs,
    kept from stderr: one line of ours says what failed."""
    import logging

    errors: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                errors.append(_one_line(record.getMessage()))

    root, handler = logging.getLogger(), Keep()
    root.addHandler(handler)  # a handler on the root also stops logging.error() from configuring stderr output
    try:
        yield errors
    finally:
        root.removeHandler(handler)


class Cluster:
    """An authenticated connection to one API server."""

    # Whether a list read again is answered from memory rather than asked of the server: the report's
    # SharedCluster holds each list it read (report/shared.py).
    whole_lists_held = False
    # Whether the command takes -n, so a refused list of every namespace's pods may suggest it (report has no -n).
    takes_namespace = True

    def __init__(self, conn: Connection) -> None:
        self.namespace = "default"  # kubectl's: -n, else the context's, else "default"
        flags = conn.overrides()
        try:
            if conn.kubeconfig or conn.server or not _in_cluster():
                # kubectl's merge and selection (kubeconfig.py), then either the plain transport or,
                # for what it lacks, the client's own loader on the one context chosen (exec plugins,
                # auth providers and proxies work as they always did).
                selected = resolve(flags)
                self.namespace = selected.namespace
                transport = _plain_transport(selected.config) if plain(selected.config) else _client_transport(selected.config)
            else:
                transport = _client_transport(None)
        except KubeconfigError as err:
            raise ApiError(str(err)) from None
        except ApiError:
            raise
        except Exception as err:  # ConfigException, OSError from an exec plugin or a file, ssl.SSLError from bad PEM: one line
            raise ApiError(f"invalid configuration: {_one_line(err)}") from None
        self.host = transport.host
        self._auth = transport.auth
        self._pool = transport.pool
        # kubectl --as / --as-group: the API server acts on the request as that user
        self._impersonate = {k: v for k, v in (("Impersonate-User", conn.as_user), ("Impersonate-Group", conn.as_group)) if v}
        self._timeout = conn.request_timeout
        self._verbosity = conn.verbosity

    # -- requests ---------------------------------------------------------
    def _headers(self, accept: str) -> dict[str, str]:
        return {"Accept": accept, **self._impersonate, **self._auth()}

    def _limits(self, wait: Any) -> Limits:
        """The limits of one request: client-go's dial and TLS-handshake limits and our read limit,
        all within --request-timeout when given; (connect, read) for a watch's long read."""
        if isinstance(wait, tuple):
            return Limits(connect=wait[0], read=wait[1], handshake=min(TLS_HANDSHAKE_TIMEOUT, wait[0]))
        return Limits(connect=DIAL_TIMEOUT, read=READ_TIMEOUT, total=wait or None, handshake=TLS_HANDSHAKE_TIMEOUT)

    def _send(self, method: str, path: str, url: str, headers: dict[str, str], body: bytes | None, timeout: Any) -> Any:
        """One request through the pool, unread; every failure to get an answer is one ApiError
        in kubectl's words, naming the server."""
        import time

        limits = self._limits(timeout)
        _phase.name = "response"  # a pooled connection goes straight to the answer
        started = time.monotonic()
        if self._verbosity >= 8:
            _log(f"{method} {url}")
            _log("Request Headers:")
            for key, value in headers.items():
                _log(f"    {key}: {_redacted(key, value)}")
        try:
            raw = self._pool.request(method, url, body=body, headers=headers, preload_content=False, timeout=_for_pool(self._pool, limits))
        except Exception as err:  # whatever the HTTP stack raises: one line in kubectl's words, never a traceback
            urllib3 = sys.modules.get("urllib3")
            if urllib3 is not None and isinstance(err, urllib3.exceptions.MaxRetryError):
                err = err.reason  # what failed, not urllib3's summary of it
            if self._verbosity >= 6:  # as kubectl: the request, no status, and how long it waited
                _log(f"{method} {url}  in {(time.monotonic() - started) * 1000:.0f} milliseconds")
            message = self._unreachable(err, limits)
            raise ApiError(message, 0, TIMEOUT if " timed out after " in message else "") from None
        if self._verbosity >= 6:
            ms = (time.monotonic() - started) * 1000
            _log(f"{method} {url} {raw.status} {raw.reason or ''} in {ms:.0f} milliseconds".replace("  ", " "))
        if self._verbosity >= 8:
            _log("Response Headers:")
            for key, value in raw.headers.items():
                _log(f"    {key}: {_redacted(key, value)}")
        return raw

    def _unreachable(self, err: object, limits: Any) -> str:
        return connection_error(self.host, err, _phase.name, limits)

    def _request(self, path: str, query: dict[str, Any] | None = None, accept: str = "application/json", timeout: Any = None) -> Any:
        """Send a GET and return the urllib3 response, unread, for any 2xx status."""
        params = [(k, v) for k, v in (query or {}).items() if v not in (None, "")]
        url = self.host + path + (f"?{urlencode(params)}" if params else "")
        raw = self._send("GET", path, url, self._headers(accept), None, timeout or self._timeout)
        if not 200 <= raw.status < 300:
            self._raise_for(path, raw.status, raw.data)
        return raw

    def _raise_for(self, path: str, status: int, body: bytes) -> NoReturn:
        message, reason = _status_message(body)
        if path.startswith("/apis/metrics.k8s.io") and status in (403, 404, 503):
            why = {403: "forbidden to this user", 404: "metrics-server is not installed", 503: "metrics-server is not ready"}[status]
            raise MetricsUnavailable(f"metrics API unavailable: {why} ({status})", status, reason)
        if status == 401:
            raise ApiError("the server rejected our credentials (401 Unauthorized): check the kubeconfig user", status)
        if status == 403:
            raise ApiError(message or f"forbidden: GET {path}", status, reason)
        raise ApiError(f"{message or 'request failed'} (GET {path}: {status} {reason})".strip(), status, reason)

    def write(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None, content_type: str = "application/json"
    ) -> Any:
        """Send a PATCH, POST, PUT or DELETE with a JSON body; returns the decoded answer.
        Errors come as ApiError with the server's status (404 absent, 403 forbidden, 422 invalid)."""
        params = [(k, v) for k, v in (query or {}).items() if v not in (None, "")]
        url = self.host + path + (f"?{urlencode(params)}" if params else "")
        headers = {**self._headers("application/json"), "Content-Type": content_type}
        data = json.dumps(body).encode() if body is not None else None
        raw = self._send(method, path, url, headers, data, self._timeout)
        if not 200 <= raw.status < 300:
            message, reason = _status_message(raw.data)
            raise ApiError(f"{message or 'request failed'} ({method} {path}: {raw.status} {reason})".strip(), raw.status, reason)
        return _decode(raw.data, path) if raw.data else None

    def remember(self, key: tuple[Any, ...], make: Callable[[], A]) -> A:
        """make(): a plain Cluster reads afresh each time. The report's SharedCluster keeps one answer
        per key for the run, so two sections asking for the same kubelet sample share it."""
        return make()

    def get(self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        """GET a JSON document; timeout (seconds) bounds this request alone (one node's kubelet)."""
        return _decode(self._request(path, query, timeout=timeout).data, path)

    def stream_lines(self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None) -> Iterator[bytes]:
        """GET a text document line by line, without holding it whole (cAdvisor dumps); timeout
        (seconds) bounds this request alone (one node's kubelet), as for get."""
        yield from self._lines(path, self._request(path, query, accept="text/plain", timeout=timeout))

    def _lines(self, path: str, raw: Any) -> Iterator[bytes]:
        try:
            pending = b""
            for chunk in raw.stream(1 << 16):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from lines
            if pending:
                yield pending
        except _read_errors() as err:
            raise ApiError(f"connection to {self.host} broke while reading {path}: {_reason(err)}") from None
        finally:
            raw.release_conn()

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int = 30, query: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield watch events after resource_version until the server ends the watch.

        Raises Expired when the version is too old (410 Gone): the caller relists.
        """
        params = {
            **(query or {}),
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
        }
        try:
            raw = self._request(path, params, timeout=(10, timeout_seconds + 30))
        except ApiError as err:
            raise Expired(str(err), 410, err.reason) if err.status == 410 else err from None
        for line in self._lines(path, raw):
            if not line.strip():
                continue
            event = _decode(line, path)
            if event.get("type") == "ERROR":
                status = event.get("object") or {}
                if status.get("code") == 410:
                    raise Expired(str(status.get("message") or "watch expired"), 410, str(status.get("reason") or "Expired"))
                raise ApiError(f"watch {path} failed: {status.get('message')}", int(status.get("code") or 0))
            yield event

    def pages(self, path: str, query: dict[str, Any] | None = None, limit: int = DEFAULT_CHUNK_SIZE) -> Iterator[dict[str, Any]]:
        """Yield the raw pages of a list; raises Expired when a continue token expires.

        The next page is fetched in the background while the caller works on
        this one (the continue token is read from the head of the raw page), so
        the server's time and ours overlap instead of adding up.
        """
        base = dict(query or {})
        base["limit"] = limit
        queue: Queue[bytes | BaseException | None] = Queue(maxsize=2)
        stop = threading.Event()

        def fetch() -> None:
            token = ""
            try:
                while not stop.is_set():
                    try:
                        raw = self._request(path, {**base, "continue": token}).data
                    except ApiError as err:
                        raise Expired(str(err), err.status, err.reason) if err.status == 410 and token else err from None
                    token = _peek_continue(raw)
                    _put(queue, raw, stop)
                    if not token:
                        break
                _put(queue, None, stop)
            except BaseException as err:  # handed to the consumer, raised there
                _put(queue, err, stop)

        worker = threading.Thread(target=fetch, name=f"list {path}", daemon=True)
        worker.start()
        try:
            while True:
                item = queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield _decode(item, path)
        finally:
            stop.set()

    def consume(
        self,
        path: str,
        use: Callable[[Iterable[list[dict[str, Any]]]], A],
        query: dict[str, Any] | None = None,
        limit: int = DEFAULT_CHUNK_SIZE,
    ) -> A:
        """use(pages) over the item pages of a list, whatever it returns. When the
        list expires mid-way (410 Gone), it is listed again from scratch and handed
        to a fresh use(), so use must not keep state between calls."""
        for _attempt in range(3):
            try:
                return use((page.get("items") or []) for page in self.pages(path, query, limit))
            except Expired:
                continue  # the snapshot was compacted away mid-list: start again
        raise ApiError(f"listing {path} kept expiring (410 Gone); the cluster is changing too fast to page through")

    def fold(
        self,
        path: str,
        fresh: Callable[[], A],
        add: Callable[[A, list[dict[str, Any]]], None],
        query: dict[str, Any] | None = None,
        limit: int = DEFAULT_CHUNK_SIZE,
    ) -> A:
        """Fold a paginated list into an accumulator; relist from scratch on 410 Expired."""

        def use(pages: Iterable[list[dict[str, Any]]]) -> A:
            acc = fresh()
            for items in pages:
                add(acc, items)
            return acc

        return self.consume(path, use, query, limit)


class Expired(ApiError):
    pass


_CONTINUE = re.compile(rb'"continue":"([^"]*)"')


def _peek_continue(raw: bytes) -> str:
    """The continue token of a raw list page. ListMeta precedes the items in
    every API server's encoding, so only the head is searched."""
    head = raw[: raw.find(b'"items"') if b'"items"' in raw[:65536] else 65536]
    match = _CONTINUE.search(head)
    if match:
        return match.group(1).decode()
    if b'"items"' in raw[:65536]:
        return ""
    return str(((_decode(raw, "") or {}).get("metadata") or {}).get("continue") or "")


def _put(queue: Queue[Any], item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            queue.put(item, timeout=0.1)
            return
        except Full:
            continue


_gc_lock = threading.Lock()
_gc_pausers = 0  # decodes under way, in any thread
_gc_resume = False  # whether the last of them turns the collector back on


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off while any thread is inside (a decode, the report's read of a cluster).
    Its switch is one for the process: with each decode turning it off and back on for itself, one
    thread's decode ending turned it on under another's half-built page, or under the report's run."""
    global _gc_pausers, _gc_resume
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_resume = gc.isenabled()  # a caller may have it off: then it stays off
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_resume:
                gc.enable()


def _decode(data: bytes, path: str) -> Any:
    """A decoded document holds no reference cycles, so the cyclic collector has nothing to find in
    it; left on, it walks the half-built page again and again, which costs as much as decoding a list
    of pods."""
    global _loads
    if _loads is None and len(data) >= SMALL_DOCUMENT:
        _loads = _pick_loads()
    with collector_paused():
        try:
            value = (_loads or json.loads)(data) if len(data) >= SMALL_DOCUMENT else json.loads(data)
        except ValueError:
            try:  # what orjson refuses and json takes (lone surrogates in a string) decodes as it would without orjson
                value = json.loads(data)
            except ValueError:
                raise ApiError(f"the server answered GET {path} with something that is not JSON") from None
        return value


def _in_cluster() -> bool:
    return (
        bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        and os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token")
        and not os.environ.get("KUBECONFIG")
        and not os.path.exists(os.path.expanduser("~/.kube/config"))
    )


# Which part of a request is under way in this thread (list pages are fetched in a worker
# thread), so that a timeout can say what did not answer.
_phase = threading.local()


def _for_pool(pool: Any, limits: Limits) -> Any:
    """The limits as the pool takes them: plain_http's own, or a urllib3.Timeout for the client's
    pool (whose connections apply the handshake limit themselves, _bound_tls_handshake)."""
    if type(pool).__module__.endswith("plain_http"):
        return limits
    import urllib3

    return urllib3.Timeout(connect=limits.connect, read=limits.read, total=limits.total)


def _read_errors() -> tuple[type[BaseException], ...]:
    """What a broken read raises: the standard library's errors, and urllib3's when it is in use."""
    import http.client

    urllib3 = sys.modules.get("urllib3")
    return (OSError, http.client.HTTPException) + ((urllib3.exceptions.HTTPError,) if urllib3 is not None else ())


def _bound_tls_handshake(pool_manager: Any) -> None:
    """Give HTTPS connections client-go's TLS-handshake limit: urllib3 knows only a connect
    (dial) limit and a read limit, and would wait the whole dial limit for a handshake."""
    import urllib3
    from urllib3.connection import HTTPSConnection

    class Connection(HTTPSConnection):
        def _new_conn(self) -> Any:
            _phase.name = "dial"
            sock = super()._new_conn()
            current = sock.gettimeout()
            sock.settimeout(TLS_HANDSHAKE_TIMEOUT if current is None else min(current, TLS_HANDSHAKE_TIMEOUT))
            _phase.name = "TLS handshake"
            return sock

        def connect(self) -> None:
            super().connect()
            _phase.name = "response"

    class Pool(urllib3.HTTPSConnectionPool):
        ConnectionCls = Connection

    pool_manager.pool_classes_by_scheme = {**pool_manager.pool_classes_by_scheme, "https": Pool}


# OpenSSL's verify codes (x509_vfy.h) -> what failed, in Go's x509 words as kubectl prints them.
_VERIFY = {
    9: "x509: certificate has expired or is not yet valid (not yet valid)",
    10: "x509: certificate has expired or is not yet valid (expired)",
    18: "x509: certificate signed by unknown authority (self-signed, not by the kubeconfig's certificate-authority)",
    19: "x509: certificate signed by unknown authority (a self-signed CA the kubeconfig's certificate-authority does not hold)",
    20: "x509: certificate signed by unknown authority (not by the kubeconfig's certificate-authority)",
    21: "x509: certificate signed by unknown authority (not by the kubeconfig's certificate-authority)",
}


def _chain(err: object) -> Iterator[BaseException]:
    """err, its wrapped reasons and arguments, and their causes: urllib3 nests the OS error."""
    seen: set[int] = set()
    todo = [err]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([getattr(e, "reason", None), e.__cause__, e.__context__, *e.args])


def connection_error(host: str, err: object, phase: str | None = None, limits: Any = None) -> str:
    """What went wrong reaching host, in kubectl's words, never the HTTP library's."""
    import http.client
    import ssl

    urllib3 = sys.modules.get("urllib3")  # its exceptions only matter when it made the request
    timeouts: tuple[type[BaseException], ...] = (TimeoutError,) + ((urllib3.exceptions.TimeoutError,) if urllib3 else ())
    refusals: tuple[type[BaseException], ...] = (urllib3.exceptions.NewConnectionError,) if urllib3 else ()
    broken: tuple[type[BaseException], ...] = (http.client.HTTPException, ConnectionResetError, BrokenPipeError)
    broken += (urllib3.exceptions.ProtocolError,) if urllib3 else ()

    target = host.split("://", 1)[-1]
    for e in _chain(err):
        if isinstance(e, ssl.SSLCertVerificationError):
            code = getattr(e, "verify_code", 0)
            if code in (62, 64):  # hostname or IP address mismatch
                name = str(getattr(e, "verify_message", "")).rsplit("valid for ", 1)[-1].strip(" .'")
                what = f"x509: certificate is not valid for {name} (no matching name/IP SAN)"
            else:
                what = _VERIFY.get(code, f"x509: {getattr(e, 'verify_message', '') or 'certificate verify failed'}")
            return f"Unable to connect to the server {host}: tls: failed to verify certificate: {what}"
    for e in _chain(err):
        if isinstance(e, ConnectionRefusedError):
            return f"The connection to the server {target} was refused - did you specify the right host or port?"
        if isinstance(e, ssl.SSLError):
            return f"Unable to connect to the server {host}: tls: {str(e.reason or 'handshake failed').lower().replace('_', ' ')}"
        if isinstance(e, OSError) and ("Name or service not known" in str(e) or "nodename nor servname" in str(e)):
            return f"Unable to connect to the server {host}: dial tcp: lookup {target.rsplit(':', 1)[0]}: no such host"
        if isinstance(e, OSError) and e.strerror and not isinstance(e, TimeoutError):
            return f"Unable to connect to the server {host}: {e.strerror.lower()}"
    for e in _chain(err):
        # urllib3's NewConnectionError is a ConnectTimeoutError too: refusals were answered above
        if isinstance(e, timeouts) and not isinstance(e, refusals):
            limit = {"dial": DIAL_TIMEOUT, "TLS handshake": TLS_HANDSHAKE_TIMEOUT}.get(phase or "", READ_TIMEOUT)
            total = getattr(limits, "total", None)
            limit = min(limit, total) if isinstance(total, (int, float)) else limit
            what = {"dial": "dial tcp", "TLS handshake": "TLS handshake"}.get(phase or "", "waiting for an answer")
            return f"Unable to connect to the server {host}: {what} timed out after {limit:g}s"
    for e in _chain(err):
        if isinstance(e, broken):
            return f"Unable to connect to the server {host}: the connection broke before an answer"
    return f"Unable to connect to the server {host}: {_one_line(err)}"


def _reason(err: object) -> str:
    """A broken read's cause in a few words (the connection was fine until then)."""
    text = str(err)
    for hint in ("Connection refused", "Connection reset", "timed out"):
        if hint in text:
            return hint.lower()
    return "the connection broke"


_SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie")


def _redacted(key: str, value: str) -> str:
    """A header as -v 8 prints it: credentials masked, as kubectl masks them."""
    if key.lower() not in _SECRET_HEADERS:
        return value
    scheme, _, rest = value.partition(" ")
    return f"{scheme} <masked>" if rest else "<masked>"


def _log(line: str) -> None:
    """One -v line on stderr, with klog's header (severity, date, time) as kubectl prints it."""
    import datetime
    import sys

    now = datetime.datetime.now()
    sys.stderr.write(f"I{now:%m%d %H:%M:%S.%f} {line}\n")


def _one_line(err: object) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def path_for(kind_path: str, namespace: str | None = None) -> str:
    """/api/v1/pods or /api/v1/namespaces/NS/pods for a namespaced core resource."""
    if namespace:
        return f"/api/v1/namespaces/{quote(namespace, safe='')}/{kind_path}"
    return f"/api/v1/{kind_path}"


METRICS = "/apis/metrics.k8s.io/v1beta1"


def node_metrics_path() -> str:
    """metrics.k8s.io NodeMetrics, as kubectl top node reads them."""
    return f"{METRICS}/nodes"


def pod_metrics_path(namespace: str | None = None) -> str:
    """metrics.k8s.io PodMetrics of one namespace, or of all."""
    if namespace:
        return f"{METRICS}/namespaces/{quote(namespace, safe='')}/pods"
    return f"{METRICS}/pods"
