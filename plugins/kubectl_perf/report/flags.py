"""Command-line flags of `kubectl perf report`, ending in options(args): the typed ReportOptions.

Each section's options are the plugin's own, built by the plugin's own flags module from the
command line that plugin would be given (`capacity --util`, `audit`, `images`, `cadvisor --summary
--all-nodes`): one source of truth for every default, and nothing past this file sees argparse."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cli import MAX_WAIT, Parser, add_connection_flags, add_policy_flags, connection, positive_int
from ..contexts import add_context_lists, several
from ..images.flags import label_key
from .choice import DEFAULT_NODES

if TYPE_CHECKING:
    from ..api import Connection
    from ..audit.flags import AuditOptions
    from ..cadvisor.flags import CadvisorOptions
    from ..capacity.options import CapacityOptions
    from ..images.flags import ImagesOptions

OUTPUTS = ("html", "json")
SECTIONS = ("capacity", "audit", "images", "cadvisor")  # in the page's order
DEFAULT_INTERVAL = 10.0  # seconds between cAdvisor's two scrapes
# The cAdvisor section's own flags, with their defaults: given while --sections leaves it out, they are
# said to do nothing (a run that asks for 64 kubelets and scrapes none should not pass in silence).
CADVISOR_FLAGS = (("--cadvisor-interval", "cadvisor_interval", DEFAULT_INTERVAL), ("--cadvisor-nodes", "cadvisor_nodes", DEFAULT_NODES))

EPILOG = """\
examples:
  kubectl perf report > cluster.html                 one self-contained page for the cluster
  kubectl perf report --out report/                  report/index.html and one page per section
  kubectl perf report -o json                        one object per section
  kubectl perf report --cadvisor-interval 0          one cAdvisor scrape (since-start figures), no 10 s wait
  kubectl perf report --sections capacity,audit,images   no cAdvisor scrapes
  kubectl perf report --cadvisor-nodes all           scrape every kubelet (default: the 16 most likely to throttle)
  kubectl perf report --context prod-eu,prod-us      a section per cluster, read 4 at a time
  kubectl perf report --all-contexts --out fleet/

Sections: capacity by pool (--util, rolled up by --pool-label), audit, images, cAdvisor;
a section whose data cannot be read is a line saying why. Nodes and pods are listed
once per cluster and shared by the sections.

