"""`kubectl perf volumes -o html`: one self-contained page (render.html_page), the three tables
of the terminal output with a bar per volume and node filesystem."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..render import REPORT_STYLE, Table, html_page
from .compute import Report
from .output import node_table, unused_table, volume_table

STYLE = (
    REPORT_STYLE
    + ".warn{color:#9a6700;font-weight:600}.crit{color:#b42318;font-weight:600}td.r{text-align:right}"
    + ".note{background:#fff8c5;border:1px solid #d4a72c;border-radius:4px;padding:6px 10px;margin:0 0 8px}"
)


def _table(t: Table, levels: Sequence[str] | None = None) -> str:
    cols = list(t.columns)
    head = "".join(f"<th>{escape(c.header)}</th>" for c in cols)
    body = []
    for n, row in enumerate(t.rows):
        cls = f' class="{levels[n]}"' if levels and levels[n] in ("warn", "crit") else ""
        cells = "".join(f"<td{' class=r' if c.right else ''}>{escape(c.text(row))}</td>" for c in cols)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(report: Report, cluster: str, notes: Sequence[str] = ()) -> str:
    """`notes`: what the run printed on stderr (unreadable nodes, missing permissions), said under the title."""
    t = report.policy.default
    parts = [
        f"<h1>Volumes: {escape(cluster)}</h1>",
        f'<p class="sub">warn at {t.warn:.0%} used, critical at {t.crit:.0%} (bytes or inodes); '
        "node filesystems are critical when a hard eviction signal is met.</p>",
        *(f'<p class="note">note: {escape(n)}</p>' for n in notes),
        "<h2>Volumes</h2>",
        _table(volume_table(report.volumes), [r.level for r in report.volumes]),
        "<h2>Node filesystems</h2>",
        _table(node_table(report.nodes), [r.level for r in report.nodes]),
    ]
    if report.unused_shown:
        parts += ["<h2>Claims no pod mounts, and released volumes</h2>", _table(unused_table(report.unused))]
    return html_page(f"Volumes: {cluster}", STYLE, "\n".join(parts), viewport=True, lines=True)
