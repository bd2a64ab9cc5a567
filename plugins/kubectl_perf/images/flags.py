"""Command-line flags of `kubectl perf images` (argparse only), ending in `options(args)`:
the typed, frozen ImagesOptions that everything past this file reads."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from ..api import Connection
from ..cli import Parser, add_connection_flags, add_filter_flags, add_output_flag, byte_size, check_filters, connection, count, seconds
from .compute import DEFAULT_MAX_IMAGES
from .pulls import go_duration

OUTPUTS = ("table", "wide", "json", "yaml", "csv", "tsv", "html", "imagecache")  # imagecache: a kube-fledged ImageCache
SORTS = ("size", "nodes", "pods", "waste")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

EPILOG = """\
examples:
  kubectl perf images                          images in use: sizes, nodes, pods, workloads, tag hygiene, distroless suggestions
  kubectl perf images --top 10 --sort waste    the ten images a distroless base would shrink most, over all nodes
  kubectl perf images -n shop --inspect        ... reading custom images' configs from their registries
  kubectl perf images -o imagecache --namespace-for-cache kube-fledged | kubectl apply -f -
  kubectl perf images -o html > images.html
  kubectl perf images --pulls --since 30m      pulls the kubelets reported in the last 30 minutes, per image and pool
  kubectl perf images --pulls -o wide          ... and each workload's start-up: scheduled, pulled, started, ready
  kubectl perf images --imagecache             what each kube-fledged ImageCache covers, misses, and holds for nothing

Distroless savings count the base image only: exact with --inspect when its layers are
found (savingBasis), else an estimate shown with ~. --inspect authenticates with the pods'
imagePullSecrets where you may read them, then $DOCKER_CONFIG (or ~/.docker)/config.json:
credHelpers, credsStore (docker-credential-<helper> get), auths.

