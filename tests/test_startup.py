"""Issue 20 section 1, start-up: a plain kubeconfig (server, CA, token or client certificate) runs
without importing the `kubernetes` client, `--help` imports nothing heavy, and the kubeconfigs
that need the client's features (exec credential plugins, a proxy) still work, as with kubectl.

Each check runs in a fresh interpreter: the test process itself has long imported the client.
bench/startup.py measures the time this saves beside kubectl's own."""

from __future__ import annotations

import json
import select
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BIN, Sim, env_for, kubectl
from inproc import perf
from kubectl_perf import __version__, launch
from kubectl_perf.launch import PLUGINS

HEAVY = ("kubernetes", "urllib3", "yaml", "jsonschema", "orjson")


def modules_after(
    argv: list[str], env: dict[str, str], module: str = "kubectl_perf.launch", function: str = "main"
) -> tuple[int, set[str], str]:
    """(exit status, modules imported, stdout) of a console script's `module:function(argv)` in a fresh interpreter."""
    probe = (
        "import io, json, sys, contextlib, importlib\n"
        f"main = getattr(importlib.import_module({module!r}), {function!r})\n"
        "out, err = io.StringIO(), io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        "    try:\n"
        f"        status = main({argv!r})\n"
        "    except SystemExit as exit:\n"
        "        status = exit.code\n"
        "print(json.dumps([status, sorted(set(sys.modules) | {m.split('.')[0] for m in sys.modules}), out.getvalue()]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    status, modules, out = json.loads(result.stdout)
    return status, set(modules), out


def test_capacity_on_a_plain_kubeconfig_does_not_import_the_client(generated: Sim) -> None:
    # perf-sim's kubeconfig: a server, its CA as data, a bearer token
    status, modules, out = modules_after([], env_for(generated), "kubectl_perf.launch", "capacity")
    assert status == 0 and out.startswith("NODE")
    assert "kubernetes" not in modules and "urllib3" not in modules  # the standard library's http.client (plain_http.py)


def test_help_imports_nothing_heavy(generated: Sim) -> None:
    """`kubectl perf --help` and each plugin's, by either command (kubectl-perf SUB, kubectl-perf-SUB)."""
    env = env_for(generated)
    cases = [([], "main"), (["--help"], "main")]
    cases += [([sub, "--help"], "main") for sub in PLUGINS] + [(["-h"], sub) for sub in PLUGINS]
    for argv, function in cases:
        status, modules, out = modules_after(argv, env, "kubectl_perf.launch", function)
        assert status == 0 and "kubectl perf" in out, (argv, function, out)
        assert not modules & set(HEAVY), (argv, function, sorted(modules & set(HEAVY)))
        assert not {m for m in modules if m.startswith("kubectl_perf.")} - {"kubectl_perf.launch", "kubectl_perf._helptext"}
        # nor the flag machinery: the stored text needs no parser (argparse and typing cost ~5 ms a start)
        assert "argparse" not in modules and "typing" not in modules, (argv, function)


@pytest.mark.parametrize("sub", list(PLUGINS))
def test_the_stored_help_is_what_the_parser_prints(sub: str) -> None:
    """_helptext.py is current: regenerate it with
    `.venv/bin/python -m kubectl_perf.launch --write-help plugins/kubectl_perf/_helptext.py` when flags change."""
    from kubectl_perf import _helptext

    assert _helptext.VERSION == __version__
    assert _helptext.HELP[sub] == launch.plugin_help(sub), (
        "run: python -m kubectl_perf.launch --write-help plugins/kubectl_perf/_helptext.py"
    )
    # and the full parser prints it too, for --help among other flags
    result = perf(None, sub, "--util" if sub == "capacity" else "--help", "--help")
    assert result.returncode == 0 and result.stdout == _helptext.HELP[sub]


def test_help_has_one_width_whatever_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    wide = launch.plugin_help("capacity")
    monkeypatch.setenv("COLUMNS", "60")
    assert launch.plugin_help("capacity") == wide  # the examples (epilog) keep their own layout


# -- what needs the client, through the real kubectl beside it ----------------------------------
def exec_kubeconfig(sim: Sim, tmp_path: Path) -> Path:
    """The sim's kubeconfig with its token handed out by an exec credential plugin instead."""
    log = tmp_path / "exec-calls"
    plugin = tmp_path / "credential-plugin"
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": sim.token}}
    plugin.write_text(f"#!/bin/sh\necho called >> {log}\ncat <<'EOF'\n{json.dumps(credential)}\nEOF\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    config = sim.config
    config["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin), "interactiveMode": "Never"}
    }
    path = tmp_path / "kubeconfig-exec"
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_exec_credential_plugin_works_as_with_kubectl(generated: Sim, tmp_path: Path) -> None:
    path = exec_kubeconfig(generated, tmp_path)
    env = env_for(None, KUBECONFIG=str(path))
    nodes = kubectl(None, "get", "nodes", "-o", "name", env=env).stdout.split()
    ours = kubectl(None, "perf", "capacity", "-o", "json", env=env)
    assert sorted(f"node/{n['name']}" for n in json.loads(ours.stdout)["nodes"]) == sorted(nodes)
    assert (tmp_path / "exec-calls").read_text().count("called") >= 2  # kubectl's call and ours
    _status, modules, _out = modules_after([], env, "kubectl_perf.launch", "capacity")
    assert "kubernetes" in modules  # the client's loader runs the plugin


def test_a_bad_exec_plugin_is_one_line(generated: Sim, tmp_path: Path) -> None:
    path = exec_kubeconfig(generated, tmp_path)
    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"]["exec"]["command"] = str(tmp_path / "absent-plugin")
    path.write_text(yaml.safe_dump(config))
    result = kubectl(None, "perf", "capacity", check=False, env=env_for(None, KUBECONFIG=str(path)))
    # kubectl: Unable to connect to the server: getting credentials: exec: fork/exec PATH: no such file or directory
    assert result.stderr.startswith("error: Unable to connect to the server: getting credentials: exec: ")
    assert result.returncode == 1 and "absent-plugin" in result.stderr and result.stderr.count("\n") == 1


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that tunnels bytes and counts the tunnels it opened."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.tunnels: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = target.rsplit(":", 1)
            self.tunnels.append(target)
            with socket.create_connection((host, int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                ends = [client, upstream]
                while True:
                    ready, _, _ = select.select(ends, [], [], 30)
                    if not ready:
                        return
                    for end in ready:
                        data = end.recv(65536)
                        if not data:
                            return
                        (upstream if end is client else client).sendall(data)

    def close(self) -> None:
        self.server.close()


@pytest.fixture()
def proxy() -> Iterator[ConnectProxy]:
    p = ConnectProxy()
    yield p
    p.close()


def test_a_kubeconfig_proxy_url_is_used_as_by_kubectl(generated: Sim, tmp_path: Path, proxy: ConnectProxy) -> None:
    config: dict[str, Any] = generated.config
    config["clusters"][0]["cluster"]["proxy-url"] = f"http://127.0.0.1:{proxy.port}"
    path = tmp_path / "kubeconfig-proxy"
    path.write_text(yaml.safe_dump(config))
    env = env_for(None, KUBECONFIG=str(path))
    server = config["clusters"][0]["cluster"]["server"].removeprefix("https://")
    kubectl(None, "get", "nodes", env=env)
    # kubectl goes through it (one tunnel, or one per discovery request it sends in parallel when its
    # discovery cache for this server is cold: how many depends on which tests ran before)
    assert proxy.tunnels and set(proxy.tunnels) == {server}
    before = len(proxy.tunnels)
    result = kubectl(None, "perf", "capacity", env=env)
    assert result.stdout.startswith("NODE") and len(proxy.tunnels) > before and set(proxy.tunnels) == {server}


def test_a_proxy_from_the_environment_is_left_to_the_client(generated: Sim, tmp_path: Path, proxy: ConnectProxy) -> None:
    """HTTPS_PROXY: the plain transport steps aside, so the client's proxy rules (and NO_PROXY) apply."""
    env = env_for(generated, HTTPS_PROXY=f"http://127.0.0.1:{proxy.port}", NO_PROXY="")
    env.pop("no_proxy", None)
    _status, modules, out = modules_after([], env, "kubectl_perf.launch", "capacity")
    assert out.startswith("NODE") and "kubernetes" in modules


def test_a_client_certificate_kubeconfig_takes_the_plain_path(tmp_path: Path) -> None:
    """Certificates as data and as files, the CA alone trusted (not the system's): the same choices
    the client made, checked against a TLS server that requires the client certificate."""
    from kubectl_perf import api

    certs = make_certificates(tmp_path)
    server = tls_server(certs)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    as_files = {
        "clusters": [{"name": "c", "cluster": {"server": url, "certificate-authority": str(certs["ca"])}}],
        "users": [{"name": "u", "user": {"client-certificate": str(certs["client"]), "client-key": str(certs["client-key"])}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump(as_files))
    try:
        assert api.plain(api.resolve(api.Overrides(str(path))).config)
        assert api.Cluster(api.Connection(str(path))).get("/version") == {"ok": True}
        # without the client certificate the server refuses the handshake
        as_files["users"][0]["user"] = {"token": "t"}
        path.write_text(yaml.safe_dump(as_files))
        with pytest.raises(api.ApiError) as err:
            api.Cluster(api.Connection(str(path))).get("/version")
        assert "Unable to connect to the server" in str(err.value)
    finally:
        server.shutdown()


def make_certificates(tmp: Path) -> dict[str, Path]:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca"]
        + ["-keyout", str(tmp / "ca.key"), "-out", str(tmp / "ca.crt")],
        check=True,
        capture_output=True,
    )
    out = {"ca": tmp / "ca.crt"}
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        key, csr, crt = tmp / f"{name}.key", tmp / f"{name}.csr", tmp / f"{name}.crt"
        subprocess.run(
            ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr)],
            check=True,
            capture_output=True,
        )
        (tmp / f"{name}.ext").write_text(ext + "\n")
        subprocess.run(
            ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(tmp / "ca.crt"), "-CAkey", str(tmp / "ca.key")]
            + ["-CAcreateserial", "-days", "2", "-out", str(crt), "-extfile", str(tmp / f"{name}.ext")],
            check=True,
            capture_output=True,
        )
        out[name], out[f"{name}-key"] = crt, key
    return out


def tls_server(certs: dict[str, Path]) -> Any:
    import http.server
    import ssl

    from perf_sim.server import QuietServer

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)  # a client's torn-down TLS is no traceback
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["server"], certs["server-key"])
    ctx.load_verify_locations(certs["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_console_scripts_run_fast_path_end_to_end(generated: Sim) -> None:
    """The installed kubectl-perf-capacity, as kubectl runs it."""
    result = subprocess.run([str(BIN / "kubectl-perf-capacity")], capture_output=True, text=True, env=env_for(generated), timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("NODE"), result.stderr


def test_the_kubeconfig_is_parsed_once_per_run(generated: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The -n default (while the flags are checked) and the connection read the same files: parsed once."""
    from kubectl_perf import kubeconfig

    path = tmp_path / "kubeconfig"
    path.write_text(generated.kubeconfig.read_text())
    parsed: list[str] = []
    real = kubeconfig._parse
    monkeypatch.setattr(kubeconfig, "_parsed", {})
    monkeypatch.setattr(kubeconfig, "_parse", lambda path, raw: parsed.append(path) or real(path, raw))
    assert perf(path, "capacity").returncode == 0
    assert parsed == [str(path)]
    path.write_text(path.read_text() + "\n")  # a file that changed is parsed again
    assert perf(path, "capacity").returncode == 0 and parsed == [str(path)] * 2
