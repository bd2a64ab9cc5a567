"""Command-line flags of `kubectl perf capacity`, kube-capacity's and kubectl's where they overlap."""

from __future__ import annotations

import argparse
import dataclasses
import re
from typing import TYPE_CHECKING, Any

from ..cli import (
    FlagError,
    Parser,
    add_connection_flags,
    add_filter_flags,
    add_output_flag,
    add_policy_flags,
    add_usage_flags,
    check_filters,
    connection,
    label_selector,
    policy_from,
    positive_int,
)
from ..contexts import add_context_lists, several
from ..usage import UsageSource
from .options import (
    COUNT,
    STORAGE,
    AllNamespaces,
    ByAmount,
    ByBreach,
    ByName,
    ByPods,
    CapacityOptions,
    Containers,
    Display,
    GroupBy,
    Groups,
    Namespace,
    NodeFilter,
    Nodes,
    Part,
    Plan,
    PodFilter,
    Pods,
    SortKey,
    TaintFilter,
    View,
    needs_pod_rows,
)

if TYPE_CHECKING:
    from .fit_shape import FitAsk, FitResources

# fit_shape (the --fit* parsing) is imported where a --fit flag is given, not at start-up: every
# capacity run imports this module, few ask for headroom.


def __getattr__(name: str) -> Any:
    """WORKLOAD_KINDS and WORKLOAD_SHORT (--fit-workload's KIND spellings) for completion.py."""
    if name in ("WORKLOAD_KINDS", "WORKLOAD_SHORT"):
        from . import fit_shape

        return getattr(fit_shape, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


SINGLE_CLUSTER_OUTPUTS = ("csv", "tsv", "html")  # one table or page per cluster: refused with several contexts
PARTS = tuple(p.value for p in Part)  # requests, limits, util, allocatable, slack
# What --sort offers shell completion (any shown resource works; these are the common ones).
SORT_KEYS = ("breach", "name", "pods", *(f"{r}.{p}{pct}" for r in ("cpu", "memory") for p in PARTS for pct in ("", ".percent")))
_RESOURCE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")

EPILOG = """\
examples:
  kubectl perf capacity                      requests and limits per node, cluster total first
  kubectl perf capacity --util               ... with live usage from metrics-server
  kubectl perf capacity --util --usage-source kubelet   ... from the kubelets, two samples 15s apart
  kubectl perf capacity --pods -n shop       per pod, one namespace
  kubectl perf capacity --by label:team      roll-up by a pod label
  kubectl perf capacity --by node-label:topology.kubernetes.io/zone   roll-up of nodes by zone, with padding
  kubectl perf capacity --resources cpu,memory,nvidia.com/gpu,pods -L topology.kubernetes.io/zone
  kubectl perf capacity --sort memory.util.percent --fail-on-breach
  kubectl perf capacity --util --sort breach --top 20   triage: breaching nodes first
  kubectl perf capacity --util --only-breaching --pods  only the breaching nodes and their pods
  kubectl perf capacity -o html > capacity.html
  kubectl perf capacity --fit cpu=500m,memory=1Gi   how many more such pods fit per node and pool, within padding
  kubectl perf capacity --fit-workload deploy/web -n shop   ... of a workload's pod template
  kubectl perf capacity --context prod-eu,prod-us -o json   several clusters, a "cluster" on every row

exit status: 0 ok; 1 error, or a padding breach with --fail-on-breach (memory in use over a
node's target; overcommitted limits only under the policy's padding.limits: breach); 2 bad flags;
3 --util, --fail-on-breach, --sort breach or --only-breaching asked for usage the cluster cannot
give (metrics-server absent and no kubelet readable through nodes/NODE/proxy, or --usage-source
metrics-server); 4 with --context a,b or --all-contexts, some context could not be read (the
others are shown; a breach under --fail-on-breach is still 1, and no cluster read at all is 1).
--fit: 0 (whatever fits), 1 error (a --fit-workload that is not there), 2 bad flags or shape."""


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
    p.add_argument("--util", "-u", action="store_true", help="add live usage (metrics.k8s.io, or the kubelets: --usage-source)")
    add_usage_flags(p)
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
    p.add_argument(
        "--fail-on-breach",
        action="store_true",
        help="exit 1 when some node's padding verdict is a breach: memory in use over its target (committed limits too with the policy's padding.limits: breach); reads node metrics",
    )
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
        + " (e.g. memory.util, cpu.requests.percent); breach: breaching nodes first, then overcommitted, then by memory usage %%"
        " (reads node metrics)",
    )
    out.add_argument(
        "--only-breaching",
        action="store_true",
        help="only the nodes that breach their padding target, their pods and the node groups holding them; "
        "the cluster row still sums every node (reads node metrics)",
    )
    out.add_argument(
        "--top", type=positive_int, metavar="N", help="only the first N nodes (and groups) in sort order; the cluster row sums them all"
    )
    fit = p.add_argument_group("headroom (one of)").add_mutually_exclusive_group()
    fit.add_argument(
        "--fit",
        type=fit_type,
        metavar="RESOURCE=QTY[,...]",
        help="how many more pods requesting these fit per node, pool and cluster, and how many within padding (e.g. cpu=500m,memory=1Gi)",
    )
    fit.add_argument("--fit-pod", metavar="FILE", help="... of the pod in FILE (a Pod or a workload's template; - reads stdin)")
    fit.add_argument(
        "--fit-workload", metavar="KIND/NAME", help="... of a workload's pod template in the cluster (deploy/web; -n its namespace)"
    )
    add_connection_flags(p)
    add_context_lists(p)  # --context a,b and --all-contexts: a section per cluster (several.py)
    return p


