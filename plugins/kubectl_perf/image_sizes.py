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

import re
from collections import Counter
from collections.abc import Iterable, Mapping
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
        self._by_names: dict[tuple[str, ...], Listing] = {}  # names as a node lists them -> their listing (aliases recorded)
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
        listed = smallest = cached = 0
        # A node lists ~50 images and thousands of nodes list the same few hundred, under the same names:
        # the listing is found by those names as given, without normalising them again (_by_names).
        by_names = self._by_names
        for image in images:
            listed += 1
            size = int(image.get("sizeBytes") or 0)
            cached += size
            if not smallest or size < smallest:
                smallest = size
            raw = image.get("names")
            if not raw:
                continue
            raw = tuple(raw)
            listing = by_names.get(raw)
            if listing is None:
                listing = by_names[raw] = self._listing(raw)
            if size > listing.sizes.get(runtime, -1):
                listing.sizes[runtime] = size
            listing.nodes.add(k)
        self.cached_bytes += cached
        return listed, smallest

    def _listing(self, raw: tuple[str, ...]) -> Listing:
        """The listing of an image first seen under these names (the digest form is its canonical name)."""
        names = [self.normalise(n) for n in raw]
        canonical = next((n for n in names if "@" in n), names[0])
        for n in names:
            self.aliases.setdefault(n, set()).add(canonical)
        listing = self.listings.get(canonical)
        if listing is None:
            listing = self.listings[canonical] = Listing()
        return listing

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


@dataclass(frozen=True)
class Inspected:
    """What --inspect read of one image: its config and its manifest's layers (digest, compressed bytes)."""

    config: Mapping[str, Any]
    layers: tuple[tuple[str, int], ...]

    @property
    def layer_bytes(self) -> int:
        return sum(size for _digest, size in self.layers)


@dataclass(frozen=True)
class BaseSplit:
    """An image's layers cut into its base's (the FROM image) and the application's own."""

    base_layers: int
    base_bytes: int  # compressed, as the registry lists them
    app_bytes: int
    basis: str  # known-base-table, base-label, inspected-history
    base_image: str  # the base when known (python:3.12-slim), else ""


# Families whose product is a native binary: static or cc fit them even over an alpine base.
COMPILED = ("golang",)
# The env var each official image's Dockerfile sets before installing its runtime: the base's own layers follow it.
_MARKERS = {
    "python": "PYTHON_VERSION",
    "node": "NODE_VERSION",
    "java": "JAVA_VERSION",
    "golang": "GOLANG_VERSION",
    "nginx": "NGINX_VERSION",
    "httpd": "HTTPD_VERSION",
}
_START = ("CMD", "ENTRYPOINT")


def _instruction(created_by: str) -> str:
    """The Dockerfile instruction of a history entry: buildkit writes `CMD [...]`, `RUN ... # buildkit`;
    the classic builder `/bin/sh -c #(nop)  CMD [...]` and `/bin/sh -c apt-get ...` for RUN."""
    text = created_by.strip()
    if text.startswith("/bin/sh -c #(nop)"):
        text = text.removeprefix("/bin/sh -c #(nop)").strip()
    elif text.startswith("/bin/sh -c"):
        return "RUN"
    return text.split(" ", 1)[0].upper()


def history_base_layers(config: Mapping[str, Any], layer_count: int, family: str) -> int | None:
    """How many of the image's layers its base made, read from the config's history: an official
    base ends with the CMD/ENTRYPOINT that follows its runtime's version (PYTHON_VERSION=...; for
    an OS base, the first CMD). None when the history is absent, squashed, or says no such thing."""
    history = [h for h in config.get("history") or () if isinstance(h, dict)]
    makes = [not h.get("empty_layer") for h in history]
    if not history or sum(makes) != layer_count:
        return None  # stripped or rewritten history: its entries cannot be matched to layers
    kinds = [_instruction(str(h.get("created_by") or "")) for h in history]
    start = 0
    marker = _MARKERS.get(family)
    if marker:
        pattern = re.compile(rf"\b{marker}[= ]")
        found = next((i for i, h in enumerate(history) if kinds[i] == "ENV" and pattern.search(str(h.get("created_by")))), None)
        if found is None:
            return None
        start = found
    end = next((i for i in range(start, len(history)) if kinds[i] in _START), None)
    if end is None:
        return None
    while end + 1 < len(history) and kinds[end + 1] in _START:  # ENTRYPOINT then CMD, as node's
        end += 1
    return sum(makes[: end + 1])


