"""rightsize's report in every -o format: the table (one row per container, largest savings
first), the json/yaml contract of issue 25, csv/tsv/html, and the patches of admitted
recommendations (-o patch: strategic-merge documents; -o patch-commands: kubectl lines)."""

from __future__ import annotations

import json
import shlex
from html import escape
from typing import Any

from .. import render
from ..quantity import to_number
from ..render import Column, Table
from .compute import Amounts, ContainerRec, Report, Strategy, WorkloadRec, cpu_text, duration_text, mem_text
from .fetch import KINDS, RESOURCE

Row = tuple[WorkloadRec, ContainerRec]


def _amounts(a: Amounts | None) -> str:
    if a is None:
        return "-"
    cpu = cpu_text(a.cpu_request) or "-"
    if a.cpu_limit is not None:
        cpu += f"/{cpu_text(a.cpu_limit)}"
    mem = mem_text(a.memory_request) or "-"
    if a.memory_limit is not None:
        mem += f"/{mem_text(a.memory_limit)}"
    return f"cpu {cpu}, mem {mem}"


def _change(r: ContainerRec) -> str:
    if r.recommended is None:
        return "-"
    parts = []
    for what, before, after, text in (
        ("cpu", r.current.cpu_request, r.recommended.cpu_request, cpu_text),
        ("mem", r.current.memory_request, r.recommended.memory_request, mem_text),
    ):
        if before is None:
            parts.append(f"{what} +{text(after)}")
        elif after is not None and after != before:
            parts.append(f"{what} {'-' if after < before else '+'}{text(abs(after - before))}")
    return ", ".join(parts) or "none"


def _basis(r: ContainerRec) -> str:
    b = r.basis
    return f"{b.samples} samples over {duration_text(b.span)}, {b.pods} pod(s), p{b.percentile * 100:g}"


COLUMNS = [
    Column("workload", lambda row: row[0].workload.text()),
    Column("container", lambda row: row[1].name),
    Column("current", lambda row: _amounts(row[1].current)),
    Column("recommended", lambda row: _amounts(row[1].recommended)),
    Column("change", lambda row: _change(row[1])),
    Column("basis", lambda row: _basis(row[1])),
    Column("verdict", lambda row: row[1].verdict),
    # -o wide, and csv/tsv in base units (cores, bytes, seconds): the figures behind the words above
    Column("cpu request", lambda row: cpu_text(row[1].current.cpu_request), lambda row: _num(row[1].current.cpu_request), wide=True),
    Column(
        "memory request", lambda row: mem_text(row[1].current.memory_request), lambda row: _num(row[1].current.memory_request), wide=True
    ),
    Column("cpu recommended", lambda row: cpu_text(_rec(row).cpu_request), lambda row: _num(_rec(row).cpu_request), wide=True),
    Column("memory recommended", lambda row: mem_text(_rec(row).memory_request), lambda row: _num(_rec(row).memory_request), wide=True),
    Column("samples", lambda row: str(row[1].basis.samples), lambda row: row[1].basis.samples, wide=True, right=True),
    Column("span", lambda row: duration_text(row[1].basis.span), lambda row: row[1].basis.span, wide=True),
    Column("admitted", lambda row: _admitted(row[1]), wide=True),
]


def _rec(row: Row) -> Amounts:
    return row[1].recommended or Amounts()


def _num(nanos: int | None) -> int | float | None:
    return None if nanos is None else to_number(nanos)


def _admitted(r: ContainerRec) -> str:
    return "" if r.recommended is None else ("true" if r.allowed else "false")


def rows(report: Report) -> list[Row]:
    return [(w, c) for w in report.workloads for c in w.containers]


def _money(nanos: int, cpu: bool) -> str:
    return cpu_text(nanos) if cpu else mem_text(_mib(nanos))


