"""Command-line flags of `kubectl perf audit` (argparse only)."""

from __future__ import annotations

import argparse

from ..cli import Parser, add_connection_flags, add_output_flag, byte_size, positive_int
from ..image_sizes import human
from .cluster_checks import DEFAULT_PROXY_THRESHOLD
from .image_checks import DEFAULT_IMAGE_SIZE_THRESHOLD
from .rules import RULES

OUTPUTS = ("table", "wide", "json", "yaml", "policyreport", "html")

EPILOG = (
    """\
examples:
  kubectl perf audit                          failing and warning results, grouped by category
  kubectl perf audit --show-pass -o wide      ... with passes, and the properties of each result
  kubectl perf audit -o policyreport          wgpolicyk8s.io PolicyReports (a List) for kubectl apply
  kubectl perf audit --apply                  write the reports into the cluster (server-side apply)
  kubectl perf audit --policy policy.yaml --fail-on warn
  kubectl perf audit --image-size-threshold 1GB   image-size: warn only past 1 GB as nodes report it

rules: """
    + ", ".join(RULES)
    + """

exit status: 0 nothing failed; 1 a fail result (with --fail-on warn, a warning too), or an error;
2 bad flags or policy file."""
)


def non_negative_int(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def rule_list(text: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(names - set(RULES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown rule {unknown[0]!r} (rules: {', '.join(RULES)})")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kubectl perf audit",
        description="Audit what already runs against the suite's policy and the cluster-level checks; report as PolicyReports.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--policy", metavar="FILE", help="policy file shared with the admission webhook and capacity")
    p.add_argument(
        "--disable", type=rule_list, default=frozenset(), metavar="RULES", help="rules to skip, comma-separated (adds to audit.disable)"
    )
    p.add_argument(
        "--proxy-threshold",
        type=non_negative_int,
        metavar="N",
        help=f"warn for kube-proxy in iptables mode past N Services (default {DEFAULT_PROXY_THRESHOLD}, or the policy's audit.proxyThreshold)",
    )
    p.add_argument(
        "--image-size-threshold",
        type=byte_size,
        metavar="SIZE",
        help=f"image-size: warn for images past SIZE as node runtimes report them, e.g. 800MB, 1Gi "
        f"(default {human(DEFAULT_IMAGE_SIZE_THRESHOLD)}, or the policy's audit.imageSizeThreshold)",
    )
    p.add_argument("--fail-on", choices=("fail", "warn"), default="fail", help="exit 1 on fail results (default), or on warnings too")
    p.add_argument(
        "--apply", action="store_true", help="write the PolicyReports into the cluster (server-side apply) and delete stale ones"
    )
    out = p.add_argument_group("output")
    add_output_flag(out, OUTPUTS)
    out.add_argument("--show-pass", action="store_true", help="list passing results too")
    out.add_argument("--chunk-size", type=positive_int, default=500, metavar="N", help="list pods N at a time (default 500, as kubectl)")
    add_connection_flags(p)
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)
