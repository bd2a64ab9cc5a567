"""Pure: pods, claims, volumes and the kubelets' figures in, one volumes report out.

Three sections: every volume a pod mounts (PVCs, emptyDirs, and the pod's own ephemeral
storage), each node's filesystems against the kubelet's hard eviction thresholds, and claims
no pod mounts (Bound but unused, Pending) with Released volumes. Figures are bytes and inodes,
exact integers; a share is used / basis, where the basis is what fills up first (a claim's
filesystem, an emptyDir's sizeLimit, a pod's ephemeral-storage limit)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..model import POOL_LABELS, pod_limits, pod_requests
from ..owners import Owners, workload_of
from ..quantity import NANO, QuantityError, parse_quantity
from ..render import age_seconds

EPHEMERAL = "ephemeral-storage"
# The kubelet's hard eviction defaults on Linux (kubernetes pkg/kubelet/eviction/defaults_linux.go,
# DefaultEvictionHard), its four storage signals (the fifth is memory.available<100Mi): used when a
# node's /configz cannot be read.
DEFAULT_EVICTION = {"nodefs.available": "10%", "nodefs.inodesFree": "5%", "imagefs.available": "15%", "imagefs.inodesFree": "5%"}
LEVELS = ("ok", "warn", "crit")  # in order: --fail-on names one of the last two


@dataclass(frozen=True)
class Thresholds:
    """A share at or above `crit` is critical, at or above `warn` a warning."""

    warn: float
    crit: float

    def level(self, share: float | None) -> str:
        if share is None:
            return ""
        return "crit" if share >= self.crit else "warn" if share >= self.warn else "ok"


@dataclass(frozen=True)
class StoragePolicy:
    """--warn/--crit (or the policy file's storage.warn/crit) and per-StorageClass values."""

    default: Thresholds
    classes: Mapping[str, Thresholds] = field(default_factory=dict)

    def for_class(self, name: str | None) -> Thresholds:
        return self.classes.get(name or "", self.default)


# -- inputs, folded as they arrive ------------------------------------------------------------
@dataclass(frozen=True)
class PodVolumes:
    """What a pod's spec says about its storage (kept instead of the pod)."""

    namespace: str
    name: str
    node: str
    workload: str
    volumes: tuple[Mapping[str, Any], ...]  # spec.volumes: PVC and emptyDir ones
    ephemeral_request: int | None  # bytes, None when not declared
    ephemeral_limit: int | None


def pod_volumes(pod: Mapping[str, Any], owners: Owners | None = None) -> PodVolumes:
    """`owners`: the listed ReplicaSets' and Jobs' controllers (owner_lists.read_owners); None or a
    controller it lacks: the workload is guessed from names (owners.workload_of)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    volumes = tuple(v for v in spec.get("volumes") or () if "persistentVolumeClaim" in v or "emptyDir" in v or "ephemeral" in v)
    requests, limits = pod_requests(spec), pod_limits(spec)
    request, limit = requests.get(EPHEMERAL), limits.get(EPHEMERAL)
    return PodVolumes(
        meta.get("namespace", ""),
        meta.get("name", ""),
        spec.get("nodeName") or "",
        workload_of(meta, owners).text(),
        volumes,
        None if request is None else request // NANO,
        None if limit is None else limit // NANO,
    )


@dataclass(frozen=True)
class FsStats:
    """A filesystem's figures as /stats/summary gives them (any may be missing)."""

    capacity: int | None = None
    used: int | None = None
    available: int | None = None
    inodes: int | None = None
    inodes_used: int | None = None
    inodes_free: int | None = None


def fs_stats(raw: Mapping[str, Any] | None) -> FsStats:
    raw = raw or {}

    def num(key: str) -> int | None:
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    inodes, free, used = num("inodes"), num("inodesFree"), num("inodesUsed")
    if used is None and inodes is not None and free is not None:
        used = inodes - free
    return FsStats(num("capacityBytes"), num("usedBytes"), num("availableBytes"), inodes, used, free)


@dataclass
class NodeStats:
    """One node's summary, folded: its filesystems, each pod's volumes and ephemeral storage."""

    nodefs: FsStats
    imagefs: FsStats | None
    pods: dict[tuple[str, str], tuple[dict[str, FsStats], FsStats | None]]


def node_stats(summary: Mapping[str, Any]) -> NodeStats:
    node = summary.get("node") or {}
    image = (node.get("runtime") or {}).get("imageFs")
    pods: dict[tuple[str, str], tuple[dict[str, FsStats], FsStats | None]] = {}
    for pod in summary.get("pods") or ():
        ref = pod.get("podRef") or {}
        volumes = {v.get("name", ""): fs_stats(v) for v in pod.get("volume") or ()}
        eph = pod.get(EPHEMERAL)
        pods[(ref.get("namespace", ""), ref.get("name", ""))] = (volumes, fs_stats(eph) if eph else None)
    return NodeStats(fs_stats(node.get("fs")), fs_stats(image) if image else None, pods)


# -- the report ------------------------------------------------------------------------------------
def share(part: int | None, whole: int | None) -> float | None:
    return None if part is None or not whole else part / whole


@dataclass(frozen=True)
class VolumeRow:
    namespace: str
    pod: str
    node: str
    workload: str
    volume: str  # the pod's volume name; "(ephemeral)" for the pod's own ephemeral storage
    type: str  # pvc | emptyDir | ephemeral
    claim: str | None = None
    storage_class: str | None = None
    access_modes: tuple[str, ...] = ()
    claim_request: int | None = None  # the claim's spec.resources.requests.storage
    claim_capacity: int | None = None  # its status.capacity.storage
    pv: str | None = None
    pv_capacity: int | None = None
    medium: str | None = None  # emptyDir: Memory or "" (the node's disk)
    size_limit: int | None = None  # emptyDir sizeLimit
    request: int | None = None  # ephemeral: the pod's ephemeral-storage request
    limit: int | None = None  # ephemeral: its limit
    stats: FsStats | None = None  # None: the node's summary was not read, or lacks it
    basis: int | None = None  # what USE% is against
    used_share: float | None = None
    inodes_share: float | None = None
    level: str = ""  # ok | warn | crit; "" without figures
    thresholds: Thresholds | None = None


@dataclass(frozen=True)
class Signal:
    """One eviction signal of a filesystem: `nodefs.available<10%` and its value in bytes (or inodes)."""

    name: str  # nodefs.available, imagefs.available, nodefs.inodesFree, imagefs.inodesFree
    threshold: str  # as configured: 10%, 1Gi, 1000
    amount: int  # the threshold in bytes or inodes
    observed: int  # available bytes or free inodes now
    met: bool  # observed < amount: the kubelet evicts

    @property
    def text(self) -> str:
        return f"{self.name}<{self.threshold}"


@dataclass(frozen=True)
class NodeFsRow:
    node: str
    pool: str
    filesystem: str  # nodefs | imagefs
    stats: FsStats
    signals: tuple[Signal, ...]
    source: str  # configz | defaults
    used_share: float | None
    inodes_share: float | None
    level: str


@dataclass(frozen=True)
class UnusedRow:
    kind: str  # PersistentVolumeClaim | PersistentVolume
    namespace: str
    name: str
    state: str  # Bound (unused) | Pending | Lost | Released | Failed | Available
    storage_class: str | None
    capacity: int | None
    created: str
    age: float | None  # seconds


@dataclass
class Report:
    volumes: list[VolumeRow]
    nodes: list[NodeFsRow]
    unused: list[UnusedRow]
    policy: StoragePolicy
    unused_shown: bool  # False under -l: a claim a pod outside the selection mounts is not unused


def storage_bytes(obj: Mapping[str, Any] | None, *path: str) -> int | None:
    """A storage quantity at `path` in bytes, None when absent."""
    value: Any = obj or {}
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    if value is None:
        return None
    return parse_quantity(value) // NANO


def claim_of(pod: PodVolumes, volume: Mapping[str, Any]) -> str | None:
    """The claim a volume mounts: its claimName, or a generic ephemeral volume's <pod>-<volume>."""
    if "persistentVolumeClaim" in volume:
        return str((volume.get("persistentVolumeClaim") or {}).get("claimName") or "") or None
    if "ephemeral" in volume:
        return f"{pod.name}-{volume.get('name', '')}"
    return None


def volume_rows(
    pod: PodVolumes,
    claims: Mapping[tuple[str, str], Mapping[str, Any]],
    pvs: Mapping[str, Mapping[str, Any]],
    stats: NodeStats | None,
    policy: StoragePolicy,
) -> Iterable[VolumeRow]:
    """One row per PVC or emptyDir the pod mounts, then its ephemeral storage (when it declares
    an ephemeral-storage request or limit, or has an emptyDir: what the kubelet's eviction weighs)."""
    volume_stats, eph_stats = stats.pods.get((pod.namespace, pod.name), ({}, None)) if stats else ({}, None)
    base: dict[str, Any] = {"namespace": pod.namespace, "pod": pod.name, "node": pod.node, "workload": pod.workload}
    for volume in pod.volumes:
        name = str(volume.get("name", ""))
        got = volume_stats.get(name)
        claim_name = claim_of(pod, volume)
        if claim_name is not None:
            claim = claims.get((pod.namespace, claim_name)) or {}
            spec = claim.get("spec") or {}
            pv_name = spec.get("volumeName") or None
            pv = pvs.get(pv_name or "") if pv_name else None
            cls = spec.get("storageClassName") or None
            basis = got.capacity if got and got.capacity else storage_bytes(pv, "spec", "capacity", "storage")
            limits = policy.for_class(cls)
            used_share = share(got.used, basis) if got else None
            inodes_share = share(got.inodes_used, got.inodes) if got else None
            yield VolumeRow(
                **base,
                volume=name,
                type="pvc",
                claim=claim_name,
                storage_class=cls,
                access_modes=tuple(spec.get("accessModes") or ()),
                claim_request=storage_bytes(spec, "resources", "requests", "storage"),
                claim_capacity=storage_bytes(claim.get("status"), "capacity", "storage"),
                pv=pv_name,
                pv_capacity=storage_bytes(pv, "spec", "capacity", "storage"),
                stats=got,
                basis=basis,
                used_share=used_share,
                inodes_share=inodes_share,
                level=worst(limits.level(used_share), limits.level(inodes_share)),
                thresholds=limits,
            )
        else:
            empty = volume.get("emptyDir") or {}
            size_limit = storage_bytes(empty, "sizeLimit")
            # the kubelet evicts a pod whose emptyDir passes its sizeLimit; without one it fills the node
            basis = size_limit or (got.capacity if got else None)
            used_share = share(got.used, basis) if got else None
            inodes_share = share(got.inodes_used, got.inodes) if got and not size_limit else None
            yield VolumeRow(
                **base,
                volume=name,
                type="emptyDir",
                medium=str(empty.get("medium") or ""),
                size_limit=size_limit,
                stats=got,
                basis=basis,
                used_share=used_share,
                inodes_share=inodes_share,
                level=worst(policy.default.level(used_share), policy.default.level(inodes_share)),
                thresholds=policy.default,
            )
    if pod.ephemeral_request is None and pod.ephemeral_limit is None and not any("emptyDir" in v for v in pod.volumes):
        return
    used_share = share(eph_stats.used, pod.ephemeral_limit) if eph_stats else None
    yield VolumeRow(
        **base,
        volume="(ephemeral)",
        type="ephemeral",
        request=pod.ephemeral_request,
        limit=pod.ephemeral_limit,
        stats=eph_stats,
        basis=pod.ephemeral_limit,
        used_share=used_share,
        level=policy.default.level(used_share) if pod.ephemeral_limit else ("ok" if eph_stats else ""),
        thresholds=policy.default,
    )


def worst(*levels: str) -> str:
    known = [lv for lv in levels if lv]
    return max(known, key=LEVELS.index) if known else ""


def signal_amount(threshold: str, whole: int | None) -> int | None:
    """An eviction threshold in bytes or inodes: a percentage of `whole`, or a quantity."""
    text = str(threshold).strip()
    try:
        if text.endswith("%"):
            return None if whole is None else int(whole * float(text[:-1]) / 100)
        return parse_quantity(text) // NANO
    except (ValueError, QuantityError):
        return None


def node_rows(
    node: str,
    labels: Mapping[str, str],
    stats: NodeStats,
    eviction: Mapping[str, str] | None,
    policy: StoragePolicy,
) -> list[NodeFsRow]:
    """nodefs and imagefs of one node against its hard eviction thresholds (`eviction`: the
    kubelet's evictionHard from /configz, None when it could not be read: the defaults)."""
    source = "configz" if eviction is not None else "defaults"
    hard = dict(eviction if eviction is not None else DEFAULT_EVICTION)
    pool = next((labels[k] for k in POOL_LABELS if labels.get(k)), "")
    rows = []
    for fs_name, fs in (("nodefs", stats.nodefs), ("imagefs", stats.imagefs)):
        if fs is None:
            continue
        signals = []
        for kind, observed, whole in (("available", fs.available, fs.capacity), ("inodesFree", fs.inodes_free, fs.inodes)):
            threshold = hard.get(f"{fs_name}.{kind}")
            amount = signal_amount(threshold, whole) if threshold else None
            if threshold and amount is not None and observed is not None:
                signals.append(Signal(f"{fs_name}.{kind}", str(threshold), amount, observed, observed < amount))
        used_share = share(None if fs.capacity is None or fs.available is None else fs.capacity - fs.available, fs.capacity)
        inodes_share = share(fs.inodes_used, fs.inodes)
        # met: the kubelet is evicting now; otherwise the --warn/--crit shares, as for volumes
        level = "crit" if any(s.met for s in signals) else worst(policy.default.level(used_share), policy.default.level(inodes_share))
        rows.append(NodeFsRow(node, pool, fs_name, fs, tuple(signals), source, used_share, inodes_share, level))
    return rows


def unused_rows(
    claims: Iterable[Mapping[str, Any]],
    pvs: Iterable[Mapping[str, Any]],
    mounted: set[tuple[str, str]],
    namespace: str | None,
    now: datetime,
) -> list[UnusedRow]:
    """Claims no selected pod mounts (Bound but unused, Pending, Lost) and volumes whose claim is
    gone (Released, Failed); under -n, the volumes whose claim was in that namespace."""
    out = []
    for claim in claims:
        meta, spec = claim.get("metadata") or {}, claim.get("spec") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if key in mounted:
            continue
        phase = (claim.get("status") or {}).get("phase") or "Pending"
        capacity = storage_bytes(claim.get("status"), "capacity", "storage") or storage_bytes(spec, "resources", "requests", "storage")
        created = meta.get("creationTimestamp") or ""
        state = "Bound (unused)" if phase == "Bound" else phase
        out.append(
            UnusedRow(
                "PersistentVolumeClaim",
                key[0],
                key[1],
                state,
                spec.get("storageClassName") or None,
                capacity,
                created,
                age_seconds(created, now),
            )
        )
    for pv in pvs:
        meta, spec = pv.get("metadata") or {}, pv.get("spec") or {}
        phase = (pv.get("status") or {}).get("phase") or ""
        ref = spec.get("claimRef") or {}
        if phase not in ("Released", "Failed") or (namespace and ref.get("namespace") != namespace):
            continue
        created = meta.get("creationTimestamp") or ""
        out.append(
            UnusedRow(
                "PersistentVolume",
                ref.get("namespace", ""),
                meta.get("name", ""),
                phase,
                spec.get("storageClassName") or None,
                storage_bytes(spec, "capacity", "storage"),
                created,
                age_seconds(created, now),
            )
        )
    return out


SORTS = ("used%", "available", "inodes%")


def sort_key(sort: str) -> Any:
    """--sort: fullest first (used%, inodes%), or least room first (available); rows without
    the figure last; ties by namespace, pod (or node) and volume."""

    def key(row: VolumeRow | NodeFsRow) -> tuple[Any, ...]:
        name = (row.namespace, row.pod, row.volume) if isinstance(row, VolumeRow) else (row.node, row.filesystem)
        if sort == "available":
            room = row.stats.available if row.stats else None
            if isinstance(row, VolumeRow) and row.basis is not None and row.stats and row.stats.used is not None:
                room = row.basis - row.stats.used  # room under the sizeLimit or ephemeral limit
            return (room is None, room or 0, name)
        value = row.used_share if sort == "used%" else row.inodes_share
        return (value is None, -(value or 0.0), name)

    return key


def build(
    pods: Sequence[PodVolumes],
    claims: Sequence[Mapping[str, Any]],
    pvs: Sequence[Mapping[str, Any]],
    stats: Mapping[str, NodeStats],
    eviction: Mapping[str, Mapping[str, str] | None],
    node_labels: Mapping[str, Mapping[str, str]],
    policy: StoragePolicy,
    *,
    sort: str,
    storage_class: str | None,
    namespace: str | None,
    unused_shown: bool,
    now: datetime,
) -> Report:
    claim_index = {((c.get("metadata") or {}).get("namespace", ""), (c.get("metadata") or {}).get("name", "")): c for c in claims}
    pv_index = {(p.get("metadata") or {}).get("name", ""): p for p in pvs}
    rows = [row for pod in pods for row in volume_rows(pod, claim_index, pv_index, stats.get(pod.node), policy)]
    mounted = {(pod.namespace, claim) for pod in pods for v in pod.volumes if (claim := claim_of(pod, v)) is not None}
    unused = unused_rows(claims, pvs, mounted, namespace, now) if unused_shown else []
    if storage_class is not None:
        rows = [r for r in rows if r.storage_class == storage_class]
        unused = [u for u in unused if u.storage_class == storage_class]
    nodes = [row for name in sorted(stats) for row in node_rows(name, node_labels.get(name) or {}, stats[name], eviction.get(name), policy)]
    rows.sort(key=sort_key(sort))
    nodes.sort(key=sort_key(sort))
    unused.sort(key=lambda u: (u.kind != "PersistentVolumeClaim", u.namespace, u.name))
    return Report(rows, nodes, unused, policy, unused_shown)


def breaches(report: Report, fail_on: str) -> list[str]:
    """What is at or above `fail_on` (warn or crit): pod/volume and node/filesystem names."""
    bar = LEVELS.index(fail_on)
    found = [f"{r.namespace}/{r.pod}:{r.volume}" for r in report.volumes if r.level and LEVELS.index(r.level) >= bar]
    found += [f"{n.node}:{n.filesystem}" for n in report.nodes if LEVELS.index(n.level or "ok") >= bar]
    return found
