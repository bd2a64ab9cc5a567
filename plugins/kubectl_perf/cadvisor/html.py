"""-o html for the summary: one self-contained page (no scripts, no network), triage first
(issue 23): the flagged containers (throttled, near their memory limit, OOM-killed) counted per
node pool, then listed per pool, each with a bar of CPU throttling and a bar of working set against
the memory limit and their threshold lines; then the nodes against their padding target, breaching
first; then the other containers collapsed. At 1,000 nodes a page listing every container would
weigh 12 MB, so each pool lists its first FLAGGED_PER_POOL flagged containers and the collapsed
list its first OTHERS_SHOWN; the rest are counted (-o json/csv carry every row)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape

from ..render import html_page
from .cells import bytes_text, cores_text, padding_text, pct_text, target_pct, working_set_text
from .compute import ContainerUsage, NodeMemory, SummaryReport, breach_order

FLAGGED_PER_POOL = 100  # bar rows per pool in the flagged section
OTHERS_SHOWN = 300  # bar rows of unflagged containers in the collapsed section

STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}.sub{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #eaeef2;text-align:left;font-size:13px;vertical-align:middle}
.bar{position:relative;width:220px;height:14px;background:#f0f2f5;border-radius:3px;overflow:hidden}
.bar div{position:absolute;left:0;top:0;bottom:0}.thr{background:#f59e0b}.mem{background:#4c8bf5}.hot{background:#b42318}
.line{border-left:2px dashed #b42318;width:0}.na{color:#8c959f}.flag{color:#b42318;font-weight:600}
h3{font-size:14px;margin:18px 0 6px}details{margin:16px 0}summary{cursor:pointer;font-weight:600}
"""


def _bar(kind: str, ratio: float | None, threshold: float, what: str) -> str:
    if ratio is None:
        return f'<span class="na" data-{kind}="none">no {escape(what)}</span>'
    width = min(100.0, ratio * 100)
    cls = "hot" if ratio > threshold else kind
    return (
        f'<div class="bar" data-{kind}="{ratio * 100:.1f}" title="{ratio * 100:.1f}%">'
        f'<div class="{cls}" style="width:{width:.1f}%"></div>'
        f'<div class="line" style="left:{threshold * 100:.1f}%"></div></div>'
    )


def _row(r: ContainerUsage, throttle: float, memory: float) -> str:
    flags = ", ".join(r.flags)
    ratio = r.throttled_ratio if r.throttled_ratio is not None else r.throttled_ratio_since_start
    return (
        f'<tr class="container" data-flags="{escape(flags)}"><td>{escape(r.node)}</td><td>{escape(r.namespace)}</td>'
        f"<td>{escape(r.pod)}</td><td>{escape(r.container or '(pod)')}</td>"
        f"<td>{escape(cores_text(r.cpu_cores))} / {escape(cores_text(r.cpu_limit_cores))}</td>"
        f"<td>{_bar('thr', ratio, throttle, 'CPU limit' if r.cpu_limit_cores is None else 'CFS series')} "
        f"{escape(pct_text(ratio))}</td>"
        f"<td>{escape(bytes_text(r.memory_working_set_bytes))} / {escape(bytes_text(r.memory_limit_bytes))}</td>"
        f"<td>{_bar('mem', r.memory_limit_ratio, memory, 'memory limit')} {escape(pct_text(r.memory_limit_ratio))}</td>"
        f"<td>{'-' if r.oom_events is None else r.oom_events}</td>"
        f"<td>{escape(_psi(r))}</td>"
        f'<td data-contention="{escape(r.contention or "")}">{escape(r.contention or "-")}</td><td class="flag">{escape(flags)}</td></tr>'
    )


def _psi(x: ContainerUsage | NodeMemory) -> str:
    """PSI `some` shares, cpu/memory/io, in one cell ("-" without PSI series)."""
    p = x.pressure
    if p is None:
        return "-"
    return " / ".join(pct_text(v) for v in (p.cpu_some, p.memory_some, p.io_some))


def _node(n: NodeMemory) -> str:
    target = n.padding_target
    state = "" if n.verdict is None else n.verdict.state
    return (
        f'<tr class="node" data-breach="{str(n.padding_breach).lower()}" data-padding="{state}"><td>{escape(n.name)}</td><td>{n.containers}</td>'
        f"<td>{escape(working_set_text(n))} / {escape(bytes_text(n.allocatable_memory_bytes))}</td>"
        f"<td>{_bar('mem', n.working_set_ratio, target if target is not None else 1.0, 'allocatable')}</td>"
        f"<td>{escape(target_pct(target))}</td><td>{escape(padding_text(n))}</td><td>{escape(_psi(n))}</td></tr>"
    )


def _pool_name(pool: str) -> str:
    return pool or "(no pool label)"


def _flag_counts(rows: list[ContainerUsage]) -> dict[str, int]:
    return {f: sum(1 for r in rows if f in r.flags) for f in ("throttling", "memory", "oom-killed")}


