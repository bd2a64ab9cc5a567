"""Serving the app: gunicorn with gevent workers that own TLS and every deadline.

Why gevent: a client that stalls (4 bytes of a ClientHello, half the headers, a
body that never ends) costs a greenlet of a few kilobytes, not one of a handful
of threads, so thousands of them cannot starve the reviews behind them. Each
stage has its own deadline, after which the connection is dropped. Why one
worker by default: reviews are GIL-bound Python, so a second process on a
2-core pod buys little, costs a second node cache, and lets the kernel hand a
whole keep-alive pool to one process while the other idles (issue 15).
"""

from __future__ import annotations

import errno
import logging
import math
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import gevent
from gevent.socket import wait_read
from gunicorn import http, util
from gunicorn.http.errors import NoMoreData, UnsupportedTransferCoding
from gunicorn.workers.base_async import AsyncWorker
from gunicorn.workers.ggevent import GeventWorker

log = logging.getLogger("perf_webhook")
TLS_RELOAD_SECONDS = 2.0
# Above the largest review the API server can send (issue 27 availability 9): an object is at
# most etcd's 1.5 MiB request limit, Go's encoder writes each of `<`, `>`, `&` as a 6-byte
# \u003c escape, and an UPDATE carries the object and the old one: 1.5 x 6 x 2 = 18 MiB, plus
# room for the envelope and defaulting. Below it, a large but legal pod was a 413, which
# failurePolicy Ignore turns into an unjudged admission. The app answers 413 past it.
MAX_BODY = 20 * 1024 * 1024
# After the 413 to a Content-Length past MAX_BODY, what the client still sends is read and dropped
# for at most this long before the connection closes: closing on unread bytes sends a TCP reset,
# which can reach a client still writing its body before it has read the answer.
LINGER_SECONDS = 2.0

# The API server's --tls-min-version values we accept (below 1.2 is not offered).
TLS_VERSIONS = {"VersionTLS12": ssl.TLSVersion.TLSv1_2, "VersionTLS13": ssl.TLSVersion.TLSv1_3}
# IANA names, as the API server's --tls-cipher-suites takes them, to OpenSSL's.
TLS12_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    # CBC suites: only when asked for by name
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
}
# TLS 1.3's suites are all AEAD and OpenSSL always offers them (Go ignores them in this flag too).
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
DEFAULT_SUITES = tuple(name for name in TLS12_SUITES if "_GCM_" in name or "CHACHA20" in name)


def openssl_ciphers(names: tuple[str, ...]) -> str:
    """The OpenSSL cipher string for IANA suite names; ValueError names an unknown one."""
    unknown = [n for n in names if n not in TLS12_SUITES and n not in TLS13_SUITES]
    if unknown:
        raise ValueError(f"unknown TLS cipher suite {unknown[0]!r} (IANA names, e.g. {DEFAULT_SUITES[0]})")
    return ":".join(TLS12_SUITES[n] for n in names if n in TLS12_SUITES)


@dataclass(frozen=True)
class Settings:
    """How to serve: everything the worker needs, fixed at start-up."""

    certfile: str
    keyfile: str
    bind_address: str = "::"
    port: int = 8443
    workers: int = 1
    tls_min_version: str = "VersionTLS12"
    cipher_suites: tuple[str, ...] = DEFAULT_SUITES
    handshake_timeout: float = 5.0  # the TLS handshake, from accept
    header_timeout: float = 5.0  # request line and headers, from their first byte
    body_timeout: float = 10.0  # the body and the answer (the API server's default webhook timeout)
    keepalive: float = 75.0  # idle between requests; longer than the API server keeps idle connections
    max_connections: int = 10000  # per worker; a stalled one costs a greenlet and a socket
    max_connections_per_source: int = 0  # per client address; 0: half of max_connections
    drain: float = 9.0  # after SIGTERM, open connections are still served this long (gunicorn's grace is 1 s more)

    @property
    def per_source(self) -> int:
        return self.max_connections_per_source or max(1, self.max_connections // 2)


# What one open TLS connection costs the worker, idle after its handshake (a greenlet, the SSL
# object and its buffers, the socket, the parser): measured 26 KiB each with 400 open
# (tests/test_webhook_serving.py checks it stays under this), rounded up.
CONNECTION_COST = 32 * 1024
# Kept for everything but connections: the process's measured peak with the cache of 5,000 nodes
# and 150,000 pods (172 MB RSS, docs/performance.md) and a margin.
MEMORY_RESERVE = 192 * 1024 * 1024
MIN_CONNECTIONS, MAX_CONNECTIONS = 100, 10000
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")  # cgroup v2, v1


def memory_limit(paths: tuple[str, ...] = CGROUP_LIMITS) -> int | None:
    """The container's memory limit in bytes, from the cgroup; None when unlimited or unreadable."""
    for path in paths:
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # cgroup v1 writes a huge number for "no limit"
            return int(text)
        return None  # "max": no limit
    return None


def default_max_connections(limit: int | None, workers: int = 1) -> int:
    """Open connections per worker that fit the memory limit beside the reserve (issue 27
    availability 7: 10,000 idle TLS connections took RSS from 69 to 311 MB); the most
    gunicorn is asked for when there is no limit to fit."""
    if limit is None:
        return MAX_CONNECTIONS
    room = (limit - MEMORY_RESERVE * workers) // (CONNECTION_COST * workers)
    return int(max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, room)))


