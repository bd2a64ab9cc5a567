"""The report's HTML: one self-contained page (no scripts, no network), or a folder of pages.

The first screen is the numbers a person decides from (nodes, pools, padding breaches,
overcommit, failing audit rules, top throttled containers, pre-pull candidates), each linking
to its section; below come the sections, each as short as its triage: the per-pool table and
the breaching nodes, the rule counts, the flagged containers, the pre-pull plan. --out writes
each section's full page with the plugin's own html module (the coupling is its page function)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape

from ..capacity.sorting import breach_order
from ..padding import BREACH, TONES
from ..render import REPORT_STYLE, html_page, percent_text
from .compute import Figures
from .sections import TITLES, Audit, Cadvisor, Capacity, Images, Missing, Section

STYLE = (
    REPORT_STYLE
    + """
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 16px}.card{display:block;min-width:150px;padding:10px 14px;border:1px solid #d0d7de;
border-radius:6px;color:inherit;text-decoration:none}.card b{display:block;font-size:24px}.card.bad b{color:#b42318}.card.warn b{color:#b54708}
.missing{color:#57606a;font-style:italic}section{margin-top:8px}td.n,th.n{text-align:right}
"""
)


@dataclass(frozen=True)
class ClusterPage:
    """One cluster's part of the report."""

    name: str  # the context ("" when the connection names none)
    server: str
    sections: dict[str, Section]
    figures: Figures


def slug(text: str) -> str:
    """An id and file name part from a context name (contexts may hold ':', '/', '@')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "cluster"


def _unknown(unknown: int | None, nodes: int | None) -> str:
    """The padding card's word on nodes whose usage is unknown (they may breach: not counted as none)."""
    return f"; usage unknown on {unknown} of {nodes} nodes (they may breach)" if unknown else ""


def cards(c: ClusterPage, href: str) -> str:
    """The first screen's figures for one cluster, each a link to its section (href % section)."""
    f = c.figures
    throttled = f.throttled_count
    rules = None if f.failing_rules is None else len(f.failing_rules)
    items = [
        ("nodes", f.nodes, "capacity", "", ""),
        ("pools", f.pools, "capacity", "", ""),
        ("padding breaches", f.breaching, "capacity", "bad", "nodes over their memory padding target" + _unknown(f.unknown, f.nodes)),
        ("overcommitted", f.overcommitted, "capacity", "warn", "nodes with committed limits past the target"),
        ("failing audit rules", rules, "audit", "bad", ", ".join(f.failing_rules or ())),
        (
            "throttled containers",
            throttled,
            "cadvisor",
            "warn",
            "; ".join(filter(None, [f.cadvisor_scope, "since each container started" if f.since_start else ""])),
        ),
        ("pre-pull candidates", f.pre_pull, "images", "", ""),
    ]
    out = []
    for label, value, section, tone, title in items:
        if section not in c.sections:  # left out with --sections
            continue
        text = "–" if value is None else str(value)
        css = tone if value else ""
        why = title if value is not None or (label == "padding breaches" and f.unknown) else f"{TITLES[section]}: not read"
        key = slug(label)
        out.append(
            f'<a class="card {css}" href="{escape(href % section)}" data-figure="{key}" title="{escape(why)}"><b>{text}</b>{escape(label)}</a>'
        )
    top = ""
    if f.throttled:
        rows = "".join(
            f"<tr><td>{escape(t.namespace)}/{escape(t.pod)}</td><td>{escape(t.container)}</td><td>{escape(t.node)}</td>"
            f'<td class="n">{t.ratio * 100:.0f}%</td></tr>'
            for t in f.throttled[:5]
        )
        top = f'<table class="top-throttled"><tr><th>most throttled</th><th>container</th><th>node</th><th class="n">throttled</th></tr>{rows}</table>'
    return f'<div class="cards" data-cluster="{escape(c.name)}">{"".join(out)}</div>{top}'


# -- sections -------------------------------------------------------------------------------------
def _pct(value: int, whole: int) -> str:
    return percent_text(value, whole) or "–"


def capacity_section(s: Capacity) -> str:
    from ..capacity.units import amount_text

    report = s.report
    rows = []
    for g in sorted(report.groups.values(), key=breach_order):  # as capacity --sort breach ranks them
        alloc = g.amounts.allocatable or {}
        cells = []
        for r in ("cpu", "memory"):
            whole = alloc.get(r, 0)
            use = (g.amounts.usage or {}).get(r) if g.amounts.usage is not None else None
            cells.append(
                f'<td class="n">{escape(amount_text(r, whole))}</td><td class="n">{_pct(g.amounts.requests.get(r, 0), whole)}</td>'
                f'<td class="n">{_pct(g.amounts.limits.get(r, 0), whole)}</td><td class="n">{"–" if use is None else _pct(use, whole)}</td>'
            )
        padding = g.padding
        state = padding.state if padding else ""
        css = TONES[state] if padding else ""
        rows.append(
            f'<tr data-pool="{escape(g.name)}"><td>{escape(g.name)}</td><td class="n">{g.nodes}</td><td class="n">{g.pods}</td>{"".join(cells)}'
            f'<td>{escape(padding.targets_text() if padding else "–")}</td><td class="{css}">{escape(padding.text() if padding else "–")}</td></tr>'
        )
    head = (
        f"<tr><th>{escape(s.pool_label)}</th><th class=n>nodes</th><th class=n>pods</th>"
        "<th class=n>cpu</th><th class=n>req</th><th class=n>lim</th><th class=n>use</th>"
        "<th class=n>memory</th><th class=n>req</th><th class=n>lim</th><th class=n>use</th><th>target</th><th>padding</th></tr>"
    )
    breaching = [n for n in report.total.nodes if n.padding.state == BREACH]
    listed = "".join(
        f'<li data-node="{escape(n.name)}">{escape(n.name)} <span class="num">{escape(n.padding.text())}</span></li>'
        for n in breaching[:50]
    )
    more = f"<p class=sub>… and {len(breaching) - 50} more (kubectl perf capacity --util)</p>" if len(breaching) > 50 else ""
    nodes = (
        f"<h3>Breaching nodes ({len(breaching)})</h3><ul>{listed}</ul>{more}"
        if breaching
        else f"<p class={'warn' if report.total.padding.unknown else 'ok'}>{escape(report.total.padding.no_breach_text())}</p>"
    )
    notes = "".join(f"<p class=sub>{escape(n)}</p>" for n in s.notes)
    return f'<table class="pools">{head}{"".join(rows)}</table>{nodes}{notes}'


def audit_section(s: Audit) -> str:
    o = s.overview
    score = "–" if o.score is None else f"{o.score:g}%"
    rows = "".join(
        f'<tr data-rule="{escape(rule)}"><td>{escape(rule)}</td>'
        + "".join(
            f'<td class="n{" bad" if k in ("fail", "error") and c.get(k) else ""}">{c.get(k, 0)}</td>'
            for k in ("fail", "warn", "error", "pass", "skip")
        )
        + "</tr>"
        for rule, c in sorted(o.by_rule.items(), key=lambda kv: (-(kv[1].get("fail", 0) + kv[1].get("error", 0)), kv[0]))
    )
    counts = ", ".join(f"{v} {k}" for k, v in s.summary.items() if v)
    return (
        f"<p>Score {escape(score)} · {escape(counts or 'no results')}</p>"
        f'<table class="rules"><tr><th>rule</th><th class=n>fail</th><th class=n>warn</th><th class=n>error</th><th class=n>pass</th><th class=n>skip</th></tr>{rows}</table>'
    )


def images_section(s: Images, top: int) -> str:
    def mb(n: int | None) -> str:
        return "?" if n is None else f"{n / 1e6:,.0f} MB"

    heavy = sorted(s.report.images, key=lambda r: -((r.size or 0) * len(r.holding)))[:top]
    rows = "".join(
        f"<tr><td>{escape(r.short)}</td><td class=n>{mb(r.size)}</td><td class=n>{len(r.holding)}</td><td class=n>{mb((r.size or 0) * len(r.holding))}</td></tr>"
        for r in heavy
    )
    plan = "".join(
        f"<tr><td>{escape(p.image)}</td><td>{escape(p.pool)}</td><td class=n>{mb(p.size)}</td><td class=n>{p.missing}/{p.eligible}</td></tr>"
        for p in s.report.pre_pull[:top]
    )
    plan_html = (
        f'<h3>Pre-pull plan ({len(s.report.pre_pull)})</h3><table class="prepull"><tr><th>image</th><th>pool</th><th class=n>size</th><th class=n>nodes missing it</th></tr>{plan}</table>'
        if s.report.pre_pull
        else "<p class=sub>No pre-pull candidate.</p>"
    )
    return f'{plan_html}<h3>Top images by bytes × nodes</h3><table class="images"><tr><th>image</th><th class=n>size</th><th class=n>nodes</th><th class=n>bytes × nodes</th></tr>{rows}</table>'


def cadvisor_section(s: Cadvisor, top: int) -> str:
    summary = s.summary
    since = summary.since_start
    flagged = [r for r in summary.containers if r.flags][:top]

    def ratio(v: float | None) -> str:
        return "–" if v is None else f"{v * 100:.0f}%"

    rows = "".join(
        f"<tr><td>{escape(r.namespace)}/{escape(r.pod)}</td><td>{escape(r.container)}</td><td>{escape(r.node)}</td>"
        f"<td class=n>{ratio(r.throttled_ratio_since_start if since else r.throttled_ratio)}</td><td class=n>{ratio(r.memory_limit_ratio)}</td>"
        f"<td>{escape(', '.join(r.flags))}</td></tr>"
        for r in flagged
    )
    when = "since each container started (one scrape)" if since else "between two scrapes"
    table = (
        f'<table class="flagged"><tr><th>pod</th><th>container</th><th>node</th><th class=n>throttled</th><th class=n>memory/limit</th><th>flags</th></tr>{rows}</table>'
        if flagged
        else "<p class=ok>No container flagged.</p>"
    )
    notes = "".join(f"<p class=sub>{escape(n)}</p>" for n in summary.notes.lines[:5])
    return f"<p class=sub>{escape(s.scope())}; throttling {when}.</p>{table}{notes}"


def section_body(s: Section, top: int) -> str:
    if isinstance(s, Missing):
        return f'<p class="missing">Not available: {escape(s.reason)}</p>'
    if isinstance(s, Capacity):
        return capacity_section(s)
    if isinstance(s, Audit):
        return audit_section(s)
    if isinstance(s, Images):
        return images_section(s, top)
    return cadvisor_section(s, top)


def _heading(c: ClusterPage) -> str:
    return f"{c.name or c.server}" + (f" ({c.server})" if c.name and c.server else "")


def page(clusters: list[ClusterPage], unreachable: list[tuple[str, str]], top: int) -> str:
    """The single page: the first screen of every cluster first, then each cluster's sections."""
    several = len(clusters) + len(unreachable) > 1
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    screens, bodies = [], []
    for c in clusters:
        anchor = f"{slug(c.name)}-%s" if several else "%s"
        screens.append((f"<h2>{escape(_heading(c))}</h2>" if several else "") + cards(c, "#" + anchor))
        for name, s in c.sections.items():
            bodies.append(
                f'<section id="{escape(anchor % name)}" data-section="{name}"><h2>{escape(TITLES[name])}'
                f"{' · ' + escape(c.name) if several else ''}</h2>{section_body(s, top)}</section>"
            )
    lost = "".join(f'<p class="missing" data-unreachable="{escape(n)}">{escape(n)}: not read: {escape(why)}</p>' for n, why in unreachable)
    title = "Cluster report" + ("" if several else f": {_heading(clusters[0])}" if clusters else "")
    body = f'<h1>{escape(title)}</h1><p class="sub">{when}</p><div id="first-screen">{"".join(screens)}{lost}</div>{"".join(bodies)}'
    return html_page(title, STYLE, body, viewport=True, lines=True)


def index(clusters: list[ClusterPage], unreachable: list[tuple[str, str]], files: dict[tuple[str, str], str]) -> str:
    """--out's index.html: the first screens, linking to the section pages (files: (cluster, section) -> file)."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = []
    for c in clusters:
        links = []
        for name, s in c.sections.items():
            if isinstance(s, Missing):
                links.append(f'<li class="missing" data-section="{name}">{escape(TITLES[name])}: not available: {escape(s.reason)}</li>')
            else:
                links.append(f'<li data-section="{name}"><a href="{escape(files[(c.name, name)])}">{escape(TITLES[name])}</a></li>')
        screen = cards(c, "%s")
        for n in c.sections:  # each figure links to its section's page (or stays put when it is missing)
            screen = screen.replace(f'href="{n}"', f'href="{escape(files.get((c.name, n), "#"))}"')
        parts.append(f"<h2>{escape(_heading(c))}</h2>{screen}<ul>{''.join(links)}</ul>")
    lost = "".join(f'<p class="missing" data-unreachable="{escape(n)}">{escape(n)}: not read: {escape(why)}</p>' for n, why in unreachable)
    body = f'<h1>Cluster report</h1><p class="sub">{when}</p><div id="first-screen">{"".join(parts)}{lost}</div>'
    return html_page("Cluster report", STYLE, body, viewport=True, lines=True)


def section_page(c: ClusterPage, name: str) -> str | None:
    """A section's own page, made by its plugin's html module; None for a missing section."""
    s = c.sections[name]
    host = c.server
    if isinstance(s, Capacity):
        from ..capacity.html import page as capacity_page

        return capacity_page(s.report, s.resources, host)
    if isinstance(s, Audit):
        from ..audit.html import page as audit_page

        return audit_page(s.summary, s.listed, host, s.overview)
    if isinstance(s, Images):
        from ..images.html import page as images_page

        return images_page(s.report, s.document(), host, s.top)
    if isinstance(s, Cadvisor):
        from ..cadvisor.html import page as cadvisor_page

        return cadvisor_page(s.summary, [s.scope(), *s.summary.notes.lines])
    return None