def _mib(nanos: int) -> int:
    """Totals are sums of whole-MiB and exact figures: shown in whole MiB, rounded up."""
    unit = 2**20 * 10**9
    return -(-nanos // unit) * unit


TOTAL_COLUMNS = [
    Column("scope", lambda t: t[0]),
    Column("cpu before", lambda t: cpu_text(t[1][0]), right=True),
    Column("cpu after", lambda t: cpu_text(t[1][1]), right=True),
    Column("memory before", lambda t: mem_text(_mib(t[1][2])), right=True),
    Column("memory after", lambda t: mem_text(_mib(t[1][3])), right=True),
    Column("nodes", lambda t: t[2], right=True),
]


def _totals_rows(report: Report) -> list[tuple[str, list[int], str]]:
    out = [(f"namespace {ns}", v, "") for ns, v in report.by_namespace.items()]
    for p in report.by_pool:
        v = [p.cpu_before, p.cpu_after, p.memory_before, p.memory_after]
        out.append((f"pool {p.name}", v, f"{p.nodes}: {p.nodes_before} -> {p.nodes_after} needed"))
    out.append(("total", report.totals, ""))
    return out


def document(report: Report, source: str, strategy: Strategy) -> dict[str, Any]:
    """The -o json/yaml contract (README, "rightsize")."""
    return {
        "source": source,
        "history": duration_text(strategy.history),
        "strategy": strategy.as_dict(),
        "workloads": [
            {
                **w.workload.as_dict(),
                "replicas": w.replicas,
                "containers": [
                    {
                        "name": c.name,
                        "current": c.current.as_dict(),
                        "recommended": c.recommended.as_dict() if c.recommended else None,
                        "basis": c.basis.as_dict(),
                        "status": c.status or "recommended",
                        "admission": {"allowed": c.allowed, "message": c.message} if c.recommended else None,
                    }
                    for c in w.containers
                ],
            }
            for w in report.workloads
        ],
        "totals": {
            "cpu": {"before": to_number(report.totals[0]), "after": to_number(report.totals[1])},
            "memory": {"before": to_number(report.totals[2]), "after": to_number(report.totals[3])},
            "byNamespace": [
                {
                    "namespace": ns,
                    "cpu": {"before": to_number(v[0]), "after": to_number(v[1])},
                    "memory": {"before": to_number(v[2]), "after": to_number(v[3])},
                }
                for ns, v in report.by_namespace.items()
            ],
            "byPool": [
                {
                    "pool": p.name,
                    "nodes": p.nodes,
                    "cpu": {"before": to_number(p.cpu_before), "after": to_number(p.cpu_after)},
                    "memory": {"before": to_number(p.memory_before), "after": to_number(p.memory_after)},
                    "nodesNeeded": {"before": p.nodes_before, "after": p.nodes_after, "method": "first-fit-decreasing estimate"},
                }
                for p in report.by_pool
            ],
        },
    }


def patch_of(w: WorkloadRec) -> dict[str, Any] | None:
    """The strategic-merge patch of a workload's admitted recommendations (containers merge by name)."""
    chosen = w.admitted
    if not chosen:
        return None
    containers = []
    for c in chosen:
        rec = c.recommended
        assert rec is not None
        limits: dict[str, Any] = {"memory": mem_text(rec.memory_limit)}
        limits["cpu"] = cpu_text(rec.cpu_limit) if rec.cpu_limit is not None else None  # null removes a CPU limit
        if rec.cpu_limit is None and c.current.cpu_limit is None:
            del limits["cpu"]
        containers.append(
            {
                "name": c.name,
                "resources": {"requests": {"cpu": cpu_text(rec.cpu_request), "memory": mem_text(rec.memory_request)}, "limits": limits},
            }
        )
    body: dict[str, Any] = {"spec": {"containers": containers}}
    for key in reversed(KINDS[w.workload.kind][1][:-1]):
        body = {key: body}
    return body


def patches(report: Report) -> str:
    import yaml

    docs = []
    for w in report.workloads:
        body = patch_of(w)
        if body is not None:
            head = f"# kubectl patch {RESOURCE[w.workload.kind]} {w.workload.name} -n {w.workload.namespace} --patch-file FILE\n"
            docs.append(head + yaml.safe_dump(body, sort_keys=False, default_flow_style=False))
    return "---\n".join(docs)


def patch_commands(report: Report) -> str:
    lines = []
    for w in report.workloads:
        body = patch_of(w)
        if body is not None:
            argv = [
                "kubectl",
                "patch",
                RESOURCE[w.workload.kind],
                w.workload.name,
                "-n",
                w.workload.namespace,
                "--type",
                "strategic",
                "-p",
                json.dumps(body, separators=(",", ":")),
            ]
            lines.append(" ".join(shlex.quote(a) for a in argv))
    return "".join(line + "\n" for line in lines)


def html(report: Report, source: str, strategy: Strategy) -> str:
    def table_html(columns: list[Column], items: list[Any]) -> str:
        head = "".join(f"<th>{escape(c.header)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(str(c.text(r)))}</td>" for c in columns) + "</tr>" for r in items)
        return f"<table><tr>{head}</tr>{body}</table>"

    sub = f"source {escape(source)}, history {duration_text(strategy.history)}, strategy {escape(json.dumps(strategy.as_dict()))}"
    body = f'<h1>kubectl perf rightsize</h1><p class="sub">{sub}</p>{table_html(COLUMNS, rows(report))}<h2>Totals</h2>{table_html(TOTAL_COLUMNS, _totals_rows(report))}'
    return render.html_page("kubectl perf rightsize", render.REPORT_STYLE, body)


def emit(report: Report, source: str, strategy: Strategy, fmt: str) -> None:
    if fmt == "patch":
        render.write(patches(report))
        return
    if fmt == "patch-commands":
        render.write(patch_commands(report))
        return
    render.emit(
        fmt,
        lambda: document(report, source, strategy),
        lambda: [Table(rows(report), COLUMNS), Table(_totals_rows(report), TOTAL_COLUMNS)],
        lambda: html(report, source, strategy),
    )
