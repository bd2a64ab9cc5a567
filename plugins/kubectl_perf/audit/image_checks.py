"""Image hygiene on one pod spec: `:latest` or untagged images, pulls on every start, and
images past a size. Pure; image references are read by imageref, the images plugin's parser,
and sizes joined to node listings by image_sizes, the images plugin's join."""

from __future__ import annotations

from collections.abc import Mapping

from ..image_sizes import NodeImages, human, suggest
from ..imageref import ImageRef, ImageRefError, parse
from ..model import all_containers
from .outcome import Outcome
from .spec_checks import Spec, _names


def _parsed(container: Mapping[str, object]) -> ImageRef | None:
    try:
        return parse(str(container.get("image") or ""))
    except ImageRefError:
        return None


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


def _pulls_always(container: Mapping[str, object], ref: ImageRef) -> bool:
    """imagePullPolicy Always, written or defaulted (the API server defaults it for :latest and untagged images)."""
    policy = container.get("imagePullPolicy")
    return policy == "Always" or (policy is None and ref.latest)


def image_latest_tag(spec: Spec) -> Outcome:
    """:latest or untagged images. Their pull on every start (the defaulted Always) is part of this one cause:
    image-pull-always leaves them to this check, so one untagged image is one result."""
    refs = _refs(spec)
    bad = [(name, text) for name, text, ref in refs if isinstance(ref, ImageRef) and ref.latest]
    broken = [name for name, _t, ref in refs if isinstance(ref, ImageRefError)]
    if broken:
        return Outcome("error", f"container(s) {_names(broken)} name an image reference that does not parse")
    if bad:
        images = ", ".join(sorted({t for _n, t in bad}))
        pulling = [
            str(c.get("name", "?"))
            for _kind, c in all_containers(spec)
            if isinstance(ref := _parsed(c), ImageRef) and ref.latest and _pulls_always(c, ref)
        ]
        pulls = f"; {_names(pulling)} also pull it on every start (imagePullPolicy Always, the default for them)" if pulling else ""
        return Outcome(
            "warn",
            f"container(s) {_names([n for n, _t in bad])} run {images} (:latest or no tag): what runs changes under you{pulls}; "
            "pin a tag or digest",
            {"images": images},
        )
    return Outcome("pass", "every image is pinned by a tag other than latest, or by digest")


def image_pull_always(spec: Spec) -> Outcome:
    """imagePullPolicy Always on a pinned image (a tag other than latest, or a digest). On a :latest or
    untagged image the pull is image-latest-tag's cause (pinning the tag ends the defaulted Always too):
    it is reported there, once."""
    always: list[str] = []
    unpinned: list[str] = []
    for _kind, c in all_containers(spec):
        ref = _parsed(c)
        if ref is None:
            continue  # image-latest-tag reports it
        if _pulls_always(c, ref):
            (unpinned if ref.latest else always).append(str(c.get("name", "?")))
    if always:
        return Outcome(
            "warn",
            f"container(s) {_names(always)} pull their image on every start (imagePullPolicy Always): node image caches "
            "do not help, and starts wait on the registry; use IfNotPresent with the pinned tag",
            {"containers": ",".join(always)},
        )
    if unpinned:
        return Outcome(
            "pass",
            f"no pinned image is pulled on every start; {_names(unpinned)} pull their :latest or untagged image "
            "on every start, which image-latest-tag reports",
            {"unpinned": ",".join(unpinned)},
        )
    return Outcome("pass", "no container pulls its image on every start")


DEFAULT_IMAGE_SIZE_THRESHOLD = 500_000_000  # bytes, as the runtime reports them (node status.images)


def image_size(spec: Spec, images: NodeImages, threshold: int, image_ids: Mapping[str, str] | None = None) -> Outcome:
    """Images above `threshold` bytes as nodes list them (sizes joined as `kubectl perf images`
    joins them: by name, digest, or the imageID a pod's status reports), with the images
    plugin's distroless suggestion for the largest. `image_ids`: container name -> imageID."""
    over: dict[str, tuple[ImageRef, int, str, list[str]]] = {}  # normalised ref -> (ref, size, runtime, containers)
    unknown: set[str] = set()
    for _kind, c in all_containers(spec):
        name, text = str(c.get("name", "?")), str(c.get("image") or "")
        try:
            ref = parse(text)
        except ImageRefError:
            continue  # image-latest-tag reports it
        ref_text = images.normalise(text)
        image_id = (image_ids or {}).get(name)
        measured = images.measure(images.listed(ref_text, ref, [images.normalise(image_id)] if image_id else []))
        if measured.size is None:
            unknown.add(ref.short)
        elif measured.size > threshold:
            over.setdefault(ref_text, (ref, measured.size, measured.runtime, []))[3].append(name)
    not_listed = f"; no node lists {', '.join(sorted(unknown))}: size unknown" if unknown else ""
    if not over:
        return Outcome(
            "pass",
            f"every image is within {human(threshold)}{not_listed}",
            {"thresholdBytes": threshold, **({"sizeUnknown": ",".join(sorted(unknown))} if unknown else {})},
        )
    ranked = sorted(over.items(), key=lambda item: (-item[1][1], item[0]))
    top_text, (_top, size, runtime, _containers) = ranked[0]
    props: dict[str, object] = {"image": top_text, "sizeBytes": size, "runtime": runtime, "thresholdBytes": threshold}
    if len(ranked) > 1:
        props["images"] = ",".join(t for t, _v in ranked)
    parts, advice = [], []
    for ref_text, (ref, size, runtime, names) in ranked:
        parts.append(f"{_names(names)} run {ref.short}, {human(size)} ({runtime})")
        found, _detected = suggest(ref, size, runtime)  # the images plugin's suggestion, from the name
        if found is None:
            continue
        advice.append(f"{found['image']} would save about {human(found['savingBytes'])} of {ref.short} per node: {found['why']}")
        if ref_text == top_text:
            props.update(suggestion=found["image"], base=found["base"], savingBytes=found["savingBytes"], savingBasis=found["savingBasis"])
    why = "; ".join(["every node that starts them pulls and stores them, and cold starts wait on the pull", *advice])
    return Outcome(
        "warn",
        f"container(s) {'; '.join(parts)}: above the {human(threshold)} threshold: {why}{not_listed}",
        props,
    )
