"""Command-line flags of `kubectl perf audit` (argparse only), ending in options(args): the one
typed AuditOptions a run reads. Nothing past this file sees the argparse namespace."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..api import Connection
from ..cli import (
    Parser,
    add_connection_flags,
    add_filter_flags,
    add_output_flag,
    add_policy_flags,
    add_usage_flags,
    byte_size,
    check_filters,
    connection,
    count,
    policy_from,
)
from ..image_sizes import human
from ..policy import Policy
from ..reports import REPORT_PER
from ..usage import UsageSource
from .cluster_checks import DEFAULT_PROXY_THRESHOLD
from .compute import Settings
from .image_checks import DEFAULT_IMAGE_SIZE_THRESHOLD
from .rules import CHECKS, THRESHOLDS

OUTPUTS = ("table", "wide", "json", "yaml", "policyreport", "html")
FAIL_ON = ("fail", "warn", "none")  # the lowest result that makes the exit status 1; none: never

EPILOG = (
    """\
examples:
  kubectl perf audit                          failing and warning results, grouped by category
  kubectl perf audit --show-pass -o wide      ... with passes, and the properties of each result
  kubectl perf audit -o policyreport          wgpolicyk8s.io PolicyReports (a List) for kubectl apply
  kubectl perf audit --apply                  write the reports into the cluster (server-side apply)
  kubectl perf audit --policy policy.yaml --fail-on warn
  kubectl perf audit --apply --fail-on none   on a schedule: exit 0 whatever it finds (the chart's CronJob)
  kubectl perf audit --image-size-threshold 1GB   image-size: warn only past 1 GB as nodes report it
  kubectl perf audit -n shop                  one namespace's workloads (node and cluster checks skip)
  kubectl perf audit -l team=payments -A      workloads and pods with this label, every namespace
  helm template my-release ./chart | kubectl perf audit -f -      manifests before they are applied (CI)
  kubectl perf audit -f k8s/ --nodes-file nodes.json --fail-on warn   ... padding against a saved node list

rules: """
    + ", ".join(c.id for c in CHECKS)
    + """

exit status: 0 the audit ran and found nothing at or above --fail-on (always, with --fail-on none);
1 findings at or above --fail-on (fail or error results; with --fail-on warn, warnings too);
2 bad flags, policy file or -f/--nodes-file input; 3 the audit could not run (cluster unreachable, a read it needs refused)
or --apply could not write the reports."""
)


def rule_list(text: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    ids = [c.id for c in CHECKS]
    unknown = sorted(names - set(ids))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown rule {unknown[0]!r} (rules: {', '.join(ids)})")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kubectl perf audit",
        description="Audit what already runs against the suite's policy and the cluster-level checks; report as PolicyReports.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_policy_flags(p, padding=False)
    add_usage_flags(p)  # node-padding's memory in use
    p.add_argument(
        "--disable", type=rule_list, default=frozenset(), metavar="RULES", help="rules to skip, comma-separated (adds to audit.disable)"
    )
    p.add_argument(
        "--proxy-threshold",
        type=count,
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
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="fail",
        help="exit 1 on fail (and error) results (default), on warnings too, or never (none: for schedules; 3 still says it could not run)",
    )
    p.add_argument(
        "--apply", action="store_true", help="write the PolicyReports into the cluster (server-side apply) and delete stale ones"
    )
    out = p.add_argument_group("output")
    add_output_flag(out, OUTPUTS)
    out.add_argument("--show-pass", action="store_true", help="list passing results too (the reports always carry them)")
    out.add_argument(
        "--report-per",
        choices=REPORT_PER,
        default="namespace",
        help="-o policyreport and --apply: one PolicyReport per namespace (default), or per resource with scope the "
        "resource, as Kyverno 1.10+",
    )
    src = p.add_argument_group("manifests (judged before they are applied; no cluster needed)")
    src.add_argument(
        "-f",
        "--filename",
        action="append",
        default=[],
        metavar="FILE|DIR|-",
        help="judge these manifests instead of what runs: a file, a directory (.yaml/.yml/.json, recursively) or - for stdin; repeatable",
    )
    src.add_argument(
        "--nodes-file",
        metavar="FILE",
        help="with -f: judge padding against these nodes (`kubectl get nodes -o json` output, JSON or YAML) "
        "instead of the cluster's; without either, padding and image-size skip",
    )
    sel = add_filter_flags(p)  # -n/-A/-l/--chunk-size as the other plugins
    sel.description = (
        "-n/-l narrow the audit to workloads and pods (-l: by their own labels, as kubectl get -l); "
        "node and cluster checks judge the whole cluster and skip with the reason"
    )
    add_connection_flags(p)
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    check_filters(p, args)  # -n with -A refused; the context's namespace is -n's default, as kubectl
    if args.apply and args.selector:
        p.error("--apply with -l/--selector would replace the reports with a part of them: apply without -l")
    if args.filename:
        if args.apply:
            p.error("-f judges manifests, not what runs: print the reports with -o policyreport instead of --apply")
        if args.selector:
            p.error("-l selects what runs in the cluster; with -f, pass only the manifests to judge")
        if args.filename.count("-") > 1:
            p.error("-f - (stdin) can be given once")
    elif args.nodes_file:
        p.error("--nodes-file goes with -f: a live audit judges the cluster's own nodes")
    return args


@dataclass(frozen=True)
class Selection:
    """-n/-l: the part of the cluster judged. None/"" is everything; a narrowed scope judges workloads
    only, since the node and cluster checks need every pod and cluster-scoped reads."""

    namespace: str | None = None
    selector: str = ""

    @property
    def narrowed(self) -> str:
        """Why the node and cluster checks are not made ("" when the whole cluster is judged)."""
        given = [f"-n {self.namespace}" if self.namespace else "", f"-l {self.selector}" if self.selector else ""]
        flags = " ".join(g for g in given if g)
        return f"not judged under {flags}: node and cluster checks need the whole cluster (run without -n/-l)" if flags else ""


@dataclass(frozen=True)
class AuditOptions:
    """One run of the audit, as the flags and the policy file say."""

    connection: Connection
    policy: Policy
    settings: Settings  # which checks run, their thresholds, whether passes are listed; settings.reads is the fetch plan
    output: str  # one of OUTPUTS
    fail_on: str  # one of FAIL_ON: the lowest result that makes the exit status 1 (none: never)
    apply: bool  # write the reports into the cluster
    chunk_size: int  # pods per list page
    scope: Selection = Selection()  # -n/-l: which workloads and pods are judged
    manifests: tuple[str, ...] = ()  # -f: judge these files instead of what runs
    nodes_file: str | None = None  # --nodes-file: the nodes padding is judged against with -f
    report_per: str = "namespace"  # one of reports.REPORT_PER
    usage: UsageSource = UsageSource()  # --usage-source, --usage-window: node-padding's memory in use


# flag -> the policy key under `audit:` it overrides
THRESHOLD_FLAGS = {"proxy_threshold": "proxyThreshold", "image_size_threshold": "imageSizeThreshold"}


def size_from_policy(value: object) -> int:
    """A number among the policy file's audit keys: an integer, or a size with a unit ("800MB"; the schema checked its form)."""
    return value if isinstance(value, int) else byte_size(str(value))


def options(args: argparse.Namespace) -> AuditOptions:
    """The run the flags ask for; reads the policy file (a PolicyError is the caller's to report)."""
    policy = policy_from(args)
    own = policy.audit  # the policy file's audit keys; flags add to them or override them
    thresholds = dict(THRESHOLDS)
    thresholds.update({k: size_from_policy(own[k]) for k in THRESHOLDS if k in own})  # the schema allows a unit on sizes only
    thresholds.update({key: getattr(args, flag) for flag, key in THRESHOLD_FLAGS.items() if getattr(args, flag) is not None})
    scope = Selection(args.namespace or None, args.selector or "")
    settings = Settings(
        disabled=frozenset(args.disable) | frozenset(own.get("disable") or ()),
        show_pass=args.show_pass,
        thresholds=thresholds,
        out_of_scope=MANIFESTS_ONLY if args.filename else scope.narrowed,
    )
    return AuditOptions(
        connection(args),
        policy,
        settings,
        args.output,
        args.fail_on,
        args.apply,
        args.chunk_size,
        scope,
        tuple(args.filename),
        args.nodes_file,
        args.report_per,
        UsageSource(args.usage_source, args.usage_window),
    )


MANIFESTS_ONLY = "not judged with -f: node and cluster checks judge a running cluster, not manifests"
