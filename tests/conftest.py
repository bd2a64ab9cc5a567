"""Shared fixtures: perf-sim clusters in subprocesses, and the real kubectl."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
BIN = Path(sys.executable).parent  # the venv's console scripts
KUBECTL = shutil.which("kubectl", path="/usr/bin") or shutil.which("kubectl") or "kubectl"
SHARED = ROOT.parent / "shared" / "reference"


@dataclass
class Sim:
    kubeconfig: Path
    proc: subprocess.Popen[bytes]
    stderr: Path  # what the sim printed: a file, as a pipe nobody drained would block the sim once full

    @property
    def config(self) -> dict[str, Any]:
        return yaml.safe_load(self.kubeconfig.read_text())

    @property
    def url(self) -> str:
        return self.config["clusters"][0]["cluster"]["server"]

    @property
    def token(self) -> str:
        return self.config["users"][0]["user"]["token"]

    def request(
        self, path: str, method: str = "GET", body: Any = None, token: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """A raw HTTPS request, independent of the code under test."""
        import base64

        ctx = ssl.create_default_context(
            cadata=base64.b64decode(self.config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        )
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token or self.token}", "Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def get(self, path: str) -> Any:
        status, body = self.request(path)
        assert status == 200, (status, body[:300])
        return json.loads(body)


def start_sim(tmp: Path, *args: str) -> Sim:
    kubeconfig, stderr = tmp / "kubeconfig", tmp / "perf-sim.stderr"
    tmp.mkdir(parents=True, exist_ok=True)  # perf-sim makes its kubeconfig's folder, but stderr's file comes first
    with stderr.open("wb") as err:
        proc = subprocess.Popen([str(BIN / "perf-sim"), "--kubeconfig", str(kubeconfig), *args], stderr=err)
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"perf-sim exited: {stderr.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("perf-sim did not become ready")
        time.sleep(0.02)
    return Sim(kubeconfig, proc, stderr)


def stop_sim(sim: Sim) -> None:
    sim.proc.send_signal(signal.SIGTERM)
    try:
        sim.proc.wait(10)
    except subprocess.TimeoutExpired:
        sim.proc.kill()


@pytest.fixture(scope="session")
def sim_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    started: list[Sim] = []

    def make(*args: str) -> Sim:
        sim = start_sim(tmp_path_factory.mktemp("sim"), *args)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        stop_sim(sim)


@pytest.fixture(scope="session")
def generated(sim_factory: Any) -> Sim:
    """A generated cluster: 6 nodes x 25 pods, metrics on."""
    return sim_factory("--nodes", "6", "--pods-per-node", "25", "--seed", "3")


@pytest.fixture(scope="session")
def fixture_cluster(sim_factory: Any) -> Sim:
    """The hand-written cluster of tests/data/cluster.yaml, whose totals the tests work out by hand."""
    return sim_factory("--objects", str(DATA / "cluster.yaml"))


def env_for(sim: Sim | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NO_COLOR")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(ROOT / ".pytest_cache" / "home")  # no stray ~/.kube/config
    if sim is not None:
        env["KUBECONFIG"] = str(sim.kubeconfig)
    env.update(extra)
    return env


def kubectl(
    sim: Sim | None, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real kubectl binary against a simulated cluster."""
    result = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env or env_for(sim), timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


