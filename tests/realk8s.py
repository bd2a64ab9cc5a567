"""A real kube-apiserver (v1.36.2 on etcd) for tests, from ../shared/kube-apiserver/realk8s.

Use the session fixture `realk8s` (one server shared by every test: use your own namespaces and
names), `loaded(dir, docs)` in a module fixture (a server with a fixture loaded, shared by the
modules that load the same one), or `realk8s_factory` (a private server, for tests that compact
etcd, register webhooks with failurePolicy Fail, or otherwise change cluster-wide state). Both skip, naming the folder, when
../shared/kube-apiserver is not beside the checkout.

    def test_x(realk8s):
        realk8s.load(yaml.safe_load_all(open("tests/data/cluster.yaml")))  # nodes and pods with status
        realk8s.kubectl("get", "pods", "-A")                              # admin
        realk8s.kubectl("get", "pods", "-A", user=True, check=False)      # user1: no RBAC, 403
        status, body = realk8s.request("/api/v1/nodes")

There is no kubelet, scheduler or controller: `load` writes the state a test needs (a Node's
status and taints, a Pod's status) the way the README of realk8s says.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALK8S_DIR = ROOT.parent / "shared" / "kube-apiserver"
REALK8S = REALK8S_DIR / "realk8s"
KUBECTL = shutil.which("kubectl", path="/usr/bin") or shutil.which("kubectl") or "kubectl"
SKIP_REASON = f"needs the real kube-apiserver at {REALK8S_DIR} (../shared/kube-apiserver beside the checkout)"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"

# The order objects must be created in: what others refer to first.
_ORDER = {"Namespace": 0, "CustomResourceDefinition": 0, "RuntimeClass": 1, "Node": 2}  # others after, in file order


def available() -> bool:
    return REALK8S.is_file()


@dataclass
class RealK8s:
    dir: Path

    @property
    def kubeconfig(self) -> Path:
        """Admin (system:masters)."""
        return self.dir / "kubeconfig"

    @property
    def user_kubeconfig(self) -> Path:
        """user1: authenticated, no RBAC bindings."""
        return self.dir / "kubeconfig-user"

    @property
    def server(self) -> str:
        return (self.dir / "server").read_text().strip()

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    ADMIN_TOKEN = "realk8s-admin-token"
    USER_TOKEN = "realk8s-user-token"

    def kubectl(
        self, *args: str, user: bool = False, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        kc = self.user_kubeconfig if user else self.kubeconfig
        result = subprocess.run([KUBECTL, "--kubeconfig", str(kc), *args], input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def request(
        self,
        path: str,
        method: str = "GET",
        body: Any = None,
        user: bool = False,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """A raw HTTPS request to the server; returns (status, body) for any status."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {token or (self.USER_TOKEN if user else self.ADMIN_TOKEN)}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def _ok(self, path: str, method: str, body: Any) -> dict[str, Any]:
        status, raw = self.request(path, method, body)
        if status >= 300:
            raise AssertionError(f"{method} {path}: {status} {raw[:400]!r}")
        return json.loads(raw)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create one object, then write the status (and, for Nodes, the taints) it was given."""
        path = collection_path(obj)
        status = obj.get("status")
        sent = {k: v for k, v in obj.items() if k != "status"}
        made = self._ok(path, "POST", sent)
        name = made["metadata"]["name"]
        if obj.get("kind") == "Node":
            # TaintNodesByCondition adds node.kubernetes.io/not-ready on create: put back what the fixture says.
            made["spec"]["taints"] = (obj.get("spec") or {}).get("taints") or []
            if not made["spec"]["taints"]:
                del made["spec"]["taints"]
            made = self._ok(f"{path}/{name}", "PUT", made)
        if status and obj.get("kind") in ("Node", "Pod"):
            made["status"] = status
            made = self._ok(f"{path}/{name}/status", "PUT", made)
        return made

    def load(self, docs: Iterable[Any]) -> list[dict[str, Any]]:
        """Create every object of a fixture (List items are flattened; metrics left out); namespaces are made as needed."""
        objs: list[dict[str, Any]] = []
        for doc in docs:
            if not doc:
                continue
            objs.extend(doc.get("items") or [] if doc.get("kind", "").endswith("List") else [doc])
        # metrics.k8s.io objects are what perf-sim serves in place of metrics-server: no real server stores them.
        objs = [o for o in objs if not str(o.get("apiVersion", "")).startswith("metrics.k8s.io/")]
        namespaces = {o["metadata"]["namespace"] for o in objs if o.get("metadata", {}).get("namespace")}
        existing = {o["metadata"]["name"] for o in objs if o.get("kind") == "Namespace"}
        for ns in sorted(namespaces - existing - {"default", "kube-system", "kube-public", "kube-node-lease"}):
            objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        objs.sort(key=lambda o: _ORDER.get(o.get("kind", ""), 3))
        return [self.create(o) for o in objs]

    def stop(self) -> None:
        subprocess.run([str(REALK8S), "stop", str(self.dir)], capture_output=True, timeout=60)


def collection_path(obj: dict[str, Any]) -> str:
    """The REST collection of an object, for the kinds tests load."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural = _PLURALS.get(kind) or _plural(kind.lower())
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = (obj.get("metadata") or {}).get("namespace")
    if kind in _CLUSTER_SCOPED:
        return f"{prefix}/{plural}"
    return f"{prefix}/namespaces/{ns or 'default'}/{plural}"


