"""-o html: one self-contained page (nothing fetched from the network), triage first (issue 23):
the per-pool table (the node groups of --by node-label:KEY, else the cluster), then the nodes that
breach their padding target, each a bar of requests, limits and usage against allocatable with the
padding line, then every other node collapsed in <details>, filterable and sortable by a small
inline script (render.LIST_TOOLS_SCRIPT) that the first screen does not need."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timezone
from html import escape

from ..padding import BREACH, TONES, UNKNOWN, Tally, Verdict
from ..render import REPORT_STYLE, age_seconds, data_attrs, html_page, human_age
from .compute import Amounts, Node, Report, Total
from .options import groups_of
from .sorting import breach_order
from .units import amount_text, percent_of, target_text


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
        if g.padding is not None:  # padding is judged per node: the group counts its nodes' verdicts
            cells.append(g.padding.text())
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


def _cell(resource: str, value: int, whole: int) -> str:
    """An amount and its share of `whole` in the tables' units, the share first (what a person
    compares across pools), the amount under it: `97%` over `13987000m`."""
    pct = percent_of(resource, value, whole)
    amount = f'<span class="num">{escape(amount_text(resource, value))}</span>'
    return f"{escape(pct)}<br>{amount}" if pct is not None else amount


def _headroom(verdicts: list[Verdict]) -> str:
    """Memory left under the padding target: the nodes' budgets (allocatable x target) minus their
    usage, summed; negative when usage is over in sum. "-" when some node's usage is not known (a
    partial sum would read as headroom that is not there)."""
    judged = [v for v in verdicts if v.judged]
    if not judged or any(v.usage is None for v in judged):
        return "-"
    return amount_text("memory", sum(v.budget - (v.usage or 0) for v in judged))


def _pool_row(
    name: str,
    attrs: str,
    amounts: Amounts,
    nodes: int,
    pods: int,
    padding: Tally,
    verdicts: list[Verdict],
    bars: list[str],
    usage: Collection[str],
) -> str:
    alloc = amounts.allocatable or {}
    css = TONES[padding.state]
    # the verdicts first (what a person decides from), then the figures behind them
    cells = [
        escape(name),
        str(nodes),
        str(pods),
        f'<span class="{css}" data-padding="{padding.state}">{escape(padding.text())}</span>',
        escape(padding.targets_text()),
        escape(_headroom(verdicts)),
    ]
    for r in bars:
        whole = alloc.get(r, 0)
        cells += [escape(amount_text(r, whole)), _cell(r, amounts.requests.get(r, 0), whole), _cell(r, amounts.limits.get(r, 0), whole)]
        if r in usage:
            cells.append(_cell(r, (amounts.usage or {}).get(r, 0), whole) if amounts.measured(r) else "-")
    return f"<tr{attrs}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _pools(report: Report, bars: list[str], usage: Collection[str]) -> str:
    """The first table: each node group of --by node-label:KEY (else none), then the cluster row,
    with allocatable, requests, limits and usage as shares of it, the padding targets, the
    verdicts counted (BREACH n/m) and the headroom to the target. Counts only: the breaching
    nodes are named in the next section, not in a cell."""
    by = groups_of(report.options.view)
    on_nodes = by is not None and by.on_nodes and by.label is not None
    head = "".join(
        f"<th>{escape(r)}<br>allocatable</th><th>{escape(r)}<br>requests</th><th>{escape(r)}<br>limits</th>"
        + (f"<th>{escape(r)}<br>usage</th>" if r in usage else "")
        for r in bars
    )
    members: dict[str, list[Verdict]] = {}
    if on_nodes and by is not None and by.label is not None:
        for n in report.nodes.values():
            members.setdefault(n.labels.get(by.label, "<none>"), []).append(n.padding)
    rows = []
    if on_nodes:
        for g in report.groups.values():  # in --sort order, and as --top and --only-breaching left them
            assert g.padding is not None and g.nodes is not None
            rows.append(
                _pool_row(
                    g.name, f' data-group="{escape(g.name)}"', g.amounts, g.nodes, g.pods, g.padding, members.get(g.name, []), bars, usage
                )
            )
    total = report.total
    every = [n.padding for n in report.nodes.values()]
    known = sum(1 for n in report.nodes.values() if n.known)
    rows.append(
        _pool_row("cluster total", ' data-node="*" class="total"', total.amounts, known, total.pods, total.padding, every, bars, usage)
    )
    title = f"By {escape(by.title)} ({len(rows) - 1})" if on_nodes and by is not None else "Cluster"
    return (
        f'<h2 id="pools">{title}</h2>'
        f'<table class="pools"><tr><th>{escape(by.title) if on_nodes and by is not None else ""}</th><th>nodes</th><th>pods</th>'
        f"<th>padding</th><th>memory target</th><th>headroom to target</th>{head}</tr>"
        f"{''.join(rows)}</table>"
        '<p class="sub">Percentages are of allocatable. Headroom to target: the nodes\' memory budgets (allocatable x target) '
        "minus their usage; padding counts each node's own verdict (one full node cannot hide behind an empty one).</p>"
    )


def _node_block(n: Node, resources: tuple[str, ...], bars: list[str], show_usage: Collection[str], now: datetime) -> str:
    """One node: its name and verdict, a bar per resource, its figures; data-k-* for the sort buttons."""
    padding = n.padding
    state = padding.state
    name = n.name + (f" ({n.state})" if n.state else "")
    age = age_seconds(n.created, now) if n.created else None
    css = TONES[state]
    status = f'<span class="{css}" data-padding="{state}">{escape(padding.text())}</span>'
    alloc = n.amounts.allocatable or {}

    def share(value: int | None, resource: str) -> float | None:
        whole = alloc.get(resource, 0)
        return None if value is None or not whole else value * 100 / whole

    mem_use = (n.amounts.usage or {}).get("memory") if n.amounts.measured("memory") else None
    keys = data_attrs(
        {
            "memory-usage": share(mem_use, "memory"),
            "memory-requests": share(n.amounts.requests.get("memory", 0), "memory"),
            "memory-limits": share(n.amounts.limits.get("memory", 0), "memory"),
            "cpu-requests": share(n.amounts.requests.get("cpu", 0), "cpu"),
        }
    )
    return (
        f'<div class="node{" breach" if state == BREACH else ""}" data-node="{escape(n.name)}"{keys}>'
        f'<div class="name" title="{escape(name)}"><b>{escape(name)}</b><br><span class="num">{n.pods} pods · target {target_text(padding.target)}'
        f"{f' · age {human_age(age)}' if age is not None else ''} · {status}</span></div>"
        f"<div>{''.join(_bar(n, r, show_usage) for r in bars)}</div>"
        f'<div class="num">{_numbers(n, resources, show_usage)}</div></div>'
    )


LIST_KEYS = 'data-keys="name,memory-usage,memory-requests,memory-limits,cpu-requests"'


def verdicts_text(t: Tally, usage_asked: bool) -> str:
    """The verdicts counted in words: `3 breaching their memory padding target, 5 overcommitted`, with
    `2 with usage unknown`, or what they weigh when usage was not read (the committed figures alone)."""
    text = f"{len(t.breaching)} breaching their memory padding target, {len(t.overcommitted)} overcommitted"
    if t.unknown:
        text += f", {len(t.unknown)} with usage unknown (they may breach)"
    return text if usage_asked else f"{text} (on committed memory: usage not read, run with --util)"


def page(report: Report, resources: tuple[str, ...], cluster: str, filters: str = "", ordered: bool = False) -> str:
    """The page; filters names the active pod filters (e.g. "-n shop"), shown under the title.
    ordered: the nodes are in a --sort order the user chose; otherwise they are ranked as
    --sort breach ranks them (breaching first, then overcommitted, each by memory usage)."""
    show_usage = report.metered if report.options.util else set()  # the resources whose usage is shown
    total = report.total
    nodes = total.nodes if ordered else sorted(total.nodes, key=breach_order)
    now = datetime.now(timezone.utc)
    bars = [r for r in resources if r != "pods"]
    breaching = [n for n in nodes if n.known and n.padding.breaches]
    others = [n for n in nodes if n.known and not n.padding.breaches]
    pending = "".join(
        f'<tr data-name="{escape(p.namespace)}/{escape(p.name)}"><td>{escape(p.namespace)}</td><td>{escape(p.name)}</td>'
        + "".join(f"<td>{escape(amount_text(r, p.amounts.requests.get(r, 0)))}</td>" for r in bars)
        + "</tr>"
        for p in report.pending
    )
    pending_html = (
        (
            f'<details id="pending"><summary>Pending pods ({len(report.pending)})</summary><table><thead><tr><th>namespace</th><th>pod</th>'
            + "".join(f"<th>{escape(r)} requests</th>" for r in bars)
            + f"</tr></thead><tbody data-list>{pending}</tbody></table></details>"
        )
        if report.pending
        else ""
    )
    if not report.options.nodes_known:
        node_html = _unlisted(nodes, bars, show_usage)
    else:
        breach_html = (
            f'<div class="nodes" id="breaching-nodes" data-list {LIST_KEYS}>'
            + "".join(_node_block(n, resources, bars, show_usage, now) for n in breaching)
            + "</div>"
            if breaching
            else f'<p class="sub">{escape(total.padding.no_breach_text(report.options.usage_asked))}</p>'
        )
        overcommitted = sum(1 for n in others if n.padding.overcommits)
        unknown = sum(1 for n in others if n.padding.state == UNKNOWN)
        rest = (
            f'<details id="other-nodes"><summary>Other nodes ({len(others)}: {overcommitted} overcommitted, '
            + (f"{unknown} with usage unknown, " if unknown else "")
            + f'{len(others) - overcommitted - unknown} ok)</summary><div class="nodes" data-list {LIST_KEYS}>'
            + "".join(_node_block(n, resources, bars, show_usage, now) for n in others)
            + "</div></details>"
            if others
            else ""
        )
        trimmed = len(nodes) < sum(1 for n in report.nodes.values() if n.known)
        shown = f" of the {len(nodes)} shown" if trimmed else ""
        node_html = (
            f'<h2 id="breaching">Breaching nodes ({len(breaching)}{shown})</h2>'
            '<p class="legend"><span><i class="sw req"></i>requests</span><span><i class="sw lim"></i>limits</span><span><i class="sw use"></i>usage</span>'
            '<span><i class="sw" style="border-left:2px dashed #b42318"></i>memory padding target</span> Bars are shares of each node\'s allocatable.</p>'
            f"{breach_html}{rest}"
        )
    by = groups_of(report.options.view)
    groups_html = _groups(report, bars, show_usage) if by is not None and not by.on_nodes else ""
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    usage_note = "" if show_usage else " Live usage not shown (run with --util and metrics-server)."
    filter_note = (
        f'<p class="sub filters">Filtered by <code>{escape(filters)}</code>: bars and figures sum the selected pods; '
        "the padding verdict weighs whole nodes.</p>"
        if filters
        else ""
    )
    known = sum(1 for n in report.nodes.values() if n.known)
    body = f"""<h1>Capacity report: {escape(cluster)}</h1>
<p class="sub">{known} nodes, {total.pods} pods, {verdicts_text(total.padding, report.options.usage_asked)} · {when}.{usage_note}</p>
{filter_note}{_pools(report, bars, show_usage) if report.options.nodes_known else ""}
{groups_html}
{node_html}
{pending_html}
<p class="sub">Memory use should stay below the padding target: about 50% on nodes whose workloads lean on disk I/O and page cache,
up to 90% on very big CPU-bound nodes, 75% in between. A node breaches when its memory in use passes the target; committed limits past it are overcommit
(a warning, or a breach where the policy's <code>padding.limits: breach</code> says so).</p>"""
    return html_page(f"Capacity report: {cluster}", REPORT_STYLE, body, viewport=True, lines=True, list_tools=True)
