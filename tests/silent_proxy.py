"""A TCP proxy between the webhook and the API server that can go silent, as a network path
does when a NAT entry, a load balancer or a route is lost: bytes stop flowing and nobody sends
a reset (the review's repro for issue 27 availability 8).

    with SilentProxy(("127.0.0.1", 6443)) as proxy:   # forwards to the API server
        proxy.port                                      # point a kubeconfig here
        proxy.drop_open()    # connections open now stop forwarding, silently; new ones still work
        proxy.go_silent()    # every connection, new ones too: accepted, then nothing
        proxy.resume()       # new connections forward again (silenced ones stay silent)
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class SilentProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: list[dict[str, bool]] = []  # one flag set per connection: {"silent": ...}
        self._silent_for_new = False
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            state = {"silent": self._silent_for_new}
            with self._lock:
                self._sockets.append(client)
                self._open.append(state)
            if state["silent"]:
                continue  # held open, never answered, never forwarded
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.append(server)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b, state), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, state: dict[str, bool]) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                if not state["silent"]:
                    try:
                        sink.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                return
            if state["silent"]:
                continue  # swallowed: the other side hears nothing, and no reset either
            try:
                sink.sendall(data)
            except OSError:
                return

    def drop_open(self) -> None:
        with self._lock:
            for state in self._open:
                state["silent"] = True

    def go_silent(self) -> None:
        self._silent_for_new = True
        self.drop_open()

    def resume(self) -> None:
        self._silent_for_new = False

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.close()
                except OSError:
                    pass

    def __enter__(self) -> SilentProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
