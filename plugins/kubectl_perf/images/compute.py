"""The image audit, pure: node and pod dicts in (a page at a time), rows out.

Nodes are folded first into slim views (name, pool, runtime, listed images by
normalised name); pods are then folded page by page into per-image usage.
`ImageInventory.report()` joins the two. No I/O, no printing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import imageref
from ..image_sizes import Inspected, NodeImages, runtime_name, status_image_ids, suggest
from ..model import POOL_LABELS
from ..owners import Workload, WorkloadOf, workload_of
from ..scheduling import node_matches, referenced_keys
from .pulls import HistogramRow, PodTimes, PoolPulls, Waterfall, pod_times

DEFAULT_MAX_IMAGES = 50  # the kubelet's nodeStatusMaxImages
# No node carries a key of model.POOL_LABELS: nodes of one instance type are the nearest thing to a pool.
FALLBACK_POOL_LABEL = "node.kubernetes.io/instance-type"
HISTOGRAM = (  # (upper bound exclusive, label); sizes in bytes, decimal as registries print them
    (10_000_000, "< 10 MB"),
    (50_000_000, "10-50 MB"),
    (100_000_000, "50-100 MB"),
    (200_000_000, "100-200 MB"),
    (500_000_000, "200-500 MB"),
    (1_000_000_000, "500 MB-1 GB"),
    (None, ">= 1 GB"),
)
SCALING_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController")
STARTING_KINDS = ("DaemonSet", "Job", "CronJob")


@dataclass(frozen=True)
class InventorySettings:
    max_images: int = DEFAULT_MAX_IMAGES  # the cap nodes are assumed to list at most
    min_size: int = 200_000_000  # pre-pull candidates: at least this big
    pool_label: str | None = None  # None: the first of model.POOL_LABELS that nodes carry (see assign_pools)
    hpa_targets: frozenset[tuple[str, str, str]] = frozenset()  # (kind, namespace, name) scaled by an HPA
    node_filter: bool = False  # only pods on the listed nodes count (a node selector was given)
    # ReplicaSets' and Jobs' own controller references (owners.owner_index); None: not read, names are guessed
    owners: Mapping[tuple[str, str, str], Any] | None = None
    workload_of: WorkloadOf = workload_of  # a pod's workload by `owners` (the report shares them with its audit section)
    startup: bool = False  # keep each pod's condition times for the start-up waterfall (--pulls)


@dataclass
class ImageNode:
    name: str
    labels: dict[str, str]
    taints: list[dict[str, Any]]
    runtime: str  # containerd, cri-o, docker, ...
    arch: str  # amd64, arm64: the platform --inspect reads from an index
    listed: int  # how many images the node lists
    smallest: int  # the smallest listed size (what an unlisted image must be under, on a capped node)
    pool: str = ""


@dataclass
class Use:
    """One image as pods use it."""

    ref: imageref.ImageRef | None  # None when the reference does not parse
    pods: int = 0
    containers: int = 0
    policies: Counter[str] = field(default_factory=Counter)
    workloads: set[Workload] = field(default_factory=set)
    running_on: set[int] = field(default_factory=set)  # nodes with a pod using it
    image_ids: set[str] = field(default_factory=set)  # status imageIDs, normalised
    kinds: set[str] = field(default_factory=set)  # container kinds: app, init, sidecar, ephemeral
    pull_secrets: set[tuple[str, str]] = field(default_factory=set)  # (namespace, name) of its pods' imagePullSecrets


@dataclass
class WorkloadInfo:
    pods: int = 0
    placement: dict[str, Any] = field(default_factory=dict)  # nodeSelector, affinity, tolerations of one pod


class ImageInventory:
    def __init__(self, settings: InventorySettings | None = None) -> None:
        self.settings = settings or InventorySettings()
        self.nodes: list[ImageNode] = []
        self._node_index: dict[str, int] = {}
        self.images = NodeImages()  # node status.images by canonical name (indices as self.nodes)
        self.uses: dict[str, Use] = {}  # normalised reference as pods write it -> use
        self.workloads: dict[Workload, WorkloadInfo] = {}
        self.pool_images: dict[str, set[str]] = {}  # pool -> references its scheduled pods use
        self.pool_label = ""
        self._pools_done = False
        self.pod_times: dict[Workload, list[PodTimes]] = {}  # with settings.startup

    # -- nodes ----------------------------------------------------------------------------
    def add_nodes(self, items: Iterable[Mapping[str, Any]]) -> None:
        for node in items:
            meta, status = node.get("metadata") or {}, node.get("status") or {}
            name = str(meta.get("name") or "")
            info = status.get("nodeInfo") or {}
            runtime = runtime_name(info)
            k = len(self.nodes)
            listed, smallest = self.images.add_node(runtime, status.get("images") or [])
            labels, taints = dict(meta.get("labels") or {}), list((node.get("spec") or {}).get("taints") or [])
            view = ImageNode(name, labels, taints, runtime, str(info.get("architecture") or ""), listed, smallest)
            self.nodes.append(view)
            self._node_index[name] = k

    @property
    def aliases(self) -> dict[str, set[str]]:
        return self.images.aliases

    @property
    def cached_bytes(self) -> int:
        return self.images.cached_bytes

    def capped(self, node: ImageNode) -> bool:
        """A node listing exactly the cap may hold more images than it lists."""
        return self.settings.max_images > 0 and node.listed >= self.settings.max_images

    def assign_pools(self) -> str:
        """Give every node its pool: the value of the pool label (the flag's, or the
        first key of model.POOL_LABELS any node carries, else the instance type).
        One key for every node, so the pre-pull plan's node selectors are alike. Returns the key used."""
        key = self.settings.pool_label
        if key is None:
            keys = (*POOL_LABELS, FALLBACK_POOL_LABEL)
            key = next((k for k in keys if any(k in n.labels for n in self.nodes)), "")
        for n in self.nodes:
            n.pool = n.labels.get(key, "") if key else ""
        self.pool_label, self._pools_done = key, True
        return key

    # -- pods -----------------------------------------------------------------------------
    def reset_pods(self) -> ImageInventory:
        """Forget every pod: a relist after 410 Expired starts again."""
        self.uses, self.workloads, self.pool_images, self.pod_times = {}, {}, {}, {}
        return self

    def with_pods(self, pages: Iterable[Iterable[Mapping[str, Any]]]) -> ImageInventory:
        """Take the pods afresh from pages of a pod list (a relist calls this again)."""
        self.reset_pods()
        for items in pages:
            self.add_pods(items)
        return self

    def add_pods(self, items: Iterable[Mapping[str, Any]]) -> None:
        if not self._pools_done:
            self.assign_pools()
        # Looked up once per page, not once per container: 30,000 pods pass through here.
        normalise, aliases, uses, workload_of = self.images.normalise, self.images.aliases, self.uses, self.settings.workload_of
        for pod in items:
            status = pod.get("status") or {}
            if status.get("phase") in ("Succeeded", "Failed"):
                continue
            spec = pod.get("spec") or {}
            node_name = spec.get("nodeName") or ""
            k = self._node_index.get(node_name, -1) if node_name else -1
            if self.settings.node_filter and k < 0:
                continue
            meta = pod.get("metadata") or {}
            workload = workload_of(meta, self.settings.owners)
            info = self.workloads.get(workload)
            if info is None:
                placement = {key: spec[key] for key in ("nodeSelector", "affinity", "tolerations") if spec.get(key)}
                info = self.workloads[workload] = WorkloadInfo(0, placement)
            info.pods += 1
            if self.settings.startup and (times := pod_times(pod)) is not None:
                self.pod_times.setdefault(workload, []).append(times)
            pool_refs = self.pool_images.setdefault(self.nodes[k].pool, set()) if k >= 0 else set()
            seen: set[str] = set()
            statuses: dict[str, str] | None = None
            pull = spec.get("imagePullSecrets")
            secrets = set()
            if pull:
                namespace = str(meta.get("namespace") or "")
                secrets = {(namespace, str(s.get("name"))) for s in pull if isinstance(s, dict) and s.get("name")}
            for kind, container in _containers(spec):
                raw = str(container.get("image") or "")
                ref_text = normalise(raw)
                use = uses.get(ref_text)
                if use is None:
                    use = uses[ref_text] = Use(_parse(raw))
                use.containers += 1
                use.kinds.add(kind)
                use.policies[container.get("imagePullPolicy") or _default_policy(use.ref)] += 1
                use.workloads.add(workload)
                if secrets:
                    use.pull_secrets |= secrets
                if ref_text not in seen:
                    seen.add(ref_text)
                    use.pods += 1
                if k >= 0:
                    use.running_on.add(k)
                    pool_refs.add(ref_text)
                if ref_text not in aliases:  # the runtime's digest, from the pod's status, may still match
                    if statuses is None:
                        statuses = status_image_ids(status)
                    image_id = statuses.get(str(container.get("name") or ""))
                    if image_id:
                        use.image_ids.add(normalise(image_id))

    # -- join -----------------------------------------------------------------------------
    def report(
        self,
        inspected: Mapping[str, Inspection] | None = None,
        notes: Iterable[str] = (),
        pulls: Mapping[tuple[str, str], PoolPulls] | None = None,
    ) -> ImageReport:
        """The joined report; `notes`: what the reads could not get, for the user; `pulls`: observed
        pulls by (image, pool) (pulls.aggregate), which rank the pre-pull plan by seconds saved."""
        if not self._pools_done:
            self.assign_pools()
        capped = [k for k, n in enumerate(self.nodes) if self.capped(n)]
        rows = [self._row(ref_text, use, (inspected or {}).get(ref_text), capped) for ref_text, use in self.uses.items()]
        rows.sort(key=lambda r: (-(r.size or -1), r.image))
        return ImageReport(self, rows, self._pools(rows), self._plan(rows, pulls or {}), list(notes))

    def pool_of(self) -> dict[str, str]:
        """Node name -> pool, for joining what kubelets report (events) to pools."""
        if not self._pools_done:
            self.assign_pools()
        return {n.name: n.pool for n in self.nodes}

    def _row(self, ref_text: str, use: Use, inspection: Inspection | None, capped: list[int]) -> ImageRow:
        measured = self.images.measure(self.images.listed(ref_text, use.ref, use.image_ids))
        size, runtime, holding = measured.size, measured.runtime, measured.holding
        notes = []
        if not measured.listed_as:
            maybe = [k for k in capped if k in use.running_on] or capped
            cut = (
                f"; {len(maybe)} node(s) list the maximum of {self.settings.max_images} images and may hold it beyond the cut"
                if maybe
                else ""
            )
            if inspection and inspection.layer_bytes is not None:
                size, runtime = inspection.layer_bytes, "registry"
                notes.append(f"no node lists it: size from the registry (compressed layers){cut}")
            else:
                notes.append(f"size unknown: no node lists it{cut}")
        inspected = Inspected(inspection.config, tuple(inspection.layers)) if inspection and inspection.config is not None else None
        suggestion, detected = suggest(use.ref, size, runtime, inspected)  # nodes know the size best
        if inspection and inspection.error:
            notes.append(f"registry: {inspection.error}")
        elif inspection and detected and suggestion is None:
            notes.append(f"inspected: {detected}")
        return ImageRow(
            image=ref_text,
            short=use.ref.display if use.ref else ref_text,
            size=size,
            runtime=runtime,
            sizes=measured.sizes,
            nodes=len(holding),
            holding=holding | use.running_on,
            pods=use.pods,
            containers=use.containers,
            workloads=sorted(use.workloads),
            policies=dict(sorted(use.policies.items())),
            latest=bool(use.ref and use.ref.latest),
            pinned=bool(use.ref and use.ref.digest),
            tag_implied=bool(use.ref and use.ref.tag_implied),
            kinds=sorted(use.kinds),
            suggestion=suggestion,
            notes=notes,
            listed_as=measured.listed_as,
        )

    # -- pools and the pre-pull plan ------------------------------------------------------
    def _pools(self, rows: list[ImageRow]) -> list[PoolRow]:
        by_image = {r.image: r for r in rows}
        counts = Counter(n.pool for n in self.nodes)
        out = []
        for pool in sorted(counts):
            refs = self.pool_images.get(pool, set())
            runtime = Counter(n.runtime for n in self.nodes if n.pool == pool).most_common(1)[0][0]
            known = [by_image[r] for r in refs if by_image[r].size is not None]
            total = sum(r.sizes.get(runtime, r.size or 0) for r in known)
            out.append(PoolRow(pool, counts[pool], runtime, len(refs), total, len(refs) - len(known)))
        return out

    def _candidate_workloads(self, row: ImageRow) -> list[tuple[Workload, str]]:
        """Workloads of the image that scale out or start pods often, each with why."""
        out = []
        for w in row.workloads:
            info = self.workloads[w]
            name = w.text()
            if (w.kind, w.namespace, w.name) in self.settings.hpa_targets:
                out.append((w, f"{name} (HPA target)"))
            elif w.kind in STARTING_KINDS:
                out.append((w, name))
            elif w.kind in SCALING_KINDS and info.pods >= 2:
                out.append((w, f"{name} x{info.pods}"))
        return out

    def _plan(self, rows: list[ImageRow], pulls: Mapping[tuple[str, str], PoolPulls]) -> list[PrePull]:
        plan = []
        eligible_cache: dict[tuple[str, Any], list[int]] = {}
        for row in rows:
            if row.size is None or row.size < self.settings.min_size:
                continue
            candidates = self._candidate_workloads(row)
            if not candidates:
                continue
            eligible: set[int] = set()
            for w, _why in candidates:
                eligible.update(self._eligible(self.workloads[w].placement, eligible_cache))
            for pool in sorted({self.nodes[k].pool for k in eligible}):
                in_pool = [k for k in eligible if self.nodes[k].pool == pool]
                missing = uncertain = 0
                for k in in_pool:
                    if k in row.holding:
                        continue
                    node = self.nodes[k]
                    # Listed largest first: on a capped node an unlisted image smaller than the smallest listed one may be there.
                    if self.capped(node) and row.size < node.smallest:
                        uncertain += 1
                    else:
                        missing += 1
                if not missing:
                    continue
                observed = pulls.get((row.image, pool))
                per_pull = observed.median_waiting if observed else None
                # Expected pulls in the window: what the window saw on this pool (new nodes, restarts on
                # fresh nodes, rollouts), and at least one per node that lacks it (the next pod there pulls).
                expected = max(observed.pulls if observed else 0, missing)
                plan.append(
                    PrePull(
                        image=row.image,
                        size=row.size,
                        pool=pool,
                        selector={self.pool_label: pool} if pool else {},
                        eligible=len(in_pool),
                        missing=missing,
                        uncertain=uncertain,
                        reasons=sorted({why for _w, why in candidates}),
                        workloads=[w for w, _ in candidates],
                        seconds_per_pull=per_pull,
                        expected_pulls=expected,
                        rank_basis="seconds" if per_pull is not None else "size",
                    )
                )
        # Measured first, by seconds saved; then, where no pull was observed, by bytes to pull.
        plan.sort(key=lambda p: (p.rank_basis != "seconds", -(p.seconds_saved or 0.0), -p.size * p.missing, p.image, p.pool))
        return plan

    def _eligible(self, placement: Mapping[str, Any], cache: dict[tuple[str, Any], list[int]]) -> list[int]:
        """Nodes a pod with this placement could run on; nodes are grouped by the label keys it reads."""
        keys = referenced_keys(placement)
        if keys is None:
            return [k for k, n in enumerate(self.nodes) if node_matches(placement, n.name, n.labels, n.taints)]
        key = (repr(sorted(placement.items())), None)
        if key in cache:
            return cache[key]
        groups: dict[Any, list[int]] = {}
        for k, n in enumerate(self.nodes):
            shape = (tuple((lk, n.labels.get(lk)) for lk in sorted(keys)), repr(n.taints))
            groups.setdefault(shape, []).append(k)
        out: list[int] = []
        for members in groups.values():
            first = self.nodes[members[0]]
            if node_matches(placement, first.name, first.labels, first.taints):
                out.extend(members)
        cache[key] = out
        return out


