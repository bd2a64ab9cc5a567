"""The plain transport's pool reuses a kept-alive connection after a streamed answer, as after a read
one: a /metrics/resource or cAdvisor dump per node streamed over one API server connection each time,
not a new TCP and TLS handshake per node (a full read closed the answer; read1 at the end did not)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from kubectl_perf.plain_http import Pool
from perf_sim.server import QuietServer

BODY = b"line one\nline two\n" * 5000  # past one read1 piece, so the stream loops


class Counting(QuietServer):  # a client closing a kept-alive connection is no traceback
    connections = 0

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        self.connections += 1  # one per accepted TCP connection
        super().process_request(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, with Content-Length bodies

    def do_GET(self) -> None:
        body = BODY if self.path == "/dump" else b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Counting]:
    srv = Counting(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def pool_for(srv: Counting) -> Pool:
    return Pool(f"http://127.0.0.1:{srv.server_address[1]}", None, None, 4, "test", threading.local())


def test_a_streamed_answer_gives_its_connection_back(server: Counting) -> None:
    pool = pool_for(server)
    url = f"http://127.0.0.1:{server.server_address[1]}/dump"
    for _ in range(3):
        resp = pool.request("GET", url)
        assert b"".join(resp.stream(1 << 12)) == BODY
        resp.release_conn()
    resp = pool.request("GET", url.replace("/dump", "/json"))
    assert resp.data == b"{}"
    assert server.connections == 1


def test_a_stream_left_unfinished_is_not_reused(server: Counting) -> None:
    """A caller that stops early leaves bytes on the wire: that connection must not serve the next request."""
    pool = pool_for(server)
    url = f"http://127.0.0.1:{server.server_address[1]}/dump"
    resp = pool.request("GET", url)
    next(iter(resp.stream(1 << 10)))
    resp.release_conn()
    assert pool.request("GET", url).data == BODY
    assert server.connections == 2
