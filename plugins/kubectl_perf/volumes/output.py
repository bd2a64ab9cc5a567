"""`kubectl perf volumes` output: three tables (volumes, node filesystems, unused claims) and
the json/yaml document (its contract is in the README), all through render.emit; csv and tsv
carry the three as one block with a SECTION column."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..quantity import NANO, format_bytes
from ..render import Column, Table, emit, human_age
from .compute import LEVELS, FsStats, NodeFsRow, Report, Thresholds, UnusedRow, VolumeRow

NONE = "-"
UNKNOWN = "<unknown>"  # kubectl's word for a figure it could not read
HIGHLIGHT = {"crit": "\033[31m", "warn": "\033[33m"}


def size(value: int | None) -> str:
    return NONE if value is None else format_bytes(value * NANO)


def percent(value: float | None) -> str:
    """A share as a whole percentage, truncated (kubectl top's rule): 92.77% is 92%."""
    return NONE if value is None else f"{int(value * 100 + 1e-9)}%"


def ratio(value: float | None) -> str | None:
    """A share in csv/tsv, unrounded (the README's promise): repr is the shortest text that reads back
    as the same float, where render's float cells keep six digits (0.927734375, not 0.927734)."""
    return None if value is None else repr(value)


def level_text(level: str) -> str:
    return {"crit": "CRITICAL", "warn": "WARNING", "ok": "ok"}.get(level, UNKNOWN)


def _stat(row: VolumeRow | NodeFsRow, attr: str) -> int | None:
    return None if row.stats is None else getattr(row.stats, attr)


def _used_text(row: VolumeRow | NodeFsRow) -> str:
    return UNKNOWN if row.stats is None or row.stats.used is None else size(row.stats.used)


def _available(row: VolumeRow) -> int | None:
    """Room left: under the sizeLimit or ephemeral limit where one holds, else on the filesystem."""
    if row.stats is None:
        return None
    if row.type != "pvc" and row.basis is not None and row.stats.used is not None:
        return row.basis - row.stats.used
    return row.stats.available


def _requested(row: VolumeRow) -> int | None:
    """A claim's spec.resources.requests.storage, or the pod's ephemeral-storage request."""
    return row.claim_request if row.type == "pvc" else row.request


def _limit(row: VolumeRow) -> int | None:
    """An emptyDir's sizeLimit, or the pod's ephemeral-storage limit."""
    return row.size_limit if row.type == "emptyDir" else row.limit


def volume_table(rows: Sequence[VolumeRow]) -> Table:
    cols = [
        Column("NAMESPACE", lambda r: r.namespace),
        Column("POD", lambda r: r.pod),
        Column("VOLUME", lambda r: r.volume),
        Column("TYPE", lambda r: r.type if r.type != "emptyDir" or not r.medium else f"emptyDir({r.medium})"),
        Column("STORAGECLASS", lambda r: r.storage_class or NONE, lambda r: r.storage_class),
        Column("SIZE", lambda r: size(r.basis), lambda r: r.basis, right=True),
        Column("USED", _used_text, lambda r: _stat(r, "used"), right=True),
        Column("AVAILABLE", lambda r: size(_available(r)) if r.stats else UNKNOWN, _available, right=True),
        Column("USE%", lambda r: percent(r.used_share), lambda r: ratio(r.used_share), right=True),
        Column("INODES%", lambda r: percent(r.inodes_share), lambda r: ratio(r.inodes_share), right=True),
        Column("STATUS", lambda r: level_text(r.level)),
        Column("NODE", lambda r: r.node, wide=True),
        Column("WORKLOAD", lambda r: r.workload, wide=True),
        Column("CLAIM", lambda r: r.claim or NONE, lambda r: r.claim, wide=True),
        Column("ACCESS", lambda r: _access(r) or NONE, lambda r: _access(r) or None, wide=True),
        Column("REQUESTED", lambda r: size(_requested(r)), _requested, wide=True, right=True),
        Column("PV", lambda r: r.pv or NONE, lambda r: r.pv, wide=True),
        Column("PV-CAPACITY", lambda r: size(r.pv_capacity), lambda r: r.pv_capacity, wide=True, right=True),
        Column("LIMIT", lambda r: size(_limit(r)), _limit, wide=True, right=True),
        Column(
            "INODES",
            lambda r: NONE if _stat(r, "inodes") is None else str(_stat(r, "inodes")),
            lambda r: _stat(r, "inodes"),
            wide=True,
            right=True,
        ),
        Column("WARN/CRIT", lambda r: _thresholds(r.thresholds), lambda r: _threshold_ratios(r.thresholds), wide=True),
    ]
    return Table(rows, cols, highlight=lambda r: HIGHLIGHT.get(r.level, ""), section=lambda r: "volume")


ACCESS = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _access(r: VolumeRow) -> str:
    return ",".join(ACCESS.get(m, m) for m in r.access_modes)


def _thresholds(t: Thresholds | None) -> str:
    return NONE if t is None else f"{percent(t.warn)}/{percent(t.crit)}"


def _threshold_ratios(t: Thresholds | None) -> str | None:
    return None if t is None else f"{ratio(t.warn)}/{ratio(t.crit)}"


def node_table(rows: Sequence[NodeFsRow]) -> Table:
    cols = [
        Column("NODE", lambda r: r.node),
        Column("POOL", lambda r: r.pool or NONE, lambda r: r.pool or None),
        Column("FILESYSTEM", lambda r: r.filesystem),
        Column("SIZE", lambda r: size(r.stats.capacity), lambda r: r.stats.capacity, right=True),
        Column("USED", lambda r: size(_fs_used(r.stats)), lambda r: _fs_used(r.stats), right=True),
        Column("AVAILABLE", lambda r: size(r.stats.available), lambda r: r.stats.available, right=True),
        Column("USE%", lambda r: percent(r.used_share), lambda r: ratio(r.used_share), right=True),
        Column("INODES%", lambda r: percent(r.inodes_share), lambda r: ratio(r.inodes_share), right=True),
        Column("EVICTION", lambda r: ",".join(s.text + (" MET" if s.met else "") for s in r.signals) or NONE),
        Column("THRESHOLDS", lambda r: r.source),
        Column("STATUS", lambda r: level_text(r.level)),
        Column("INODES-FREE", lambda r: size_count(r.stats.inodes_free), lambda r: r.stats.inodes_free, wide=True, right=True),
        Column(
            "HEADROOM",
            lambda r: ",".join(_headroom(s) for s in r.signals) or NONE,
            lambda r: ",".join(f"{s.name}={s.observed - s.amount}" for s in r.signals) or None,
            wide=True,
        ),
    ]
    return Table(rows, cols, highlight=lambda r: HIGHLIGHT.get(r.level, ""), section=lambda r: "node")


def _fs_used(fs: FsStats) -> int | None:
    """Used as the kubelet's eviction counts it: capacity minus available (blocks reserved for root included)."""
    return None if fs.capacity is None or fs.available is None else fs.capacity - fs.available


def size_count(value: int | None) -> str:
    return NONE if value is None else str(value)


def _headroom(s: Any) -> str:
    """How far the signal is from its threshold: bytes (or inodes) above it, negative when met."""
    left = s.observed - s.amount
    return f"{s.name}={size(left) if s.name.endswith('available') else left}"


def unused_table(rows: Sequence[UnusedRow]) -> Table:
    cols = [
        Column("KIND", lambda r: "pvc" if r.kind == "PersistentVolumeClaim" else "pv"),
        Column("NAMESPACE", lambda r: r.namespace or NONE, lambda r: r.namespace or None),
        Column("NAME", lambda r: r.name),
        Column("STATE", lambda r: r.state),
        Column("STORAGECLASS", lambda r: r.storage_class or NONE, lambda r: r.storage_class),
        Column("CAPACITY", lambda r: size(r.capacity), lambda r: r.capacity, right=True),
        Column("AGE", lambda r: NONE if r.age is None else human_age(r.age), lambda r: r.created),
    ]
    return Table(rows, cols, section=lambda r: "unused")


# -- the json/yaml document (contract: README, "kubectl perf volumes") ------------------------------
def _fs_doc(fs: FsStats | None) -> dict[str, Any] | None:
    if fs is None:
        return None
    return {
        "capacityBytes": fs.capacity,
        "usedBytes": fs.used,
        "availableBytes": fs.available,
        "inodes": fs.inodes,
        "inodesUsed": fs.inodes_used,
        "inodesFree": fs.inodes_free,
    }


def volume_doc(r: VolumeRow) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "namespace": r.namespace,
        "pod": r.pod,
        "node": r.node,
        "workload": r.workload,
        "volume": r.volume,
        "type": r.type,
    }
    if r.type == "pvc":
        doc["claim"] = {
            "name": r.claim,
            "storageClass": r.storage_class,
            "accessModes": list(r.access_modes),
            "requestBytes": r.claim_request,
            "capacityBytes": r.claim_capacity,
            "volumeName": r.pv,
            "volumeCapacityBytes": r.pv_capacity,
        }
    elif r.type == "emptyDir":
        doc["emptyDir"] = {"medium": r.medium, "sizeLimitBytes": r.size_limit}
    else:
        doc["ephemeralStorage"] = {"requestBytes": r.request, "limitBytes": r.limit}
    doc.update(
        {
            "stats": _fs_doc(r.stats),
            "basisBytes": r.basis,
            "usedRatio": r.used_share,
            "inodesRatio": r.inodes_share,
            "thresholds": None if r.thresholds is None else {"warn": r.thresholds.warn, "crit": r.thresholds.crit},
            "status": r.level or None,
        }
    )
    return doc