# The real kube-apiserver: fixtures `realk8s` (session), `realk8s_factory` (private servers), and the
# servers `realk8s.loaded` shares between modules, stopped at the end of the session.
class Overlap:
    """How many callers were inside at once (`most`), for the tests of bounded fan-outs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = 0
        self.most = 0

    def stay(self, seconds: float) -> None:
        """Be inside for `seconds`, counted."""
        with self._lock:
            self._now += 1
            self.most = max(self.most, self._now)
        time.sleep(seconds)
        with self._lock:
            self._now -= 1


from realk8s import realk8s, realk8s_factory, realk8s_shared  # noqa: E402, F401

# -- the fast lane: `./dev test --fast` runs `pytest -m "not slow"` --------------------------------
# A test is slow when it needs a real process, server or browser beyond the shared perf-sim clusters:
# the real kubectl, a fresh interpreter, gunicorn, chromium, docker-registry, build/pipx/krew, helm,
# prometheus, or a kube-apiserver. Marked here, from what the test, its fixtures and the test-module helpers
# they call refer to, so a test converted to the in-process `inproc.perf` leaves the slow lane by
# itself, and no test file carries the marker.
SLOW_MODULES = {
    "test_chart": "helm renders the chart",
    "test_audit_chart": "helm renders the chart",
    "test_differential": "kube-apiserver (its last test judges the allow-list over the whole module)",
}
SLOW_FIXTURES = {"realk8s": "kube-apiserver", "realk8s_factory": "kube-apiserver"}


def _slow_objects() -> dict[int, str]:
    import realk8s as realk8s_module
    import rightsize_helpers
    import webhook_helpers

    return {
        id(subprocess): "a fresh process",
        id(kubectl): "the real kubectl",
        id(webhook_helpers.start_webhook): "gunicorn",
        id(realk8s_module): "kube-apiserver",
        id(realk8s_module.start): "kube-apiserver",
        id(realk8s_module.loaded): "kube-apiserver",
        id(rightsize_helpers.prometheus_serving): "prometheus (promtool backfill and the server)",
    }


def _needs(func: Any, slow: dict[int, str], seen: set[int]) -> str:
    """Why `func` is slow ("" when it is not): a slow object it names, directly or through a
    function or class of a test module it uses (nested functions, lambdas and methods included)."""
    func = getattr(getattr(func, "hypothesis", None), "inner_test", func)  # @given wraps the test
    if id(func) in seen:
        return ""
    seen.add(id(func))
    if isinstance(func, type):
        return next((why for why in (_needs(f, slow, seen) for f in vars(func).values() if callable(f)) if why), "")
    code = getattr(func, "__code__", None)
    if code is None:
        return ""
    scope = getattr(func, "__globals__", {})
    codes = [code]
    while codes:
        co = codes.pop()
        codes.extend(c for c in co.co_consts if hasattr(c, "co_names"))
        for name in co.co_names:
            if name == "KUBECTL":  # the kubectl binary, run through subprocess
                return "the real kubectl"
            obj = scope.get(name)
            if obj is None:
                continue
            if id(obj) in slow:
                return slow[id(obj)]
            if callable(obj) and str(getattr(obj, "__module__", "")).startswith("test_"):
                why = _needs(obj, slow, seen)
                if why:
                    return why
    return ""


# -- hypothesis budgets -----------------------------------------------------------------------------
# CI (CI=true) runs every property test with its own budget; a local run, a tenth of it (at least
# LOCAL_MIN_EXAMPLES, never more than its own). `pytest --hypothesis-profile=ci` runs the full budgets locally.
LOCAL_SHARE, LOCAL_MIN_EXAMPLES = 10, 20
settings.register_profile("ci")
settings.register_profile("local", max_examples=LOCAL_MIN_EXAMPLES)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "local")


def _lighter(test: Any) -> None:
    """A test's own @settings outrank any profile, so the local profile scales its budget here."""
    own = getattr(test, "_hypothesis_internal_use_settings", None)  # where @given keeps them, read at each call
    if own is not None and not getattr(test, "_lighter", False):  # once, should a test be collected twice
        test._hypothesis_internal_use_settings = settings(
            own, max_examples=min(own.max_examples, max(LOCAL_MIN_EXAMPLES, own.max_examples // LOCAL_SHARE))
        )
        test._lighter = True


def _why_slow(item: pytest.Function, slow: dict[int, str]) -> str:
    why = SLOW_MODULES.get(item.module.__name__ if item.module else "", "")
    for name in item.fixturenames:
        why = why or SLOW_FIXTURES.get(name, "")
        for fixturedef in item._fixtureinfo.name2fixturedefs.get(name, ()):
            if not why and str(getattr(fixturedef.func, "__module__", "")).startswith("test_"):
                why = _needs(fixturedef.func, slow, set())
    return why or _needs(item.function, slow, set())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow = _slow_objects()
    local = settings.get_current_profile_name() == "local"
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        if local and hasattr(item.function, "hypothesis"):
            _lighter(item.function)
        why = _why_slow(item, slow)
        if why:
            item.add_marker(pytest.mark.slow(reason=why))
