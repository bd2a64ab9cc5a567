"""How capacity --fit prints: the pools (the cluster's row first) and the nodes, as tables,
csv/tsv (one block, SECTION cluster/pool/node), the -o json/yaml contract and an html page,
through render's helpers as capacity's other views."""

from __future__ import annotations

from html import escape
from typing import Any

from .. import render
from ..quantity import NANO, to_number
from ..render import Column, Table
from .fit import FitReport, Largest, NodeFit, PoolFit, limited_counts
from .units import amount_text, amount_value, percent_of


def _named(pool: PoolFit) -> str:
    return pool.pool or "*"  # the cluster's row reads "*", as capacity's


def _stranded_text(resource: str, amount: int, whole: int) -> str:
    share = percent_of(resource, amount, whole)
    return f"{amount_text(resource, amount)} ({share})" if share is not None else amount_text(resource, amount)


def _largest_text(largest: Largest | None) -> str:
    if largest is None:
        return "-"
    return f"cpu {amount_text('cpu', largest.cpu)}, memory {amount_text('memory', largest.memory)} on {largest.node}"


def _limits_text(pool: PoolFit) -> str:
    """`padding 3, cpu 1`: how many nodes each constraint binds, the most first."""
    counts = sorted(limited_counts(pool).items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {n}" for k, n in counts) or "-"


def pool_columns() -> list[Column]:
    return [
        Column("POOL", _named),
        Column("NODES", lambda p: str(p.nodes), lambda p: p.nodes),
        Column("FIT", lambda p: str(p.fit), lambda p: p.fit),
        Column("WITHIN PADDING", lambda p: str(p.within_padding), lambda p: p.within_padding),
        Column("LIMITED BY", _limits_text),
        Column(
            "STRANDED CPU",
            lambda p: _stranded_text("cpu", p.stranded_cpu, p.allocatable_cpu),
            lambda p: amount_value("cpu", p.stranded_cpu),
        ),
        Column(
            "STRANDED MEMORY",
            lambda p: _stranded_text("memory", p.stranded_memory, p.allocatable_memory),
            lambda p: amount_value("memory", p.stranded_memory),
        ),
        Column("LARGEST FIT", lambda p: _largest_text(p.largest)),
    ]


def node_columns() -> list[Column]:
    return [
        Column("NODE", lambda n: n.name),
        Column("POOL", lambda n: n.pool),
        Column("FIT", lambda n: str(n.fit), lambda n: n.fit),
        Column("WITHIN PADDING", lambda n: str(n.within_padding), lambda n: n.within_padding),
        Column("LIMITED BY", lambda n: n.limited_by),
        Column("CPU FREE", lambda n: amount_text("cpu", n.cpu_free), lambda n: amount_value("cpu", n.cpu_free), wide=True),
        Column("MEMORY FREE", lambda n: amount_text("memory", n.memory_free), lambda n: amount_value("memory", n.memory_free), wide=True),
        Column(
            "PADDING ROOM", lambda n: amount_text("memory", n.padding_room), lambda n: amount_value("memory", n.padding_room), wide=True
        ),
        Column("PADDING BASIS", lambda n: n.padding_basis or "-", lambda n: n.padding_basis or "", wide=True),
        Column("PODS FREE", lambda n: str(n.pods_free), lambda n: n.pods_free, wide=True),
    ]


# -- the machine contract ----------------------------------------------------------
def _amounts(values: dict[str, int]) -> dict[str, Any]:
    """Resources as JSON numbers in base units (cores, bytes, counts)."""
    return {r: to_number(v) for r, v in values.items()}


def largest_json(largest: Largest | None) -> dict[str, Any] | None:
    if largest is None:
        return None
    return {"node": largest.node, "cpu": to_number(largest.cpu), "memory": largest.memory // NANO}


def pool_json(pool: PoolFit) -> dict[str, Any]:
    return {
        "nodes": pool.nodes,
        "fit": pool.fit,
        "fitWithinPadding": pool.within_padding,
        "limitedBy": dict(sorted(limited_counts(pool).items())),
        "strandedCpu": {"cores": to_number(pool.stranded_cpu), "share": pool.share(pool.stranded_cpu, pool.allocatable_cpu)},
        "strandedMemory": {"bytes": pool.stranded_memory // NANO, "share": pool.share(pool.stranded_memory, pool.allocatable_memory)},
        "largestFit": largest_json(pool.largest),
    }


def node_json(n: NodeFit) -> dict[str, Any]:
    return {
        "name": n.name,
        "pool": n.pool,
        "fit": n.fit,
        "fitWithinPadding": n.within_padding,
        "limitedBy": n.limited_by,
        "fitLimitedBy": n.fit_limited_by,
        "paddingBasis": n.padding_basis,
        "free": {"cpu": to_number(n.cpu_free), "memory": n.memory_free // NANO, "pods": n.pods_free},
        "paddingRoom": n.padding_room // NANO,
    }


def document(report: FitReport) -> dict[str, Any]:
    """-o json / yaml: {"shape", "nodes", "pools", "total"} (README, "capacity --fit")."""
    shape = report.shape
    return {
        "shape": {"from": shape.source, "requests": _amounts(shape.requests), "limits": _amounts(shape.limits)},
        "usageKnown": report.usage_known,
        "nodes": [node_json(n) for n in report.nodes],
        "pools": [{"pool": p.pool, **pool_json(p)} for p in report.pools],
        "total": pool_json(report.total),
    }


# -- html ----------------------------------------------------------------------------
def _html_table(rows: list[Any], columns: list[Column], attr: str) -> str:
    head = "".join(f"<th>{escape(c.header.lower())}</th>" for c in columns)
    body = "".join(
        f'<tr data-{attr}="{escape(columns[0].text(r))}">' + "".join(f"<td>{escape(c.text(r))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def page(report: FitReport, cluster: str) -> str:
    shape = report.shape
    wants = ", ".join(f"{r} {amount_text(r, v)}" for r, v in shape.requests.items() if r != "pods")
    basis = "memory requests and, where metrics exist, memory in use" if report.usage_known else "memory requests (no node metrics)"
    body = (
        f"<h1>Headroom: {escape(cluster)}</h1>"
        f'<p class="sub">Pods of {escape(shape.source)} ({escape(wants) or "no requests"}): {report.total.fit} more fit, '
        f"{report.total.within_padding} of them within the memory padding targets (on {escape(basis)}).</p>"
        f"<h2>Pools ({len(report.pools)})</h2>{_html_table([report.total, *report.pools], pool_columns(), 'pool')}"
        f"<h2>Nodes ({len(report.nodes)})</h2>{_html_table(report.nodes, node_columns(), 'node')}"
    )
    return render.html_page(f"Headroom: {cluster}", render.REPORT_STYLE, body, viewport=True, lines=True)


def emit_fit(report: FitReport, output: str, cluster: str) -> None:
    """Print the fit report in the -o format, through render.emit."""

    def tables() -> list[Table]:
        pools = Table([report.total, *report.pools], pool_columns(), section=lambda p: "pool" if p.pool else "cluster")
        nodes = Table(report.nodes, node_columns(), section=lambda _n: "node")
        return [pools, nodes]

    render.emit(output, lambda: document(report), tables, lambda: page(report, cluster))
