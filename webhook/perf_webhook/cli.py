"""perf-webhook: the admission webhook served by gunicorn over HTTPS."""

from __future__ import annotations

import argparse
import logging
import os
import ssl
import sys
import threading
from typing import Any

from kubectl_perf.api import Cluster, Connection
from kubectl_perf.policy import Policy
from kubectl_perf.policy_file import PolicyError, load_policy

TLS_RELOAD_SECONDS = 2.0


class ReloadingTLS:
    """One SSLContext per worker whose certificate is re-read when its files change
    (cert-manager rotates them in place). A half-written pair fails to load and the
    old certificate stays in use, so no handshake fails during a rotation."""

    def __init__(self, certfile: str, keyfile: str) -> None:
        self.certfile, self.keyfile = certfile, keyfile
        self._stamp: tuple[float, float] | None = None
        self._lock = threading.Lock()
        self.context = self._new_context()
        self.reload()

    def _new_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def _stamps(self) -> tuple[float, float]:
        return os.stat(self.certfile).st_mtime, os.stat(self.keyfile).st_mtime

    def reload(self) -> bool:
        """Load the files if they changed; True when a new certificate is in use."""
        with self._lock:
            try:
                stamp = self._stamps()
                if stamp == self._stamp:
                    return False
                fresh = self._new_context()
                fresh.load_cert_chain(self.certfile, self.keyfile)
            except (OSError, ssl.SSLError) as err:
                if self._stamp is None:
                    raise
                logging.getLogger("perf_webhook").warning("keeping the current certificate: %s", err)
                return False
            self.context, self._stamp = fresh, stamp
            return True

    def watch(self) -> None:
        def loop() -> None:
            while True:
                threading.Event().wait(TLS_RELOAD_SECONDS)
                self.reload()

        threading.Thread(target=loop, name="tls-reload", daemon=True).start()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="perf-webhook", description="Validating admission webhook: requests and memory padding targets.")
    p.add_argument("--tls-cert-file", required=True, help="serving certificate (PEM), reloaded when it changes")
    p.add_argument("--tls-private-key-file", required=True, help="its private key (PEM)")
    p.add_argument("--port", type=int, default=8443)
    p.add_argument("--bind-address", default="0.0.0.0")
    p.add_argument("--policy", required=True, help="policy file (YAML or JSON), validated at start-up")
    p.add_argument("--kubeconfig", help="kubeconfig for the node cache (default: in-cluster configuration)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    p.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        policy = load_policy(args.policy)
    except PolicyError as err:
        print(f"perf-webhook: {err}", file=sys.stderr)
        return 2
    try:
        ReloadingTLS(args.tls_cert_file, args.tls_private_key_file)
    except (OSError, ssl.SSLError) as err:
        print(f"perf-webhook: cannot use the TLS certificate and key: {err}", file=sys.stderr)
        return 2
    serve(args, policy)
    return 0


def serve(args: argparse.Namespace, policy: Policy) -> None:
    from .app import create_app
    from .cache import NodeCache

    def load() -> Any:
        # Runs in each worker: each keeps its own node cache, fed by its own watch.
        cache = NodeCache(lambda: Cluster(Connection(args.kubeconfig)), policy)
        cache.start()
        return create_app(policy, cache)

    run_gunicorn(args, load)


def run_gunicorn(args: argparse.Namespace, load: Any) -> None:
    """Serve the app `load()` builds under gunicorn with the webhook's settings
    (the benchmark serves its bare baseline app through this too)."""
    from gunicorn.app.base import BaseApplication

    tls: dict[str, ReloadingTLS] = {}

    def ssl_context(conf: Any, default_factory: Any) -> ssl.SSLContext:
        # gunicorn asks for a context per connection: hand out the worker's current one.
        if "ctx" not in tls:
            tls["ctx"] = ReloadingTLS(args.tls_cert_file, args.tls_private_key_file)
            tls["ctx"].watch()
        return tls["ctx"].context

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{args.bind_address}:{args.port}",
                "workers": args.workers,
                "worker_class": "gthread",
                "threads": args.threads,
                "keepalive": 75,  # the API server keeps connections open
                "timeout": 30,
                "graceful_timeout": 10,
                "certfile": args.tls_cert_file,
                "keyfile": args.tls_private_key_file,
                "ssl_context": ssl_context,
                "control_socket_disable": True,  # several webhooks may share a host (tests, benchmarks)
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "info",
                "proc_name": "perf-webhook",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return load()

    Server().run()


if __name__ == "__main__":
    sys.exit(main())
