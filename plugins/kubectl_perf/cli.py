"""`kubectl perf`: the skeleton every plugin shares (commands start in launch.py).

A plugin is: flags (argparse, every value checked by a `type=` converter or
`check_filters`) -> fetch (api) -> compute (pure) -> `render.emit`. This module
owns the shared flag groups, the one-line errors and the exit-status mapping;
see docs/architecture.md ("Where a new plugin goes").
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__

if TYPE_CHECKING:
    from .api import Connection
    from .policy import Policy

# The rest of the suite (api, policy, policy_file, render, quantity) is imported where it is used:
# `kubectl perf --help` and a plugin's --help load argparse and the flag definitions, nothing more
# (issue 20: start-up; tests/test_startup.py checks what --help imports).

EXIT_ERROR = 1
EXIT_USAGE = 2  # bad flags or policy file, as kubectl
EXIT_INTERRUPTED = 130


# Help is laid out for 80 columns whatever the terminal, as kubectl's own: the same text every
# time, so `--help` can print it from _helptext.py without building the parser (issue 20: start-up).
HELP_WIDTH = 78  # argparse's width for an 80-column terminal


class Parser(argparse.ArgumentParser):
    """argparse with kubectl-style one-line errors and exit status 2, help at a fixed width."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message}\nSee '{self.prog} --help' for usage.\n")

    def _get_formatter(self) -> argparse.HelpFormatter:
        formatter: Any = self.formatter_class  # every HelpFormatter takes width; typeshed's protocol names prog only
        return formatter(prog=self.prog, width=HELP_WIDTH)  # type: ignore[no-any-return]


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


# The longest a flag may ask a plugin to wait, between two scrapes or samples or for one answer: a day.
# Longer is a slip of the keyboard, not a measurement, and from about 1e10 s (inf too) time.sleep and socket
# timeouts raise OverflowError.
MAX_WAIT = 86_400.0


def seconds(text: str) -> float:
    """A number of seconds above 0 and at most MAX_WAIT, with or without its unit: 5, 2.5s."""
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: use seconds, e.g. 5 or 2.5s") from None
    if not 0 < value <= MAX_WAIT:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 and at most {MAX_WAIT:g} (a day)")
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


def padding_target(text: str) -> float:
    """--padding-target: 0.75 or 75%, read by the one reader the policy file uses too (padding.share)."""
    from .padding import share

    try:
        return share(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


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
        from .policy import DEFAULT_PADDING

        g.add_argument(
            "--padding-target",
            type=padding_target,
            metavar="FRACTION",
            help=f"default memory padding target, 0.75 or 75%% (default {DEFAULT_PADDING:g}, or the policy file's padding.memory)",
        )
    g.add_argument("--policy", metavar="FILE", help="policy file shared with the admission webhook and the other plugins")


def usage_window(text: str) -> float:
    """--usage-window: seconds between the two kubelet samples, 0 for one sample."""
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid --usage-window {text!r}: use seconds, e.g. 15 or 15s (0: one sample)") from None
    if not 0 <= value <= MAX_WAIT:  # NaN too
        raise argparse.ArgumentTypeError(f"--usage-window {text!r} must be 0 or more seconds, at most {MAX_WAIT:g} (a day)")
    return value


def add_usage_flags(g: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """--usage-source and --usage-window: where live usage comes from (usage.py)."""
    g.add_argument(
        "--usage-source",
        choices=("auto", "metrics-server", "kubelet"),
        default="auto",
        help="where live usage comes from: metrics.k8s.io (metrics-server), the kubelets' /metrics/resource through "
        "nodes/NODE/proxy, or auto (default): metrics-server, the kubelets when metrics.k8s.io is not served",
    )
    g.add_argument(
        "--usage-window",
        type=usage_window,
        default=15.0,
        metavar="SECONDS",
        help="with the kubelets as the source: seconds between their two samples (default 15, metrics-server's "
        "resolution); 0 reads once, CPU averaged since each container started",
    )


def policy_from(args: argparse.Namespace) -> Policy:
    """The policy the flags name: the file's (or the defaults), with --padding-target over padding.memory."""
    import dataclasses

    from .policy import Policy

    if args.policy:
        from .policy_file import load_policy

        policy = load_policy(args.policy)
    else:
        policy = Policy()
    target = getattr(args, "padding_target", None)
    return policy if target is None else dataclasses.replace(policy, padding_memory=target)


def connection(args: argparse.Namespace) -> Connection:
    """The connection flags as the typed Connection the api takes."""
    from .api import Connection

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
    from .api import DEFAULT_CHUNK_SIZE

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
            from . import render

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


def add_output_flag(g: argparse._ArgumentGroup | argparse.ArgumentParser, formats: Sequence[str] | None = None) -> None:
    """-o with the formats render.emit knows (a plugin may offer fewer)."""
    if formats is None:
        from .render import FORMATS

        formats = FORMATS
    names = list(formats)
    g.add_argument("-o", "--output", choices=names, default=names[0], help=f"{names[0]} (default), {', '.join(names[1:-1])} or {names[-1]}")


# -- running a plugin ----------------------------------------------------------------
class FlagError(Exception):
    """A flag value that only the cluster's answer shows to be wrong (exit 2)."""


def fail(message: str, status: int = EXIT_ERROR) -> int:
    """Report a failure as kubectl does: one line on stderr; returns the exit status."""
    from . import render

    render.note(f"error: {message}")
    return status


def run(body: Callable[[], int]) -> int:
    """Run a plugin body, turning the suite's own errors into one line and a status.
    Anything else is a bug and keeps its traceback."""
    try:
        return body()
    except FlagError as err:
        return fail(str(err), EXIT_USAGE)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as err:
        # The suite's error types, from the modules this run loaded: an error of a module that was
        # never imported cannot have been raised (and importing policy_file costs a run without a
        # policy file ~5 ms of importlib.resources).
        loaded = sys.modules
        api, quantity, policy_file, render = (loaded.get(f"{__package__}.{m}") for m in ("api", "quantity", "policy_file", "render"))
        if api is not None and isinstance(err, api.ApiError):
            return fail(str(err))
        if render is not None and isinstance(err, render.OutputError):  # > /dev/full: not a traceback
            return fail(str(err))
        if quantity is not None and isinstance(err, quantity.QuantityError):  # the cluster handed us something no API server would
            return fail(f"unexpected data from the cluster: {err}")
        if policy_file is not None and isinstance(err, policy_file.PolicyError):
            return fail(str(err), EXIT_USAGE)
        raise


def version_text() -> str:
    """The suite's version (one place: kubectl_perf.__version__) with what runs it."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        client = version("kubernetes")
    except PackageNotFoundError:
        client = "not installed"
    return f"kubectl-perf {__version__} (Python {platform.python_version()}, kubernetes client {client})"
