"""`kubectl perf`: the suite's entry point, and the skeleton every plugin shares.

A plugin is: flags (argparse, every value checked by a `type=` converter or
`check_filters`) -> fetch (api) -> compute (pure) -> `render.emit`. This module
owns the shared flag groups, the one-line errors and the exit-status mapping;
see docs/architecture.md ("Where a new plugin goes").

kubectl runs `kubectl-perf-<sub>` when it is on PATH and `kubectl-perf <sub>`
otherwise (and krew installs only `kubectl-perf`), so both lead to the same code.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import __version__, render
from .api import DEFAULT_CHUNK_SIZE, ApiError, Connection
from .policy import DEFAULT_PADDING, Policy
from .policy_file import PolicyError, load_policy
from .quantity import QuantityError
from .render import FORMATS

# subcommand -> (module, one-line summary); modules load only when chosen.
PLUGINS = {
    "capacity": ("kubectl_perf.capacity", "requests, limits and usage against allocatable and memory padding targets"),
    "cadvisor": ("kubectl_perf.cadvisor", "the kubelet's cAdvisor metrics: the dump, or CPU throttling and memory against limits"),
    "images": ("kubectl_perf.images", "image sizes, tag hygiene, distroless suggestions and a pre-pull plan (kube-fledged)"),
    "audit": ("kubectl_perf.audit", "policy and cluster checks over what already runs, as PolicyReports"),
    "rightsize": ("kubectl_perf.rightsize", "requests and limits from observed usage, that the padding policy admits"),
}

EXIT_ERROR = 1
EXIT_USAGE = 2  # bad flags or policy file, as kubectl
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse with kubectl-style one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message}\nSee '{self.prog} --help' for usage.\n")


# -- flag value converters (argparse type=) ----------------------------------------
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def request_timeout(text: str) -> float | None:
    """kubectl's --request-timeout: '0' (none), '30' (seconds), or a Go duration ('300ms', '1s',
    '2m', '1h5m'); seconds or None."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text) or None
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use a number of seconds or a duration like 5s, 1m, 300ms")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts) or None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def count(text: str) -> int:
    """A number of things, 0 or more; 1,000 and 1_000 read as 1000 (thresholds are written so)."""
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def seconds(text: str) -> float:
    """A number of seconds above 0, with or without its unit: 5, 2.5s."""
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: use seconds, e.g. 5 or 2.5s") from None
    if not value > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def fraction(what: str, example: float, zero: bool = False) -> Callable[[str], float]:
    """A converter for a share of a whole, as a fraction (0.25) or a percentage (25%), at most 1;
    0 itself only with `zero` (a threshold may be 0, a padding target may not). `what` names the
    value in errors, `example` is a typical value."""

    def convert(text: str) -> float:
        try:
            value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid {what} {text!r}: use a fraction like {example:g} or a percentage like {example * 100:g}%"
            ) from None
        if zero and not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"{what} {text!r} must be between 0 and 1 (100%)")
        if not zero and not 0 < value <= 1:
            raise argparse.ArgumentTypeError(f"{what} {text!r} must be above 0 and at most 1 (100%)")
        return value

    return convert


padding_target = fraction("padding target", DEFAULT_PADDING)


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKMGT]i?B?|B)?$")
_UNITS = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def byte_size(text: str) -> int:
    """200MB, 1.5G, 300Mi, 250000000: bytes (decimal units as registries print sizes, binary with i)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: use bytes or a unit, e.g. 200MB, 1.5GB, 300Mi")
    unit = (match.group(2) or "").removesuffix("B")
    return int(float(match.group(1)) * _UNITS[unit.upper() if len(unit) == 1 else unit])


_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = rf"([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}"
_VALUE = rf"({_NAME})?"
_TERM = re.compile(
    rf"^\s*(?:!\s*{_KEY}|{_KEY}\s*(?:(?:=|==|!=)\s*{_VALUE}|[<>]\s*-?\d+|\s+(?:in|notin)\s*\(\s*{_NAME}(?:\s*,\s*{_VALUE})*\s*\))?)\s*$"
)


def label_selector(text: str) -> str:
    """A label selector in kubectl's grammar (app=web,tier!=db,env in (a,b),!canary), checked
    here so a typo is a flag error rather than the API server's 400 after the first request."""
    if not text.strip():
        return text  # the empty selector selects everything, as kubectl's
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    bad = next((t for t in terms if not _TERM.match(t)), None)
    if bad is not None or depth:
        where = f" at {bad.strip()!r}" if bad is not None else ""
        raise argparse.ArgumentTypeError(
            f"invalid label selector {text!r}{where}: use key=value, key!=value, key in (a,b), key notin (a), key or !key"
        )
    return text


