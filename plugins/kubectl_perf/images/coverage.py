"""kube-fledged ImageCache coverage, pure: ImageCache objects and the inventory in, per cache which of
its images the nodes it selects hold (node status.images), which images in use on those nodes it
misses, and which it holds that no pod runs. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import imageref
from .compute import ImageInventory


@dataclass
class CachedImage:
    """One image of one cacheSpec entry."""

    image: str  # as the ImageCache writes it
    normalised: str
    selector: dict[str, str]  # the entry's nodeSelector ({}: every node)
    selected: list[str]  # nodes the entry selects (of the nodes read)
    present: list[str]  # ... that list the image
    missing: list[str]  # ... that do not
    uncertain: list[str]  # ... that do not list it but list the maximum number of images (may hold it)
    runs: bool  # some pod runs it


@dataclass
class Missed:
    """An image pods run on nodes a cache selects, that the cache does not hold."""

    image: str
    size: int | None
    nodes: int  # selected nodes running a pod that uses it


@dataclass
class Coverage:
    namespace: str
    name: str
    images: list[CachedImage] = field(default_factory=list)
    misses: list[Missed] = field(default_factory=list)

    @property
    def unused(self) -> list[str]:
        """Images the cache holds that no pod runs (each once)."""
        return sorted({c.image for c in self.images if not c.runs})


def _matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _canonical(inventory: ImageInventory, text: str) -> tuple[str, set[int]]:
    """The normalised name and the nodes listing it (by name or digest)."""
    normalised = inventory.images.normalise(text)
    try:
        ref: imageref.ImageRef | None = imageref.parse(text)
    except imageref.ImageRefError:
        ref = None
    return normalised, inventory.images.measure(inventory.images.listed(normalised, ref)).holding


def coverage(inventory: ImageInventory, caches: Iterable[Mapping[str, Any]]) -> list[Coverage]:
    """One Coverage per ImageCache, in namespace/name order."""
    out = []
    in_use = {ref_text: use for ref_text, use in inventory.uses.items()}
    # what pods run, by the listings it matches too: a cache naming python:3.12 covers pods writing python:3.12@sha256:...
    used_listings = {c for ref_text in in_use for c in inventory.images.aliases.get(ref_text, ())}
    sizes = {r: inventory.images.measure(inventory.images.listed(r, u.ref, u.image_ids)).size for r, u in in_use.items()}
    for cache in sorted(caches, key=lambda c: ((c.get("metadata") or {}).get("namespace", ""), (c.get("metadata") or {}).get("name", ""))):
        meta = cache.get("metadata") or {}
        cov = Coverage(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        cached: set[str] = set()
        cached_listings: set[str] = set()
        selected_any: set[int] = set()
        for entry in (cache.get("spec") or {}).get("cacheSpec") or ():
            selector = {str(k): str(v) for k, v in (entry.get("nodeSelector") or {}).items()}
            chosen = [k for k, n in enumerate(inventory.nodes) if _matches(selector, n.labels)]
            selected_any.update(chosen)
            for image in entry.get("images") or ():
                normalised, holding = _canonical(inventory, str(image))
                cached.add(normalised)
                cached_listings |= inventory.images.aliases.get(normalised, set())
                names = [inventory.nodes[k].name for k in chosen]
                absent = [k for k in chosen if k not in holding]
                uncertain = [inventory.nodes[k].name for k in absent if inventory.capped(inventory.nodes[k])]
                runs = normalised in in_use or bool(inventory.images.aliases.get(normalised, set()) & used_listings)
                cov.images.append(
                    CachedImage(
                        str(image),
                        normalised,
                        selector,
                        names,
                        [inventory.nodes[k].name for k in chosen if k in holding],
                        [inventory.nodes[k].name for k in absent if inventory.nodes[k].name not in uncertain],
                        uncertain,
                        runs,
                    )
                )
        for ref_text, use in in_use.items():
            on = use.running_on & selected_any
            if not on or ref_text in cached or inventory.images.aliases.get(ref_text, set()) & cached_listings:
                continue
            cov.misses.append(Missed(ref_text, sizes[ref_text], len(on)))
        cov.misses.sort(key=lambda m: (-(m.size or -1), m.image))
        out.append(cov)
    return out
