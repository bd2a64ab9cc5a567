"""`-o html`: one self-contained page, a section per category, results coloured by outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from ..render import html_page
from ..reports import Result
from .compute import Overview
from .output import SHOWN, score_line, where
from .rules import BY_ID

STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2em}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top}
.fail,.error{background:#fde2e1}.warn{background:#fff4d6}.skip{color:#777}
.summary span{margin-right:1.5em;font-weight:600}
"""


def _counts_table(first: str, rows: Mapping[str, Mapping[str, int]], extra: bool, kind: str) -> str:
    head = "".join(f"<th>{k}</th>" for k in SHOWN)
    more = "<th>Category</th><th>Severity</th>" if extra else ""
    body = "".join(
        f'<tr data-{kind}="{escape(name)}"><td>{escape(name)}</td>'
        + (f"<td>{escape(BY_ID[name].category)}</td><td>{BY_ID[name].severity}</td>" if extra else "")
        + "".join(f'<td class="{k if counts[k] and k != "pass" else ""}" data-outcome="{k}">{counts[k]}</td>' for k in SHOWN)
        + "</tr>"
        for name, counts in rows.items()
    )
    return f"<table><thead><tr><th>{first}</th>{more}{head}</tr></thead><tbody>{body}</tbody></table>"


def page(summary: Mapping[str, int], results: Sequence[Result], server: str, o: Overview) -> str:
    counts = "".join(f'<span class="{k}" data-outcome="{k}">{summary[k]} {k}</span>' for k in SHOWN)
    score = f'<p class="score" data-score="{"" if o.score is None else f"{o.score:g}"}">{escape(score_line(o.score).strip())}</p>'
    top = (
        f"{score}<h2>By category</h2>{_counts_table('Category', o.by_category, False, 'category')}"
        f"<h2>By rule</h2>{_counts_table('Rule', o.by_rule, True, 'rule-count')}"
    )
    sections = []
    for category in dict.fromkeys(r.category for r in results):
        rows = "".join(
            f'<tr class="{r.result}" data-rule="{escape(r.rule)}" data-result="{r.result}" data-resource="{escape(where(r))}">'
            f"<td>{r.result}</td><td>{r.severity}</td><td>{escape(r.rule)}</td>"
            f"<td>{escape(where(r))}</td><td>{escape(r.properties.get('pods', ''))}</td><td>{escape(r.message)}</td></tr>"
            for r in results
            if r.category == category
        )
        sections.append(
            f"<h2>{escape(category)}</h2><table><thead><tr><th>Result</th><th>Severity</th><th>Rule</th>"
            f"<th>Resource</th><th>Pods</th><th>Message</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    body = "".join(sections) or "<p>No failing or warning results.</p>"
    content = f'<h1>kubectl perf audit</h1><p>{escape(server)}</p><p class="summary">{counts}</p>{top}<h2>Results</h2>{body}'
    return html_page("kubectl perf audit", STYLE, content)
