"""--inspect against a real OCI registry: Debian's docker-registry (the CNCF
distribution registry), started here on free loopback ports, with test images
pushed over its HTTP API by these tests (config blob, layers, manifest)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Sim
from inproc import Ran, perf
from kubectl_perf.imageref import parse
from kubectl_perf.images.registry import Registry, docker_credentials

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
pytestmark = pytest.mark.skipif(
    not os.path.exists(REGISTRY) and not os.environ.get("CI"), reason="docker-registry is not installed (./dev test installs it)"
)
M = 1_000_000
USER, PASSWORD = "puller", "s3cret"
# bcrypt (cost 4) of PASSWORD: the registry's htpasswd auth reads only bcrypt.
HTPASSWD = f"{USER}:$2b$04$ovZodm7rcUdD1/8adEFPE.b0HgC.p4cyUJUnXlVqfVoRfS/dkWhbS\n"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    host: str  # 127.0.0.1:PORT
    auth: str  # the Authorization header pushes need, or ""

    def _request(self, method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        url = url if url.startswith("http") else f"http://{self.host}{url}"
        h = {**(headers or {}), **({"Authorization": self.auth} if self.auth else {})}
        return urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=h), timeout=30)

    def blob(self, repo: str, data: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self._request("POST", f"/v2/{repo}/blobs/uploads/", b"") as resp:
            assert resp.status == 202
            location = resp.headers["Location"]
        sep = "&" if "?" in location else "?"
        with self._request("PUT", f"{location}{sep}digest={digest}", data, {"Content-Type": "application/octet-stream"}) as resp:
            assert resp.status == 201
        return {"digest": digest, "size": len(data)}

    def image(self, repo: str, config: dict[str, Any], layer_sizes: list[int], tag: str | None) -> dict[str, Any]:
        """Push an image; returns its manifest descriptor."""
        cfg = self.blob(repo, json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}, **config}).encode())
        # Layer blobs are a few bytes, their descriptors carry the sizes: the registry checks that a
        # manifest's blobs exist, not their length, and --inspect reads sizes from the manifest only.
        layers = [{**self.blob(repo, f"{repo}{n}{json.dumps(config)[:64]}".encode()), "size": size} for n, size in enumerate(layer_sizes)]
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer} for layer in layers],
        }
        return self.manifest(repo, manifest, OCI_MANIFEST, tag)

    def manifest(self, repo: str, manifest: dict[str, Any], media_type: str, tag: str | None) -> dict[str, Any]:
        body = json.dumps(manifest).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        with self._request("PUT", f"/v2/{repo}/manifests/{tag or digest}", body, {"Content-Type": media_type}) as resp:
            assert resp.status == 201
        return {"mediaType": media_type, "digest": digest, "size": len(body)}


def start_registry(tmp: Path, htpasswd: bool) -> tuple[subprocess.Popen[bytes], Server]:
    port = free_port()
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "test"},
    }
    auth = ""
    if htpasswd:
        (tmp / "htpasswd").write_text(HTPASSWD)
        config["auth"] = {"htpasswd": {"realm": "test", "path": str(tmp / "htpasswd")}}
        auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (tmp / "config.yml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([REGISTRY, "serve", str(tmp / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
            break
        except urllib.error.HTTPError as err:
            if err.code == 401:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"docker-registry did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.05)
    return proc, Server(f"127.0.0.1:{port}", auth)


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    procs = []
    try:
        p1, open_reg = start_registry(tmp_path_factory.mktemp("registry"), htpasswd=False)
        procs.append(p1)
        p2, private = start_registry(tmp_path_factory.mktemp("registry-auth"), htpasswd=True)
        procs.append(p2)
        open_reg.image("shop/api", {"config": {"Env": ["PATH=/usr/local/bin", "PYTHON_VERSION=3.12.7"]}}, [30 * M, 9 * M], "2.3.1")
        open_reg.image("shop/tiny", {"config": {"Env": ["PYTHON_VERSION=3.12.7"]}}, [2 * M], "1")
        amd = open_reg.image("shop/worker", {"config": {"Env": ["JAVA_VERSION=jdk-21.0.5+11"]}}, [30 * M], None)
        arm = open_reg.image("shop/worker", {"architecture": "arm64", "config": {"Env": ["NODE_VERSION=22.1.0"]}}, [M], None)
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {**arm, "platform": {"os": "linux", "architecture": "arm64"}},
                {**amd, "platform": {"os": "linux", "architecture": "amd64"}},
            ],
        }
        open_reg.manifest("shop/worker", index, OCI_INDEX, "5")
        open_reg.image(
            "shop/web",
            {"config": {"Labels": {"org.opencontainers.image.base.name": "docker.io/library/ubuntu:24.04"}}},
            [30 * M, 5 * M],
            "1",
        )
        private.image("private/app", {"config": {"Env": ["GOLANG_VERSION=1.25.1"]}}, [M], "1")
        yield open_reg, private
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def test_registry_client_reads_configs_and_sizes(registries: tuple[Server, Server]) -> None:
    open_reg, private = registries
    client = Registry(timeout=5)
    api = client.inspect(parse(f"{open_reg.host}/shop/api:2.3.1"))
    assert api.error == "" and api.layer_bytes == 39 * M and "PYTHON_VERSION=3.12.7" in api.config["config"]["Env"]
    worker = client.inspect(parse(f"{open_reg.host}/shop/worker:5"))  # an index: the linux/amd64 entry
    assert worker.config["config"]["Env"] == ["JAVA_VERSION=jdk-21.0.5+11"] and worker.layer_bytes == 30 * M
    arm = Registry(timeout=5, arch="arm64").inspect(parse(f"{open_reg.host}/shop/worker:5"))
    assert arm.config["config"]["Env"] == ["NODE_VERSION=22.1.0"]
    assert Registry(timeout=5, arch="s390x").inspect(parse(f"{open_reg.host}/shop/worker:5")).error == "no linux/s390x image in the index"
    assert client.inspect(parse(f"{open_reg.host}/shop/nothing:1")).error.startswith("not found (404)")
    denied = client.inspect(parse(f"{private.host}/private/app:1"))
    assert denied.error == f"unauthorized (401): no credentials for {private.host} in ~/.docker/config.json"
    allowed = Registry(timeout=5, credentials={private.host: (USER, PASSWORD)}).inspect(parse(f"{private.host}/private/app:1"))
    assert allowed.error == "" and allowed.config["config"]["Env"] == ["GOLANG_VERSION=1.25.1"]
    wrong = Registry(timeout=5, credentials={private.host: (USER, "nope")}).inspect(parse(f"{private.host}/private/app:1"))
    assert wrong.error == f"unauthorized (401): the credentials for {private.host} in ~/.docker/config.json"
    closed = client.inspect(parse(f"127.0.0.1:{free_port()}/x:1"))
    assert closed.error.startswith("cannot reach 127.0.0.1:") and closed.error.endswith("connection refused")


def test_docker_config_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = base64.b64encode(b"me:pw:with:colons").decode()
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": auth},
                    "registry.example.com": {"username": "u", "password": "p"},
                    "bad": {"auth": "%%%"},
                }
            }
        )
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_credentials() == {"docker.io": ("me", "pw:with:colons"), "registry.example.com": ("u", "p")}
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "absent"))
    assert docker_credentials() == {}


@pytest.fixture(scope="module")
def inspect_cluster(
    registries: tuple[Server, Server], sim_factory: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Sim, Server, Server, int]:
    open_reg, private = registries
    closed = free_port()
    listed = [
        (f"{open_reg.host}/shop/api:2.3.1", 380 * M),
        (f"{private.host}/private/app:1", 300 * M),
        (f"{open_reg.host}/shop/worker:5", 250 * M),
        (f"{open_reg.host}/shop/web:1", 90 * M),
    ]
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "r1", "labels": {"node-pool": "x"}},
        "status": {
            "nodeInfo": {"containerRuntimeVersion": "containerd://2.0.0", "architecture": "amd64"},
            "images": [
                {"names": [f"{name.rsplit(':', 1)[0]}@sha256:{n:064d}", name], "sizeBytes": size} for n, (name, size) in enumerate(listed)
            ],
        },
    }
    images = [name for name, _s in listed] + [f"{open_reg.host}/shop/tiny:1", f"{open_reg.host}/shop/missing:1", f"127.0.0.1:{closed}/x:1"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {
            "nodeName": "r1",
            "containers": [{"name": f"c{n}", "image": image, "imagePullPolicy": "IfNotPresent"} for n, image in enumerate(images)],
        },
    }
    path = tmp_path_factory.mktemp("inspect") / "cluster.yaml"
    path.write_text(yaml.safe_dump_all([node, copy.deepcopy(pod)]))
    return sim_factory("--objects", str(path)), open_reg, private, closed


def images_in_process(sim: Sim, *args: str, env: dict[str, str | None] | None = None) -> Ran:
    """`kubectl perf images ARGS` in this process (--kubeconfig: the client reads KUBECONFIG once per process)."""
    return perf(sim.kubeconfig, "images", "--kubeconfig", str(sim.kubeconfig), *args, env=env)


def test_inspect_through_the_cli(inspect_cluster: tuple[Sim, Server, Server, int], tmp_path: Path) -> None:
    sim, open_reg, private, closed = inspect_cluster
    creds = tmp_path / "docker"
    creds.mkdir()
    (creds / "config.json").write_text(
        json.dumps({"auths": {private.host: {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}})
    )
    result = images_in_process(sim, "--inspect", "-o", "json", env={"DOCKER_CONFIG": str(creds)})
    assert result.returncode == 0, result.stderr
    images = {i["image"]: i for i in json.loads(result.stdout)["images"]}
    # No history in these configs: the family is known (env, label), the base is not split by
    # history. The saving is the base's, never the whole image's (380 MB here).
    api = images[f"{open_reg.host}/shop/api:2.3.1"]
    assert api["suggestion"]["image"] == "gcr.io/distroless/python3-debian13" and "PYTHON_VERSION=3.12.7" in api["suggestion"]["why"]
    # an estimate: python:3.12-slim's 43,188,023 B (imageref.KNOWN_BASES) less python3's 22 MB
    assert (api["suggestion"]["savingBytes"], api["suggestion"]["savingBasis"], api["suggestion"]["estimate"]) == (
        21_188_023,
        "estimate",
        True,
    )
    table = images_in_process(sim, "--inspect", env={"DOCKER_CONFIG": str(creds)})
    assert "python3-debian13 (~-21.2 MB)" in table.stdout  # an estimate says so
    worker = images[f"{open_reg.host}/shop/worker:5"]  # eclipse-temurin:21-jre's 121,136,054 B less java21's 80 MB
    assert worker["suggestion"]["image"] == "gcr.io/distroless/java21-debian13" and worker["suggestion"]["savingBytes"] == 41_136_054
    web = images[f"{open_reg.host}/shop/web:1"]  # the label names ubuntu:24.04, one layer in the table: the first 30 MB
    assert web["suggestion"]["image"] == "gcr.io/distroless/base-debian13"
    assert {k: web["suggestion"][k] for k in ("savingBytes", "savingBasis", "baseBytes", "appBytes", "estimate")} == {
        "savingBytes": 30 * M - 8_500_000,
        "savingBasis": "base-label",
        "baseBytes": 30 * M,
        "appBytes": 5 * M,
        "estimate": False,
    }
    app = images[f"{private.host}/private/app:1"]  # a Go toolchain image: static, no known base size to subtract from
    assert app["suggestion"]["image"] == "gcr.io/distroless/static-debian13" and app["suggestion"]["savingBytes"] is None
    tiny = images[f"{open_reg.host}/shop/tiny:1"]  # no node lists it: the registry's compressed layers give its size
    assert (tiny["sizeBytes"], tiny["sizeFrom"], tiny["suggestion"]) == (2 * M, "registry", None)
    assert tiny["notes"] == ["no node lists it: size from the registry (compressed layers)", "inspected: alpine-sized: under 10 MB"]
    assert images[f"{open_reg.host}/shop/missing:1"]["notes"][-1] == "registry: not found (404): " + f"{open_reg.host}/shop/missing:1"
    assert images[f"127.0.0.1:{closed}/x:1"]["notes"][-1] == f"registry: cannot reach 127.0.0.1:{closed}: connection refused"
    # Without credentials the private image gets a note, and the rest of the report stands.
    bare = images_in_process(sim, "--inspect", "-o", "json", env={"DOCKER_CONFIG": str(tmp_path / "none")})
    assert bare.returncode == 0
    app = {i["image"]: i for i in json.loads(bare.stdout)["images"]}[f"{private.host}/private/app:1"]
    assert app["suggestion"] is None and app["notes"] == [  # the message names $DOCKER_CONFIG's file
        f"registry: unauthorized (401): no credentials for {private.host} in {tmp_path / 'none'}/config.json"
    ]
    # Without --inspect nothing is read from registries: custom images get no suggestion.
    plain = {i["image"]: i for i in json.loads(images_in_process(sim, "-o", "json").stdout)["images"]}
    assert plain[f"{open_reg.host}/shop/api:2.3.1"]["suggestion"] is None and plain[f"{open_reg.host}/shop/tiny:1"]["sizeBytes"] is None


# -- bearer tokens, as Docker Hub and most registries hand them out -----------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[str]]]:
    """A registry with token auth, and a token service that hands anonymous pull tokens
    for repositories under shop/ (and records what it was asked)."""
    import datetime
    import threading
    from http.server import BaseHTTPRequestHandler
    from urllib.parse import parse_qs, urlsplit

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.x509.oid import NameOID
    from perf_sim.server import QuietServer

    tmp = tmp_path_factory.mktemp("registry-token")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token-issuer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp / "issuer.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    asked: list[str] = []

    def signed(repo: str, actions: list[str]) -> str:
        """A registry token (a JWT signed by the issuer the registry trusts) for one repository."""
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]}
        t = int(time.time())
        access = [{"type": "repository", "name": repo, "actions": actions}] if actions else []
        claims = {
            "iss": "test-issuer",
            "sub": "",
            "aud": "test-registry",
            "exp": t + 300,
            "nbf": t - 10,
            "iat": t,
            "jti": f"{repo}{t}",
            "access": access,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def token(scope: str) -> str:
        _kind, repo, _actions = scope.split(":")
        return signed(repo, ["pull"] if repo.startswith("shop/") else [])

    class TokenService(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            asked.append(f"{query.get('service', [''])[0]} {query.get('scope', [''])[0]}")
            body = json.dumps({"token": token(query["scope"][0])}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    service = QuietServer(("127.0.0.1", 0), TokenService)  # a client gone is no traceback
    threading.Thread(target=service.serve_forever, daemon=True).start()
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "test"},
        "auth": {
            "token": {
                "realm": f"http://127.0.0.1:{service.server_address[1]}/token",
                "service": "test-registry",
                "issuer": "test-issuer",
                "rootcertbundle": str(tmp / "issuer.pem"),
            }
        },
    }
    (tmp / "config.yml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([REGISTRY, "serve", str(tmp / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # 401 with a bearer challenge: up
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"docker-registry did not start: {proc.stderr.read().decode() if proc.stderr else ''}") from None
                time.sleep(0.05)
        # push with a push token of our own (the service above only grants pull)
        pusher = Server(f"127.0.0.1:{port}", f"Bearer {signed('shop/api', ['push', 'pull'])}")
        pusher.image("shop/api", {"config": {"Env": ["NODE_VERSION=24.2.0"]}}, [M], "7")
        asked.clear()
        yield Server(f"127.0.0.1:{port}", ""), asked
    finally:
        proc.terminate()
        proc.wait(10)
        service.shutdown()


def test_anonymous_bearer_tokens(token_registry: tuple[Server, list[str]]) -> None:
    server, asked = token_registry
    found = Registry(timeout=5).inspect(parse(f"{server.host}/shop/api:7"))
    assert found.error == "" and found.config["config"]["Env"] == ["NODE_VERSION=24.2.0"]
    # one token for the repository, scoped to pull, then reused for the config blob
    assert asked == ["test-registry repository:shop/api:pull"]
    refused = Registry(timeout=5).inspect(parse(f"{server.host}/other/app:1"))  # the token grants nothing there
    assert refused.error == f"unauthorized (401): no credentials for {server.host} in ~/.docker/config.json"
