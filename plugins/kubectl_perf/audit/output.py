"""How audit results print: a table grouped by category with a summary line, the
json/yaml document, or the PolicyReport List."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..render import RED, YELLOW, Column
from ..reports import Result


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


def document(summary: Mapping[str, int], results: Sequence[Result]) -> dict[str, Any]:
    return {"summary": dict(summary), "results": [r.document() for r in results]}
