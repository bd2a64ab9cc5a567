"""`-o html`: one self-contained page, triage first (issue 23): the score and the counts per
category and per rule (rules with failures first), then the failing workloads grouped by rule,
then warnings per rule and passing or skipped results collapsed in <details>."""

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
details{margin:0 0 1em}summary{cursor:pointer}h3{font-size:15px;margin:1.2em 0 .4em}.sub{color:#555;font-weight:normal}
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


# Which results a person acts on first: failures (and checks that could not run), then warnings.
URGENT = ("fail", "error")
SEVERITY_ORDER = ("high", "medium", "low")


def _triage_order(by_rule: Mapping[str, Mapping[str, int]]) -> dict[str, Mapping[str, int]]:
    """Rules with failures or errors first, then with warnings, then the rest; within each, by
    severity, then by how many results; the registry's order breaks ties (sorted is stable)."""

    def key(rule: str) -> tuple[int, int, int]:
        counts = by_rule[rule]
        urgent = sum(counts[k] for k in URGENT)
        tier = 0 if urgent else 1 if counts["warn"] else 2
        severity = SEVERITY_ORDER.index(BY_ID[rule].severity) if rule in BY_ID and BY_ID[rule].severity in SEVERITY_ORDER else 3
        return (tier, severity, -(urgent or counts["warn"]))

    return {rule: by_rule[rule] for rule in sorted(by_rule, key=key)}


def _rows(results: Sequence[Result]) -> str:
    return "".join(
        f'<tr class="{r.result}" data-rule="{escape(r.rule)}" data-result="{r.result}" data-resource="{escape(where(r))}">'
        f"<td>{r.result}</td><td>{escape(where(r))}</td><td>{escape(r.properties.get('pods', ''))}</td><td>{escape(r.message)}</td></tr>"
        for r in results
    )


def _rule_table(results: Sequence[Result]) -> str:
    return f"<table><thead><tr><th>Result</th><th>Resource</th><th>Pods</th><th>Message</th></tr></thead><tbody>{_rows(results)}</tbody></table>"


def _by_rule(results: Sequence[Result], order: Sequence[str]) -> dict[str, list[Result]]:
    grouped: dict[str, list[Result]] = {rule: [] for rule in order}
    for r in results:
        grouped.setdefault(r.rule, []).append(r)
    return {rule: rs for rule, rs in grouped.items() if rs}


def _heading(rule: str, count: int, what: str) -> str:
    check = BY_ID.get(rule)
    about = f" · {escape(check.category)} · {check.severity}" if check else ""
    return f'{escape(rule)} <span class="sub">{about.removeprefix(" · ")} · {count} {what}</span>'


def page(summary: Mapping[str, int], results: Sequence[Result], server: str, o: Overview) -> str:
    counts = "".join(f'<span class="{k}" data-outcome="{k}">{summary[k]} {k}</span>' for k in SHOWN)
    score = f'<p class="score" data-score="{"" if o.score is None else f"{o.score:g}"}">{escape(score_line(o.score).strip())}</p>'
    by_rule = _triage_order(o.by_rule)
    top = (
        f"{score}<h2>By category</h2>{_counts_table('Category', o.by_category, False, 'category')}"
        f"<h2>By rule</h2>{_counts_table('Rule', by_rule, True, 'rule-count')}"
    )
    order = list(by_rule)
    urgent = _by_rule([r for r in results if r.result in URGENT], order)
    warned = _by_rule([r for r in results if r.result == "warn"], order)
    rest = [r for r in results if r.result not in (*URGENT, "warn")]  # passes and skips, with --show-pass
    failing = "".join(
        f'<section data-rule-group="{escape(rule)}"><h3>{_heading(rule, len(rs), "failing")}</h3>{_rule_table(rs)}</section>'
        for rule, rs in urgent.items()
    )
    warnings = "".join(
        f'<details data-rule-group="{escape(rule)}"><summary>{_heading(rule, len(rs), "warnings")}</summary>{_rule_table(rs)}</details>'
        for rule, rs in warned.items()
    )
    passes = (
        f'<details id="passing"><summary>Passing and skipped ({len(rest)})</summary>'
        + "".join(f"<h3>{_heading(rule, len(rs), 'results')}</h3>{_rule_table(rs)}" for rule, rs in _by_rule(rest, order).items())
        + "</details>"
        if rest
        else ""
    )
    body = (
        f'<h2 id="failing">Failing workloads by rule ({sum(len(rs) for rs in urgent.values())})</h2>'
        + (failing or "<p>No failing results.</p>")
        + (f'<h2 id="warnings">Warnings by rule ({sum(len(rs) for rs in warned.values())})</h2>{warnings}' if warned else "")
        + passes
    )
    content = f'<h1>kubectl perf audit</h1><p>{escape(server)}</p><p class="summary">{counts}</p>{top}{body}'
    return html_page("kubectl perf audit", STYLE, content)