Sizes are what each node's container runtime reports: containerd counts compressed
layers, CRI-O uncompressed ones. A node listing exactly --max-images images may hold
more than it lists (the kubelet's nodeStatusMaxImages).

exit status: 0 ok (notes about missing permissions or registries go to stderr);
1 error; 2 bad flags."""


def duration(text: str) -> float:
    """A window as kubectl writes one (30m, 2h, 1h30m, 90s); seconds above 0."""
    try:
        value = go_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 30m, 2h or 90s") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def cache_name(text: str) -> str:
    """NAME or NAMESPACE/NAME of an ImageCache; "" (the flag alone): every ImageCache."""
    if text == "":
        return text
    namespace, _, name = text.rpartition("/")
    if (namespace and not _NAME.match(namespace)) or not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", name) or len(name) > 253:
        raise argparse.ArgumentTypeError(f"invalid ImageCache {text!r}: NAME or NAMESPACE/NAME")
    return text


def label_key(text: str) -> str:
    if not _LABEL_KEY.match(text):
        raise argparse.ArgumentTypeError(f"invalid label key {text!r}")
    return text


def namespace_name(text: str) -> str:
    if not _NAME.match(text) or len(text) > 63:
        raise argparse.ArgumentTypeError(f"invalid namespace {text!r}: a DNS label such as kube-fledged")
    return text


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kubectl perf images",
        description="Images the cluster runs, joined with what nodes hold: sizes, tag hygiene, distroless suggestions and a pre-pull plan.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--top", type=count, default=25, metavar="N", help="images in the table and in each top list (default 25; 0: all)")
    p.add_argument("--sort", choices=SORTS, default="size", help="order images by size (default), nodes holding them, pods, or waste")
    p.add_argument(
        "--inspect",
        action="store_true",
        help="read custom images' configs and layers from their registries (OCI distribution API) to find their base and its size",
    )
    p.add_argument(
        "--registry-timeout", type=seconds, default=5.0, metavar="SECONDS", help="per registry request with --inspect (default 5)"
    )
    pulls = p.add_argument_group("measured pulls")
    pulls.add_argument(
        "--pulls",
        action="store_true",
        help="pulls as the kubelets measured them (Pulled events), per image and node pool; -o wide: per workload start-up",
    )
    pulls.add_argument(
        "--since",
        type=duration,
        metavar="DURATION",
        help="only pulls within this window, e.g. 30m or 2h (default: every event the API server keeps, 1h by default); "
        "without --pulls, the pulls that rank the pre-pull plan",
    )
    plan = p.add_argument_group("pre-pull plan")
    plan.add_argument(
        "--imagecache",
        nargs="?",
        const="",
        type=cache_name,
        metavar="NAME",
        help="coverage of kube-fledged ImageCaches (all; or NAME, NAMESPACE/NAME): images present on the nodes they select, "
        "in-use images they miss, images they hold that nothing runs",
    )
    plan.add_argument(
        "--min-size", type=byte_size, default=200_000_000, metavar="SIZE", help="pre-pull images at least this big (default 200MB)"
    )
    plan.add_argument(
        "--pool-label", type=label_key, metavar="KEY", help="node label naming the pool (default: the first well-known key nodes carry)"
    )
    plan.add_argument(
        "--namespace-for-cache",
        type=namespace_name,
        default="kube-fledged",
        metavar="NS",
        help="namespace of the ImageCache (default kube-fledged)",
    )
    plan.add_argument(
        "--max-images",
        type=count,
        default=DEFAULT_MAX_IMAGES,
        metavar="N",
        help=f"the kubelet's nodeStatusMaxImages: nodes list at most N images (default {DEFAULT_MAX_IMAGES}; 0: no cap)",
    )
    sel = add_filter_flags(p)
    sel.add_argument("--node-selector", metavar="SELECTOR", help="only nodes matching this label selector, and the pods on them")
    add_output_flag(p.add_argument_group("output"), OUTPUTS)
    add_connection_flags(p)
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    check_filters(p, args)
    return args


# -- the typed options ---------------------------------------------------------------
@dataclass(frozen=True)
class ImagesPlan:
    """The reads a run needs: nodes (by selector), HPAs and pods (by namespace and
    selector), and with --inspect the registries."""

    namespace: str | None = None
    selector: str | None = None
    node_selector: str | None = None
    chunk_size: int = 500
    inspect: bool = False
    registry_timeout: float = 5.0
    since: float | None = None  # seconds: the window of Pulled events; None: all the API server keeps
    startup: bool = False  # pod condition times for the start-up waterfall (--pulls)
    imagecache: str | None = None  # None: no coverage; "": every ImageCache; NAME or NAMESPACE/NAME


@dataclass(frozen=True)
class ImagesView:
    """How the report prints: the -o format (imagecache: a kube-fledged ImageCache), order and cut."""

    output: str = "table"
    sort: str = "size"
    top: int = 25  # 0: all
    namespace_for_cache: str = "kube-fledged"
    pulls: bool = False  # print the observed pulls (and, wide, the start-up waterfall)


@dataclass(frozen=True)
class ImagesOptions:
    plan: ImagesPlan
    view: ImagesView
    max_images: int  # the kubelet's nodeStatusMaxImages
    min_size: int  # pre-pull candidates: at least this big (bytes)
    pool_label: str | None  # None: the first well-known key nodes carry
    connection: Connection


def options(args: argparse.Namespace) -> ImagesOptions:
    """The parsed flags as data; nothing past this file sees `args`."""
    plan = ImagesPlan(
        args.namespace,
        args.selector,
        args.node_selector,
        args.chunk_size,
        args.inspect,
        args.registry_timeout,
        args.since,
        args.pulls,
        args.imagecache,
    )
    view = ImagesView(args.output, args.sort, args.top, args.namespace_for_cache, args.pulls)
    return ImagesOptions(plan, view, args.max_images, args.min_size, args.pool_label, connection(args))