@dataclass
class Inspection:
    """What the registry told about one image (--inspect)."""

    config: dict[str, Any] | None = None
    layer_bytes: int | None = None
    error: str = ""
    layers: list[tuple[str, int]] = field(default_factory=list)  # (digest, compressed bytes), base first


@dataclass
class ImageRow:
    image: str
    short: str
    size: int | None
    runtime: str  # whose size: containerd (compressed), cri-o (uncompressed), registry
    sizes: dict[str, int]
    nodes: int
    holding: set[int]  # nodes known to hold it: listed, or running a pod that uses it
    pods: int
    containers: int
    workloads: list[Workload]
    policies: dict[str, int]
    latest: bool
    pinned: bool
    tag_implied: bool
    kinds: list[str]
    suggestion: dict[str, Any] | None
    notes: list[str]
    listed_as: tuple[str, ...]  # the canonical names of the node listings it matched

    @property
    def cached_bytes(self) -> int:
        return (self.size or 0) * self.nodes

    @property
    def waste(self) -> int:
        """What the suggestion would save over every node holding the image."""
        saving = (self.suggestion or {}).get("savingBytes") or 0
        return int(saving) * max(self.nodes, 1)

    @property
    def hygiene(self) -> str:
        if self.tag_implied:
            return "no tag"
        if self.latest:
            return "latest"
        return "digest" if self.pinned else ""


