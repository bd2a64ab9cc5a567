"""What `kubectl perf images` prints: the json/yaml document, the tables, and the
kube-fledged ImageCache."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import render
from ..image_sizes import human
from ..render import Column, Table
from .compute import ImageReport, ImageRow, PoolRow, PrePull
from .pulls import NOT_REACHED, UNKNOWN, UNLISTED, HistogramRow, PoolPulls, Waterfall

if TYPE_CHECKING:
    from .coverage import Coverage
    from .flags import ImagesView

IMAGECACHE_API = "kubefledged.io/v1alpha2"


# -- the machine document ------------------------------------------------------------------
def image_doc(r: ImageRow) -> dict[str, Any]:
    return {
        "image": r.image,
        "sizeBytes": r.size,
        "sizeFrom": r.runtime or None,
        "nodes": r.nodes,
        "pods": r.pods,
        "containers": r.containers,
        "workloads": [w.as_dict() for w in r.workloads],
        "pullPolicies": r.policies,
        "latestTag": r.latest,
        "pinned": r.pinned,
        "suggestion": r.suggestion,
        "notes": r.notes,
    }


def pre_pull_doc(p: PrePull) -> dict[str, Any]:
    return {
        "image": p.image,
        "sizeBytes": p.size,
        "nodeSelector": p.selector,
        "missingOn": p.missing,
        "eligibleNodes": p.eligible,
        "mayHold": p.uncertain,
        "why": p.reasons,
        "workloads": [w.as_dict() for w in p.workloads],
        "rankBasis": p.rank_basis,
        "secondsPerPull": _round(p.seconds_per_pull),
        "expectedPulls": p.expected_pulls,
        "secondsSaved": _round(p.seconds_saved),
    }


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def pulls_doc(r: PoolPulls) -> dict[str, Any]:
    return {
        "image": r.image,
        "pool": None if r.pool == UNLISTED else r.pool,
        "pulls": r.pulls,
        "medianSeconds": _round(r.median),
        "maxSeconds": _round(r.max),
        "medianIncludingWaiting": _round(r.median_waiting),
        "sizeBytes": r.size,
        "alreadyPresent": r.hits,
        "nodes": len(r.nodes),
    }


def histogram_doc(h: HistogramRow) -> dict[str, Any]:
    return {
        "pool": None if h.pool == UNLISTED else h.pool,
        "imageSize": h.size,
        "pulls": round(h.count),
        "meanSeconds": _round(h.mean),
        "medianAtMostSeconds": h.median_at_most,
        "nodes": len(h.nodes),
    }


def histogram_rows_columns(label: str) -> list[Column]:
    return [
        Column("KUBELET HISTOGRAM POOL" + (f" ({label})" if label else ""), lambda h: "?" if h.pool == UNLISTED else h.pool),
        Column("IMAGE SIZE", lambda h: h.size),
        Column("PULLS", lambda h: str(round(h.count)), right=True),
        Column("MEAN", lambda h: seconds_text(h.mean), right=True),
        Column("MEDIAN", lambda h: f"<= {seconds_text(h.median_at_most)}" if h.median_at_most is not None else "", right=True),
        Column("NODES", lambda h: str(len(h.nodes)), right=True),
    ]


def startup_doc(f: Waterfall) -> dict[str, Any]:
    return {
        "workload": f.workload.as_dict(),
        "pods": f.pods,
        "scheduledAfter": _round(f.scheduled),
        "pulledAfter": _round(f.pulled),
        "startedAfter": _round(f.started),
        "readyAfter": _round(f.ready),
        "stepsOutOfOrder": f.out_of_order,
    }


def document(result: ImageReport, sort: str, top: int, coverage: list[Coverage] | None = None) -> dict[str, Any]:
    inventory = result.inventory
    by_size, by_cached = result.top(top or len(result.images))
    out: dict[str, Any] = {
        "summary": {
            "images": len(result.images),
            "uniqueBytes": result.unique_bytes,
            "cachedBytes": inventory.cached_bytes,
            "nodes": len(inventory.nodes),
            "nodesAtCap": sum(1 for n in inventory.nodes if inventory.capped(n)),
            "maxImages": inventory.settings.max_images,
            "sizeUnknown": sum(1 for r in result.images if r.size is None),
            "latestTags": sum(1 for r in result.images if r.latest),
            "suggestions": sum(1 for r in result.images if r.suggestion),
            "histogram": [{"size": label, "images": n} for label, n in result.histogram()],
            "topBySize": [r.image for r in by_size],
            "topByCachedBytes": [r.image for r in by_cached],
            "poolLabel": inventory.pool_label or None,
            "pools": [
                {
                    "pool": p.pool,
                    "nodes": p.nodes,
                    "runtime": p.runtime,
                    "images": p.images,
                    "freshNodeBytes": p.fresh_bytes,
                    "sizeUnknown": p.unknown,
                }
                for p in result.pools
            ],
        },
        "images": [image_doc(r) for r in result.sorted_images(sort)],
        "prePull": [pre_pull_doc(p) for p in result.pre_pull],
    }
    if result.pulls is not None:  # --pulls; null when the events could not be read (unknown, not none)
        out["pulls"] = None if result.events_unread else [pulls_doc(r) for r in result.pulls]
        out["startup"] = [startup_doc(f) for f in result.startup]
        out["kubeletHistogram"] = [histogram_doc(h) for h in result.histogram_rows]
    if coverage is not None:  # --imagecache
        out["imageCaches"] = [coverage_doc(c) for c in coverage]
    return out


def coverage_doc(c: Coverage) -> dict[str, Any]:
    return {
        "namespace": c.namespace,
        "name": c.name,
        "images": [
            {
                "image": i.image,
                "nodeSelector": i.selector,
                "selectedNodes": len(i.selected),
                "presentOn": i.present,
                "missingOn": i.missing,
                "mayHold": i.uncertain,
                "runs": i.runs,
            }
            for i in c.images
        ],
        "missing": [{"image": m.image, "sizeBytes": m.size, "nodes": m.nodes} for m in c.misses],
        "unused": c.unused,
    }


def _names(names: list[str], shown: int = 3) -> str:
    return ",".join(names[:shown]) + (f" +{len(names) - shown}" if len(names) > shown else "")


def coverage_columns() -> list[Column]:
    return [
        Column("IMAGECACHE", lambda r: f"{r[0].namespace}/{r[0].name}"),
        Column("CACHED IMAGE", lambda r: r[1].image),
        Column("SELECTOR", lambda r: ",".join(f"{k}={v}" for k, v in r[1].selector.items()) or "(all nodes)"),
        Column("PRESENT", lambda r: f"{len(r[1].present)}/{len(r[1].selected)}", lambda r: len(r[1].present), right=True),
        Column("NOT ON", lambda r: _names(r[1].missing), lambda r: ";".join(r[1].missing)),
        Column("MAY HOLD", lambda r: _names(r[1].uncertain), lambda r: ";".join(r[1].uncertain), wide=True),
        Column("RUNS", lambda r: "yes" if r[1].runs else "no"),
    ]


def missed_columns() -> list[Column]:
    return [
        Column("IMAGECACHE", lambda r: f"{r[0].namespace}/{r[0].name}"),
        Column("IN USE, NOT CACHED", lambda r: r[1].image),
        Column("SIZE", lambda r: human(r[1].size), lambda r: r[1].size, right=True),
        Column("NODES", lambda r: str(r[1].nodes), lambda r: r[1].nodes, right=True),
    ]


# -- tables -------------------------------------------------------------------------------
def _workloads(r: ImageRow) -> str:
    if not r.workloads:
        return ""
    first = r.workloads[0].text()
    return first if len(r.workloads) == 1 else f"{first} +{len(r.workloads) - 1}"


def saving_text(s: dict[str, Any] | None) -> str:
    """-21.2 MB; ~-21.2 MB when an estimate (no base split); "" without a figure."""
    if not s or s.get("savingBytes") is None:
        return ""
    return f"{'~' if s.get('estimate') else ''}-{human(s['savingBytes'])}"


def _suggestion(r: ImageRow) -> str:
    s = r.suggestion
    if not s:
        return ""
    short = s["image"].rsplit("/", 1)[-1]
    saving = saving_text(s)
    return f"{short} ({saving})" if saving else short


def _split(r: ImageRow) -> str:
    """Base vs application layers (compressed, as the registry lists them), when --inspect found the base."""
    s = r.suggestion or {}
    if s.get("baseBytes") is None:
        return ""
    return f"{human(s['baseBytes'])} / {human(s['appBytes'])}"


def image_columns() -> list[Column]:
    return [
        Column("IMAGE", lambda r: r.short, lambda r: r.image),
        Column("SIZE", lambda r: human(r.size), lambda r: r.size, right=True),
        Column("SIZE FROM", lambda r: r.runtime, wide=True),
        Column("NODES", lambda r: str(r.nodes), lambda r: r.nodes, right=True),
        Column("PODS", lambda r: str(r.pods), lambda r: r.pods, right=True),
        Column("CONTAINERS", lambda r: str(r.containers), lambda r: r.containers, wide=True, right=True),
        Column("WORKLOADS", _workloads, lambda r: ";".join(w.text() for w in r.workloads)),
        Column(
            "PULL",
            lambda r: ",".join(f"{k}={v}" for k, v in r.policies.items()),
            lambda r: ";".join(f"{k}={v}" for k, v in r.policies.items()),
            wide=True,
        ),
        Column("TAG", lambda r: r.hygiene),
        Column("SUGGESTION", _suggestion, lambda r: (r.suggestion or {}).get("image", "")),
        Column("SAVING", lambda r: saving_text(r.suggestion), lambda r: (r.suggestion or {}).get("savingBytes"), wide=True, right=True),
        Column("BASIS", lambda r: (r.suggestion or {}).get("savingBasis") or "", wide=True),
        Column("BASE / APP", _split, lambda r: (r.suggestion or {}).get("baseBytes"), wide=True, right=True),
        Column("WHY", lambda r: (r.suggestion or {}).get("why") or "", wide=True),
        Column("NOTE", lambda r: "; ".join(r.notes), wide=True),
    ]


def top_cached_columns() -> list[Column]:
    return [
        Column("TOP BY BYTES X NODES", lambda r: r.short),
        Column("SIZE", lambda r: human(r.size), right=True),
        Column("NODES", lambda r: str(r.nodes), right=True),
        Column("CACHED", lambda r: human(r.cached_bytes), right=True),
    ]


def histogram_columns(widest: int) -> list[Column]:
    def bar(row: tuple[str, int]) -> str:
        if row[0] == "size unknown":  # not a size class: no bar
            return ""
        return "#" * (round(row[1] * 40 / widest) if widest else 0)

    return [Column("SIZE", lambda r: r[0]), Column("IMAGES", lambda r: str(r[1]), right=True), Column("", bar)]


def pool_columns(label: str) -> list[Column]:
    def name(p: PoolRow) -> str:
        return p.pool or f"(no {label or 'pool'} label)"

    return [
        Column("POOL" + (f" ({label})" if label else ""), name),
        Column("NODES", lambda p: str(p.nodes), right=True),
        Column("RUNTIME", lambda p: p.runtime),
        Column("IMAGES", lambda p: str(p.images), right=True),
        Column("FRESH NODE PULLS", _fresh, right=True),
    ]


def _fresh(p: PoolRow) -> str:
    """What a fresh node pulls; `?` when no image of the pool has a known size (never `0 B`)."""
    if p.unknown and p.unknown == p.images:
        return f"? ({p.unknown} unknown)"
    return human(p.fresh_bytes) + (f" (+{p.unknown} unknown)" if p.unknown else "")


def seconds_text(value: float | None) -> str:
    """3.2s, 1m05s; "" when there is no figure."""
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(round(value), 60)
    return f"{minutes}m{secs:02d}s"


def window_text(seconds: float) -> str:
    """A --since window as kubectl users write one: 1h, 30m, 1h30m, 90s -> 1m30s."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n) or "0s"