def node_doc(r: NodeFsRow) -> dict[str, Any]:
    return {
        "node": r.node,
        "pool": r.pool or None,
        "filesystem": r.filesystem,
        "stats": _fs_doc(r.stats),
        "usedRatio": r.used_share,
        "inodesRatio": r.inodes_share,
        "eviction": {
            "source": r.source,
            "signals": [
                {"signal": s.name, "threshold": s.threshold, "amount": s.amount, "observed": s.observed, "met": s.met} for s in r.signals
            ],
        },
        "status": r.level or None,
    }


def unused_doc(r: UnusedRow) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "namespace": r.namespace or None,
        "name": r.name,
        "state": r.state,
        "storageClass": r.storage_class,
        "capacityBytes": r.capacity,
        "creationTimestamp": r.created or None,
        "ageSeconds": None if r.age is None else int(r.age),
    }


def document(report: Report) -> dict[str, Any]:
    p = report.policy
    return {
        "thresholds": {
            "warn": p.default.warn,
            "crit": p.default.crit,
            "storageClasses": {k: {"warn": v.warn, "crit": v.crit} for k, v in sorted(p.classes.items())},
        },
        "summary": summary(report),
        "volumes": [volume_doc(r) for r in report.volumes],
        "nodes": [node_doc(r) for r in report.nodes],
        "unused": [unused_doc(r) for r in report.unused] if report.unused_shown else None,
    }


def summary(report: Report) -> dict[str, int]:
    levels = [r.level for r in report.volumes] + [n.level for n in report.nodes]
    return {
        "volumes": len(report.volumes),
        "nodeFilesystems": len(report.nodes),
        "unused": len(report.unused),
        **{lv: levels.count(lv) for lv in LEVELS},
    }


def emit_report(report: Report, output: str, html: Callable[[], str]) -> None:
    """`html` builds the page (html.py, which builds on these tables)."""
    emit(
        output,
        lambda: document(report),
        lambda: [volume_table(report.volumes), node_table(report.nodes), unused_table(report.unused)],
        html,
    )
