"""Command-line flags of `kubectl perf capacity`, kube-capacity's and kubectl's where they overlap."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..cli import Parser, add_connection_flags, add_filter_flags, add_output_flag, add_policy_flags, check_filters, label_selector
from ..scheduling import tolerates
from .compute import Detail, GroupBy

PARTS = ("requests", "limits", "util", "allocatable", "slack")
# What --sort offers shell completion (any shown resource works; these are the common ones).
SORT_KEYS = ("name", "pods", *(f"{r}.{p}{pct}" for r in ("cpu", "memory") for p in PARTS for pct in ("", ".percent")))
_RESOURCE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")

EPILOG = """\
examples:
  kubectl perf capacity                      requests and limits per node, cluster total first
  kubectl perf capacity --util               ... with live usage from metrics-server
  kubectl perf capacity --pods -n shop       per pod, one namespace
  kubectl perf capacity --by label:team      roll-up by a pod label
  kubectl perf capacity --by node-label:topology.kubernetes.io/zone   roll-up of nodes by zone, with padding
  kubectl perf capacity --resources cpu,memory,nvidia.com/gpu,pods -L topology.kubernetes.io/zone
  kubectl perf capacity --sort memory.util.percent --fail-on-breach
  kubectl perf capacity -o html > capacity.html

exit status: 0 ok; 1 error, or a padding breach with --fail-on-breach; 2 bad flags;
3 --util asked for usage the cluster cannot give (metrics-server absent)."""


@dataclass(frozen=True)
class TaintFilter:
    """One --node-taints term: nodes carrying (or, with exclude, not carrying) a taint."""

    key: str
    value: str | None  # None: any value
    effect: str | None  # None: any effect
    exclude: bool

    def on(self, taints: Sequence[Mapping[str, Any]]) -> bool:
        # A term matches a taint exactly when the same toleration would tolerate it.
        toleration = {"key": self.key, "operator": "Exists" if self.value is None else "Equal", "value": self.value, "effect": self.effect}
        return any(tolerates(toleration, t) for t in taints)


def parse_taints(text: str) -> list[TaintFilter]:
    """kube-capacity's --node-taints: key=value:Effect, key:Effect or key; a trailing '-' or a leading '!' excludes."""
    out = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        exclude = term.endswith("-")
        term = term.rstrip("-")
        key_value, _, effect = term.partition(":")
        key, eq, value = key_value.partition("=")
        if term.startswith("!"):  # kube-capacity's other spelling of an exclusion
            exclude, term = True, term[1:]
            key_value, _, effect = term.partition(":")
            key, eq, value = key_value.partition("=")
        if not key or (effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute")):
            raise argparse.ArgumentTypeError(f"invalid taint {term!r}: use key=value:Effect, key:Effect or key (a trailing '-' excludes)")
        out.append(TaintFilter(key, value if eq else None, effect or None, exclude))
    return out


def parse_resources(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if not _RESOURCE.match(n)]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"invalid resource name {bad[0] if bad else text!r}")
    return names


