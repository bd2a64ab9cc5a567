"""Image hygiene on one pod spec: `:latest` or untagged images, and pulls on every start.
Pure; image references are read by imageref, the images plugin's parser."""

from __future__ import annotations

from ..imageref import ImageRef, ImageRefError, parse
from ..model import all_containers
from .spec_checks import Outcome, Spec, _names


def _refs(spec: Spec) -> list[tuple[str, str, ImageRef | ImageRefError]]:
    """(container, image text, parsed ref or the parse error) per container."""
    out: list[tuple[str, str, ImageRef | ImageRefError]] = []
    for _kind, c in all_containers(spec):
        text = str(c.get("image") or "")
        try:
            out.append((str(c.get("name", "?")), text, parse(text)))
        except ImageRefError as err:
            out.append((str(c.get("name", "?")), text, err))
    return out


def image_latest_tag(spec: Spec) -> Outcome:
    refs = _refs(spec)
    bad = [(name, text) for name, text, ref in refs if isinstance(ref, ImageRef) and ref.latest]
    broken = [name for name, _t, ref in refs if isinstance(ref, ImageRefError)]
    if broken:
        return Outcome("image-latest-tag", "error", f"container(s) {_names(broken)} name an image reference that does not parse")
    if bad:
        images = ", ".join(sorted({t for _n, t in bad}))
        return Outcome(
            "image-latest-tag",
            "warn",
            f"container(s) {_names([n for n, _t in bad])} run {images} (:latest or no tag): what runs changes under you; pin a tag or digest",
            {"images": images},
        )
    return Outcome("image-latest-tag", "pass", "every image is pinned by a tag other than latest, or by digest")


def image_pull_always(spec: Spec) -> Outcome:
    """imagePullPolicy Always, written or defaulted (the API server defaults it for :latest and untagged images)."""
    always = []
    for _kind, c in all_containers(spec):
        policy = c.get("imagePullPolicy")
        if policy is None:
            try:
                policy = "Always" if parse(str(c.get("image") or "")).latest else "IfNotPresent"
            except ImageRefError:
                continue  # image-latest-tag reports it
        if policy == "Always":
            always.append(str(c.get("name", "?")))
    if always:
        return Outcome(
            "image-pull-always",
            "warn",
            f"container(s) {_names(always)} pull their image on every start (imagePullPolicy Always): node image caches "
            "do not help, and starts wait on the registry; pin a tag and use IfNotPresent",
            {"containers": ",".join(always)},
        )
    return Outcome("image-pull-always", "pass", "no container pulls its image on every start")


IMAGE_CHECKS = (image_latest_tag, image_pull_always)
