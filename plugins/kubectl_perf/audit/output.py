"""How audit results print: a table grouped by category with a summary line, the
json/yaml document, or the PolicyReport List."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..render import RED, YELLOW, Column, table
from ..reports import OUTCOMES, SEVERITY_WEIGHTS, Result
from .compute import Overview
from .rules import BY_ID


def where(r: Result) -> str:
    """The resource a result is about; with -f, the file and document it came from first (deploy.yaml#2 Deployment/shop/web)."""
    ref = r.resource
    if ref is None:
        return "(cluster)"
    name = f"{ref.kind}/{ref.namespace}/{ref.name}" if ref.namespace else f"{ref.kind}/{ref.name}"
    if "file" in r.properties:
        return f"{r.properties['file']}#{r.properties['document']} {name}"
    return name


COLUMNS = [
    Column("category", lambda r: r.category),
    Column("result", lambda r: r.result),
    Column("severity", lambda r: r.severity),
    Column("rule", lambda r: r.rule),
    Column("resource", where),
    Column("pods", lambda r: r.properties.get("pods", ""), right=True),
    Column("message", lambda r: r.message),
    Column(
        "properties",
        lambda r: ",".join(f"{k}={v}" for k, v in r.properties.items() if k not in ("pods", "file", "document")),
        wide=True,
    ),
]


def highlight(r: Result) -> str:
    return RED if r.result in ("fail", "error") else YELLOW if r.result == "warn" else ""


def summary_line(summary: Mapping[str, int]) -> str:
    return ", ".join(f"{summary[k]} {k}" for k in ("fail", "warn", "error", "skip", "pass")) + "\n"


# The order people read outcomes in: what needs doing first.
SHOWN = ("fail", "warn", "error", "skip", "pass")
assert set(SHOWN) == set(OUTCOMES)


def score_line(score: float | None) -> str:
    weights = ", ".join(f"{k} {v}" for k, v in SEVERITY_WEIGHTS.items() if k in {c.severity for c in BY_ID.values()})
    if score is None:
        return "score: none (no check was judged)\n"
    return f"score {score:g}% (checks passed, weighted by severity: {weights})\n"


def _count(outcome: str) -> Callable[[tuple[str, Mapping[str, int]]], str]:
    return lambda row: str(row[1][outcome])


def overview_text(o: Overview) -> str:
    """The top of -o table and wide: the score, then outcomes per category and per rule."""
    outcome_columns = [Column(k, _count(k), right=True) for k in SHOWN]
    categories = table(list(o.by_category.items()), [Column("category", lambda row: row[0]), *outcome_columns])
    rules = table(
        list(o.by_rule.items()),
        [
            Column("rule", lambda row: row[0]),
            Column("category", lambda row: BY_ID[row[0]].category),
            Column("severity", lambda row: BY_ID[row[0]].severity),
            *outcome_columns,
        ],
    )
    return f"{score_line(o.score)}\n{categories}\n{rules}\n"


def document(summary: Mapping[str, int], results: Sequence[Result], o: Overview) -> dict[str, Any]:
    return {
        "score": o.score,
        "summary": dict(summary),
        "byCategory": o.by_category,
        "byRule": o.by_rule,
        "results": [r.document() for r in results],
    }
