"""Command-line flags of `kubectl perf cadvisor` (argparse only), ending in `options(args)`:
the typed, frozen CadvisorOptions that everything past this file reads."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from ..api import Connection
from ..cli import (
    Parser,
    add_connection_flags,
    add_filter_flags,
    add_policy_flags,
    check_filters,
    connection,
    fraction,
    policy_from,
    positive_int,
    seconds,
)
from ..policy import Policy
from ..render import FORMATS
from .compute import Filters, Thresholds

DUMP_OUTPUTS = ("text", "json", "jsonl")
SUMMARY_OUTPUTS = FORMATS
ENDPOINTS = ("cadvisor", "resource", "summary")

EPILOG = """\
examples:
  kubectl perf cadvisor NODE                          the node's cAdvisor dump, streamed unchanged
  kubectl perf cadvisor NODE --metric 'cpu_cfs' -n shop --drop-pod-cgroups
  kubectl perf cadvisor NODE -o jsonl                 one JSON object per sample
  kubectl perf cadvisor --summary --all-nodes --sort throttling --top 20
  kubectl perf cadvisor --summary --all-nodes --once --only-breaching --sort breach
  kubectl perf cadvisor --summary -n shop -l app=web  the nodes that host these pods
  kubectl perf cadvisor --summary -f before.txt -f after.txt --pods-file pods.json
  kubectl get --raw /api/v1/nodes/NODE/proxy/metrics/cadvisor | kubectl perf cadvisor --summary --once -f -

The summary needs two scrapes for rates (--interval apart, default 10s); --once
reads one and gives averages since each container started.

Dump files are taken in the order of their samples' timestamps; labels of kubelets before
1.16 (container_name, pod_name) are read too.

exit status: 0 ok; 1 an error, or some node could not be read (the report is still
printed); 2 bad flags or input files (unreadable, no cAdvisor container series, or
the same scrape twice)."""


def regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as err:
        raise argparse.ArgumentTypeError(f"invalid regular expression {text!r}: {err}") from None


threshold = fraction("threshold", 0.25, zero=True)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kubectl perf cadvisor",
        description="The kubelet's cAdvisor metrics of one node or many: the dump, or a summary of CPU throttling "
        "and memory against limits per container.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("nodes", nargs="*", metavar="NODE", help="node names (or use --all-nodes, --node-selector, -n/-l, -f)")
    src = p.add_argument_group("nodes and files")
    src.add_argument("--all-nodes", action="store_true", help="every node in the cluster")
    src.add_argument("--node-selector", metavar="SELECTOR", help="nodes matching this label selector")
    src.add_argument("-f", "--filename", action="append", default=[], metavar="DUMP", help="a dump saved earlier (repeatable; - for stdin)")
    src.add_argument(
        "--pods-file",
        metavar="FILE",
        help="`kubectl get pods -o json` (or -o yaml) output: requests, limits, nodes and restarts for -f dumps",
    )
    src.add_argument(
        "--endpoint",
        choices=ENDPOINTS,
        default="cadvisor",
        help="cadvisor (default), resource (/metrics/resource) or summary (/stats/summary)",
    )
    src.add_argument("--concurrency", type=positive_int, default=8, metavar="N", help="read at most N nodes at a time (default 8)")
    # -n/-l also choose the nodes (those hosting the pods) when none is named
    flt = add_filter_flags(p)
    flt.add_argument("--metric", type=regex, metavar="REGEX", help="dump: only metrics whose name matches")
    flt.add_argument("--pod", type=regex, metavar="REGEX", help="only pods whose name matches")
    flt.add_argument("--container", type=regex, metavar="REGEX", help="only containers whose name matches")
    flt.add_argument("--drop-pod-cgroups", action="store_true", help='dump: leave out the pod-level rows (container="" and "POD")')
    summ = p.add_argument_group("summary")
    summ.add_argument("--summary", action="store_true", help="one row per container instead of the dump")
    summ.add_argument("--interval", type=seconds, default=10.0, metavar="SECONDS", help="seconds between the two scrapes (default 10)")
    summ.add_argument("--once", action="store_true", help="one scrape: averages since each container started")
    summ.add_argument(
        "--throttle-threshold", type=threshold, default=0.25, metavar="RATIO", help="flag throttling above this (default 25%%)"
    )
    summ.add_argument(
        "--memory-threshold",
        type=threshold,
        default=0.90,
        metavar="RATIO",
        help="flag working sets above this share of the limit (default 90%%)",
    )
    summ.add_argument(
        "--pressure-threshold",
        type=threshold,
        default=0.10,
        metavar="RATIO",
        help="PSI: a share of the interval some task waited (CPU, memory) that counts as pressure in the CONTENTION column (default 10%%)",
    )
    summ.add_argument(
        "--sort",
        choices=("throttling", "memory", "cpu", "pressure", "breach"),
        help="largest first (pressure: the largest PSI 'some' share); breach: nodes whose padding verdict is a breach first, "
        "then overcommitted, then by working set/allocatable",
    )
    summ.add_argument(
        "--only-breaching",
        action="store_true",
        help="only nodes whose padding verdict is a breach, and the containers on them (live nodes only)",
    )
    summ.add_argument("--top", type=positive_int, metavar="N", help="only the first N rows")
    summ.add_argument("--pod-rows", action="store_true", help="add a row per pod (its cgroup: all its containers and the sandbox)")
    add_policy_flags(summ)
    p.add_argument(
        "-o",
        "--output",
        metavar="FORMAT",
        help="dump: text (default), json, jsonl; summary: table (default), wide, json, yaml, csv, tsv, html",
    )
    add_connection_flags(p)
    return p


def summary_flags_given(p: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The flags of the summary group given a value other than their default (--summary itself aside)."""
    group = next(g for g in p._action_groups if g.title == "summary")
    return [max(a.option_strings, key=len) for a in group._group_actions if a.dest != "summary" and getattr(args, a.dest) != a.default]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    check_filters(p, args)
    if args.summary:
        args.output = args.output or "table"
        if args.output not in SUMMARY_OUTPUTS:
            p.error(f"--summary prints {', '.join(SUMMARY_OUTPUTS)}; not {args.output!r}")
    else:
        args.output = args.output or "text"
        given = summary_flags_given(p, args)
        if given:  # silently ignored before: the dump prints the kubelet's text as it is
            p.error(f"{', '.join(given)} {'goes' if len(given) == 1 else 'go'} with --summary")
        if args.output not in DUMP_OUTPUTS:
            p.error(f"the dump prints {', '.join(DUMP_OUTPUTS)} (use --summary for {args.output!r})")
        if args.endpoint == "summary" and args.output != "text":
            p.error("the /stats/summary dump is JSON already: drop -o, or add --summary")
    if args.filename:
        if args.nodes[1:] or args.all_nodes or args.node_selector:
            p.error("-f reads dumps of one node: name at most one NODE (its name in the report), without --all-nodes or --node-selector")
        if args.filename.count("-") > 1:
            p.error("stdin (-f -) can be read only once")
        if not args.summary and args.filename[1:]:
            p.error("the dump reads one -f file at a time")
    elif not (args.nodes or args.all_nodes or args.node_selector or args.namespace or args.selector):
        p.error("name a NODE, or use --all-nodes, --node-selector, -n/-l (the nodes hosting those pods), or -f DUMP")
    if args.only_breaching and args.filename:
        p.error("--only-breaching needs live nodes: a dump file carries no allocatable memory, so no padding verdict")
    if args.pods_file and not args.filename:
        p.error("--pods-file goes with -f (live nodes read their pods from the cluster)")
    return args


