"""Command-line flags of `kubectl perf rightsize` (argparse only), ending in `options(args)`:
the typed, frozen RightsizeOptions that everything past this file reads."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass

from ..api import Connection
from ..cli import (
    Parser,
    add_connection_flags,
    add_filter_flags,
    add_policy_flags,
    check_filters,
    connection,
    positive_int,
    request_timeout,
    seconds,
)
from ..policy import Policy
from ..quantity import QuantityError, parse_quantity
from ..usage import AUTO, SOURCES
from .compute import MEBI, MILLI, Strategy

OUTPUTS = ("table", "wide", "json", "yaml", "csv", "tsv", "html", "patch", "patch-commands")

EPILOG = """\
examples:
  kubectl perf rightsize -n shop --prometheus http://prometheus.monitoring:9090
  kubectl perf rightsize -A --prometheus https://prom.example --prometheus-token-file /var/run/token --history 7d
  kubectl perf rightsize -n shop --duration 10m --interval 30s --history-file ~/.cache/rightsize.jsonl
  kubectl perf rightsize -n shop --usage-source kubelet --duration 5m   the kubelets, without metrics-server
  kubectl perf rightsize -n shop --prometheus URL -o patch > rightsize.yaml

Usage comes from Prometheus (--prometheus: range queries over --history of
rate(container_cpu_usage_seconds_total) and container_memory_working_set_bytes, one
namespace and --prometheus-batch pods per query) or, without it, sampled for --duration every
--interval (with --history-file, kept across runs) from metrics.k8s.io or, with --usage-source
kubelet (auto: when metrics.k8s.io is not served), from the kubelets' /metrics/resource of the
nodes running the workloads' pods: CPU is the counter's rate between consecutive reads, so N
reads give N-1 CPU samples (basis: cpuSamples, memorySamples, cpuFrom).

Strategy: CPU request = the --cpu-percentile of usage (nearest rank), at least --cpu-min;
no CPU limit (or --cpu-limit-ratio x the request); memory request = limit = the peak
working set + --memory-buffer, at least --memory-min. Each workload's patched template is
judged by the padding policy's rules (those the admission webhook runs) against the live
nodes: a recommendation the webhook would deny is flagged and left out of -o patch.