@dataclass
class PoolRow:
    pool: str
    nodes: int
    runtime: str
    images: int  # distinct images the pool's pods use today
    fresh_bytes: int  # what a fresh node of the pool pulls to run all of them
    unknown: int  # images among them of unknown size


@dataclass
class PrePull:
    image: str
    size: int
    pool: str
    selector: dict[str, str]
    eligible: int
    missing: int
    uncertain: int
    reasons: list[str]
    workloads: list[Workload]
    seconds_per_pull: float | None = None  # median observed pull (including waiting) on this pool
    expected_pulls: int = 0  # pulls the window saw on the pool, at least one per node missing it
    rank_basis: str = "size"  # "seconds": ranked by seconds saved; "size": no pull observed, by bytes

    @property
    def seconds_saved(self) -> float | None:
        return self.seconds_per_pull * self.expected_pulls if self.seconds_per_pull is not None else None


@dataclass
class ImageReport:
    inventory: ImageInventory
    images: list[ImageRow]
    pools: list[PoolRow]
    pre_pull: list[PrePull]
    notes: list[str] = field(default_factory=list)  # for stderr: what could not be read and what that leaves out
    pulls: list[PoolPulls] | None = None  # observed pulls per image and pool (--pulls); None: not asked
    events_unread: str | None = None  # why the Pulled events could not be read (then `pulls` is unknown, not empty)
    since: float | None = None  # seconds: the window of the Pulled events read (--since); None: all the API server keeps
    startup: list[Waterfall] = field(default_factory=list)  # per workload (--pulls)
    histogram_rows: list[HistogramRow] = field(default_factory=list)  # the kubelets' pull histogram by pool and size (--pulls)

    @property
    def unique_bytes(self) -> int:
        """Distinct images in use, counted once however pods name them (tag or digest)."""
        seen: set[str] = set()
        total = 0
        for r in self.images:
            keys = set(r.listed_as or (r.image,))
            if r.size is not None and not keys & seen:
                total += r.size
            seen |= keys
        return total

    def histogram(self) -> list[tuple[str, int]]:
        counts = [0] * len(HISTOGRAM)
        for r in self.images:
            if r.size is None:
                continue
            for i, (bound, _label) in enumerate(HISTOGRAM):
                if bound is None or r.size < bound:
                    counts[i] += 1
                    break
        return [(label, n) for (_b, label), n in zip(HISTOGRAM, counts, strict=True)]

    def sorted_images(self, key: str) -> list[ImageRow]:
        order = {
            "size": lambda r: (-(r.size if r.size is not None else -1), r.image),
            "nodes": lambda r: (-r.nodes, -(r.size or 0), r.image),
            "pods": lambda r: (-r.pods, -(r.size or 0), r.image),
            "waste": lambda r: (-r.waste, -(r.size or 0), r.image),
        }[key]
        return sorted(self.images, key=order)

    def top(self, n: int) -> tuple[list[ImageRow], list[ImageRow]]:
        """The top n by size and by bytes cached over all nodes."""
        known = [r for r in self.images if r.size is not None]
        by_size = sorted(known, key=lambda r: (-(r.size or 0), r.image))[:n]
        by_cached = sorted(known, key=lambda r: (-r.cached_bytes, r.image))[:n]
        return by_size, by_cached


def _containers(spec: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for c in spec.get("initContainers") or ():
        yield ("sidecar" if c.get("restartPolicy") == "Always" else "init"), c
    for c in spec.get("containers") or ():
        yield "app", c
    for c in spec.get("ephemeralContainers") or ():
        yield "ephemeral", c


def _parse(raw: str) -> imageref.ImageRef | None:
    try:
        return imageref.parse(raw)
    except imageref.ImageRefError:
        return None


def _default_policy(ref: imageref.ImageRef | None) -> str:
    """The API server's default: Always for :latest (or no tag), IfNotPresent otherwise."""
    return "Always" if ref is not None and ref.latest else "IfNotPresent"