def _plural(kind: str) -> str:
    if kind.endswith("s"):
        return kind + "es"
    if kind.endswith("y"):
        return kind[:-1] + "ies"
    return kind + "s"


_PLURALS = {"Endpoints": "endpoints"}
_CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "RuntimeClass",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "PriorityClass",
    "ClusterPolicyReport",
    "PersistentVolume",
    "StorageClass",
}


def start(state_dir: Path) -> RealK8s:
    if not available():
        pytest.skip(SKIP_REASON)
    for _attempt in range(3):
        result = subprocess.run([str(REALK8S), "start", str(state_dir)], capture_output=True, text=True, timeout=180)
        if result.returncode == 0:
            return RealK8s(state_dir)
        subprocess.run([str(REALK8S), "stop", str(state_dir)], capture_output=True, timeout=60)
        # realk8s picks free ports, then the servers bind them: a port another test's server took in
        # between (perf-sims and gunicorns bind ephemeral ports on the same loopback) is a retry on
        # fresh ports, not a failed test
        if "address already in use" not in result.stderr:
            break
        shutil.rmtree(state_dir, ignore_errors=True)
        state_dir.mkdir(parents=True)
    raise RuntimeError(f"realk8s did not start: {result.stderr.strip()[-500:]}")


# Servers `loaded` started, by fixture: each takes 5-10 s to start, so modules that load the same
# objects share one for the session. They, and the session's `realk8s`, stop together at its end.
_SHARED: dict[str, RealK8s] = {}
_SESSION: list[RealK8s] = []


def fixture_key(objects: list[Any], then: Callable[[RealK8s], Any] | None) -> str:
    """What makes two fixtures the same: their objects, and the function run after loading them."""
    return json.dumps([objects, f"{then.__module__}.{then.__qualname__}" if then else ""], sort_keys=True, default=str)


@contextmanager
def loaded(state_dir: Path, docs: Iterable[Any], then: Callable[[RealK8s], Any] | None = None) -> Iterator[RealK8s]:
    """A server of its own with `docs` loaded (their status too), then `then` run on it. Modules that
    load the same fixture (the same objects and the same `then`) share one server for the session,
    so tests on it must leave it as they found it; realk8s_factory gives a server to change."""
    objects = list(docs)
    key = fixture_key(objects, then)
    server = _SHARED.get(key)
    if server is None:
        server = start(state_dir)
        try:
            server.load(objects)
            if then is not None:
                then(server)
        except BaseException:
            server.stop()
            raise
        _SHARED[key] = server
        _SESSION.append(server)
    yield server


@pytest.fixture(scope="session", autouse=True)
def realk8s_shared() -> Iterator[None]:
    """Stops the session's servers at its end, together: each takes seconds to stop."""
    yield
    stops = [threading.Thread(target=server.stop) for server in _SESSION]
    for thread in stops:
        thread.start()
    for thread in stops:
        thread.join()
    _SESSION.clear()
    _SHARED.clear()


@pytest.fixture(scope="session")
def realk8s(tmp_path_factory: pytest.TempPathFactory) -> RealK8s:
    """One real API server for the whole session."""
    server = start(tmp_path_factory.mktemp("realk8s"))
    _SESSION.append(server)  # stopped by realk8s_shared
    return server


@pytest.fixture
def realk8s_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Private servers for one test, stopped after it."""
    started: list[RealK8s] = []

    def make() -> RealK8s:
        server = start(tmp_path_factory.mktemp("realk8s"))
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
