"""perf-webhook: the admission webhook served over HTTPS (see server.py for how)."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import ssl
import sys
import tempfile
from typing import Any

from kubectl_perf.cli import Parser
from kubectl_perf.policy import Policy
from kubectl_perf.policy_file import PolicyError, load_policy

from .vap import SUMMARY as VAP_SUMMARY


def _seconds(text: str) -> float:
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 and at most 3600 seconds")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number")
    return value


def _suites(text: str) -> tuple[str, ...]:
    from .server import openssl_ciphers

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    try:
        openssl_ciphers(names)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if not names:
        raise argparse.ArgumentTypeError("name at least one cipher suite")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from .server import DEFAULT_SUITES, TLS_VERSIONS, Settings

    d = Settings("", "")
    p = Parser(
        prog="perf-webhook",
        usage="%(prog)s --tls-cert-file FILE --tls-private-key-file FILE --policy FILE [options]\n       %(prog)s vap --policy FILE [--name NAME]",
        description="Validating admission webhook: requests and memory padding targets.",
        # main() hands `vap` on before this parser sees it, so argparse would never list it.
        epilog=f"commands:\n  vap    {VAP_SUMMARY} (perf-webhook vap --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tls-cert-file", required=True, help="serving certificate (PEM), reloaded when it changes")
    p.add_argument("--tls-private-key-file", required=True, help="its private key (PEM)")
    p.add_argument(
        # named as the API server's --tls-min-version names them; server.py's list is the one source
        "--tls-min-version",
        choices=tuple(TLS_VERSIONS),
        default=d.tls_min_version,
        help="lowest TLS version (default %(default)s)",
    )
    p.add_argument(
        "--tls-cipher-suites",
        type=_suites,
        default=DEFAULT_SUITES,
        help="comma-separated IANA names of the TLS 1.2 suites to offer (default: ECDHE with AES-GCM or ChaCha20; TLS 1.3's are always on)",
    )
    p.add_argument("--port", type=_port, default=d.port)
    p.add_argument("--bind-address", default=d.bind_address, help="address to listen on; '::' (default) serves IPv6 and IPv4")
    p.add_argument("--policy", required=True, help="policy file (YAML or JSON), validated at start-up")
    p.add_argument("--kubeconfig", help="kubeconfig for the node cache (default: in-cluster configuration)")
    p.add_argument(
        "--workers", type=_positive, default=d.workers, help="gevent worker processes, each with its own node cache (default %(default)s)"
    )
    # Older charts pass --threads; gevent serves each connection in a greenlet of its own.
    p.add_argument("--threads", type=_positive, help=argparse.SUPPRESS)
    p.add_argument(
        "--max-connections",
        type=_positive,
        help="open connections per worker (default: what fits the cgroup memory limit beside the cache, "
        "32 KiB a connection, 100 to 10000; 10000 without a limit)",
    )
    p.add_argument(
        "--max-connections-per-source",
        type=_positive,
        help="open connections per client address (default: half of --max-connections)",
    )
    p.add_argument("--tls-handshake-timeout", type=_seconds, default=d.handshake_timeout, help="seconds for the TLS handshake")
    p.add_argument("--header-timeout", type=_seconds, default=d.header_timeout, help="seconds for a request's line and headers")
    p.add_argument("--body-timeout", type=_seconds, default=d.body_timeout, help="seconds for a request's body and its answer")
    p.add_argument("--keepalive-timeout", type=_seconds, default=d.keepalive, help="seconds an idle keep-alive connection stays open")
    p.add_argument(
        "--drain-timeout",
        type=_seconds,
        default=d.drain,
        help="seconds after SIGTERM that open connections are still served, with Connection: close (default %(default)g)",
    )
    p.add_argument(
        "--liveness-cache-age",
        type=_seconds,
        help="seconds without a word from the API server after which /healthz fails and the kubelet restarts the pod "
        "(default: 5 x the policy's maxCacheAgeSeconds; /readyz fails at maxCacheAgeSeconds)",
    )
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Any:
    from .server import Settings, default_max_connections, memory_limit

    most = args.max_connections or default_max_connections(memory_limit(), args.workers)
    return Settings(
        certfile=args.tls_cert_file,
        keyfile=args.tls_private_key_file,
        bind_address=args.bind_address,
        port=args.port,
        workers=args.workers,
        tls_min_version=args.tls_min_version,
        cipher_suites=args.tls_cipher_suites,
        handshake_timeout=args.tls_handshake_timeout,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keepalive=args.keepalive_timeout,
        drain=args.drain_timeout,
        max_connections=most,
        max_connections_per_source=args.max_connections_per_source or 0,
    )


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Decisions go out as bare JSON lines, one per denial or warning, for log pipelines.
    decisions = logging.getLogger("perf_webhook.decisions")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    decisions.addHandler(handler)
    decisions.propagate = False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["vap"]:  # `perf-webhook vap`: print the ValidatingAdmissionPolicy, serve nothing
        from .vap import main as vap

        return vap(argv[1:])
    args = parse_args(argv)
    setup_logging()
    try:
        policy = load_policy(args.policy)
    except PolicyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    settings = settings_from(args)
    from .server import ReloadingTLS, listen

    try:
        ReloadingTLS(settings)
    except (OSError, ssl.SSLError) as err:
        print(f"error: cannot use the TLS certificate and key: {err}", file=sys.stderr)
        return 2
    try:
        sock = listen(settings)
    except OSError as err:
        print(f"error: cannot listen on {settings.bind_address} port {settings.port}: {err.strerror}", file=sys.stderr)
        return 2
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Before prometheus_client is first imported: it picks its value store then.
        try:
            store = tempfile.mkdtemp(prefix="perf-webhook-metrics-")
        except OSError as err:
            print(f"error: --workers {settings.workers} needs a writable directory for metrics: {err}", file=sys.stderr)
            return 2
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = store
        arbiter = os.getpid()

        def clean() -> None:  # forked workers inherit atexit handlers: only the arbiter cleans up
            if os.getpid() == arbiter:
                shutil.rmtree(store, ignore_errors=True)

        atexit.register(clean)
    liveness = args.liveness_cache_age
    if liveness is not None and liveness <= policy.max_cache_age_seconds:
        print(
            f"error: --liveness-cache-age {liveness:g} must be more than the policy's maxCacheAgeSeconds "
            f"({policy.max_cache_age_seconds:g}): readiness fails first, liveness only after a larger bound",
            file=sys.stderr,
        )
        return 2
    logging.getLogger("perf_webhook").info(
        "serving on %s port %d: at most %d connections per worker, %d per client address",
        settings.bind_address,
        settings.port,
        settings.max_connections,
        settings.per_source,
    )
    serve(settings, policy, args.kubeconfig, sock, liveness)
    return 0


def serve(settings: Any, policy: Policy, kubeconfig: str | None, sock: Any, liveness_cache_age: float | None = None) -> None:
    # Imported here, before the workers patch threading for gevent, prometheus_client keeps
    # the C thread lock for its values: the few instructions it guards never yield, and a
    # gevent lock cost three Python-level acquisitions (~1% of the worker's CPU) per review.
    import prometheus_client  # noqa: F401
    from kubectl_perf.api import Cluster, Connection

    from .server import run

    metrics: dict[str, Any] = {}

    def load() -> Any:
        # Runs in each worker, after the fork: the cache's threads belong to it.
        from .admission_defaults import AdmissionDefaults
        from .app import create_app
        from .cache import FeedTimings, NodeViewCache

        # Every request of the feeds is bounded as a whole, not only per phase (issue 27 availability 8).
        timeout = FeedTimings.for_policy(policy).request_timeout
        cache = NodeViewCache(lambda: Cluster(Connection(kubeconfig, request_timeout=timeout)), policy)
        cache.start()
        # LimitRanges and RuntimeClasses, so templates are judged as their pods will be admitted.
        defaults = AdmissionDefaults(lambda: Cluster(Connection(kubeconfig, request_timeout=timeout)))
        defaults.start()
        app = create_app(policy, cache, defaults.apply, liveness_cache_age)
        metrics["m"] = app.extensions["perf_webhook.metrics"]
        return app

    def dropped(stage: str) -> None:
        if "m" in metrics:
            metrics["m"].dropped.labels(stage).inc()

    run(settings, load, dropped, sock)


if __name__ == "__main__":
    sys.exit(main())