def _saved(p: PrePull) -> str:
    """12.4s x 3 = 37.2s where pulls were observed; `(by size)` where none was."""
    if p.seconds_saved is None:
        return "(by size)"
    return f"{seconds_text(p.seconds_per_pull)} x {p.expected_pulls} = {seconds_text(p.seconds_saved)}"


def pre_pull_columns() -> list[Column]:
    return [
        Column("PRE-PULL IMAGE", lambda p: p.image),
        Column("SIZE", lambda p: human(p.size), right=True),
        Column("POOL", lambda p: ",".join(f"{k}={v}" for k, v in p.selector.items()) or "(all nodes)"),
        Column("MISSING ON", lambda p: f"{p.missing}/{p.eligible}", right=True),
        Column("MAY HOLD", lambda p: str(p.uncertain), right=True, wide=True),
        Column("SAVES", _saved, lambda p: _round(p.seconds_saved), right=True),
        Column("WHY", lambda p: ", ".join(p.reasons)),
    ]


def pulls_columns(label: str) -> list[Column]:
    def pool(r: PoolPulls) -> str:
        if r.pool == UNLISTED:
            return "? (node not listed)"
        return r.pool or f"(no {label or 'pool'} label)"

    return [
        Column("PULLED IMAGE", lambda r: r.image),
        Column("POOL" + (f" ({label})" if label else ""), pool, lambda r: None if r.pool == UNLISTED else r.pool),
        Column("PULLS", lambda r: str(r.pulls), lambda r: r.pulls, right=True),
        Column("MEDIAN", lambda r: seconds_text(r.median), lambda r: _round(r.median), right=True),
        Column("MAX", lambda r: seconds_text(r.max), lambda r: _round(r.max), right=True),
        Column("WITH WAITING", lambda r: seconds_text(r.median_waiting), lambda r: _round(r.median_waiting), right=True),
        Column("SIZE", lambda r: human(r.size), lambda r: r.size, right=True),  # `?` when no event said
        Column("ALREADY PRESENT", lambda r: str(r.hits), lambda r: r.hits, right=True),
        Column("NODES", lambda r: str(len(r.nodes)), lambda r: len(r.nodes), right=True, wide=True),
    ]


