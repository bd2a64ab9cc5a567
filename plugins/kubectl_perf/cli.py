"""`kubectl perf`: the suite's entry point, and the flags every plugin shares.

kubectl runs `kubectl-perf-<sub>` when it is on PATH and `kubectl-perf <sub>`
otherwise (and krew installs only `kubectl-perf`), so both lead to the same code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import NoReturn

from .api import ApiError, Connection, parse_request_timeout
from .quantity import QuantityError

# subcommand -> (module, one-line summary); modules load only when chosen.
PLUGINS = {
    "capacity": ("kubectl_perf.capacity", "requests, limits and usage against allocatable and memory padding targets"),
    "audit": ("kubectl_perf.audit", "policy and cluster checks over what already runs, as PolicyReports"),
}


def add_connection_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster connection (as kubectl)")
    g.add_argument("--kubeconfig", help="path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    g.add_argument("--context", help="the kubeconfig context to use")
    g.add_argument(
        "--request-timeout", default="0", metavar="DURATION", help="wait this long for each request, e.g. 5s, 1m (default 0: no limit)"
    )


def connection(args: argparse.Namespace) -> Connection:
    return Connection(args.kubeconfig, args.context, parse_request_timeout(args.request_timeout))


class Parser(argparse.ArgumentParser):
    """argparse with kubectl-style one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}\nSee '{self.prog} --help' for usage.\n")


def fail(prog: str, message: str, status: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def run(prog: str, body: Callable[[], int]) -> int:
    """Run a plugin body, turning every expected failure into one line and a status."""
    try:
        return body()
    except ApiError as err:
        return fail(prog, str(err))
    except QuantityError as err:  # the cluster handed us something no API server would
        return fail(prog, f"unexpected data from the cluster: {err}")
    except ValueError as err:  # bad input: flag values, policy files
        return fail(prog, str(err), 2)
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("kubectl perf: performance views of a Kubernetes cluster.\n\nCommands:")
        for name, (_module, summary) in PLUGINS.items():
            print(f"  {name:<10} {summary}")
        print("  version    print the version\n\nUse 'kubectl perf <command> --help' for a command's flags.")
        return 0
    sub, rest = argv[0], argv[1:]
    if sub in ("version", "--version"):
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"kubectl-perf {version('kubectl-perf')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            print("kubectl-perf (not installed)")
        return 0
    if sub not in PLUGINS:
        print(f'error: unknown command {sub!r} for "kubectl perf" (choose from {", ".join(PLUGINS)})', file=sys.stderr)
        return 2
    module = importlib.import_module(PLUGINS[sub][0])
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
