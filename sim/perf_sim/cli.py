"""perf-sim: a simulated Kubernetes API server for tests, demos and benchmarks."""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import secrets
import signal
import ssl
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from .generate import Generated
from .server import Config, Handler, Server
from .store import METRICS_API_SERVICE, ApiStatus, Store, api_service
from .writes import load_objects


def self_signed(workdir: Path) -> tuple[Path, Path, bytes]:
    """A throwaway CA and a serving certificate for 127.0.0.1/localhost."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    # A CA name of its own, so clients trusting several of these find the right one.
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"perf-sim-ca-{secrets.token_hex(4)}")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "perf-sim")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = workdir / "tls.crt", workdir / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path, ca.public_bytes(serialization.Encoding.PEM)


def read_documents(path: str) -> list[Any]:
    text = Path(path).read_text()
    if text.lstrip().startswith(("{", "[")):
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    return [d for d in yaml.safe_load_all(text) if d]


def kubeconfig(server: str, ca_pem: bytes, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "perf-sim", "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "perf-sim", "user": {"token": token}}],
        "contexts": [{"name": "perf-sim", "context": {"cluster": "perf-sim", "user": "perf-sim"}}],
        "current-context": "perf-sim",
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="perf-sim", description="Serve a simulated Kubernetes cluster over HTTPS on 127.0.0.1.")
    p.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig for the cluster, once it is ready")
    p.add_argument(
        "--objects",
        nargs="+",
        metavar="FILE",
        help="YAML/JSON files of objects to serve (Namespaces, Nodes, Pods, controllers, ConfigMaps, Services, APIServices, "
        "CustomResourceDefinitions and their resources, NodeMetrics, PodMetrics), beside any generated ones",
    )
    p.add_argument("--nodes", type=int, help="generate this many nodes (default 10 without --objects)")
    p.add_argument("--pods-per-node", type=int, default=30, help="pods generated on each node (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated cluster (default 0)")
    p.add_argument(
        "--no-metrics-server",
        action="store_true",
        help="no metrics-server: no v1beta1.metrics.k8s.io APIService, so metrics.k8s.io answers 404 (an --objects file may "
        "instead give that APIService with Available False: then 503)",
    )
    p.add_argument(
        "--forbid-cluster-list",
        action="append",
        default=[],
        metavar="RESOURCE",
        help="answer 403 to cluster-wide lists of RESOURCE (e.g. pods, or metrics.k8s.io/nodes), as RBAC limited to namespaces "
        "does; nodes/proxy forbids the kubelet endpoints",
    )
    p.add_argument(
        "--usage-period",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pod metrics of generated pods move each SECONDS (a deterministic factor 0.5-1.5 per container and period), "
        "for sampling tests; default: fixed usage",
    )
    p.add_argument(
        "--metrics-age",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how old metrics-server's figures are behind the kubelets' clock (default 10; over two windows, 40, is stale)",
    )
    p.add_argument(
        "--metrics-skip",
        action="append",
        default=[],
        metavar="NODE",
        help="metrics-server has no figures for NODE (its kubelet not scraped); the kubelet still answers",
    )
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    args = p.parse_args(argv)
    if args.nodes is not None and args.nodes < 0 or args.pods_per_node < 0:
        p.error("--nodes and --pods-per-node must not be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import cryptography  # noqa: F401
    except ImportError:
        print("perf-sim: needs the 'sim' extra: pip install 'kubectl-perf[sim]'", file=sys.stderr)
        return 2
    nodes = args.nodes if args.nodes is not None else (0 if args.objects else 10)
    store = Store(Generated(nodes, args.pods_per_node, args.seed, not args.no_metrics_server) if nodes else None)
    try:
        docs = [d for path in args.objects or [] for d in read_documents(path)]
        load_objects(store, docs)
        if store.generated:
            from .workloads import generated_hpas

            for hpa in generated_hpas(store.generated):
                store.write("horizontalpodautoscalers", hpa)
    except (OSError, ValueError, yaml.YAMLError, AttributeError, ApiStatus) as err:
        print(f"perf-sim: cannot load objects: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    apiservices = store.collections["apiservices"]
    if args.no_metrics_server:
        apiservices.remove(("", METRICS_API_SERVICE))
    elif apiservices.get(("", METRICS_API_SERVICE)) is None:
        store.write(
            "apiservices", api_service("metrics.k8s.io", "v1beta1", {"namespace": "kube-system", "name": "metrics-server", "port": 443})
        )
    out = Path(args.kubeconfig)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
    except OSError as err:
        print(f"perf-sim: cannot write the kubeconfig {out}: {err.strerror}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="perf-sim-"))
    cert, key, ca_pem = self_signed(workdir)
    token = secrets.token_urlsafe(24)
    Handler.cfg = Config(store, token, set(args.forbid_cluster_list), args.metrics_age, frozenset(args.metrics_skip))
    Handler.cfg.metrics.usage_period = args.usage_period
    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as err:
        print(f"perf-sim: cannot listen on 127.0.0.1:{args.port}: {err.strerror}", file=sys.stderr)
        return 2
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    # Written last, atomically: the file's existence means "ready to serve".
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(yaml.safe_dump(kubeconfig(url, ca_pem, token), sort_keys=False))
    os.chmod(tmp, 0o600)
    tmp.replace(out)
    print(f"perf-sim: serving {url} ({nodes} generated nodes, {len(docs)} objects loaded); kubeconfig {out}", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    for f in (cert, key):
        f.unlink(missing_ok=True)
    workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