def step_text(value: float | None) -> str:
    """A waterfall step: its median, or `-` when no pod has got there yet (pending pods)."""
    return NOT_REACHED if value is None else seconds_text(value)


def startup_columns(events_unread: bool) -> list[Column]:
    """The waterfall; with the Pulled events unread, PULLED is unknown (`?`), not "not reached"."""
    return [
        Column("WORKLOAD START-UP (MEDIAN FROM CREATION)", lambda f: f.workload.text()),
        Column("PODS", lambda f: str(f.pods), right=True),
        Column("SCHEDULED", lambda f: step_text(f.scheduled), right=True),
        Column("PULLED", lambda f: UNKNOWN if events_unread else step_text(f.pulled), right=True),
        Column("STARTED", lambda f: step_text(f.started), right=True),
        Column("READY", lambda f: step_text(f.ready), right=True),
    ]


def summary_columns() -> list[Column]:
    def at_cap(d: dict[str, Any]) -> str:
        return f"{d['nodesAtCap']} (list {d['maxImages']})" if d["nodesAtCap"] else "0"

    return [
        Column("IMAGES IN USE", lambda d: str(d["images"]), right=True),
        # no size known at all (nodes unreadable, or none lists them): `?`, not `0 B`
        Column("UNIQUE SIZE", lambda d: "?" if d["images"] and d["sizeUnknown"] == d["images"] else human(d["uniqueBytes"]), right=True),
        Column("CACHED ON NODES", lambda d: human(d["cachedBytes"]) if d["nodes"] else "?", right=True),
        Column("NODES", lambda d: str(d["nodes"]), right=True),
        Column("AT IMAGE CAP", at_cap, right=True),
        Column("SIZE UNKNOWN", lambda d: str(d["sizeUnknown"]), right=True),
        Column(":LATEST/NO TAG", lambda d: str(d["latestTags"]), right=True),
        Column("SUGGESTIONS", lambda d: str(d["suggestions"]), right=True),
    ]