# -- the typed options ---------------------------------------------------------------
@dataclass(frozen=True)
class LiveNodes:
    """The plan of reads for live nodes: which nodes, and which pods choose or describe them."""

    names: tuple[str, ...] = ()  # named nodes, in order, without repeats; () when chosen otherwise
    all_nodes: bool = False
    node_selector: str | None = None
    namespace: str | None = None  # -n: pods that choose the nodes (and the rows)
    selector: str | None = None  # -l: likewise
    chunk_size: int = 500
    concurrency: int = 8

    @property
    def by_pods(self) -> bool:
        """-n/-l: the running pods they match are read first, and choose the nodes when none is named."""
        return bool(self.namespace or self.selector)


@dataclass(frozen=True)
class DumpFiles:
    """-f: dumps saved earlier (one node's), read in order; `-` is stdin."""

    paths: tuple[str, ...]
    node: str | None = None  # the NODE named with -f: its name in the report
    pods_file: str | None = None  # --pods-file: requests and limits for the summary

    @property
    def name(self) -> str:
        """The node's name in the summary: the one named, else the first file's stem."""
        if self.node is not None:
            return self.node
        return Path(self.paths[0]).stem if self.paths[0] != "-" else "-"


@dataclass(frozen=True)
class Dump:
    """The dump itself: text passed through (filtered), or its samples as json/jsonl."""

    output: str  # text, json, jsonl


@dataclass(frozen=True)
class Summary:
    """One row per container: CPU throttling and memory against limits."""

    output: str  # a render.FORMATS name
    once: bool = False  # one scrape: averages since each container started
    interval: float = 10.0  # seconds between the two scrapes
    thresholds: Thresholds = Thresholds()
    sort: str | None = None
    top: int | None = None
    policy: Policy = Policy()  # padding targets per node pool (--policy, --padding-target)
    only_breaching: bool = False  # only nodes whose padding verdict is a breach, and their containers


@dataclass(frozen=True)
class CadvisorOptions:
    source: LiveNodes | DumpFiles
    report: Dump | Summary
    endpoint: str  # cadvisor, resource or summary
    filters: Filters
    connection: Connection

    @property
    def rounds(self) -> int:
        """Scrapes per node: two for rates, one with --once or /stats/summary (rates ready-made)."""
        once = isinstance(self.report, Summary) and self.report.once
        return 1 if once or self.endpoint == "summary" else 2


def options(args: argparse.Namespace) -> CadvisorOptions:
    """The parsed flags as data; nothing past this file sees `args`."""
    source: LiveNodes | DumpFiles
    if args.filename:
        source = DumpFiles(tuple(args.filename), args.nodes[0] if args.nodes else None, args.pods_file)
    else:
        source = LiveNodes(
            tuple(dict.fromkeys(args.nodes)),
            args.all_nodes,
            args.node_selector,
            args.namespace,
            args.selector,
            args.chunk_size,
            args.concurrency,
        )
    report: Dump | Summary
    if args.summary:
        thresholds = Thresholds(args.throttle_threshold, args.memory_threshold, args.pod_rows, args.pressure_threshold)
        report = Summary(
            args.output, args.once, args.interval, thresholds, args.sort, args.top, policy_from(args), only_breaching=args.only_breaching
        )
    else:
        report = Dump(args.output)
    filters = Filters(args.metric, args.namespace, args.pod, args.container, args.drop_pod_cgroups)
    return CadvisorOptions(source, report, args.endpoint, filters, connection(args))
