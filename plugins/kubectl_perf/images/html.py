"""-o html: one self-contained page (nothing fetched from the network), triage first (issue 23):
the top images by bytes x nodes (what they take across the cluster's disks and pull on every new
node), the pre-pull plan, fresh-node pulls per pool; then every image as a bar of its size with
distroless suggestions, collapsed in <details> with a filter and sort buttons (render's
LIST_TOOLS_SCRIPT, which the first screen does not need); then the size histogram."""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from typing import Any

from ..image_sizes import human
from ..render import REPORT_STYLE, data_attrs, html_page
from .compute import ImageReport
from .pulls import NOT_REACHED

STYLE = (
    REPORT_STYLE
    + """
.img{display:grid;grid-template-columns:360px 1fr 300px;gap:12px;align-items:center;padding:5px 0;border-bottom:1px solid #eaeef2}
.size{background:#4c8bf5}.saving{background:rgba(18,161,80,.55)}.unknown .name{color:#57606a}
.step.scheduled{background:#8c959f}.step.pulled{background:#f0883e}.step.started{background:#4c8bf5}.step.ready{background:#12a150}
.tag{font-size:11px;border-radius:3px;padding:0 4px;margin-left:4px;background:#fde7e9;color:#b42318}
"""
)


def _image(r: Any, widest: int) -> str:
    pct = r.size * 100 / widest if r.size and widest else 0.0
    saving = (r.suggestion or {}).get("savingBytes") or 0
    saving_pct = saving * 100 / widest if widest else 0.0
    tag = f'<span class="tag">{escape(r.hygiene)}</span>' if r.hygiene in ("latest", "no tag") else ""
    suggestion = ""
    if r.suggestion:
        s = r.suggestion
        basis = f" ({s.get('savingBasis')})" if s.get("savingBasis") else ""
        saves = (
            f" saves {'about ' if s.get('estimate') else ''}{human(s['savingBytes'])} per node{basis}"
            if s.get("savingBytes") is not None
            else ""
        )
        suggestion = (
            f'<span class="ok" data-suggestion="{escape(s["image"])}">{escape(s["image"])}{escape(saves)}</span><br>{escape(s["why"])}'
        )
    notes = "<br>".join(escape(n) for n in r.notes)
    workloads = ", ".join(w.text() for w in r.workloads[:3]) + (f" +{len(r.workloads) - 3}" if len(r.workloads) > 3 else "")
    keys = data_attrs({"size": r.size, "nodes": r.nodes, "pods": r.pods})
    return (
        f'<div class="img{" unknown" if r.size is None else ""}" data-image="{escape(r.image)}" data-name="{escape(r.image)}" data-size="{r.size if r.size is not None else ""}"{keys}>'
        f'<div class="name" title="{escape(r.image)}"><b>{escape(r.short)}</b>{tag}<br>'
        f'<span class="num">{human(r.size)}{" (" + escape(r.runtime) + ")" if r.runtime else ""} · {r.nodes} nodes · {r.pods} pods · {escape(workloads)}</span></div>'
        f'<div class="bar" data-width="{pct:.1f}"><div class="size" style="width:{pct:.1f}%"></div>'
        f'<div class="saving" style="left:{max(0.0, pct - saving_pct):.1f}%;width:{saving_pct:.1f}%" title="distroless saving"></div></div>'
        f'<div class="num">{suggestion}{"<br>" if suggestion and notes else ""}{notes}</div></div>'
    )