def split_base(inspected: Inspected, family: str) -> BaseSplit | None:
    """The base's layers, from the best evidence there is: the image's first layers are exactly a
    known base's (imageref.KNOWN_BASES); the base-name label (its layer count from the history,
    else from the table); the config's history alone. None: no evidence."""
    layers = inspected.layers

    def cut(n: int, basis: str, base_image: str) -> BaseSplit:
        base = sum(size for _d, size in layers[:n])
        return BaseSplit(n, base, sum(size for _d, size in layers[n:]), basis, base_image)

    digests = tuple(d for d, _s in layers)
    for known in imageref.KNOWN_BASES:
        n = len(known.layers)
        if digests[:n] == tuple(d for d, _s in known.layers):
            return cut(n, "known-base-table", known.name)
    label, _digest = imageref.base_label(inspected.config)
    by_history = history_base_layers(inspected.config, len(layers), family)
    if label:
        known_label = imageref.known_base(label)
        count = by_history if by_history is not None else (len(known_label.layers) if known_label else None)
        if count is not None and count <= len(layers):
            return cut(count, "base-label", label)
    if by_history is not None:
        return cut(by_history, "inspected-history", "")
    return None


def suggest(
    ref: imageref.ImageRef | None, size: int | None, runtime: str, inspected: Inspected | None = None
) -> tuple[dict[str, Any] | None, str]:
    """A distroless base for an image, from its name, else from its registry config (`inspected`),
    with the bytes it would save per node: the base's size minus the distroless image's, never the
    application's own layers (they move onto distroless too). Returns (suggestion or None, what was detected).

    The figure's basis: image-is-base (an official base run as it is: the whole image is base);
    known-base-table, base-label, inspected-history (the base's layers found, see split_base);
    estimate (the family's known base size, no split: marked `estimate`, printed with ~)."""
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
    if found is None and inspected is not None:
        found, detected = imageref.suggest_for_config(inspected.config)
    if found is None:
        return None, detected
    split = None
    if detected != "name" and inspected is not None and inspected.layers:
        first = inspected.layers[0][1]
        # An alpine base's first layer is its whole root filesystem, a few MB: judge the base, not the image.
        if first < imageref.SMALL_BASE and found.base not in COMPILED:
            return None, f"alpine-sized base (first layer {human(first)}): {found.image} would be bigger"
        split = split_base(inspected, found.base)
    packed = compressed(runtime)
    # Node sizes may be uncompressed (CRI-O): scale the registry's compressed layer bytes to the node's count.
    scale = size / inspected.layer_bytes if size is not None and inspected is not None and inspected.layer_bytes else None
    estimate = False
    base_image = ""
    base_bytes: float | None
    if detected == "name":
        basis, base_bytes, base_image = "image-is-base", size, ref.short if ref else ""
    elif split is not None:
        basis, base_image = split.basis, split.base_image
        base_bytes = split.base_bytes if packed or scale is None else split.base_bytes * scale
        if scale is None and not packed:
            base_bytes = None
    else:
        basis, estimate = "estimate", True
        known = imageref.family_base(found.base)
        base_bytes = None
        if known is not None and size is not None and (packed or scale is not None):
            base_image = known.name
            base_bytes = min(size, known.size if packed else known.size * (scale or 1))
    saving = None
    if base_bytes is not None:
        saving = max(0, round(base_bytes) - found.estimated_size(packed))
        if saving == 0:
            return None, f"{detected}: the base is already about the size of {found.image}"
    why = found.why if detected == "name" else f"{found.why} (detected from {detected})"
    out: dict[str, Any] = {
        "base": found.base,
        "image": found.image,
        "savingBytes": saving,
        "savingBasis": basis,
        "estimate": estimate,
        "baseImage": base_image or None,
        "why": why,
    }
    if split is not None:
        out.update(
            baseLayers=split.base_layers,
            baseBytes=split.base_bytes,
            appLayers=len(inspected.layers) - split.base_layers if inspected else 0,
            appBytes=split.app_bytes,
        )
    return out, detected
