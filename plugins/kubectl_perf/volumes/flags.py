"""Command-line flags of `kubectl perf volumes` (argparse only), ending in `options(args)`:
the typed, frozen VolumesOptions that everything past this file reads."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api import Connection
from ..cli import Parser, add_connection_flags, add_filter_flags, add_output_flag, add_policy_flags, check_filters, connection, fraction
from ..cli import policy_from as read_policy
from ..padding import share
from ..policy_file import PolicyError
from .compute import SORTS, StoragePolicy, Thresholds

OUTPUTS = ("table", "wide", "json", "yaml", "csv", "tsv", "html")
FAIL_ON = ("none", "warn", "crit")
DEFAULT_WARN, DEFAULT_CRIT = 0.75, 0.90
_CLASS = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

EPILOG = """\
examples:
  kubectl perf volumes                          every PVC and emptyDir pods mount, pods' ephemeral storage,
                                                each node's nodefs/imagefs, and claims nothing mounts
  kubectl perf volumes -n shop --sort available the least room first, one namespace
  kubectl perf volumes --storage-class fast --warn 70% --crit 85%
  kubectl perf volumes --fail-on crit           exit 1 when a volume or node filesystem is critical
  kubectl perf volumes -o html > volumes.html

Used and available bytes and inodes come from each kubelet's /stats/summary through the API
server's node proxy (get on nodes/proxy), 16 nodes at a time; eviction thresholds from its
/configz where readable, else the kubelet's defaults (said so).

exit status: 0 ok (notes about unreadable nodes or missing permissions go to stderr);
1 error, or with --fail-on a volume or node filesystem at or above that level; 2 bad flags."""


def storage_class(text: str) -> str:
    if not _CLASS.match(text) or len(text) > 253:
        raise argparse.ArgumentTypeError(f"invalid StorageClass name {text!r}: a DNS subdomain such as gp3 or fast-ssd")
    return text


threshold = fraction("threshold", DEFAULT_WARN)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kubectl perf volumes",
        description="df for a cluster's volumes: PVCs, emptyDirs and pods' ephemeral storage, node filesystems "
        "against the kubelet's eviction thresholds, and claims no pod mounts.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--sort", choices=SORTS, default="used%", help="fullest first (used%%, the default; inodes%%), or least room first (available)"
    )
    p.add_argument(
        "--warn",
        type=threshold,
        metavar="FRACTION",
        help=f"warn at this share used, bytes or inodes (default {DEFAULT_WARN * 100:.0f}%%, or the policy file's storage.warn)",
    )
    p.add_argument(
        "--crit",
        type=threshold,
        metavar="FRACTION",
        help=f"critical at this share (default {DEFAULT_CRIT * 100:.0f}%%, or the policy file's storage.crit)",
    )
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="none",
        help="exit 1 when a volume or node filesystem is at or above this level (default none)",
    )
    add_policy_flags(p, padding=False)
    sel = add_filter_flags(p)
    sel.add_argument("--storage-class", type=storage_class, metavar="NAME", help="only claims (and volumes) of this StorageClass")
    add_output_flag(p.add_argument_group("output"), OUTPUTS)
    add_connection_flags(p)
    return p


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    check_filters(p, args)
    if args.warn is not None and args.crit is not None and args.warn > args.crit:
        p.error(f"--warn ({args.warn:g}) must not be above --crit ({args.crit:g})")
    return args


# -- the typed options ---------------------------------------------------------------
@dataclass(frozen=True)
class VolumesPlan:
    """The reads a run needs: pods (by namespace and selector), claims (by namespace), volumes
    and classes, then the nodes hosting the pods (all nodes when nothing narrows the pods)."""

    namespace: str | None = None
    selector: str | None = None
    chunk_size: int = 500

    @property
    def narrowed(self) -> bool:
        return bool(self.namespace or self.selector)


@dataclass(frozen=True)
class VolumesOptions:
    plan: VolumesPlan
    policy: StoragePolicy
    sort: str
    storage_class: str | None
    fail_on: str  # none | warn | crit
    output: str
    connection: Connection


Given = tuple[float, str]  # a threshold and where it came from: "--warn", "storage.crit", "" (the default)


def _origin(given: Given) -> str:
    return {"": "the default", "--warn": "from --warn", "--crit": "from --crit"}.get(given[1], f"the policy file's {given[1]}")


def _share(where: str, value: Any) -> float:
    """A threshold of the file, 0.75 or "75%", read by the suite's one reader (padding.share)."""
    try:
        return share(value, "threshold")
    except ValueError as err:
        raise PolicyError(f"{where}: {err}") from None