# -- shared flag groups --------------------------------------------------------------
def verbosity(text: str) -> int:
    """kubectl's -v level: 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid log level {text!r}: use a number, e.g. 6") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"log level {text!r} must not be negative")
    return value


def add_connection_flags(p: argparse.ArgumentParser) -> None:
    """kubectl's generic flags that choose and reach the cluster (kubeconfig.py applies them)."""
    g = p.add_argument_group("cluster connection (as kubectl)")
    g.add_argument("--kubeconfig", help="path to the kubeconfig file (default: the files of $KUBECONFIG, then ~/.kube/config)")
    g.add_argument("--context", help="the kubeconfig context to use")
    g.add_argument("--cluster", help="the kubeconfig cluster to use (instead of the context's)")
    g.add_argument("--user", help="the kubeconfig user to use (instead of the context's)")
    g.add_argument("-s", "--server", metavar="URL", help="the address and port of the API server")
    g.add_argument("--token", help="bearer token for authentication to the API server")
    g.add_argument("--certificate-authority", metavar="FILE", help="a certificate file of the certificate authority")
    g.add_argument("--client-certificate", metavar="FILE", help="a client certificate file for TLS")
    g.add_argument("--client-key", metavar="FILE", help="a client key file for TLS")
    g.add_argument("--tls-server-name", metavar="NAME", help="server name to check the server's certificate against")
    g.add_argument("--insecure-skip-tls-verify", action="store_true", help="do not check the server's certificate (insecure), as kubectl")
    g.add_argument(
        "--request-timeout",
        type=request_timeout,
        default=None,
        metavar="DURATION",
        help="wait this long for each request, e.g. 5s, 1m (default 0: no overall limit; a connection still gives up "
        "after 30s to connect, 10s for the TLS handshake and 90s without an answer)",
    )
    g.add_argument("--as", dest="as_user", metavar="USER", help="act as this user (impersonation), as kubectl --as")
    g.add_argument("--as-group", metavar="GROUP", help="act as this group too (impersonation)")
    g.add_argument(
        "-v",
        "--v",
        dest="verbosity",
        type=verbosity,
        default=0,
        metavar="N",
        help="log level: 6 each request, 8 its headers (tokens masked)",
    )


def add_policy_flags(g: argparse._ArgumentGroup | argparse.ArgumentParser, padding: bool = True) -> None:
    """--policy, and with `padding` --padding-target (which wins over the file's padding.memory)."""
    if padding:
        g.add_argument(
            "--padding-target",
            type=padding_target,
            metavar="FRACTION",
            help=f"default memory padding target (default {DEFAULT_PADDING:g}, or the policy file's padding.memory)",
        )
    g.add_argument("--policy", metavar="FILE", help="policy file shared with the admission webhook and the other plugins")


def policy_from(args: argparse.Namespace) -> Policy:
    """The policy the flags name: the file's (or the defaults), with --padding-target over padding.memory."""
    policy = load_policy(args.policy) if args.policy else Policy()
    target = getattr(args, "padding_target", None)
    return policy if target is None else dataclasses.replace(policy, padding_memory=target)