# -- kube-fledged ---------------------------------------------------------------------------
def image_cache(result: ImageReport, namespace: str, name: str = "kubectl-perf-prepull") -> dict[str, Any] | None:
    """A kube-fledged ImageCache with one cacheSpec entry per node pool; None when
    there is nothing to pre-pull. On a cluster whose nodes carry no pool label at all, one
    entry without nodeSelector (kube-fledged caches it on every node). Where a pool label
    exists, nodes lacking it get no entry: a missing selector would cache on every node."""
    per_pool: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for p in result.pre_pull:
        if not p.selector and result.inventory.pool_label:
            continue
        images = per_pool.setdefault(tuple(sorted(p.selector.items())), [])
        if p.image not in images:  # kube-fledged rejects duplicates within a list
            images.append(p.image)
    if not per_pool:
        return None
    return {
        "apiVersion": IMAGECACHE_API,
        "kind": "ImageCache",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "kubectl-perf"}},
        "spec": {
            "cacheSpec": [
                {"images": images, **({"nodeSelector": dict(selector)} if selector else {})}
                for selector, images in sorted(per_pool.items())
            ]
        },
    }


# -- printing ------------------------------------------------------------------------------
def emit_report(report: ImageReport, view: ImagesView, cluster: str, coverage: list[Coverage] | None = None) -> list[str]:
    """Print the report in the -o format; returns notes for stderr. `coverage`: per kube-fledged
    ImageCache (--imagecache), None when not asked."""
    window = f" in the last {window_text(report.since)}" if report.since else ""
    # --since without --pulls windows the pulls that rank the pre-pull plan and prints none: say so
    windowed = []
    if window and report.pulls is None and not report.events_unread:
        windowed.append(f"--since: the pre-pull plan counts the pulls{window} (--pulls lists them)")
    if view.output == "imagecache":
        cache = image_cache(report, view.namespace_for_cache)
        if cache is None:
            return [
                f"nothing to pre-pull: no image of at least {human(report.inventory.settings.min_size)} is missing from nodes that may run it"
            ]
        render.write(render.structured(cache, "yaml"))
        return windowed
    doc = document(report, view.sort, view.top, coverage)
    images = report.sorted_images(view.sort)
    shown = images[: view.top] if view.top else images
    csv = view.output in ("csv", "tsv")

    def tables() -> list[Table]:
        if coverage is not None:  # --imagecache: what the caches cover and miss
            cached = [(c, i) for c in coverage for i in c.images]
            if csv:
                return [Table(cached, coverage_columns())]
            return [Table(cached, coverage_columns()), Table([(c, m) for c in coverage for m in c.misses], missed_columns())]
        if report.pulls is not None:  # --pulls: what pulls cost, and the plan they rank
            label = report.inventory.pool_label
            if csv:
                return [Table(report.pulls, pulls_columns(label))]
            # events unread: no pulls table, whose emptiness would read as "no pulls" (a note says why);
            # no histogram rows (nodes/proxy forbidden, or kubelets before 1.30): no header alone either
            observed = [] if report.events_unread else [Table(report.pulls, pulls_columns(label))]
            histogram = [Table(report.histogram_rows, histogram_rows_columns(label))] if report.histogram_rows else []
            out = [*observed, *histogram]
            if view.output == "wide" and report.startup:  # none in the window: a note says so
                out.append(Table(report.startup, startup_columns(bool(report.events_unread))))
            return [*out, Table(report.pre_pull, pre_pull_columns())]
        hist = report.histogram()
        unknown = sum(1 for r in report.images if r.size is None)
        if not any(n for _l, n in hist):
            hist = []  # no size known: no histogram of zeros
        if unknown and not csv:
            hist = [*hist, ("size unknown", unknown)]
        _by_size, by_cached = report.top(view.top or len(images))
        return [
            Table(images if csv else shown, image_columns()),  # the data: every image in csv/tsv
            Table([doc["summary"]], summary_columns()),
            Table(by_cached, top_cached_columns()),
            Table(hist, histogram_columns(max((n for label, n in hist if label != "size unknown"), default=0))),
            Table(report.pools if report.inventory.nodes else [], pool_columns(report.inventory.pool_label)),
            Table(report.pre_pull, pre_pull_columns()),
        ]

    def html() -> str:
        from .html import page

        return page(report, doc, cluster, view.top)

    render.emit(view.output, lambda: doc, tables, html)
    if coverage is not None:
        if not coverage:
            return ["no kube-fledged ImageCache in the cluster"]
        return [f"{c.namespace}/{c.name} holds images no pod runs: {', '.join(c.unused)}" for c in coverage if c.unused]
    if report.pulls is not None:
        shows_startup = view.output not in ("table", "csv", "tsv")
        notes = out_of_order_notes(report.startup) if shows_startup else []
        if shows_startup and window and not report.startup:  # the waterfall keeps start-ups in the window only
            notes.append(f"no pod was created{window}: no start-up waterfall")
        if not report.pulls and not report.events_unread:  # unread: fetch's note says why, and none is not known
            notes.append(f"no Pulled events{window}: the kubelets reported no pulls")
        return notes
    notes = why_notes(shown) if view.output == "table" else []  # -o wide shows them in its WHY column
    notes.extend(windowed)
    if view.output in ("table", "wide") and len(shown) < len(images):
        notes.append(f"showing {len(shown)} of {len(images)} images (--top 0 shows all)")
    return notes


def out_of_order_notes(startup: list[Waterfall]) -> list[str]:
    """One note per workload whose pods had steps out of order, left out of its medians."""
    return [
        f"start-up of {f.workload.text()}: {f.out_of_order} step{'s' if f.out_of_order > 1 else ''} out of order "
        "(before the pod's creation or the step before it) left out of its medians"
        for f in startup
        if f.out_of_order
    ]


def why_notes(rows: list[ImageRow]) -> list[str]:
    """The table's notes: why each suggested base fits, once per reason, naming its images
    (`python:3.12 -> python3-debian13: carries CPython 3.13 ...`)."""
    by_why: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r.suggestion and r.suggestion.get("why"):
            by_why.setdefault((r.suggestion["image"].rsplit("/", 1)[-1], r.suggestion["why"]), []).append(r.short)
    return [f"{', '.join(shorts)} -> {target}: {why}" for (target, why), shorts in by_why.items()]
