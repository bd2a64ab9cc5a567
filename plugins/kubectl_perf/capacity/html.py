"""-o html: one self-contained page (no scripts, no network) with a bar per
node: requests, limits and usage against allocatable, and the padding line."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timezone
from html import escape

from ..padding import BREACH, OVERCOMMIT, Tally
from ..render import REPORT_STYLE, age_seconds, html_page, human_age
from .compute import Node, Report, Total
from .options import groups_of
from .units import amount_text, target_text


def _pct(value: int, whole: int) -> float:
    return min(100.0, value * 100 / whole) if whole else 0.0


def _bar(node: Total | Node, resource: str, show_usage: Collection[str]) -> str:
    amounts = node.amounts
    alloc = (amounts.allocatable or {}).get(resource, 0)
    req, lim = amounts.requests.get(resource, 0), amounts.limits.get(resource, 0)
    parts = [
        f'<div class="req" style="width:{_pct(req, alloc):.1f}%" title="requests {escape(amount_text(resource, req))}"></div>',
        f'<div class="lim" style="width:{_pct(lim, alloc):.1f}%" title="limits {escape(amount_text(resource, lim))}"></div>',
    ]
    if resource in show_usage and amounts.measured(resource):
        use = (amounts.usage or {}).get(resource, 0)
        parts.append(f'<div class="use" style="width:{_pct(use, alloc):.1f}%" title="usage {escape(amount_text(resource, use))}"></div>')
    if resource == "memory" and isinstance(node, Node):  # the cluster row has no target of its own (its nodes' range)
        target = node.padding.target
        parts.append(f'<div class="pad" style="left:{target * 100:.1f}%" title="padding target {target_text(target)}"></div>')
    return (
        f'<div class="res" data-resource="{escape(resource)}"><span class="num">{escape(resource)}</span>'
        f'<div class="bar" data-requests="{_pct(req, alloc):.1f}" data-limits="{_pct(lim, alloc):.1f}">{"".join(parts)}</div></div>'
    )


def _numbers(node: Total | Node, resources: tuple[str, ...], show_usage: Collection[str]) -> str:
    lines = []
    amounts = node.amounts
    for r in resources:
        if r == "pods":
            continue
        alloc = (amounts.allocatable or {}).get(r, 0)
        text = f"{r}: req {amount_text(r, amounts.requests.get(r, 0))} / lim {amount_text(r, amounts.limits.get(r, 0))}"
        if r in show_usage and amounts.measured(r):
            text += f" / use {amount_text(r, (amounts.usage or {}).get(r, 0))}"
        lines.append(f"{escape(text)} of {escape(amount_text(r, alloc))}")
    return "<br>".join(lines)


def _groups(report: Report, resources: list[str], show_usage: Collection[str]) -> str:
    """kube-resource-report's view: what each team or namespace asks for, uses and leaves idle."""
    by = groups_of(report.options.view)
    title = by.title if by else "namespace"
    on_nodes = by is not None and by.on_nodes
    head = ("<th>nodes</th>" if on_nodes else "") + "".join(
        f"<th>{escape(r)} requests</th><th>{escape(r)} limits</th>"
        + (f"<th>{escape(r)} usage</th><th>{escape(r)} slack</th>" if r in show_usage else "")
        for r in resources
    )
    head += "<th>padding</th>" if on_nodes else ""
    rows = []
    for g in report.groups.values():  # in --sort order (sort_report)
        cells = []
        for r in resources:
            req = g.amounts.requests.get(r, 0)
            cells += [amount_text(r, req), amount_text(r, g.amounts.limits.get(r, 0))]
            if r in show_usage:  # a node group none of whose nodes has metrics reads 0 here
                used = (g.amounts.usage or {}).get(r, 0)
                cells += [amount_text(r, used), amount_text(r, req - used) if req else "-"]
        nodes = f"<td>{g.nodes}</td>" if g.nodes is not None else ""
        if g.padding is not None:  # padding is judged per node: the group counts its nodes' verdicts and names the breaching
            named = f" ({', '.join(g.padding.breaching)})" if g.padding.breaching else ""
            cells.append(g.padding.text() + named)
        rows.append(
            f'<tr data-group="{escape(g.name)}"><td>{escape(g.name)}</td><td>{g.pods}</td>{nodes}'
            + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + "</tr>"
        )
    return (
        f'<h2>By {escape(title)} ({len(rows)})</h2><p class="sub">Slack is requested minus used: reserved, and idle.</p>'
        f"<table><tr><th>{escape(title)}</th><th>pods</th>{head}</tr>{''.join(rows)}</table>"
    )


