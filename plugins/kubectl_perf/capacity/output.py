"""How capacity prints: tables, machine formats (a stable contract) and notes."""

from __future__ import annotations

from typing import Any, Callable

from .. import render
from ..quantity import format_amount, to_number
from ..render import Column
from .compute import COUNT, USAGE_RESOURCES, ContainerRow, GroupRow, NodeRow, PodRow, Report, percent


def header(resource: str) -> str:
    return "PODS" if resource == COUNT else resource.upper()


def cell(resource: str, value: int | None, pct: float | None) -> str:
    if value is None:
        return "-"
    text = format_amount(resource, value)
    return f"{text} ({pct:.0f}%)" if pct is not None else text


def label_header(key: str) -> str:
    return key.rsplit("/", 1)[-1].upper()


# -- the machine contract -----------------------------------------------------
def resources_json(row: NodeRow | GroupRow, resources: tuple[str, ...], usage: bool, allocatable: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in resources:
        entry: dict[str, Any] = {}
        if allocatable and isinstance(row, NodeRow):
            entry["allocatable"] = to_number(row.allocatable.get(r, 0))
        entry["requests"] = to_number(row.requests.get(r, 0))
        if r != COUNT:
            entry["limits"] = to_number(row.limits.get(r, 0))
        if usage and r in USAGE_RESOURCES and row.usage is not None:
            entry["usage"] = to_number(row.usage.get(r, 0))
        out[r] = entry
    return out


def pod_json(pod: PodRow, resources: tuple[str, ...], usage: bool) -> dict[str, Any]:
    res = {}
    for r in resources:
        if r == COUNT:
            continue
        entry: dict[str, Any] = {"requests": to_number(pod.requests.get(r, 0)), "limits": to_number(pod.limits.get(r, 0))}
        if usage and r in USAGE_RESOURCES and pod.usage is not None:
            entry["usage"] = to_number(pod.usage.get(r, 0))
        res[r] = entry
    out: dict[str, Any] = {"namespace": pod.namespace, "name": pod.name, "resources": res}
    if pod.missing:
        out["missingRequests"] = [{"container": c, "resource": r} for c, r in pod.missing]
    if pod.containers:
        out["containers"] = [{
            "name": c.name, "kind": c.kind,
            "resources": {r: {"requests": to_number(c.requests.get(r, 0)), "limits": to_number(c.limits.get(r, 0)),
                              **({"usage": to_number(c.usage.get(r, 0))} if usage and c.usage is not None and r in USAGE_RESOURCES else {})}
                          for r in resources if r != COUNT}} for c in pod.containers]
    return out


def document(report: Report, nodes: list[NodeRow], resources: tuple[str, ...]) -> dict[str, Any]:
    """-o json / yaml: {"nodes": [...], "total": {...}, "pending": [...]} in base units."""
    usage = report.options.util and report.usage_known
    total = report.total()
    doc: dict[str, Any] = {
        "nodes": [{
            "name": n.name, "paddingTarget": n.target, "paddingBreach": bool(n.breaches()), "paddingBreaches": n.breaches(),
            "labels": dict(n.labels), "resources": resources_json(n, resources, usage), "pods": n.pods,
            **({"podDetails": [pod_json(p, resources, usage) for p in n.pod_rows]} if report.options.detail != "nodes" else {}),
        } for n in nodes],
        "total": {"paddingTarget": total.target, "resources": resources_json(total, resources, usage), "pods": total.pods},
        "pending": [{"namespace": p.namespace, "name": p.name,
                     "resources": {r: to_number(v) for r, v in p.requests.items()}} for p in report.pending],
    }
    if report.options.by:
        doc["groups"] = [{"name": g.name, "pods": g.pods, "resources": resources_json(g, resources, usage, allocatable=False)}
                         for g in sorted(report.groups.values(), key=lambda g: g.name)]
    return doc


# -- tables --------------------------------------------------------------------
def node_columns(report: Report, resources: tuple[str, ...], label_keys: list[str], total: NodeRow) -> list[Column]:
    util = report.options.util and report.usage_known
    cols = [Column("NODE", lambda n: n.name)]
    cols += [Column(label_header(k), (lambda k: lambda n: n.labels.get(k, "<none>") if n.name != "*" else "")(k)) for k in label_keys]
    for r in resources:
        if r == COUNT:
            cols.append(Column("PODS", lambda n: f"{n.pods}/{format_amount(COUNT, n.allocatable.get(COUNT, 0))}",
                               lambda n: n.pods))
            continue
        h = header(r)
        cols.append(Column(f"{h} REQUESTS", (lambda r: lambda n: cell(r, n.requests.get(r, 0), n.percent(r, "requests")))(r),
                           (lambda r: lambda n: to_number(n.requests.get(r, 0)))(r)))
        cols.append(Column(f"{h} LIMITS", (lambda r: lambda n: cell(r, n.limits.get(r, 0), n.percent(r, "limits")))(r),
                           (lambda r: lambda n: to_number(n.limits.get(r, 0)))(r)))
        if util and r in USAGE_RESOURCES:
            cols.append(Column(f"{h} UTIL", (lambda r: lambda n: cell(r, n.usage.get(r, 0), n.percent(r, "usage")) if n.usage is not None else "-")(r),
                               (lambda r: lambda n: to_number(n.usage.get(r, 0)) if n.usage is not None else None)(r)))
        cols.append(Column(f"{h} ALLOCATABLE", (lambda r: lambda n: format_amount(r, n.allocatable.get(r, 0)))(r),
                           (lambda r: lambda n: to_number(n.allocatable.get(r, 0)))(r), wide=True))
    if COUNT not in resources:
        cols.append(Column("PODS", lambda n: f"{n.pods}/{format_amount(COUNT, n.allocatable.get(COUNT, 0))}", lambda n: n.pods, wide=True))
    if "memory" in resources:
        cols.append(Column("MEM TARGET", lambda n: f"{n.target * 100:.0f}%", lambda n: round(n.target, 4)))
        cols.append(Column("PADDING", padding_text, lambda n: ",".join(n.breaches()) or "ok"))
    return cols


def padding_text(n: NodeRow) -> str:
    breaches = n.breaches()
    if not breaches:
        return "ok"
    parts = [f"{b} {n.percent('memory', b) or 0:.0f}%" for b in breaches]
    return "BREACH " + ", ".join(parts)


def pod_columns(report: Report, resources: tuple[str, ...], containers: bool) -> list[Column]:
    util = report.options.util and report.usage_known
    cols = [Column("NODE", lambda x: x[0]), Column("NAMESPACE", lambda x: x[1]), Column("POD", lambda x: x[2])]
    if containers:
        cols.append(Column("CONTAINER", lambda x: x[3]))
        cols.append(Column("KIND", lambda x: x[4], wide=True))
    for r in resources:
        if r == COUNT:
            continue
        h = header(r)
        def get(part: str, r: str = r) -> Callable[[Any], int | None]:
            return lambda x: (x[5].requests if part == "requests" else x[5].limits if part == "limits" else x[5].usage or {}).get(r, 0) \
                if part != "usage" or x[5].usage is not None else None
        cols.append(Column(f"{h} REQUESTS", (lambda g, r: lambda x: _amount(r, g(x), x))(get("requests"), r), (lambda g: lambda x: _num(g(x)))(get("requests"))))
        cols.append(Column(f"{h} LIMITS", (lambda g, r: lambda x: _amount(r, g(x), x))(get("limits"), r), (lambda g: lambda x: _num(g(x)))(get("limits"))))
        if util and r in USAGE_RESOURCES:
            cols.append(Column(f"{h} UTIL", (lambda r: lambda x: _util(r, x[5]))(r), (lambda g: lambda x: _num(g(x)))(get("usage"))))
            cols.append(Column(f"{h} SLACK", (lambda r: lambda x: _slack_text(r, x[5]))(r), (lambda r: lambda x: _num(_slack(r, x[5])))(r)))
    cols.append(Column("FLAGS", lambda x: x[6]))
    return cols


def _num(v: int | None) -> Any:
    return None if v is None else to_number(v)


def _amount(r: str, v: int | None, x: Any) -> str:
    if v is None:
        return "-"
    return format_amount(r, v) if v else ("0" if x[1] != "*" else "0")


def _util(r: str, row: Any) -> str:
    if row.usage is None:
        return "-"
    used = row.usage.get(r, 0)
    pct = percent(row.usage, row.requests, r)
    return f"{format_amount(r, used)} ({pct:.0f}% of req)" if pct is not None else format_amount(r, used)


def _slack(r: str, row: Any) -> int | None:
    if row.usage is None or not row.requests.get(r):
        return None
    return row.requests.get(r, 0) - row.usage.get(r, 0)


def _slack_text(r: str, row: Any) -> str:
    slack = _slack(r, row)
    return "-" if slack is None else format_amount(r, slack)


def pod_rows(nodes: list[NodeRow], total: NodeRow, containers: bool) -> list[tuple[Any, ...]]:
    """Flat rows: the cluster total, then each node followed by its pods or containers."""
    rows: list[tuple[Any, ...]] = [("*", "*", "*", "*", "", total, "")]
    for n in nodes:
        rows.append((n.name, "*", "*", "*", "", n, ""))
        for p in n.pod_rows:
            if containers:
                missing = {c for c, _r in p.missing}
                for c in p.containers:
                    flags = "no-requests:" + ",".join(r for cn, r in p.missing if cn == c.name) if c.name in missing else ""
                    rows.append((n.name, p.namespace, p.name, c.name, c.kind, c, flags))
            else:
                flags = ("no-requests:" + ",".join(sorted({f"{c}/{r}" for c, r in p.missing}))) if p.missing else ""
                rows.append((n.name, p.namespace, p.name, "", "", p, flags))
    return rows


def group_columns(report: Report, resources: tuple[str, ...], total: NodeRow) -> list[Column]:
    util = report.options.util and report.usage_known
    title = "NAMESPACE" if report.options.by == "namespace" else label_header((report.options.by or "")[len("label:"):])
    cols = [Column(title, lambda g: g.name), Column("PODS", lambda g: str(g.pods), lambda g: g.pods)]
    for r in resources:
        if r == COUNT:
            continue
        h = header(r)
        cols.append(Column(f"{h} REQUESTS", (lambda r: lambda g: cell(r, g.requests.get(r, 0), percent(g.requests, total.allocatable, r)))(r),
                           (lambda r: lambda g: to_number(g.requests.get(r, 0)))(r)))
        cols.append(Column(f"{h} LIMITS", (lambda r: lambda g: cell(r, g.limits.get(r, 0), percent(g.limits, total.allocatable, r)))(r),
                           (lambda r: lambda g: to_number(g.limits.get(r, 0)))(r)))
        if util and r in USAGE_RESOURCES:
            cols.append(Column(f"{h} UTIL", (lambda r: lambda g: _util(r, g))(r), (lambda r: lambda g: _num((g.usage or {}).get(r, 0) if g.usage is not None else None))(r)))
            cols.append(Column(f"{h} SLACK", (lambda r: lambda g: _slack_text(r, g))(r), (lambda r: lambda g: _num(_slack(r, g)))(r)))
    return cols


def pending_columns(resources: tuple[str, ...]) -> list[Column]:
    cols = [Column("NAMESPACE", lambda p: p.namespace), Column("PENDING POD", lambda p: p.name)]
    for r in resources:
        if r != COUNT:
            cols.append(Column(f"{header(r)} REQUESTS", (lambda r: lambda p: format_amount(r, p.requests.get(r, 0)))(r),
                               (lambda r: lambda p: to_number(p.requests.get(r, 0)))(r)))
    return cols


def container_is(row: Any) -> bool:
    return isinstance(row, ContainerRow)