def _level(flag: float | None, name: str, section: Mapping[str, Any], default: float, source: str) -> Given:
    if flag is not None:
        return flag, f"--{name}"
    if name in section:
        return _share(f"{source}: storage.{name}", section[name]), f"storage.{name}"
    return default, ""


def _in_order(source: str, where: str, warn: Given, crit: Given) -> None:
    """Refuse warn above crit at `where` (storage, or one of its classes): a level given there is
    shown bare, one it takes from elsewhere (the default, the file's storage level) says so."""
    if warn[0] > crit[0]:
        own = f"{where}."
        wtext = f"{warn[0]:g}" if warn[1].startswith(own) else f"{warn[0]:g}, {_origin(warn)}"
        ctext = f"{crit[0]:g}" if crit[1].startswith(own) else f"{crit[0]:g}, {_origin(crit)}"
        raise PolicyError(f"{source}: {where}: warn ({wtext}) must not be above crit ({ctext})")


def storage_policy(section: Any, warn: float | None, crit: float | None, source: str = "policy") -> StoragePolicy:
    """The policy file's storage section (schema-checked) with --warn/--crit over its warn/crit;
    per-StorageClass values stay the file's (a flag sets the default, as --padding-target does).
    Thresholds are fractions or percentages (0.75, "75%"); warn above crit is refused in words
    that name where each came from, the flag when one did; the file's own errors start with its
    path (`source`), as the schema's do (policy_file.parse_policy)."""
    section = dict(section or {})
    w, c = _level(warn, "warn", section, DEFAULT_WARN, source), _level(crit, "crit", section, DEFAULT_CRIT, source)
    if w[0] > c[0]:
        if w[1] == "--warn":  # (both flags: parse refused them already)
            raise PolicyError(f"--warn ({w[0]:g}) must not be above the critical share ({c[0]:g}, {_origin(c)}): give --crit too")
        if c[1] == "--crit":
            raise PolicyError(f"--crit ({c[0]:g}) must not be below the warning share ({w[0]:g}, {_origin(w)}): give --warn too")
    _in_order(source, "storage", w, c)
    classes = {}
    for name, given in (section.get("storageClasses") or {}).items():
        where = f"storage.storageClasses.{name}"
        cw = (_share(f"{source}: {where}.warn", given["warn"]), f"{where}.warn") if "warn" in given else w
        cc = (_share(f"{source}: {where}.crit", given["crit"]), f"{where}.crit") if "crit" in given else c
        _in_order(source, where, cw, cc)
        classes[name] = Thresholds(cw[0], cc[0])
    return StoragePolicy(Thresholds(w[0], c[0]), classes)


def options(args: argparse.Namespace) -> VolumesOptions:
    """The parsed flags as data; nothing past this file sees `args`. Reads the policy file
    (its errors: PolicyError, exit 2, before any request)."""
    policy = storage_policy(read_policy(args).storage if args.policy else None, args.warn, args.crit, args.policy or "policy")
    plan = VolumesPlan(args.namespace, args.selector, args.chunk_size)
    return VolumesOptions(plan, policy, args.sort, args.storage_class, args.fail_on, args.output, connection(args))
