"""The one place that talks HTTP to a cluster.

Built on the `kubernetes` client for kubeconfig and in-cluster auth, but lists
are read as raw JSON a page at a time and never turned into model classes: a
caller folds each page into a small summary, so memory is bounded by a page.
"""

from __future__ import annotations

import gc
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from queue import Full, Queue
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlencode

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


_loads = _pick_loads()

DEFAULT_CHUNK_SIZE = 500  # kubectl's --chunk-size default


class ApiError(Exception):
    """A cluster error, already worded as the one line a user should see."""

    def __init__(self, message: str, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class MetricsUnavailable(ApiError):
    """metrics.k8s.io is not served (metrics-server absent) or not ready."""


@dataclass
class Connection:
    kubeconfig: str | None = None
    context: str | None = None
    request_timeout: float | None = None  # seconds; None: no limit
    as_user: str | None = None  # impersonation, as kubectl --as
    as_group: str | None = None
    insecure: bool = False  # --insecure-skip-tls-verify


def _status_message(body: bytes) -> tuple[str, str]:
    """(message, reason) from a Status body, or the raw text when it is not one."""
    try:
        status = json.loads(body)
        return str(status.get("message") or "").strip(), str(status.get("reason") or "")
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace").strip()[:200], ""


class Cluster:
    """An authenticated connection to one API server."""

    def __init__(self, conn: Connection) -> None:
        # Imported here so `--help` and argument errors never pay for the client.
        from kubernetes import client, config
        from kubernetes.client import rest

        cfg = client.Configuration()
        try:
            if conn.kubeconfig or not _in_cluster():
                config.load_kube_config(config_file=conn.kubeconfig, context=conn.context, client_configuration=cfg, persist_config=False)
            else:
                config.load_incluster_config(client_configuration=cfg)
        except Exception as err:  # ConfigException, OSError, and bare errors on malformed files
            raise ApiError(f"cannot load cluster configuration: {_one_line(err)}") from None
        cfg.retries = 0  # fail fast: kubectl does not retry a refused connection either
        if conn.insecure:
            import urllib3

            cfg.verify_ssl = False
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the user asked for it, as kubectl
        self.host = cfg.host
        self._config = cfg
        # The client's own pool (its TLS, client certificate and proxy settings), driven directly:
        # its generated request layer differs between client releases, this does not.
        self._pool = rest.RESTClientObject(cfg).pool_manager
        # kubectl --as / --as-group: the API server acts on the request as that user
        self._impersonate = {k: v for k, v in (("Impersonate-User", conn.as_user), ("Impersonate-Group", conn.as_group)) if v}
        self._timeout = conn.request_timeout

    # -- requests ---------------------------------------------------------
    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, **self._impersonate}
        # Read per request: exec and OIDC credentials refresh their token through this hook.
        settings: Any = self._config.auth_settings()  # a TypedDict in newer clients, a dict in older ones
        for auth in settings.values():
            if auth.get("in") == "header" and auth.get("value"):
                headers[auth["key"]] = auth["value"]
        return headers

    def _request(self, path: str, query: dict[str, Any] | None = None, accept: str = "application/json", timeout: Any = None) -> Any:
        """Send a GET and return the urllib3 response, unread, for any 2xx status."""
        import urllib3  # here, not at the top: `--help` should not pay for an HTTP stack

        params = [(k, v) for k, v in (query or {}).items() if v not in (None, "")]
        url = self.host + path + (f"?{urlencode(params)}" if params else "")
        headers = self._headers(accept)
        wait = timeout or self._timeout
        if isinstance(wait, tuple):  # (connect, read): a watch may stay open for a long read
            limit: Any = urllib3.Timeout(connect=wait[0], read=wait[1])
        else:
            limit = urllib3.Timeout(total=wait) if wait else None
        try:
            raw = self._pool.request("GET", url, headers=headers, preload_content=False, timeout=limit)
        except urllib3.exceptions.MaxRetryError as err:
            raise ApiError(f"cannot reach the API server at {self.host}: {_reason(err.reason)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ApiError(f"cannot reach the API server at {self.host}: {_reason(err)}") from None
        except Exception as err:  # anything else the HTTP stack raises: one line, never a traceback
            raise ApiError(f"request to {self.host}{path} failed: {_one_line(err)}") from None
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
        import urllib3

        params = [(k, v) for k, v in (query or {}).items() if v not in (None, "")]
        url = self.host + path + (f"?{urlencode(params)}" if params else "")
        headers = {**self._headers("application/json"), "Content-Type": content_type}
        data = json.dumps(body).encode() if body is not None else None
        try:
            raw = self._pool.request(
                method, url, body=data, headers=headers, timeout=urllib3.Timeout(total=self._timeout) if self._timeout else None
            )
        except urllib3.exceptions.MaxRetryError as err:
            raise ApiError(f"cannot reach the API server at {self.host}: {_reason(err.reason)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ApiError(f"cannot reach the API server at {self.host}: {_reason(err)}") from None
        if not 200 <= raw.status < 300:
            message, reason = _status_message(raw.data)
            raise ApiError(f"{message or 'request failed'} ({method} {path}: {raw.status} {reason})".strip(), raw.status, reason)
        return _decode(raw.data, path) if raw.data else None

    def get(self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        """GET a JSON document; timeout (seconds) bounds this request alone (one node's kubelet)."""
        return _decode(self._request(path, query, timeout=timeout).data, path)

    def stream_lines(self, path: str, query: dict[str, Any] | None = None) -> Iterator[bytes]:
        """GET a text document line by line, without holding it whole (cAdvisor dumps)."""
        yield from self._lines(path, self._request(path, query, accept="text/plain"))

    def _lines(self, path: str, raw: Any) -> Iterator[bytes]:
        import urllib3

        try:
            pending = b""
            for chunk in raw.stream(1 << 16):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from lines
            if pending:
                yield pending
        except (urllib3.exceptions.HTTPError, OSError) as err:
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


def _decode(data: bytes, path: str) -> Any:
    # A decoded document holds no reference cycles, so the cyclic collector has nothing
    # to find in it; left on, it walks the half-built page again and again, which costs
    # as much as decoding a list of pods. Paused only if on: a caller may have it off.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _loads(data)
    except ValueError:
        try:  # what orjson refuses and json takes (lone surrogates in a string) decodes as it would without orjson
            return json.loads(data)
        except ValueError:
            raise ApiError(f"the server answered GET {path} with something that is not JSON") from None
    finally:
        if paused:
            gc.enable()


def _in_cluster() -> bool:
    import os

    return (
        bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        and os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token")
        and not os.environ.get("KUBECONFIG")
        and not os.path.exists(os.path.expanduser("~/.kube/config"))
    )


def _reason(err: object) -> str:
    text = str(err)
    for hint in ("Connection refused", "Name or service not known", "timed out", "certificate verify failed"):
        if hint in text:
            return hint.lower()
    return _one_line(err)


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
