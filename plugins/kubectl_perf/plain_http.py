"""The plain transport's HTTP: http.client and ssl from the standard library, pooled.

A plain kubeconfig (a server, its CA, a bearer token or a client certificate) needs nothing
urllib3 adds over the standard library, and importing urllib3 (http.client, email, logging,
importlib.metadata for its HTTP/2 probe) cost about as much as the whole capacity run on a small
cluster (issue 20: start-up). This module offers the part of urllib3's PoolManager that
`api.Cluster` drives: `request(method, url, body, headers, timeout=Limits)` returning an unread
response with `status`, `reason`, `headers`, `data`, `stream(n)` and `release_conn()`; kept-alive
connections are reused, one thread at a time each. Failures are the standard library's own
exceptions (OSError, ssl.SSLError, TimeoutError, http.client.HTTPException), which
`api.connection_error` words as kubectl does; the phase a timeout hit (dial, TLS handshake,
response) is recorded in the `phase` thread-local the pool is handed, for that message.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Limits:
    """Seconds for one request: to connect (dial), for the TLS handshake, between two reads of the
    answer, and for the whole request when given (--request-timeout caps every phase)."""

    connect: float
    read: float
    total: float | None = None
    handshake: float | None = None

    @property
    def connect_timeout(self) -> float:
        return min(self.connect, self.total) if self.total else self.connect

    @property
    def read_timeout(self) -> float:
        return min(self.read, self.total) if self.total else self.read

    @property
    def handshake_timeout(self) -> float:
        limit = self.handshake if self.handshake is not None else self.connect
        return min(limit, self.total) if self.total else limit


class Response:
    """An answer, unread: the body is read by `data` or `stream`, then the connection goes back."""

    def __init__(self, pool: Pool, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self._pool, self._resp = pool, resp
        self._conn: http.client.HTTPConnection | None = conn
        self.status = resp.status
        self.reason = resp.reason
        self.headers = resp.headers
        self._body: bytes | None = None

    @property
    def data(self) -> bytes:
        if self._body is None:
            try:
                self._body = self._resp.read()
            finally:
                self.release_conn()
        return self._body

    def stream(self, amount: int) -> Iterator[bytes]:
        """The body as it arrives (a watch's events one chunk at a time), at most `amount` a piece."""
        while True:
            chunk = self._resp.read1(amount)
            if not chunk:
                # read1 leaves a Content-Length body that it read to the end open (it closes only on a
                # short read), and an open response cannot go back to the pool: read() closes it, so
                # the kept-alive connection is reused rather than a new TLS handshake per kubelet dump.
                self._resp.read()
                return
            yield chunk

    def release_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool._put_back(conn, reusable=self._resp.isclosed() and not self._resp.will_close)


class Pool:
    """Kept-alive connections to one API server (the only host a Cluster talks to)."""

    def __init__(
        self, url: str, context: ssl.SSLContext | None, server_hostname: str | None, maxsize: int, user_agent: str, phase: threading.local
    ) -> None:
        parts = urlsplit(url)
        self._phase = phase
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self._context = context
        self._sni = server_hostname or self.host
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._maxsize = maxsize
        self._agent = user_agent

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: Limits | None = None,
        **_: Any,
    ) -> Response:
        limits = timeout or Limits(30.0, 90.0)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._take()
        fresh = conn is None
        if conn is None:
            conn = self._connect(limits)
        else:
            self._phase.name = "response"
            assert conn.sock is not None
            conn.sock.settimeout(limits.read_timeout)
        try:
            conn.request(method, target, body=body, headers={"User-Agent": self._agent, **(headers or {})})
            resp = conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            conn.close()
            if fresh:
                raise
            # the server closed a kept-alive connection as we reused it: once more on a new one
            conn = self._connect(limits)
            try:
                conn.request(method, target, body=body, headers={"User-Agent": self._agent, **(headers or {})})
                resp = conn.getresponse()
            except BaseException:
                conn.close()
                raise
        except BaseException:
            conn.close()
            raise
        return Response(self, conn, resp)

    def _connect(self, limits: Limits) -> http.client.HTTPConnection:
        self._phase.name = "dial"
        sock = socket.create_connection((self.host, self.port), timeout=limits.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                assert self._context is not None
                self._phase.name = "TLS handshake"
                sock.settimeout(limits.handshake_timeout)
                sock = self._context.wrap_socket(sock, server_hostname=self._sni)
            self._phase.name = "response"
            sock.settimeout(limits.read_timeout)
        except BaseException:
            sock.close()
            raise
        conn = http.client.HTTPConnection(self.host, self.port)  # the socket is ours: TLS already done
        conn.sock = sock
        return conn

    def _take(self) -> http.client.HTTPConnection | None:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                sock = conn.sock
                # a connection the server closed while idle reads as ready (EOF): not reusable
                if sock is not None and not select.select([sock], [], [], 0)[0]:
                    return conn
                conn.close()
        return None

    def _put_back(self, conn: http.client.HTTPConnection, reusable: bool) -> None:
        if reusable:
            with self._lock:
                if len(self._idle) < self._maxsize:
                    self._idle.append(conn)
                    return
        conn.close()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


# What a broken answer raises here, for the callers that tell it from their own errors.
ERRORS: tuple[type[BaseException], ...] = (OSError, http.client.HTTPException)
