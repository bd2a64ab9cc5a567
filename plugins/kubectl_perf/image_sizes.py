"""Image sizes as nodes report them, joined to the references pods write, and the
distroless suggestion for one image. Pure: used by images/ and audit/ alike.

Each node's `status.images` lists what its container runtime holds (the kubelet
keeps the largest `nodeStatusMaxImages`, 50 by default), each image under its names:
`repo@sha256:...` and `repo:tag`. A reference a pod writes is matched by its
normalised name, then by its digest, then by the imageID its container status
reports. Runtimes count differently (containerd compressed, CRI-O uncompressed):
an image's size is the one most nodes holding it report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import imageref


def human(size: int | None) -> str:
    """Decimal units, as registries and `docker images` print sizes."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1000
    return f"{size} B"


def runtime_name(node_info: Mapping[str, Any]) -> str:
    """containerd://1.7.23 -> containerd; cri-o://1.31.1 -> cri-o."""
    version = str(node_info.get("containerRuntimeVersion") or "")
    return version.split("://", 1)[0] if "://" in version else version or "unknown"


def compressed(runtime: str) -> bool:
    """containerd (and docker through cri-dockerd) report compressed sizes; CRI-O uncompressed."""
    return runtime != "cri-o"


@dataclass
class Listing:
    """One image as nodes list it, under one canonical name."""

    sizes: dict[str, int] = field(default_factory=dict)  # runtime -> largest size it reported
    nodes: set[int] = field(default_factory=set)  # indices of the nodes listing it, in the order they were added


@dataclass(frozen=True)
class Measured:
    """What nodes tell of one image in use."""

    size: int | None  # None: no node lists it
    runtime: str  # whose count `size` is
    sizes: dict[str, int]  # runtime -> largest size it reported
    holding: set[int]  # nodes listing it
    listed_as: tuple[str, ...]  # the canonical names of the listings matched


class NodeImages:
    """Node `status.images` folded by canonical name (the digest form when a node gives one)."""

    def __init__(self) -> None:
        self.listings: dict[str, Listing] = {}
        self.aliases: dict[str, set[str]] = {}  # any normalised name a node lists -> canonical names
        self.runtimes: list[str] = []  # per node index
        self.cached_bytes = 0  # every listed image on every node, in use or not: what node disks hold
        self._norm: dict[str, str] = {}
        self._canonical: dict[tuple[str, ...], str] = {}  # names as a node lists them -> canonical name (aliases recorded)
        self._measured: dict[tuple[str, ...], Measured] = {}  # by the listings matched: many workloads share an image

    def normalise(self, name: str) -> str:
        """imageref.normalise, remembered: a few hundred names recur over every node and pod."""
        known = self._norm.get(name)
        if known is None:
            known = self._norm[name] = imageref.normalise(name)
        return known

    def add_node(self, runtime: str, images: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
        """Fold one node's status.images (the node's index is the count added before it).
        Returns (images listed, the smallest listed size)."""
        k = len(self.runtimes)
        self.runtimes.append(runtime)
        self._measured.clear()
        listed = smallest = 0
        for image in images:
            listed += 1
            size = int(image.get("sizeBytes") or 0)
            self.cached_bytes += size
            smallest = size if not smallest else min(smallest, size)
            raw = tuple(image.get("names") or ())
            if not raw:
                continue
            canonical = self._canonical.get(raw)
            if canonical is None:  # first seen: thousands of nodes list the same few hundred images
                names = [self.normalise(n) for n in raw]
                canonical = self._canonical[raw] = next((n for n in names if "@" in n), names[0])
                for n in names:
                    self.aliases.setdefault(n, set()).add(canonical)
            listing = self.listings.get(canonical)
            if listing is None:
                listing = self.listings[canonical] = Listing()
            if size > listing.sizes.get(runtime, -1):
                listing.sizes[runtime] = size
            listing.nodes.add(k)
        return listed, smallest

    def listed(self, ref_text: str, ref: imageref.ImageRef | None, image_ids: Iterable[str] = ()) -> list[tuple[str, Listing]]:
        """The listings a reference (normalised) names: by name, by its digest, or by the imageIDs its pods run."""
        canon = set(self.aliases.get(ref_text, ()))
        if not canon and ref is not None and ref.digest and ref.by_digest in self.aliases:
            canon = set(self.aliases[ref.by_digest])
        if not canon:
            for image_id in image_ids:
                canon |= self.aliases.get(image_id, set())
        return [(c, self.listings[c]) for c in sorted(canon)]

    def measure(self, named: list[tuple[str, Listing]]) -> Measured:
        key = tuple(c for c, _l in named)
        known = self._measured.get(key)
        if known is None:
            known = self._measured[key] = self._measure(named)
        return known

    def _measure(self, named: list[tuple[str, Listing]]) -> Measured:
        holding: set[int] = set()
        sizes: dict[str, int] = {}
        for _canonical, listing in named:
            holding |= listing.nodes
            for runtime, reported in listing.sizes.items():
                sizes[runtime] = max(reported, sizes.get(runtime, 0))
        # Runtimes disagree (compressed or not): the size most nodes holding it report.
        counts = Counter(self.runtimes[k] for k in holding)
        runtime = max(sizes, key=lambda r: (counts[r], sizes[r])) if sizes else ""
        return Measured(sizes[runtime] if sizes else None, runtime, sizes, holding, tuple(c for c, _l in named))


def status_image_ids(status: Mapping[str, Any]) -> dict[str, str]:
    """Container name -> the digest reference its runtime reports running (status imageID)."""
    out = {}
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for s in status.get(key) or ():
            image_id = str(s.get("imageID") or "").removeprefix("docker-pullable://")
            if "@" in image_id:
                out[str(s.get("name") or "")] = image_id
    return out


Hint = Callable[[], tuple["imageref.Suggestion | None", str]]


def suggest(ref: imageref.ImageRef | None, size: int | None, runtime: str, hint: Hint | None = None) -> tuple[dict[str, Any] | None, str]:
    """A distroless base for an image, from its name, else from `hint` (e.g. its registry
    config), with the bytes it would save per node. Returns (suggestion or None, what was detected)."""
    found: imageref.Suggestion | None = None
    detected = ""
    if ref is not None:
        if imageref.is_lean(ref):
            return None, ""
        if size is not None and size < imageref.SMALL_BASE:
            return None, "alpine-sized: under 10 MB"
        found = imageref.suggest_for_name(ref)
        if found:
            detected = "name"
    if found is None and hint is not None:
        found, detected = hint()
    if found is None:
        return None, detected
    saving = None
    if size is not None:
        saving = max(0, size - found.estimated_size(compressed(runtime)))
        if saving == 0:
            return None, f"{detected}: already about the size of {found.image}"
    why = found.why if detected == "name" else f"{found.why} (detected from {detected})"
    return {"base": found.base, "image": found.image, "savingBytes": saving, "why": why}, detected