class ReloadingTLS:
    """A server SSLContext whose certificate is re-read when its files change
    (cert-manager rotates them in place). A half-written pair fails to load and the
    old certificate stays in use, so no handshake fails during a rotation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stamp: tuple[float, float] | None = None
        self._lock = threading.Lock()
        self.context = self._new_context()
        self.reload()

    def _new_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = TLS_VERSIONS[self.settings.tls_min_version]
        ciphers = openssl_ciphers(self.settings.cipher_suites)
        if ciphers:
            ctx.set_ciphers(ciphers)
        elif ctx.minimum_version < ssl.TLSVersion.TLSv1_3:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3  # only TLS 1.3 suites were named
        ctx.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
        return ctx

    def _stamps(self) -> tuple[float, float]:
        return os.stat(self.settings.certfile).st_mtime, os.stat(self.settings.keyfile).st_mtime

    def reload(self) -> bool:
        """Load the files if they changed; True when a new certificate is in use."""
        with self._lock:
            try:
                stamp = self._stamps()
                if stamp == self._stamp:
                    return False
                fresh = self._new_context()
                fresh.load_cert_chain(self.settings.certfile, self.settings.keyfile)
            except (OSError, ssl.SSLError) as err:
                if self._stamp is None:
                    raise
                log.warning("keeping the current certificate: %s", err)
                return False
            self.context, self._stamp = fresh, stamp
            return True

    def watch(self) -> None:
        def loop() -> None:
            while True:
                threading.Event().wait(TLS_RELOAD_SECONDS)
                self.reload()

        threading.Thread(target=loop, name="tls-reload", daemon=True).start()


def listen(settings: Settings) -> socket.socket:
    """The listening socket. `::` means both stacks (IPV6_V6ONLY off, whatever the
    host's default), falling back to IPv4 where the host has no IPv6."""
    host = settings.bind_address.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as err:
        if family != socket.AF_INET6 or host != "::" or err.errno not in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            raise
        family, host = socket.AF_INET, "0.0.0.0"
        sock = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if host == "::" else 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class DeadlineWorker(GeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker, with the TLS handshake done here under a deadline,
    headers and body under deadlines of their own, and idle keep-alive connections
    that close promptly at shutdown. A connection past a deadline is dropped
    without an answer: no thread or greenlet is held beyond it."""

    settings: ClassVar[Settings]
    on_cut: ClassVar[list[Callable[[str], None]]] = []  # told the stage of each dropped connection
    tls: ReloadingTLS
    sources: dict[str, int]  # open connections per client address (greenlets: no lock needed)
    drain_until = 0.0  # monotonic time until which a draining worker still serves open connections

    def handle_exit(self, sig: Any, frame: Any) -> None:
        # SIGTERM: stop accepting (gunicorn closes the listener), but keep serving the connections
        # already open until the drain ends, each answer with Connection: close. Closing idle
        # keep-alive connections at once failed the review the API server was writing on one at
        # that moment, with EOF, on every rollout (issue 27 operations 14).
        if not self.drain_until:
            self.drain_until = time.monotonic() + self.settings.drain
        super().handle_exit(sig, frame)

    def run(self) -> None:
        self.tls = ReloadingTLS(self.settings)
        self.tls.watch()
        self.sources = {}
        super().run()

    def _cut(self, stage: str) -> None:
        for hook in self.on_cut:
            hook(stage)

    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        s = self.settings
        source = str(addr[0]) if isinstance(addr, tuple) and addr else ""
        held = self.sources.get(source, 0)
        if held >= s.per_source:
            # One address may not hold more than its share: a tenant's pod opening thousands of
            # idle connections must leave room for the API servers' own (issue 27 availability 7).
            self._cut("per_source_limit")
            log.debug("refused a connection from %s: it holds %d (--max-connections-per-source)", source, held)
            util.close(client)
            return
        self.sources[source] = held + 1
        try:
            self._serve(listener, client, addr)
        finally:
            left = self.sources.get(source, 1) - 1
            if left > 0:
                self.sources[source] = left
            else:
                self.sources.pop(source, None)

    def _serve(self, listener: Any, client: socket.socket, addr: Any) -> None:
        s = self.settings
        conn: Any = client
        req = None
        stage = "handshake"
        linger = False
        try:
            client.setblocking(True)  # gevent makes it cooperative; deadlines come from gevent.Timeout
            with gevent.Timeout(s.handshake_timeout):
                conn = self.tls.context.wrap_socket(client, server_side=True, do_handshake_on_connect=False)
                conn.do_handshake()
            parser = http.get_parser(self.cfg, conn, addr)
            name = listener.getsockname()
            first = True
            while True:
                if first:
                    # The first request's headers are due within --header-timeout of the handshake:
                    # a connection that handshakes and then says nothing is not a keep-alive
                    # connection yet and must not be held for the keep-alive timeout (issue 27
                    # availability 7: 10,000 of them held 75 s took 240 MB).
                    stage = "headers"
                    with gevent.Timeout(s.header_timeout):
                        if not self._has_input(conn, parser, s.header_timeout + 1):
                            return
                        req = next(parser)
                    first = False
                else:
                    stage = "idle"
                    if not self._has_input(conn, parser, s.keepalive):
                        return
                    stage = "headers"
                    with gevent.Timeout(s.header_timeout):
                        req = next(parser)
                if _declared_length(req) > MAX_BODY:
                    # The app answers 413 without reading the body, and a body not read cannot be
                    # skipped to reach the next request: this answer says Connection: close.
                    req.force_close()
                    linger = True
                stage = "body"
                with gevent.Timeout(s.body_timeout):
                    # AsyncWorker's: it says whether to keep the connection (gevent's own drops that)
                    # gunicorn answers with Connection: close once the worker is not alive (draining)
                    if not AsyncWorker.handle_request(self, name, req, conn, addr):
                        return
                req = None
        except gevent.Timeout:
            self._cut(stage)
            log.debug("dropped a connection from %s: no %s within the deadline", addr, stage)
        except (StopIteration, NoMoreData, ssl.SSLError, OSError):
            pass  # the client left, failed its handshake, or asked to close
        except UnsupportedTransferCoding as err:  # gunicorn would answer 501: the client's fault, so a 400
            util.write_error(conn, 400, "Bad Request", str(err))
        except Exception as err:
            self.handle_error(req, conn, addr, err)
        finally:
            if linger:
                _drain(conn, min(LINGER_SECONDS, s.body_timeout))
            util.close(conn)

    def _has_input(self, conn: Any, parser: Any, idle: float) -> bool:
        """Wait (idle at most `idle` seconds) for the next request to start; False when the
        client stays silent, or when the drain after SIGTERM ends first. Checked every second,
        so a draining worker does not wait out a long keep-alive timeout."""
        if conn.pending() or parser.unreader.buf.getbuffer().nbytes:
            return True
        waited = 0.0
        while waited < idle:
            if not self.alive:
                left = self.drain_until - time.monotonic() if self.drain_until else 0.0
                if left <= 0:
                    return False
                idle = min(idle, waited + left)
            step = min(1.0, idle - waited)
            try:
                wait_read(conn.fileno(), timeout=step)
                return True
            except OSError:  # timed out: still idle
                waited += step
        return False


def _declared_length(req: Any) -> int:
    """The request's Content-Length (gunicorn has checked it is one number), 0 without one."""
    value = next((v for name, v in req.headers if name == "CONTENT-LENGTH"), "")
    return int(value) if value.isdigit() else 0


def _drain(conn: Any, seconds: float) -> None:
    """Read and drop what the client still sends, until it closes or `seconds` pass."""
    with gevent.Timeout(seconds, False):
        try:
            while conn.recv(65536):
                pass
        except (OSError, ssl.SSLError):
            pass


def gunicorn_config(settings: Settings, fd: int, worker: type) -> dict[str, Any]:
    """The gunicorn settings the server runs with, serving the listening socket `fd`."""
    return {
        "bind": f"fd://{fd}",
        "workers": settings.workers,
        "worker_class": worker,
        "worker_connections": settings.max_connections,
        "keepalive": max(1, round(settings.keepalive)),  # only read as "keep-alive on"; the worker times idling itself
        "timeout": 30,
        "graceful_timeout": math.ceil(settings.drain) + 1,  # connections close at the drain's end, before gunicorn's own cut
        "control_socket_disable": True,  # several webhooks may share a host (tests, benchmarks)
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "perf-webhook",
    }


def run(
    settings: Settings, load: Callable[[], Any], on_cut: Callable[[str], None] | None = None, sock: socket.socket | None = None
) -> None:
    """Serve the WSGI app `load()` builds (in each worker, after the fork) with these
    settings; the benchmark serves its bare baseline app through this too."""
    from gunicorn.app.base import BaseApplication

    listener = sock or listen(settings)
    worker = type("Worker", (DeadlineWorker,), {"settings": settings, "on_cut": [on_cut] if on_cut else []})

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in gunicorn_config(settings, listener.fileno(), worker).items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return load()

    Server().run()