def parse_by(text: str) -> GroupBy:
    if text == "namespace":
        return GroupBy()
    if text.startswith("label:") and len(text) > 6:
        return GroupBy(text[len("label:") :])
    if text.startswith("node-label:") and len(text) > len("node-label:"):
        return GroupBy(text[len("node-label:") :], on_nodes=True)
    raise argparse.ArgumentTypeError(
        f"invalid --by {text!r}: use namespace, label:KEY (a pod label, e.g. label:team) or node-label:KEY "
        "(e.g. node-label:topology.kubernetes.io/zone)"
    )


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kubectl perf capacity",
        description="Requests, limits and live usage against node allocatable and memory padding targets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--util", "-u", action="store_true", help="add live usage from metrics.k8s.io")
    p.add_argument("--pods", "-p", action="store_true", help="one row per pod under each node")
    p.add_argument("--containers", "-c", action="store_true", help="one row per container under each node (with --pods too)")
    p.add_argument(
        "--by",
        type=parse_by,
        metavar="namespace|label:KEY|node-label:KEY",
        help="roll pods up by namespace or by a pod label, or nodes by a node label (pool, zone, instance type)",
    )
    p.add_argument(
        "--resources",
        type=parse_resources,
        default=("cpu", "memory"),
        metavar="LIST",
        help="resources to show (default cpu,memory); e.g. cpu,memory,ephemeral-storage,nvidia.com/gpu,pods",
    )
    add_policy_flags(p)
    p.add_argument("--fail-on-breach", action="store_true", help="exit 1 when any node breaches its padding target")
    sel = add_filter_flags(p)
    sel.add_argument(
        "--node-selector", "--node-labels", dest="node_selector", type=label_selector, metavar="SELECTOR", help="node label selector"
    )
    sel.add_argument(
        "--namespace-labels", type=label_selector, metavar="SELECTOR", help="only pods in namespaces matching this label selector"
    )
    sel.add_argument(
        "-t", "--node-taints", type=parse_taints, metavar="TAINTS", help="only nodes with these taints (key=value:Effect); key- excludes"
    )
    sel.add_argument("--no-taint", action="store_true", help="only nodes without taints")
    sel.add_argument("--schedulable-only", action="store_true", help="leave out NotReady and cordoned (SchedulingDisabled) nodes")
    out = p.add_argument_group("output")
    add_output_flag(out)
    out.add_argument("--available", "-a", action="store_true", help="node cells show what is left of allocatable: AVAILABLE/ALLOCATABLE")
    out.add_argument("--hide-requests", action="store_true", help="leave out the REQUESTS columns")
    out.add_argument("--hide-limits", action="store_true", help="leave out the LIMITS columns")
    out.add_argument("--pod-count", action="store_true", help="add a PODS column (same as adding 'pods' to --resources)")
    out.add_argument("--show-labels", action="store_true", help="add a LABELS column with each node's labels, as kubectl get")
    out.add_argument(
        "-L",
        "--label-columns",
        action="append",
        default=[],
        metavar="KEY[,KEY]",
        help="add node label columns, e.g. -L topology.kubernetes.io/zone",
    )
    out.add_argument(
        "--sort",
        metavar="COLUMN",
        help="sort by a column: name, pods, or RESOURCE.PART[.percent] with PART one of "
        + ", ".join(PARTS)
        + " (e.g. memory.util, cpu.requests.percent)",
    )
    add_connection_flags(p)
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    check_filters(p, args)
    if args.hide_requests and args.hide_limits and not args.util:
        p.error("--hide-requests with --hide-limits leaves no columns to show: add --util")
    args.detail = Detail.CONTAINERS if args.containers else Detail.PODS if args.pods else Detail.NODES
    args.label_columns = [k.strip() for arg in args.label_columns for k in arg.split(",") if k.strip()]
    if args.pod_count and "pods" not in args.resources:
        args.resources = (*args.resources, "pods")
    if args.sort:
        args.sort = normalise_sort(p, args.sort, args)
    return args


# kube-capacity's --sort spellings -> ours
SORT_ALIASES = {"pod.count": "pods", "mem": "memory", "request": "requests", "limit": "limits"}


def normalise_sort(p: argparse.ArgumentParser, key: str, args: argparse.Namespace) -> str:
    key = key.replace(".percentage", ".percent")
    key = SORT_ALIASES.get(key, key)
    if key in ("name", "pods"):
        return key
    head, _, rest = key.partition(".")
    parts = rest.split(".")
    if head == "mem" and "mem" not in args.resources:
        head = "memory"
    if parts and parts[0] in ("request", "limit"):
        parts[0] = SORT_ALIASES[parts[0]]
    key = ".".join([head, *parts]) if rest else key
    for resource in sorted(args.resources, key=len, reverse=True):
        if key.startswith(resource + "."):
            part = key[len(resource) + 1 :]
            base = part.removesuffix(".percent")
            if base not in PARTS:
                break
            if base in ("util", "slack") and not args.util:
                p.error(f"--sort {key} needs --util")
            return f"{resource}.{part}"
    p.error(
        f"cannot sort by {key!r}: use name, pods, or RESOURCE.PART[.percent] for a shown resource "
        f"({', '.join(args.resources)}) and PART one of {', '.join(PARTS)}"
    )