exit status: 0 ok; 1 an error (the cluster or Prometheus could not be read);
2 bad flags, policy file or history file; 3 sampling read no usage at all (metrics.k8s.io
unavailable under --usage-source metrics-server or forbidden to this user, or not served and no
kubelet readable: nodes/NODE/proxy forbidden): every workload is insufficient data, with a note."""


# The longest span a duration flag takes: a year and a day (Prometheus keeps 15 days by default, a year is
# long retention). Sampling sleeps --interval and counts --duration / --interval reads: inf or 1e12 overflowed.
MAX_DURATION = 366 * 86400.0


def duration(text: str) -> float:
    """14d, 36h, 90m, 30s, or seconds: a span above 0 and at most 366d, in seconds."""
    units = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 14d, 12h, 30m or 45s") from None
    if not 0 < value <= MAX_DURATION:  # NaN too
        raise argparse.ArgumentTypeError(f"duration {text!r} must be above 0 and at most 366d")
    return value


def percentile(text: str) -> float:
    """95, p95 or 0.95: a fraction above 0, at most 1."""
    raw = text.lower().removeprefix("p")
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid percentile {text!r}: use e.g. 95 or p99") from None
    value = value / 100 if value > 1 else value
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"percentile {text!r} must be above 0 and at most 100")
    return value


def _quantity(what: str) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = parse_quantity(text)
        except QuantityError:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: use a quantity like 10m or 32Mi") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{what} {text!r} must not be negative")
        return value

    return convert


def ratio(text: str) -> float:
    try:
        value = float(text.removesuffix("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid ratio {text!r}: use e.g. 0.15 or 15%") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"ratio {text!r} must be between 0 and 10")
    return value


def header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"invalid header {text!r}: use 'Name: value'")
    return name.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kubectl perf rightsize",
        description="Requests and limits from observed usage, judged by the padding policy the admission webhook enforces.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_filter_flags(p)
    prom = p.add_argument_group("Prometheus")
    prom.add_argument("--prometheus", metavar="URL", help="read usage history from this Prometheus (else sample metrics.k8s.io)")
    prom.add_argument(
        "--prometheus-header",
        type=header,
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="an HTTP header for each query (repeatable)",
    )
    prom.add_argument("--prometheus-token-file", metavar="FILE", help="a file holding a bearer token for Prometheus")
    prom.add_argument("--prometheus-insecure-skip-tls-verify", action="store_true", help="do not check Prometheus's certificate")
    prom.add_argument("--history", type=duration, default=14 * 86400.0, metavar="DURATION", help="how far back to look (default 14d)")
    prom.add_argument(
        "--step", type=duration, default=300.0, metavar="DURATION", help="the range queries' step and rate window (default 5m)"
    )
    prom.add_argument("--prometheus-batch", type=positive_int, default=100, metavar="N", help="at most N pods per query (default 100)")
    prom.add_argument(
        "--prometheus-timeout", type=request_timeout, default=60.0, metavar="DURATION", help="wait this long for each query (default 60s)"
    )
    samp = p.add_argument_group("sampling (without --prometheus)")
    samp.add_argument("--duration", type=duration, default=300.0, metavar="DURATION", help="sample usage this long (default 5m)")
    samp.add_argument(
        "--interval",
        type=seconds,
        default=15.0,
        metavar="SECONDS",
        help="seconds between samples (default 15, metrics-server's resolution)",
    )
    samp.add_argument(
        "--usage-source",
        choices=SOURCES,
        metavar="{" + ",".join(SOURCES) + "}",
        help="what is sampled: metrics.k8s.io (metrics-server), the kubelets' /metrics/resource through nodes/NODE/proxy "
        "(only the nodes running the workloads' pods; CPU is a counter: N reads give N-1 CPU samples), or auto "
        "(default): metrics-server, the kubelets when metrics.k8s.io is not served",
    )
    samp.add_argument("--history-file", metavar="FILE", help="JSON lines of samples: read, then appended to, so runs build up history")
    strat = p.add_argument_group("strategy")
    strat.add_argument(
        "--cpu-percentile", type=percentile, default=0.95, metavar="P", help="CPU request at this percentile of usage (default 95)"
    )
    strat.add_argument(
        "--cpu-min", type=_quantity("CPU floor"), default=10 * MILLI, metavar="CPU", help="the least CPU request (default 10m)"
    )
    strat.add_argument(
        "--cpu-limit-ratio", type=ratio, metavar="RATIO", help="set a CPU limit of RATIO x the request (default: no CPU limit)"
    )
    strat.add_argument(
        "--memory-buffer", type=ratio, default=0.15, metavar="RATIO", help="memory above the peak working set (default 15%%)"
    )
    strat.add_argument(
        "--memory-min",
        type=_quantity("memory floor"),
        default=32 * MEBI,
        metavar="MEMORY",
        help="the least memory request and limit (default 32Mi)",
    )
    strat.add_argument(
        "--min-samples", type=positive_int, default=10, metavar="N", help="fewer samples than this is insufficient data (default 10)"
    )
    strat.add_argument(
        "--min-age",
        type=duration,
        metavar="DURATION",
        help="workloads younger than this are insufficient data (default: the history, --duration when sampling without a file)",
    )
    strat.add_argument("--allow-hpa", action="store_true", help="recommend for workloads an HPA scales on cpu or memory too")
    add_policy_flags(strat)
    p.add_argument("-o", "--output", choices=OUTPUTS, default="table", metavar="FORMAT", help=f"{', '.join(OUTPUTS)} (default table)")
    add_connection_flags(p)
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    check_filters(p, args)
    if args.prometheus:
        if not args.prometheus.startswith(("http://", "https://")):
            p.error(f"--prometheus {args.prometheus!r}: use an http:// or https:// URL")
        if args.history_file:
            p.error("--history-file keeps sampled history; with --prometheus the history is Prometheus's")
        if args.usage_source:
            p.error("--usage-source chooses what is sampled without --prometheus")
        if args.history / args.step > 11_000:
            p.error("--history / --step is more than 11,000 points per series, which Prometheus refuses: raise --step")
    elif args.prometheus_header or args.prometheus_token_file:
        p.error("--prometheus-header and --prometheus-token-file go with --prometheus")
    if args.cpu_limit_ratio is not None and args.cpu_limit_ratio < 1:
        p.error("--cpu-limit-ratio below 1 would set a CPU limit under the request")
    return args


@dataclass(frozen=True)
class PrometheusSource:
    url: str
    headers: tuple[tuple[str, str], ...]
    token_file: str | None
    insecure: bool
    step: float
    batch: int
    timeout: float | None


@dataclass(frozen=True)
class Sampling:
    duration: float
    interval: float
    history_file: str | None
    usage_source: str = AUTO  # --usage-source: usage.AUTO, METRICS_SERVER or KUBELET

    @property
    def rounds(self) -> int:
        """Reads of usage: one at the start, then one each interval to the end."""
        return math.floor(self.duration / self.interval + 1e-9) + 1  # 1 / 0.1 is 9.99...: not 9 rounds


@dataclass(frozen=True)
class RightsizeOptions:
    namespace: str | None
    selector: str | None
    chunk_size: int
    source: PrometheusSource | Sampling
    strategy: Strategy
    policy: Policy
    output: str
    connection: Connection


def options(args: argparse.Namespace) -> RightsizeOptions:
    """The parsed flags as data; nothing past this file sees `args`."""
    from ..cli import policy_from

    source: PrometheusSource | Sampling
    if args.prometheus:
        source = PrometheusSource(
            args.prometheus,
            tuple(args.prometheus_header),
            args.prometheus_token_file,
            args.prometheus_insecure_skip_tls_verify,
            args.step,
            args.prometheus_batch,
            args.prometheus_timeout,
        )
    else:
        source = Sampling(args.duration, args.interval, args.history_file, args.usage_source or AUTO)
    strategy = Strategy(
        args.cpu_percentile,
        args.cpu_min,
        args.cpu_limit_ratio,
        args.memory_buffer,
        args.memory_min,
        args.min_samples,
        args.history if args.prometheus else (args.duration if not args.history_file else args.history),
        args.allow_hpa,
        args.min_age,
    )
    return RightsizeOptions(
        args.namespace, args.selector, args.chunk_size, source, strategy, policy_from(args), args.output, connection(args)
    )