def _unlisted(nodes: list[Node], resources: list[str], show_usage: Collection[str]) -> str:
    """Nodes could not be listed: the pods in a table, no bars (no allocatable to draw against)."""
    head = "".join(
        f"<th>{escape(r)} requests</th><th>{escape(r)} limits</th>" + (f"<th>{escape(r)} usage</th>" if r in show_usage else "")
        for r in resources
    )
    rows = []
    for p in (p for n in nodes for p in n.rows):
        cells = []
        for r in resources:
            cells += [amount_text(r, p.amounts.requests.get(r, 0)), amount_text(r, p.amounts.limits.get(r, 0))]
            if r in show_usage:
                cells.append(amount_text(r, (p.amounts.usage or {}).get(r, 0)) if p.amounts.measured(r) else "-")
        rows.append(
            f'<tr data-pod="{escape(p.namespace)}/{escape(p.name)}"><td>{escape(p.namespace)}</td><td>{escape(p.name)}</td>'
            f"<td>{escape(p.node)}</td>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
        )
    return (
        f'<h2>Pods ({len(rows)})</h2><p class="sub unlisted">Nodes could not be listed (forbidden to this user): '
        "no allocatable, no padding verdict.</p>"
        f"<table><tr><th>namespace</th><th>pod</th><th>node</th>{head}</tr>{''.join(rows)}</table>"
    )


def page(report: Report, resources: tuple[str, ...], cluster: str, filters: str = "") -> str:
    """The page; filters names the active pod filters (e.g. "-n shop"), shown under the title."""
    show_usage = report.metered if report.options.util else set()  # the resources whose usage is shown
    total = report.total
    nodes = total.nodes
    now = datetime.now(timezone.utc)
    bars = [r for r in resources if r != "pods"]
    rows = []
    shown: list[Total | Node] = [total, *nodes]
    for n in shown:
        padding = n.padding  # padding.judge's verdict, or the cluster's count of them: the table's words
        state = padding.state
        name = "cluster total" if isinstance(n, Total) else n.name + (f" ({n.state})" if n.state else "")
        created = n.created if isinstance(n, Node) else ""
        age = age_seconds(created, now) if created else None
        targets = padding.targets_text() if isinstance(padding, Tally) else target_text(padding.target)
        css = {BREACH: "bad", OVERCOMMIT: "warn"}.get(state, "ok")
        status = f'<span class="{css}" data-padding="{state}">{escape(padding.text())}</span>'
        rows.append(
            f'<div class="node{" breach" if state == BREACH else ""}" data-node="{escape(n.name if isinstance(n, Node) else "*")}">'
            f'<div class="name" title="{escape(name)}"><b>{escape(name)}</b><br><span class="num">{n.pods} pods · target {targets}{f" · age {human_age(age)}" if age is not None else ""} · {status}</span></div>'
            f"<div>{''.join(_bar(n, r, show_usage) for r in bars)}</div>"
            f'<div class="num">{_numbers(n, resources, show_usage)}</div></div>'
        )
    pending = "".join(
        f"<tr><td>{escape(p.namespace)}</td><td>{escape(p.name)}</td>"
        + "".join(f"<td>{escape(amount_text(r, p.amounts.requests.get(r, 0)))}</td>" for r in bars)
        + "</tr>"
        for p in report.pending
    )
    pending_html = (
        (
            f"<h2>Pending pods ({len(report.pending)})</h2><table><tr><th>namespace</th><th>pod</th>"
            + "".join(f"<th>{escape(r)} requests</th>" for r in bars)
            + f"</tr>{pending}</table>"
        )
        if report.pending
        else ""
    )
    if not report.options.nodes_known:
        rows = [_unlisted(nodes, bars, show_usage)]
    groups_html = _groups(report, bars, show_usage) if groups_of(report.options.view) is not None else ""
    breaching = len(total.padding.breaching)
    overcommitted = len(total.padding.overcommitted)
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    usage_note = "" if show_usage else " Live usage not shown (run with --util and metrics-server)."
    filter_note = (
        f'<p class="sub filters">Filtered by <code>{escape(filters)}</code>: bars and figures sum the selected pods; '
        "the padding verdict weighs whole nodes.</p>"
        if filters
        else ""
    )
    body = f"""<h1>Capacity report: {escape(cluster)}</h1>
<p class="sub">{sum(1 for n in nodes if n.known)} nodes, {total.pods} pods, {breaching} breaching their memory padding target, {overcommitted} overcommitted · {when}.{usage_note}</p>
{filter_note}<p class="legend"><span><i class="sw req"></i>requests</span><span><i class="sw lim"></i>limits</span><span><i class="sw use"></i>usage</span>
<span><i class="sw" style="border-left:2px dashed #b42318"></i>memory padding target</span> Bars are shares of each node's allocatable.</p>
<p class="sub">Memory use should stay below the padding target: about 50% on nodes whose workloads lean on disk I/O and page cache,
up to 90% on very big CPU-bound nodes, 75% in between. A node breaches when its memory in use passes the target; committed limits past it are overcommit
(a warning, or a breach where the policy's <code>padding.limits: breach</code> says so).</p>
{"".join(rows)}
{groups_html}
{pending_html}"""
    return html_page(f"Capacity report: {cluster}", REPORT_STYLE, body, viewport=True, lines=True)