def connection(args: argparse.Namespace) -> Connection:
    """The connection flags as the typed Connection the api takes."""
    return Connection(
        kubeconfig=args.kubeconfig,
        context=args.context,
        request_timeout=args.request_timeout,
        as_user=args.as_user,
        as_group=args.as_group,
        insecure=args.insecure_skip_tls_verify,
        cluster=args.cluster,
        user=args.user,
        server=args.server,
        token=args.token,
        certificate_authority=args.certificate_authority,
        client_certificate=args.client_certificate,
        client_key=args.client_key,
        tls_server_name=args.tls_server_name,
        verbosity=args.verbosity,
    )


def add_filter_flags(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """-n/-A/-l/--chunk-size as kubectl has them (check_filters checks them together);
    returns the group, for a plugin's own filters."""
    g = p.add_argument_group("filters")
    g.add_argument("-n", "--namespace", help="only pods in this namespace")
    g.add_argument("-A", "--all-namespaces", action="store_true", help="pods in all namespaces (the default)")
    g.add_argument(
        "-l",
        "--selector",
        "--pod-labels",
        dest="selector",
        type=label_selector,
        metavar="SELECTOR",
        help="pod label selector, e.g. app=web,tier!=db",
    )
    g.add_argument(
        "--chunk-size", type=positive_int, default=DEFAULT_CHUNK_SIZE, metavar="N", help="list pods N at a time (default 500, as kubectl)"
    )
    return g


def check_filters(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The checks across filter flags that no single `type=` can make."""
    if args.namespace and args.all_namespaces:
        p.error("-n/--namespace and -A/--all-namespaces cannot be used together")
    if not args.namespace and not args.all_namespaces:
        # As kubectl: a context that sets a namespace makes it the default for -n (-A for all namespaces).
        # A context without one keeps the documented default, all namespaces.
        args.namespace = context_namespace(args)
        if args.namespace:
            render.note(f"note: namespace {args.namespace} only, the context's (-A for all namespaces)")


def context_namespace(args: argparse.Namespace) -> str | None:
    """The namespace the chosen kubeconfig context sets, if any. A kubeconfig that cannot be read
    gives None here: connecting reports it in full, after the flags are all checked."""
    from .kubeconfig import KubeconfigError, resolve

    try:
        chosen = resolve(connection(args).overrides())
    except (KubeconfigError, OSError, ValueError):
        return None
    return chosen.namespace if chosen.namespace_from_context else None


def add_output_flag(g: argparse._ArgumentGroup | argparse.ArgumentParser, formats: Sequence[str] = FORMATS) -> None:
    """-o with the formats render.emit knows (a plugin may offer fewer)."""
    names = list(formats)
    g.add_argument("-o", "--output", choices=names, default=names[0], help=f"{names[0]} (default), {', '.join(names[1:-1])} or {names[-1]}")


# -- running a plugin ----------------------------------------------------------------
class FlagError(Exception):
    """A flag value that only the cluster's answer shows to be wrong (exit 2)."""


def fail(message: str, status: int = EXIT_ERROR) -> int:
    """Report a failure as kubectl does: one line on stderr; returns the exit status."""
    render.note(f"error: {message}")
    return status


def run(body: Callable[[], int]) -> int:
    """Run a plugin body, turning the suite's own errors into one line and a status.
    Anything else is a bug and keeps its traceback."""
    try:
        return body()
    except ApiError as err:
        return fail(str(err))
    except QuantityError as err:  # the cluster handed us something no API server would
        return fail(f"unexpected data from the cluster: {err}")
    except (PolicyError, FlagError) as err:
        return fail(str(err), EXIT_USAGE)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def version_text() -> str:
    """The suite's version (one place: kubectl_perf.__version__) with what runs it."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        client = version("kubernetes")
    except PackageNotFoundError:
        client = "not installed"
    return f"kubectl-perf {__version__} (Python {platform.python_version()}, kubernetes client {client})"


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
        print(version_text())
        return 0
    if sub not in PLUGINS:
        print(f'error: unknown command {sub!r} for "kubectl perf" (choose from {", ".join(PLUGINS)})', file=sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(PLUGINS[sub][0])
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
