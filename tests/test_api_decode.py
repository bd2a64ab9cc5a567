"""Decoding API answers: orjson where installed, the standard library where not (the krew
archive), with the same results either way; the cyclic collector paused only while decoding."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Sim, env_for, kubectl
from kubectl_perf import api
from kubectl_perf.api import ApiError, Cluster, Connection

orjson: Any
try:
    import orjson
except ImportError:  # a runtime dependency of pip installs; the json fallback is tested either way
    orjson = None
needs_orjson = pytest.mark.skipif(orjson is None, reason="orjson is not installed")


@pytest.fixture(params=[pytest.param("orjson", marks=needs_orjson), "json"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(api, "_loads", orjson.loads if request.param == "orjson" else json.loads)
    monkeypatch.setattr(api, "SMALL_DOCUMENT", 0)  # the chosen decoder for every size, small samples too
    yield request.param


def test_without_orjson_the_standard_library_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "orjson", None)  # what `import orjson` finds in the krew archive: nothing
    assert api._pick_loads() is json.loads


@needs_orjson
def test_with_orjson_installed_it_decodes() -> None:
    assert api._pick_loads() is orjson.loads


def test_small_documents_skip_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small cluster's answers decode without importing orjson (issue 20: start-up); pages do not."""
    calls: list[int] = []
    monkeypatch.setattr(api, "_loads", lambda data: calls.append(len(data)) or json.loads(data))
    assert api._decode(b'{"kind": "NodeList", "items": []}', "/x") == {"kind": "NodeList", "items": []}
    big = json.dumps({"items": ["x" * 100] * 1000}).encode()
    assert len(big) >= api.SMALL_DOCUMENT and api._decode(big, "/x")["items"][0] == "x" * 100
    assert calls == [len(big)]


def test_both_decoders_give_the_same_pages(generated: Sim, decoder: str) -> None:
    cluster = Cluster(Connection(str(generated.kubeconfig)))
    items = cluster.fold("/api/v1/pods", list, lambda acc, page: acc.extend(page), limit=40)
    assert items == generated.get("/api/v1/pods")["items"]  # the test's own urllib + json reading


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b'{"a": "caf\\u00e9", "n": [1, 2.5, -3e2, true, null]}', {"a": "café", "n": [1, 2.5, -300.0, True, None]}),
        (b'{"s": "\\ud800"}', {"s": "\ud800"}),  # a lone surrogate: orjson refuses it, json takes it
    ],
)
def test_decode_agrees_with_the_standard_library(raw: bytes, expected: Any, decoder: str) -> None:
    assert api._decode(raw, "/x") == expected


def test_not_json_is_one_line_error(decoder: str) -> None:
    with pytest.raises(ApiError, match="^the server answered GET /api/v1/pods with something that is not JSON$"):
        api._decode(b"<html>proxy error</html>", "/api/v1/pods")


@pytest.mark.parametrize("was_on", [True, False])
def test_the_collector_is_left_as_found(was_on: bool, decoder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    states: list[bool] = []

    def spy(data: bytes) -> Any:
        states.append(gc.isenabled())
        return json.loads(data)

    monkeypatch.setattr(api, "_loads", spy)
    (gc.enable if was_on else gc.disable)()
    try:
        api._decode(b"[1]", "/x")
        with pytest.raises(ApiError):
            api._decode(b"nope", "/x")
        after = gc.isenabled()
    finally:
        gc.enable()
    assert states == [False, False] and after is was_on


def test_capacity_output_is_the_same_without_orjson(fixture_cluster: Sim, tmp_path: Path) -> None:
    """Through kubectl's plugin lookup: a stub that refuses to import shadows orjson, as in the krew archive."""
    (tmp_path / "orjson.py").write_text('raise ImportError("not installed")\n')
    without = env_for(fixture_cluster, PYTHONPATH=str(tmp_path))
    probe = "import json, kubectl_perf.api as a; print(a._pick_loads() is json.loads)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=without).stdout == "True\n"
    # the container view as a table: -o wide adds only AGE there, which may tick between the two runs
    for args in (["--util", "-o", "json"], ["--util", "--containers"]):
        expected = kubectl(fixture_cluster, "perf", "capacity", *args, check=False)
        got = kubectl(fixture_cluster, "perf", "capacity", *args, check=False, env=without)
        assert expected.stdout and (got.returncode, got.stdout, got.stderr) == (expected.returncode, expected.stdout, expected.stderr)


def test_overlapping_decodes_keep_the_collector_off_until_the_last_ends(decoder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report decodes in three threads at once: the first decode ending must not turn the collector
    on under a second still under way (it did: each turned it off and back on for itself)."""
    entered = {b"[1]": threading.Event(), b"[2]": threading.Event()}
    leave = {b"[1]": threading.Event(), b"[2]": threading.Event()}

    def held(data: bytes) -> Any:  # each decode waits inside until the test lets it end
        entered[data].set()
        leave[data].wait(5)
        return json.loads(data)

    monkeypatch.setattr(api, "_loads", held)
    monkeypatch.setattr(api, "SMALL_DOCUMENT", 0)
    gc.enable()
    threads = {data: threading.Thread(target=api._decode, args=(data, "/x")) for data in entered}
    try:
        for data, thread in threads.items():
            thread.start()
            assert entered[data].wait(5)
        leave[b"[1]"].set()  # the first to start ends first, the second still decoding
        threads[b"[1]"].join(5)
        while_second_runs = gc.isenabled()
        leave[b"[2]"].set()
        threads[b"[2]"].join(5)
        assert (while_second_runs, gc.isenabled()) == (False, True)
    finally:
        for event in leave.values():
            event.set()
        gc.enable()
