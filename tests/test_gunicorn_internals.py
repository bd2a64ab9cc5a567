"""webhook/perf_webhook/server.py's DeadlineWorker reaches past gunicorn's public API (its
gevent worker's handle hook, the HTTP parser's read-ahead buffer, AsyncWorker.handle_request).
gunicorn is pinned in pyproject.toml to the range these checks were run against; when an
upgrade moves one of these internals, this fails naming it, before a served review does."""

from __future__ import annotations

import importlib
import inspect
import socket
from importlib.metadata import requires
from typing import Any

import gunicorn
import pytest
from packaging.requirements import Requirement

# What server.py calls, with the parameters it passes (positionally, in this order).
CALLED = {
    "gunicorn.http.get_parser": ("cfg", "source", "source_addr"),
    "gunicorn.util.write_error": ("sock", "status_int", "reason", "mesg"),
    "gunicorn.util.close": ("sock",),
    "gunicorn.workers.base_async.AsyncWorker.handle_request": ("self", "listener_name", "req", "sock", "addr"),
    "gunicorn.workers.ggevent.GeventWorker.handle": ("self", "listener", "client", "addr"),  # overridden
    "gunicorn.workers.ggevent.GeventWorker.run": ("self",),  # overridden, then called
    "gunicorn.workers.base.Worker.handle_error": ("self", "req", "client", "addr", "exc"),
    "gunicorn.workers.base.Worker.handle_exit": ("self", "sig", "frame"),  # overridden: SIGTERM starts the drain
    "gunicorn.http.message.Message.force_close": ("self",),  # a Content-Length past MAX_BODY: Connection: close
}
CAUGHT = ("gunicorn.http.errors.NoMoreData", "gunicorn.http.errors.UnsupportedTransferCoding")


def resolve(dotted: str) -> Any:
    """The object at a dotted path: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for i, attr in enumerate(parts[cut:], start=cut):
            if not hasattr(obj, attr):
                pytest.fail(f"gunicorn {gunicorn.__version__} has no {'.'.join(parts[: i + 1])}, which perf_webhook/server.py uses")
            obj = getattr(obj, attr)
        return obj
    pytest.fail(f"gunicorn {gunicorn.__version__}: cannot import {dotted}, which perf_webhook/server.py uses")


def test_the_installed_gunicorn_is_in_the_pinned_range() -> None:
    pins = [Requirement(r) for r in requires("kubectl-perf") or [] if Requirement(r).name == "gunicorn"]
    assert pins and pins[0].specifier, "pyproject.toml's webhook extra should pin gunicorn to the range tested here"
    assert pins[0].specifier.contains(gunicorn.__version__), f"gunicorn {gunicorn.__version__} is outside the tested {pins[0].specifier}"


@pytest.mark.parametrize("dotted", CALLED)
def test_called_internals_keep_their_parameters(dotted: str) -> None:
    params = list(inspect.signature(resolve(dotted)).parameters.values())
    want = CALLED[dotted]
    names = tuple(p.name for p in params[: len(want)])
    assert names == want, f"gunicorn {gunicorn.__version__} changed {dotted}{names}; perf_webhook/server.py passes {want}"
    # what server.py does not pass must have a default
    required = [p.name for p in params[len(want) :] if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert not required, f"gunicorn {gunicorn.__version__}: {dotted} now requires {required}, which perf_webhook/server.py does not pass"


@pytest.mark.parametrize("dotted", CAUGHT)
def test_caught_errors_still_exist(dotted: str) -> None:
    assert issubclass(resolve(dotted), Exception), f"gunicorn {gunicorn.__version__}: {dotted} is no exception class"


def test_the_gevent_worker_still_serves_each_connection_through_handle() -> None:
    # DeadlineWorker does the TLS handshake and every deadline in its handle(): if the gevent
    # worker stops routing connections there, they would be served with no deadline at all.
    from gunicorn.workers.ggevent import GeventWorker

    source = inspect.getsource(GeventWorker.run)
    assert "self.handle" in source, f"gunicorn {gunicorn.__version__}: GeventWorker.run no longer hands connections to self.handle"


def test_a_worker_that_is_not_alive_answers_with_connection_close() -> None:
    # The drain after SIGTERM (issue 27 operations 14) serves open connections while the worker
    # is not alive and relies on AsyncWorker.handle_request to force Connection: close then.
    from gunicorn.workers.base_async import AsyncWorker

    source = inspect.getsource(AsyncWorker.handle_request)
    assert "if not self.alive" in source and "resp.force_close()" in source, (
        f"gunicorn {gunicorn.__version__}: AsyncWorker.handle_request no longer forces Connection: close when not alive"
    )


def test_the_parser_keeps_its_read_ahead_in_unreader_buf() -> None:
    # _has_input asks whether a pipelined request is already read (parser.unreader.buf) before waiting on the socket.
    from gunicorn.config import Config
    from gunicorn.http import get_parser

    ours, theirs = socket.socketpair()
    try:
        parser = get_parser(Config(), ours, ("127.0.0.1", 1))
        unreader = getattr(parser, "unreader", None)
        assert unreader is not None, f"gunicorn {gunicorn.__version__}: the HTTP parser has no unreader"
        assert hasattr(unreader, "buf") and unreader.buf.getbuffer().nbytes == 0, (
            f"gunicorn {gunicorn.__version__}: parser.unreader.buf is no longer a BytesIO of read-ahead bytes"
        )
    finally:
        ours.close()
        theirs.close()


def test_every_setting_server_py_sets_exists() -> None:
    from gunicorn.config import KNOWN_SETTINGS
    from perf_webhook.server import Settings, gunicorn_config

    unknown = sorted(set(gunicorn_config(Settings("tls.crt", "tls.key"), 3, object)) - {s.name for s in KNOWN_SETTINGS})
    assert not unknown, f"gunicorn {gunicorn.__version__} has no setting {unknown}, which perf_webhook/server.py sets"


def test_a_parsed_requests_headers_name_content_length_in_capitals() -> None:
    # server._declared_length reads the Content-Length from req.headers, (NAME, value) pairs; and
    # force_close must turn the answer's Connection header to close.
    from gunicorn.config import Config
    from gunicorn.http import get_parser
    from perf_webhook.server import _declared_length

    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 123456789\r\n\r\n")
        req = next(get_parser(Config(), ours, ("127.0.0.1", 1)))
        assert ("CONTENT-LENGTH", "123456789") in req.headers, f"gunicorn {gunicorn.__version__}: req.headers is {req.headers}"
        assert _declared_length(req) == 123456789
        assert not req.should_close()
        req.force_close()
        assert req.should_close(), f"gunicorn {gunicorn.__version__}: force_close no longer makes the request close"
    finally:
        ours.close()
        theirs.close()