def fit_type(text: str) -> FitResources:
    from .fit_shape import ShapeError, parse_fit

    try:
        return parse_fit(text)
    except ShapeError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# Flags that shape the rows --fit replaces, or filter the pods it weighs whole: refused with --fit.
FIT_CONFLICTS = (
    ("pods", "--pods"),
    ("containers", "--containers"),
    ("by", "--by"),
    ("selector", "-l"),
    ("namespace_labels", "--namespace-labels"),
    ("sort", "--sort"),
    ("only_breaching", "--only-breaching"),
    ("top", "--top"),
    ("available", "--available"),
    ("hide_requests", "--hide-requests"),
    ("hide_limits", "--hide-limits"),
    ("pod_count", "--pod-count"),
    ("show_labels", "--show-labels"),
    ("label_columns", "-L"),
    ("fail_on_breach", "--fail-on-breach"),
)


def fit_flag(args: argparse.Namespace) -> str | None:
    """The --fit flag given, if any."""
    return "--fit" if args.fit else "--fit-pod" if args.fit_pod else "--fit-workload" if args.fit_workload else None


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, every flag checked (argparse's one-line errors, exit 2)."""
    p = build_parser()
    args = p.parse_args(argv)
    if several(args.context, args.all_contexts) is not None and not args.namespace:
        args.all_namespaces = True  # each context's own namespace would choose differently per cluster: -n names one
    check_filters(p, args)
    if args.context and args.all_contexts:
        p.error("--context and --all-contexts cannot be used together")
    if several(args.context, args.all_contexts) is not None and args.output in SINGLE_CLUSTER_OUTPUTS:
        p.error(f"-o {args.output} shows one cluster: with several contexts use table, wide, json or yaml (or kubectl perf report)")
    if args.hide_requests and args.hide_limits and not args.util:
        p.error("--hide-requests with --hide-limits leaves no columns to show: add --util")
    given = fit_flag(args)
    if given:
        clash = [flag for dest, flag in FIT_CONFLICTS if getattr(args, dest)]
        clash += ["--resources"] if args.resources != ("cpu", "memory") else []
        if clash:
            p.error(f"{given} shows headroom per node and pool, weighing every pod: it does not take {', '.join(clash)}")
        if args.fit_workload:
            from .fit_shape import ShapeError, parse_workload

            try:  # a bad KIND/NAME fails here, before anything is read
                parse_workload(args.fit_workload, "default")
            except ShapeError as err:
                p.error(str(err))
    if args.only_breaching and args.by is not None and not args.by.on_nodes:
        p.error("--only-breaching keeps what breaches a padding target: nodes and node groups (--by node-label:KEY), not groups of pods")
    if args.sort:
        try:  # a bad --sort fails here, before anything is read
            sort_key(args.sort, resources_of(args), args.util)
        except SortError as err:
            p.error(str(err))
    return args


def resources_of(args: argparse.Namespace) -> tuple[str, ...]:
    """--resources, with --pod-count's `pods` added."""
    resources: tuple[str, ...] = args.resources
    return (*resources, COUNT) if args.pod_count and COUNT not in resources else resources


# kube-capacity's --sort spellings -> ours
SORT_ALIASES = {"pod.count": "pods", "mem": "memory", "request": "requests", "limit": "limits"}


class SortError(Exception):
    """A --sort key that names no shown column."""


def sort_key(key: str, resources: tuple[str, ...], util: bool) -> SortKey:
    """--sort as a typed key; kube-capacity's spellings are accepted."""
    key = key.replace(".percentage", ".percent")
    key = SORT_ALIASES.get(key, key)
    if key == "breach":
        return ByBreach()
    if key == "name":
        return ByName()
    if key == "pods":
        return ByPods()
    head, _, rest = key.partition(".")
    parts = rest.split(".")
    if head == "mem" and "mem" not in resources:
        head = "memory"
    if parts and parts[0] in ("request", "limit"):
        parts[0] = SORT_ALIASES[parts[0]]
    key = ".".join([head, *parts]) if rest else key
    for resource in sorted(resources, key=len, reverse=True):
        if key.startswith(resource + "."):
            part = key[len(resource) + 1 :]
            base = part.removesuffix(".percent")
            if base not in PARTS:
                break
            if base in ("util", "slack") and not util:
                raise SortError(f"--sort {key} needs --util")
            return ByAmount(resource, Part(base), part.endswith(".percent"))
    raise SortError(
        f"cannot sort by {key!r}: use breach, name, pods, or RESOURCE.PART[.percent] for a shown resource "
        f"({', '.join(resources)}) and PART one of {', '.join(PARTS)}"
    )


def view_of(args: argparse.Namespace) -> View:
    depth = Containers() if args.containers else Pods() if args.pods else Nodes()
    return Groups(args.by, depth) if args.by is not None else depth


# Flags that need the nodes themselves: refused, not silently dropped, when nodes cannot be listed.
NODE_FLAGS = (
    ("node_selector", "--node-selector"),
    ("node_taints", "--node-taints"),
    ("no_taint", "--no-taint"),
    ("schedulable_only", "--schedulable-only"),
    ("label_columns", "-L"),
    ("show_labels", "--show-labels"),
    ("available", "--available"),
    ("fail_on_breach", "--fail-on-breach"),
    ("only_breaching", "--only-breaching"),
)


def options(args: argparse.Namespace) -> CapacityOptions:
    """The run the command line asks for, as typed data: nothing past this file sees `args`.
    Reads the policy file (its errors are PolicyError, exit 2)."""
    resources = resources_of(args)
    view = view_of(args)
    pods = PodFilter(Namespace(args.namespace) if args.namespace else AllNamespaces(), args.selector, args.namespace_labels)
    by: GroupBy | None = args.by
    label_columns = tuple(k.strip() for arg in args.label_columns for k in arg.split(",") if k.strip())
    given = {**vars(args), "label_columns": label_columns}
    need_nodes = tuple(flag for dest, flag in NODE_FLAGS if given[dest])
    sort = sort_key(args.sort, resources, args.util) if args.sort else None  # parse() checked it
    if isinstance(sort, ByBreach):
        need_nodes = (*need_nodes, "--sort breach")
    # the padding verdict decides what these keep and how they order: usage over target is the breach
    judged = args.fail_on_breach or args.only_breaching or isinstance(sort, ByBreach)
    if by is not None and by.on_nodes:
        need_nodes = (*need_nodes, "--by node-label")
    if fit_flag(args):
        need_nodes = (*need_nodes, str(fit_flag(args)))
    contexts = several(args.context, args.all_contexts)
    conn = connection(args)
    return CapacityOptions(
        connection=conn if contexts is None else dataclasses.replace(conn, context=None),  # each cluster gets its own
        policy=policy_from(args),
        view=view,
        util=args.util,
        nodes=NodeFilter(args.node_selector, tuple(args.node_taints or ()), args.no_taint, args.schedulable_only),
        pods=pods,
        chunk_size=args.chunk_size,
        display=Display(
            output=args.output,
            resources=resources,
            hide_requests=args.hide_requests,
            hide_limits=args.hide_limits,
            available=args.available,
            label_columns=label_columns,
            show_labels=args.show_labels,
            sort=sort,
            only_breaching=args.only_breaching,
            top=args.top,
        ),
        fail_on_breach=args.fail_on_breach,
        usage=UsageSource(args.usage_source, args.usage_window),
        need_nodes=need_nodes,
        fit=fit_ask(args),
        plan=Plan(
            node_usage=args.util
            or judged
            or fit_flag(args) is not None,  # usage over target is the breach (padding.judge); --fit weighs usage where metrics exist
            pod_usage=args.util and (needs_pod_rows(view) or pods.filtered),
            storage=args.util and STORAGE in resources,
            whole_nodes=pods.filtered,
            namespaces=bool(args.namespace_labels),
        ),
        contexts=contexts,
    )


def fit_ask(args: argparse.Namespace) -> FitAsk | None:
    """--fit, --fit-pod (the file read here: its errors are one line, exit 2) or --fit-workload (its
    namespace -n's, the context's, or default)."""
    if args.fit:
        fit: FitResources = args.fit
        return fit
    if args.fit_workload:
        from .fit_shape import parse_workload

        return parse_workload(args.fit_workload, args.namespace or "default")
    if not args.fit_pod:
        return None
    import sys
    from pathlib import Path

    import yaml

    from .fit_shape import ShapeError, spec_from_documents

    source = "stdin" if args.fit_pod == "-" else args.fit_pod
    try:
        text = sys.stdin.read() if args.fit_pod == "-" else Path(args.fit_pod).read_text(encoding="utf-8")
        documents = list(yaml.safe_load_all(text))
    except OSError as err:
        raise ShapeError(f"cannot read --fit-pod {source}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ShapeError(f"cannot read --fit-pod {source}: not UTF-8 text") from None
    except yaml.YAMLError as err:
        raise ShapeError(f"--fit-pod {source} is not YAML: {str(err).splitlines()[0]}") from None
    return spec_from_documents(documents, source)


# Resources every node has or a pod may request without a node advertising them.
KNOWN_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")


def check_resources(resources: tuple[str, ...], nodes: list[dict[str, Any]]) -> None:
    """--resources names a resource the cluster knows: a standard one or one a node advertises
    (nvidia.com/gpu, hugepages-2Mi); `mem` is a typo, not an empty column. The one check of a
    flag that needs the nodes read, so it runs once they are."""
    advertised = sorted({r for n in nodes for r in ((n.get("status") or {}).get("allocatable") or {})} - set(KNOWN_RESOURCES))
    unknown = [r for r in resources if r not in KNOWN_RESOURCES and r not in advertised and not r.startswith("hugepages-")]
    if unknown:
        raise FlagError(f"unknown resource {unknown[0]!r} in --resources: use {', '.join([*KNOWN_RESOURCES, *advertised])}")