def _rows(rows: list[ContainerUsage], head: str, limit: int, throttle: float, memory: float, what: str) -> str:
    """A table of the first `limit` rows, and a line counting the rest."""
    shown = "".join(_row(r, throttle, memory) for r in rows[:limit])
    more = len(rows) - limit
    note = (
        f'<p class="sub more">{more} more {what} not listed here: -o json or -o csv lists every row, --top N the first.</p>'
        if more > 0
        else ""
    )
    return f"<table>{head}{shown}</table>{note}"


def _counted(report: SummaryReport) -> str:
    """`40 containers, 3 flagged`; under --top, what is shown of how many: `10 of 40 containers shown (--top), 26 flagged`."""
    shown, total = len(report.containers), max(report.containers_total, len(report.containers))
    flagged = max(report.flagged_total, sum(1 for r in report.containers if r.flags))
    if shown < total:
        return f"{shown} of {total} containers shown (--top), {flagged} flagged"
    return f"{total} containers, {flagged} flagged"


def page(report: SummaryReport, lead: Sequence[str] = ()) -> str:
    """The summary's page; `lead`: lines shown under the title (the report says there which nodes were
    scraped, and its notes, which the plugin alone prints on stderr)."""
    rows, thresholds = report.containers, report.thresholds
    throttle, memory = thresholds.throttle_threshold, thresholds.memory_threshold
    flagged_rows = [r for r in rows if r.flags]
    flagged = len(flagged_rows)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    throttled = "throttled since start" if report.since_start else "throttled"
    head = f"<tr><th>node</th><th>namespace</th><th>pod</th><th>container</th><th>cpu / limit</th><th>{throttled}</th>"
    head += (
        "<th>working set / limit</th><th>of limit</th><th>OOM</th><th>pressure cpu / memory / io</th><th>contention</th><th>flags</th></tr>"
    )
    # flagged containers per pool, the pools with the most first (in the report's order within one)
    pools: dict[str, list[ContainerUsage]] = {}
    for r in flagged_rows:
        pools.setdefault(report.pools.get(r.node, ""), []).append(r)
    ordered = sorted(pools.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    nodes_per_pool: dict[str, int] = {}
    for pool in report.pools.values():
        nodes_per_pool[pool] = nodes_per_pool.get(pool, 0) + 1
    counts = "".join(
        f'<tr data-pool="{escape(pool)}"><td>{escape(_pool_name(pool))}</td><td>{nodes_per_pool.get(pool, 0)}</td><td>{len(rs)}</td>'
        + "".join(f"<td>{n}</td>" for n in _flag_counts(rs).values())
        + f"<td>{sum(1 for r in rs if r.oom_events)}</td></tr>"
        for pool, rs in ordered
    )
    summary = (
        f'<table class="pools"><tr><th>node pool</th><th>nodes</th><th>flagged</th><th>throttling</th><th>memory</th><th>oom-killed</th><th>with OOM events</th></tr>{counts}</table>'
        if ordered
        else '<p class="sub">No container is flagged.</p>'
    )
    per_pool = "".join(
        f'<section data-pool="{escape(pool)}"><h3>{escape(_pool_name(pool))}: {len(rs)} flagged</h3>'
        + _rows(rs, head, FLAGGED_PER_POOL, throttle, memory, "flagged containers")
        + "</section>"
        for pool, rs in ordered
    )
    # nodes: breaching first unless --sort chose an order
    nodes = report.nodes if report.sort else sorted(report.nodes, key=breach_order)
    others = [r for r in rows if not r.flags]
    others_html = (
        f'<details id="other-containers"><summary>Other containers ({len(others)})</summary>'
        + _rows(others, head, OTHERS_SHOWN, throttle, memory, "containers")
        + "</details>"
        if others
        else ""
    )
    body = (
        f"<h1>CPU throttling and memory against limits</h1>"
        f'<p class="sub">{escape(report.host or "dump files")} &middot; {when} &middot; {_counted(report)} '
        f"(throttled above {throttle * 100:.0f}% of periods, working set above {memory * 100:.0f}% of the limit, or OOM-killed)</p>"
        f"{''.join(f'<p class=sub>{escape(line)}</p>' for line in lead)}"
        f'<h2 id="flagged">Flagged containers by node pool ({flagged})</h2>{summary}{per_pool}'
        f'<h2 id="nodes">Nodes: their working set (the root cgroup, as metrics-server reports it) against allocatable and the padding target</h2>'
        f"<table><tr><th>node</th><th>containers</th><th>working set / allocatable</th><th></th><th>target</th><th>padding</th><th>pressure cpu / memory / io</th></tr>"
        f"{''.join(_node(n) for n in nodes)}</table>"
        f"{others_html}"
    )
    return html_page("kubectl perf cadvisor", STYLE, body, doctype="<!doctype html>")