def _secs(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else ""


def _out_of_order(steps: int) -> str:
    return f" · {steps} step{'s' if steps > 1 else ''} out of order left out" if steps else ""


def _pulls(result: ImageReport) -> str:
    """--pulls: observed pulls per image and pool, and each workload's start-up as a waterfall of bars."""
    if result.pulls is None:
        return ""
    rows = "".join(
        f'<tr data-pulled="{escape(r.image)}" data-pool="{escape(r.pool)}"><td>{escape(r.image)}</td><td>{escape(r.pool)}</td>'
        f"<td>{r.pulls}</td><td>{_secs(r.median)}</td><td>{_secs(r.max)}</td><td>{_secs(r.median_waiting)}</td>"
        f"<td>{human(r.size)}</td><td>{r.hits}</td></tr>"
        for r in result.pulls
    )
    longest = max((f.ready or f.started or f.pulled or f.scheduled or 0.0 for f in result.startup), default=0.0) or 1.0
    falls = []
    for f in result.startup:
        marks, last = [], 0.0
        for step, at in (("scheduled", f.scheduled), ("pulled", f.pulled), ("started", f.started), ("ready", f.ready)):
            if at is None:
                continue
            width = max(at - last, 0.0) * 100 / longest
            marks.append(
                f'<div class="step {step}" data-step="{step}" data-seconds="{at:.3f}" style="width:{width:.1f}%" title="{step} at {at:.1f}s"></div>'
            )
            last = max(last, at)
        falls.append(
            f'<div class="img" data-startup="{escape(f.workload.text())}"><div class="name">{escape(f.workload.text())}<br>'
            f'<span class="num">{f.pods} pods · ready {_secs(f.ready) or NOT_REACHED}{_out_of_order(f.out_of_order)}</span></div><div class="bar" style="display:flex">{"".join(marks)}</div><div></div></div>'
        )
    hist = "".join(
        f'<tr data-histogram="{escape(h.pool)}/{escape(h.size)}"><td>{escape(h.pool)}</td><td>{escape(h.size)}</td><td>{round(h.count)}</td>'
        f"<td>{_secs(h.mean)}</td><td>{'&le; ' + _secs(h.median_at_most) if h.median_at_most is not None else ''}</td></tr>"
        for h in result.histogram_rows
    )
    hist_html = (
        '<h2>The kubelets\' pull histogram</h2><p class="sub">kubelet_image_pull_duration_seconds since each kubelet started, '
        "by pool and image size.</p><table><tr><th>pool</th><th>image size</th><th>pulls</th><th>mean</th><th>median</th></tr>"
        f"{hist}</table>"
        if result.histogram_rows
        else ""
    )
    measured = (
        # unread is not none: no empty table that would say the kubelets pulled nothing
        f'<h2>Pulls the kubelets measured</h2><p class="sub" id="events-unread">Events could not be read ({escape(result.events_unread)}): '
        "the pulls are unknown, and the pre-pull plan ranks by size.</p>"
        if result.events_unread
        else f"<h2>Pulls the kubelets measured ({len(result.pulls)})</h2>"
        "<table><tr><th>image</th><th>pool</th><th>pulls</th><th>median</th><th>max</th><th>with waiting</th><th>size</th>"
        f"<th>already present</th></tr>{rows}</table>"
    )
    return (
        f"{measured}{hist_html}"
        '<h2>Start-up per workload</h2><p class="legend"><span><i class="sw scheduled"></i>scheduled</span><span><i class="sw pulled"></i>'
        'images pulled</span><span><i class="sw started"></i>containers started</span><span><i class="sw ready"></i>ready</span> '
        "medians from pod creation</p>" + "".join(falls)
    )


TOP_IMAGES = 10  # rows of the first table, at most: it is the first screen


def _top(images: list[Any], top: int = 0) -> str:
    """The images whose bytes x nodes are largest (known sizes only): the first thing to shrink;
    --top N of them when N is fewer than TOP_IMAGES (0: the flag's "all", TOP_IMAGES here)."""
    shown = min(top, TOP_IMAGES) if top else TOP_IMAGES
    known = sorted((r for r in images if r.size), key=lambda r: (-(r.size * r.nodes), r.image))[:shown]
    if not known:
        return '<h2 id="top">Top images by bytes x nodes</h2><p class="sub">No image size is known.</p>'
    rows = "".join(
        f'<tr data-top-image="{escape(r.image)}"><td>{escape(r.short)}</td><td>{human(r.size)}</td><td>{r.nodes}</td>'
        f"<td>{human(r.size * r.nodes)}</td><td>{r.pods}</td></tr>"
        for r in known
    )
    return (
        f'<h2 id="top">Top images by bytes x nodes ({len(known)})</h2>'
        f"<table><tr><th>image</th><th>size</th><th>nodes</th><th>bytes x nodes</th><th>pods</th></tr>{rows}</table>"
    )


def page(result: ImageReport, doc: dict[str, Any], cluster: str, top: int = 0) -> str:
    summary = doc["summary"]
    images = result.images
    widest = max((r.size or 0 for r in images), default=0)
    rows = "".join(_image(r, widest) for r in images)
    hist = "".join(f"<tr><td>{escape(h['size'])}</td><td>{h['images']}</td></tr>" for h in summary["histogram"])
    pools = "".join(
        f'<tr data-pool="{escape(p.pool)}"><td>{escape(p.pool or "(no pool label)")}</td><td>{p.nodes}</td><td>{escape(p.runtime)}</td>'
        f"<td>{p.images}</td><td>{human(p.fresh_bytes)}{f' (+{p.unknown} of unknown size)' if p.unknown else ''}</td></tr>"
        for p in result.pools
    )
    plan = "".join(
        f'<tr data-prepull="{escape(p.image)}"><td>{escape(p.image)}</td><td>{human(p.size)}</td>'
        f"<td>{escape(', '.join(f'{k}={v}' for k, v in p.selector.items()) or '(all nodes)')}</td>"
        f"<td>{p.missing} of {p.eligible}</td><td>{escape(', '.join(p.reasons))}</td></tr>"
        for p in result.pre_pull
    )
    plan_html = (
        f"<h2>Pre-pull plan ({len(result.pre_pull)})</h2>"
        '<p class="sub">Large images of workloads that scale out or start often, missing from nodes that may run them. '
        "<code>-o imagecache</code> prints these as a kube-fledged ImageCache.</p>"
        f"<table><tr><th>image</th><th>size</th><th>pool</th><th>missing on</th><th>why</th></tr>{plan}</table>"
        if result.pre_pull
        else '<h2>Pre-pull plan</h2><p class="sub">Nothing to pre-pull.</p>'
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    plan_html = _pulls(result) + plan_html
    cap = (
        f", {summary['nodesAtCap']} listing the maximum of {summary['maxImages']} images (they may hold more)"
        if summary["nodesAtCap"]
        else ""
    )
    body = f"""<h1>Image report: {escape(cluster)}</h1>
<p class="sub" id="summary">{summary["images"]} images in use, {human(summary["uniqueBytes"])} unique, {human(summary["cachedBytes"])} cached on
{summary["nodes"]} nodes{cap} · {summary["sizeUnknown"]} of unknown size · {summary["latestTags"]} on :latest or no tag · {when}.</p>
{_top(images, top)}
{plan_html}
<h2>A fresh node per pool</h2><p class="sub">What a new node of each pool pulls to run every image scheduled in its pool today.</p>
<table><tr><th>pool</th><th>nodes</th><th>runtime</th><th>images</th><th>pulls</th></tr>{pools}</table>
<details id="all-images"><summary>All images ({len(images)}), largest first</summary>
<p class="legend"><span><i class="sw size"></i>runtime-reported size</span><span><i class="sw saving"></i>what a distroless base would save</span>
Sizes are what each node's runtime reports: containerd counts compressed layers, CRI-O uncompressed ones.</p>
<div data-list data-keys="name,size,nodes,pods">{rows}</div></details>
<h2>Size histogram</h2><table><tr><th>size</th><th>images</th></tr>{hist}</table>"""
    return html_page(f"Image report: {cluster}", STYLE, body, viewport=True, lines=True, list_tools=True)
