"""Reaching the API server: never hang, say what failed in kubectl's words, kubectl's generic flags.

Servers here are local sockets that misbehave on purpose: one that accepts TCP and never says a
word (the TLS handshake never ends), one that never accepts (the dial never ends), one that answers
the handshake but never the request. The limits are client-go's (30 s dial, 10 s TLS handshake) and
ours for reading (90 s); the tests shorten them rather than wait.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Sim
from inproc import Ran, perf
from kubectl_perf import api


def _kubeconfig(tmp_path: Path, server: str, **cluster: Any) -> Path:
    path = tmp_path / "kc"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
                "users": [{"name": "u", "user": {"token": "secret-token-123"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


@pytest.fixture()
def silent() -> Iterator[int]:
    """A server that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _bounded(kubeconfig: Path, *argv: str, within: float = 20) -> Ran:
    """perf(...) that fails the test instead of hanging it."""
    out: list[Ran] = []
    thread = threading.Thread(target=lambda: out.append(perf(kubeconfig, *argv)), daemon=True)
    thread.start()
    thread.join(within)
    assert out, f"kubectl perf {' '.join(argv)} still hangs after {within}s"
    return out[0]


def test_a_silent_server_does_not_hang_a_plugin_by_default(silent: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No --request-timeout: the TLS-handshake limit alone ends it (shortened from client-go's 10 s)."""
    monkeypatch.setattr(api, "TLS_HANDSHAKE_TIMEOUT", 0.5)
    result = _bounded(_kubeconfig(tmp_path, f"https://127.0.0.1:{silent}"), "capacity")
    assert result.returncode == 1
    assert result.stderr == f"error: Unable to connect to the server https://127.0.0.1:{silent}: TLS handshake timed out after 0.5s\n"


def test_request_timeout_bounds_the_handshake_too(silent: int, tmp_path: Path) -> None:
    result = _bounded(_kubeconfig(tmp_path, f"https://127.0.0.1:{silent}"), "audit", "--request-timeout", "300ms")
    assert result.returncode == 3  # audit's "could not run" status
    assert result.stderr == f"error: Unable to connect to the server https://127.0.0.1:{silent}: TLS handshake timed out after 0.3s\n"


def test_an_unanswered_request_times_out_by_default(silent: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain HTTP: the connection is made at once, the answer never comes; the read limit ends it."""
    monkeypatch.setattr(api, "READ_TIMEOUT", 0.5)
    result = _bounded(_kubeconfig(tmp_path, f"http://127.0.0.1:{silent}"), "images")
    assert result.returncode == 1
    assert (
        result.stderr == f"error: Unable to connect to the server http://127.0.0.1:{silent}: waiting for an answer timed out after 0.5s\n"
    )


def test_a_dial_that_never_completes_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A listener whose accept queue is full drops new SYNs: connect() waits for the dial limit."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the backlog (Linux lets backlog + 1 through)
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        probe = socket.socket()
        probe.settimeout(0.3)
        try:
            probe.connect(("127.0.0.1", port))
            pytest.skip("this kernel completes connections beyond the backlog: no stalled dial to test")
        except TimeoutError:
            pass
        finally:
            probe.close()
        monkeypatch.setattr(api, "DIAL_TIMEOUT", 0.5)
        result = _bounded(_kubeconfig(tmp_path, f"https://127.0.0.1:{port}"), "capacity")
        assert result.returncode == 1
        assert result.stderr == f"error: Unable to connect to the server https://127.0.0.1:{port}: dial tcp timed out after 0.5s\n"
    finally:
        for s in fillers:
            s.close()
        server.close()


def test_the_default_limits_are_client_gos(generated: Sim) -> None:
    """Without waiting 30 s: the values a request is sent with, and the TLS bound on new connections."""
    assert (api.DIAL_TIMEOUT, api.TLS_HANDSHAKE_TIMEOUT, api.READ_TIMEOUT) == (30.0, 10.0, 90.0)
    cluster = api.Cluster(api.Connection(str(generated.kubeconfig)))
    limits = cluster._limits(None)
    assert (limits.connect_timeout, limits.read_timeout, limits.total) == (30.0, 90.0, None)
    # 90 s is more than the API server's own 60 s cut of any non-watch request (kube-apiserver
    # --request-timeout), so a slow list page the server still delivers is read
    assert api.READ_TIMEOUT > 60
    limits = cluster._limits(2.0)  # --request-timeout 2s caps each phase
    assert (limits.connect_timeout, limits.total) == (2.0, 2.0)
    assert (limits.handshake_timeout, cluster._limits(None).handshake_timeout) == (2.0, api.TLS_HANDSHAKE_TIMEOUT)
    assert cluster.get("/version")["major"] == "1"  # and an ordinary request still goes through
    # the kubernetes client's pool (exec plugins, proxies...) gets the handshake bound from its connections
    client = api._client_transport(api.resolve(api.Overrides(str(generated.kubeconfig))).config)
    pool = client.pool.connection_from_url(client.host)
    assert pool.ConnectionCls.__name__ == "Connection" and pool.ConnectionCls.__module__ == "kubectl_perf.api"


# -- errors in kubectl's words ------------------------------------------------------------------
LIBRARY_WORDS = ("HTTPSConnectionPool", "Max retries", "urllib3", "ConfigException", "Invalid kube-config", "Traceback")


def _one_error(result: Ran) -> str:
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert not any(w in result.stderr for w in LIBRARY_WORDS), result.stderr
    return result.stderr.removeprefix("error: ").rstrip("\n")


def test_unknown_context_and_missing_kubeconfig(generated: Sim, tmp_path: Path) -> None:
    assert _one_error(perf(generated.kubeconfig, "capacity", "--context", "nope")) == 'context "nope" does not exist'
    absent = tmp_path / "absent"
    assert _one_error(perf(None, "images", "--kubeconfig", str(absent))) == f"stat {absent}: no such file or directory"


def _sim_with(generated: Sim, tmp_path: Path, **cluster: Any) -> Path:
    config = generated.config
    config["clusters"][0]["cluster"].update(cluster)
    for key, value in cluster.items():
        if value is None:
            del config["clusters"][0]["cluster"][key]
    path = tmp_path / "kc-cert"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_certificate_failure_says_what_failed(generated: Sim, tmp_path: Path) -> None:
    host = generated.url
    # perf-sim's certificate names localhost and 127.0.0.1 only
    mismatch = _one_error(perf(_sim_with(generated, tmp_path, **{"tls-server-name": "wrong.example"}), "capacity"))
    assert mismatch == (
        f"Unable to connect to the server {host}: tls: failed to verify certificate: "
        "x509: certificate is not valid for wrong.example (no matching name/IP SAN)"
    )
    unknown = _one_error(perf(_sim_with(generated, tmp_path, **{"certificate-authority-data": None}), "capacity"))
    assert unknown.startswith(
        f"Unable to connect to the server {host}: tls: failed to verify certificate: x509: certificate signed by unknown authority"
    )


def test_an_expired_certificate_is_named(tmp_path: Path) -> None:
    import base64
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired-test")])
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=10))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "tls.crt").write_bytes(pem)
    (tmp_path / "tls.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = server.accept()
            with ctx.wrap_socket(conn, server_side=True):
                pass
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        kc = _kubeconfig(tmp_path, f"https://127.0.0.1:{port}", **{"certificate-authority-data": base64.b64encode(pem).decode()})
        assert _one_error(_bounded(kc, "capacity")) == (
            f"Unable to connect to the server https://127.0.0.1:{port}: tls: failed to verify certificate: "
            "x509: certificate has expired or is not yet valid (expired)"
        )
    finally:
        server.close()
        thread.join(5)


# -- kubectl's generic flags ----------------------------------------------------------------------
def test_server_token_and_certificate_authority_flags_need_no_kubeconfig(generated: Sim, tmp_path: Path) -> None:
    import base64

    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(generated.config["clusters"][0]["cluster"]["certificate-authority-data"]))
    flags = ("-s", generated.url, "--token", generated.token, "--certificate-authority", str(ca))
    result = perf(None, "capacity", "-o", "json", *flags)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["nodes"]) == 6  # the generated fixture: 6 nodes
    # --tls-server-name: a name the certificate holds works, another fails on it
    assert perf(None, "capacity", *flags, "--tls-server-name", "localhost").returncode == 0
    assert "not valid for other.example" in perf(None, "capacity", *flags, "--tls-server-name", "other.example").stderr
    # a wrong token is the server's 401
    assert perf(None, "capacity", "-s", generated.url, "--token", "wrong", "--insecure-skip-tls-verify").returncode == 1


def test_cluster_and_user_flags_pick_other_entries(generated: Sim, tmp_path: Path) -> None:
    config = generated.config
    config["clusters"].append({"name": "dead", "cluster": {"server": "https://127.0.0.1:1"}})
    config["users"].append({"name": "nobody", "user": {"token": "wrong"}})
    config["contexts"][0]["context"].update(cluster="dead", user="nobody")
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(config))
    assert "127.0.0.1:1 was refused" in perf(path, "capacity").stderr
    assert perf(path, "capacity", "--cluster", "perf-sim", "--user", "perf-sim").returncode == 0
    assert _one_error(perf(path, "capacity", "--user", "ghost")) == 'user "ghost" does not exist'


def test_v6_logs_each_request_and_v8_masks_the_token(generated: Sim) -> None:
    import re

    result = perf(generated.kubeconfig, "capacity", "-v", "6")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("I")]
    assert lines and all(
        re.fullmatch(r"I\d{4} [\d:.]+ GET https://127\.0\.0\.1:\d+/\S+ \d{3} [A-Za-z ]+ in \d+ milliseconds", x) for x in lines
    )
    assert any("/api/v1/nodes?limit=500 200 OK" in x for x in lines)
    verbose = perf(generated.kubeconfig, "capacity", "--v", "8")
    assert "authorization: bearer <masked>" in verbose.stderr.lower() and generated.token not in verbose.stderr
    assert "Response Headers:" in verbose.stderr
    assert "authorization" not in perf(generated.kubeconfig, "capacity").stderr.lower()  # silent by default


def test_a_streamed_kubelet_read_has_its_own_bound(silent: int, tmp_path: Path) -> None:
    """A node's /metrics/resource streamed through a proxy that never answers gives up after the
    read's own timeout (kubelet.NODE_TIMEOUT in use, shortened here), not the 90 s read limit."""
    import time

    cluster = api.Cluster(api.Connection(str(_kubeconfig(tmp_path, f"http://127.0.0.1:{silent}"))))
    started = time.monotonic()
    with pytest.raises(api.ApiError, match=f"127.0.0.1:{silent}"):
        list(cluster.stream_lines("/api/v1/nodes/n1/proxy/metrics/resource", timeout=0.3))
    assert time.monotonic() - started < 5


def test_v6_logs_a_request_that_got_no_answer(silent: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As kubectl -v 6: the request, no status, and how long it waited; the error says it timed out."""
    cluster = api.Cluster(api.Connection(str(_kubeconfig(tmp_path, f"http://127.0.0.1:{silent}")), verbosity=6))
    with pytest.raises(api.ApiError) as raised:
        cluster.get("/api/v1/nodes", timeout=0.3)
    assert raised.value.reason == api.TIMEOUT and "timed out after 0.3s" in str(raised.value)
    logged = [line for line in capsys.readouterr().err.splitlines() if "/api/v1/nodes" in line]
    assert len(logged) == 1 and logged[0].endswith("milliseconds") and f"GET http://127.0.0.1:{silent}/api/v1/nodes" in logged[0]