exit status: 0 the report was written (sections that could not be read say so in it);
1 an error, or no cluster could be read; 2 bad flags or policy file; 4 some context
could not be read (the others are in the report)."""


def interval(text: str) -> float:
    """--cadvisor-interval: seconds between the two scrapes; 0 makes one scrape."""
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}: use seconds, e.g. 10 or 0 (one scrape)") from None
    if not 0 <= value <= MAX_WAIT:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 (one scrape) or more, at most {MAX_WAIT:g} (a day)")
    return value


def node_count(text: str) -> int | None:
    """--cadvisor-nodes: a number of nodes, or all (None)."""
    if text == "all":
        return None
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"invalid node count {text!r}: use a number of nodes, e.g. 16, or all") from None


def section_list(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown section {unknown[0] if unknown else text!r}: use {', '.join(SECTIONS)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kubectl perf report",
        description="One report for the whole cluster (or several): capacity by pool, audit, images and cAdvisor, "
        "behind a first screen of numbers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    out = p.add_argument_group("output")
    out.add_argument("-o", "--output", choices=OUTPUTS, default="html", help="html (default): one self-contained page; or json")
    out.add_argument("--out", metavar="DIR", help="write DIR/index.html and one page per section (and per cluster) instead of stdout")
    what = p.add_argument_group("sections")
    what.add_argument(
        "--pool-label",
        type=label_key,  # images' own check of a label key: the pool label means the same to both
        metavar="KEY",
        help="node label naming the pool (default: the first well-known key nodes carry, else the instance type)",
    )
    what.add_argument(
        "--cadvisor-interval",
        type=interval,
        default=argparse.SUPPRESS,  # absent unless given: parse() tells given from default
        metavar="SECONDS",
        help=f"seconds between cAdvisor's two scrapes (default {DEFAULT_INTERVAL:g}); 0: one scrape, averages since each container started",
    )
    what.add_argument(
        "--cadvisor-nodes",
        type=node_count,
        default=argparse.SUPPRESS,
        metavar="N|all",
        help=f"scrape N kubelets for the cAdvisor section (default {DEFAULT_NODES}): nodes in padding breach first, then "
        "those running CPU-limited containers, busiest by CPU first; all: every node",
    )
    what.add_argument(
        "--sections",
        type=section_list,
        default=SECTIONS,
        metavar="LIST",
        help=f"the sections to make, comma-separated (default {','.join(SECTIONS)}); e.g. leave out cadvisor, "
        "whose kubelet scrapes (--cadvisor-nodes) are the report's slowest reads",
    )
    what.add_argument("--top", type=positive_int, default=10, metavar="N", help="rows in each section's top lists (default 10)")
    add_policy_flags(what)
    add_connection_flags(p)
    add_context_lists(p)
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    if args.out and args.output == "json":
        p.error("--out writes html pages: leave out -o json, or print the json to stdout without --out")
    if args.context and args.all_contexts:
        p.error("--context and --all-contexts cannot be used together")
    given = [flag for flag, dest, _default in CADVISOR_FLAGS if hasattr(args, dest)]
    for _flag, dest, default in CADVISOR_FLAGS:
        if not hasattr(args, dest):
            setattr(args, dest, default)
    if given and "cadvisor" not in args.sections:
        from ..render import note

        note(f"note: {' and '.join(given)} {'has' if len(given) == 1 else 'have'} no effect: --sections leaves out cadvisor")
    return args


@dataclass(frozen=True)
class ReportOptions:
    connection: Connection
    contexts: tuple[str, ...] | None  # several clusters (("*",): every context); None: the one connection
    output: str
    out_dir: str | None
    top: int
    sections: tuple[str, ...]
    capacity: CapacityOptions
    audit: AuditOptions
    images: ImagesOptions
    cadvisor: CadvisorOptions
    cadvisor_nodes: int | None = DEFAULT_NODES  # kubelets the cAdvisor section scrapes; None: all

    def for_context(self, conn: Connection) -> ReportOptions:
        """The same run against another cluster."""
        return dataclasses.replace(
            self,
            connection=conn,
            capacity=dataclasses.replace(self.capacity, connection=conn),
            audit=dataclasses.replace(self.audit, connection=conn),
            images=dataclasses.replace(self.images, connection=conn),
            cadvisor=dataclasses.replace(self.cadvisor, connection=conn),
        )


def options(args: argparse.Namespace) -> ReportOptions:
    """The run the flags ask for; each section's options from its plugin's own flags (reads the policy file)."""
    from ..audit import flags as audit_flags
    from ..cadvisor import flags as cadvisor_flags
    from ..capacity import flags as capacity_flags
    from ..images import flags as images_flags

    contexts = several(args.context, args.all_contexts)
    conn = connection(args)
    if contexts is not None:
        conn = dataclasses.replace(conn, context=None)  # each cluster gets its own (contexts.read_each)
    policy = [*(["--policy", args.policy] if args.policy else [])]
    padding = [*(["--padding-target", str(args.padding_target)] if args.padding_target is not None else [])]
    everywhere = ["-A"]  # the whole cluster: not the context's namespace
    capacity = capacity_flags.options(capacity_flags.parse([*everywhere, "--util", *policy, *padding]))
    audit = audit_flags.options(audit_flags.parse([*everywhere, *policy]))
    images = images_flags.options(
        images_flags.parse([*everywhere, "--top", str(args.top), *(["--pool-label", args.pool_label] if args.pool_label else [])])
    )
    scrapes = ["--once"] if args.cadvisor_interval == 0 else ["--interval", str(args.cadvisor_interval)]
    cadvisor = cadvisor_flags.options(
        cadvisor_flags.parse(
            [
                *everywhere,
                "--summary",
                "--all-nodes",
                "--concurrency",
                "16",
                "--sort",
                "throttling",
                "--top",
                str(args.top),
                *scrapes,
                *policy,
                *padding,
            ]
        )
    )
    if args.pool_label:
        from ..capacity.options import GroupBy, Groups

        capacity = dataclasses.replace(capacity, view=Groups(GroupBy(args.pool_label, on_nodes=True)))
    made = ReportOptions(
        conn, contexts, args.output, args.out, args.top, args.sections, capacity, audit, images, cadvisor, args.cadvisor_nodes
    )
    return made.for_context(conn)
