"""Image pulls as the kubelet measured them, pure: `Pulled` events in, per image and node pool
figures out; pod condition times in, per workload start-up waterfalls out. No I/O.

The kubelet's `Pulled` event (pkg/kubelet/images/image_manager.go) has had three shapes:
  current (1.30+): Successfully pulled image "X" in 3.2s (3.5s including waiting). Image size: 123 bytes.
  1.28-1.29:       Successfully pulled image "X" in 3.2s (3.5s including waiting)
  older:           Successfully pulled image "X" in 3.512345678s
The first figure of the current shapes is the pull alone, the second also counts the time queued
behind other pulls (serialized pulls are the default). The old shape's single figure was measured from
the start of the request, so it includes waiting: it is taken as both. `Container image "X" already
present on machine` is the same reason: a pull the node's cache saved (counted as a hit).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from statistics import median
from typing import Any

from ..owners import Workload

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_DURATION = r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+"
PULLED = re.compile(
    rf'^Successfully pulled image "(?P<image>[^"]+)" in (?P<pull>{_GO_DURATION}|0)'
    rf"(?: \((?P<waiting>{_GO_DURATION}|0) including waiting\))?"
    r"(?:\. Image size: (?P<size>\d+) bytes)?\.?$"
)
PRESENT = re.compile(r'^Container image "(?P<image>[^"]+)" already present on machine')


def go_duration(text: str) -> float:
    """Seconds of a Go time.Duration string ("3.2s", "1m2.5s", "512ms", "0s"); ValueError otherwise."""
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a Go duration: {text!r}")
    return total


@dataclass(frozen=True)
class Pull:
    """One `Pulled` event: a pull (seconds set) or a cache hit (present)."""

    image: str  # as the pod names it (the event quotes container.Image)
    node: str  # the kubelet's host ("" when the event does not say)
    namespace: str
    pod: str
    at: datetime | None
    seconds: float | None = None  # the pull alone
    waiting: float | None = None  # including waiting in the kubelet's pull queue
    size: int | None = None  # bytes, as the runtime reported them (current kubelets only)
    present: bool = False  # "already present on machine"
    count: int = 1  # the event's count: repeats the API server folded into one Event
    uid: str = ""  # the pod's uid (involvedObject.uid): tells a pod from its same-named predecessor


def parse_time(text: Any) -> datetime | None:
    if not text or not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_event(event: Mapping[str, Any]) -> Pull | None:
    """A Pulled event of either API (core v1: message/involvedObject/source; events.k8s.io/v1:
    note/regarding/reportingInstance) as a Pull; None for other reasons or messages."""
    if event.get("reason") != "Pulled":
        return None
    message = str(event.get("message") or event.get("note") or "")
    obj = event.get("involvedObject") or event.get("regarding") or {}
    node = str((event.get("source") or {}).get("host") or event.get("reportingInstance") or "")
    at = parse_time(event.get("lastTimestamp")) or parse_time(event.get("eventTime")) or parse_time(event.get("firstTimestamp"))
    at = at or parse_time((event.get("metadata") or {}).get("creationTimestamp"))
    count = int(event.get("count") or (event.get("series") or {}).get("count") or 1)
    where = (str(obj.get("namespace") or ""), str(obj.get("name") or ""))
    uid = str(obj.get("uid") or "")
    m = PULLED.match(message)
    if m:
        pull = go_duration(m["pull"])
        waiting = go_duration(m["waiting"]) if m["waiting"] else pull  # the old shape's figure includes waiting
        size = int(m["size"]) if m["size"] else None
        return Pull(m["image"], node, *where, at, pull, waiting, size, False, count, uid)
    m = PRESENT.match(message)
    if m:
        return Pull(m["image"], node, *where, at, present=True, count=count, uid=uid)
    return None


@dataclass
class PoolPulls:
    """Observed pulls of one image on one node pool."""

    image: str
    pool: str
    seconds: list[float] = field(default_factory=list)  # one per pull
    waiting: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    hits: int = 0  # "already present": pulls the node's cache saved
    nodes: set[str] = field(default_factory=set)

    @property
    def pulls(self) -> int:
        return len(self.seconds)

    @property
    def median(self) -> float | None:
        return median(self.seconds) if self.seconds else None

    @property
    def median_waiting(self) -> float | None:
        return median(self.waiting) if self.waiting else None

    @property
    def max(self) -> float | None:
        return max(self.seconds) if self.seconds else None

    @property
    def size(self) -> int | None:
        return max(self.sizes) if self.sizes else None


UNLISTED = "?"  # the pool of a node the node list does not have (gone since, or never readable)


def aggregate(
    pulls: Iterable[Pull], normalise: Callable[[str], str], pool_of: Mapping[str, str], since: datetime | None, only_listed: bool = False
) -> dict[tuple[str, str], PoolPulls]:
    """Pulls by (normalised image, pool) within the window (`since` None: all the API server keeps).
    `normalise`: the inventory's reference normaliser, so events join the images pods run; a node not
    in `pool_of` is pool UNLISTED, or left out with `only_listed` (a node selector chose the nodes)."""
    out: dict[tuple[str, str], PoolPulls] = {}
    for p in pulls:
        if since is not None and p.at is not None and p.at < since:
            continue
        if only_listed and p.node not in pool_of:
            continue
        image = normalise(p.image)
        pool = pool_of.get(p.node, UNLISTED)
        row = out.get((image, pool))
        if row is None:
            row = out[(image, pool)] = PoolPulls(image, pool)
        if p.node:
            row.nodes.add(p.node)
        if p.present:
            row.hits += p.count
            continue
        for _ in range(p.count):
            row.seconds.append(p.seconds or 0.0)
            row.waiting.append(p.waiting if p.waiting is not None else p.seconds or 0.0)
            if p.size is not None:
                row.sizes.append(p.size)
    return out


def ordered(by_key: Mapping[tuple[str, str], PoolPulls]) -> list[PoolPulls]:
    """Most total waiting first: what pulls cost pods."""
    return sorted(by_key.values(), key=lambda r: (-sum(r.waiting), r.image, r.pool))


# -- the start-up waterfall -------------------------------------------------------------------
# How the text and html waterfalls print a step none of the workload's pods has reached (pending
# pods), and one that cannot be known (PULLED with the events unread).
NOT_REACHED, UNKNOWN = "-", "?"


@dataclass(frozen=True)
class PodTimes:
    """Seconds from the pod's creation to each step; None where the pod has not got there."""

    scheduled: float | None
    started: float | None
    ready: float | None
    key: tuple[str, str]  # (namespace, name): joins the pod's Pulled events that carry no uid
    created: datetime
    uid: str = ""  # joins the pod's Pulled events (involvedObject.uid)


def pod_times(pod: Mapping[str, Any]) -> PodTimes | None:
    """Creation -> PodScheduled -> containers started (the last startedAt) -> Ready, from the pod's
    own status; None for a pod with no creation time."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    created = parse_time(meta.get("creationTimestamp"))
    if created is None:
        return None
    conds = {str(c.get("type")): c for c in status.get("conditions") or () if c.get("status") == "True"}

    def after(when: datetime | None) -> float | None:
        return (when - created).total_seconds() if when is not None else None

    starts: list[datetime] = []
    for s in status.get("containerStatuses") or ():
        state = s.get("state") or {}
        at = parse_time((state.get("running") or state.get("terminated") or {}).get("startedAt"))
        if at is None:
            starts = []
            break
        starts.append(at)
    return PodTimes(
        after(parse_time((conds.get("PodScheduled") or {}).get("lastTransitionTime"))),
        after(max(starts)) if starts else None,
        after(parse_time((conds.get("Ready") or {}).get("lastTransitionTime"))),
        (str(meta.get("namespace") or ""), str(meta.get("name") or "")),
        created,
        str(meta.get("uid") or ""),
    )


@dataclass
class Waterfall:
    """Medians, in seconds from creation, over a workload's pods that reached each step."""

    workload: Workload
    pods: int
    scheduled: float | None
    pulled: float | None  # the pod's last Pulled event (pulls or cache hits): its images are there
    started: float | None
    ready: float | None
    out_of_order: int = 0  # pods' steps left out of the medians: before creation or the step before them


def _pulled(t: PodTimes, ats: list[datetime]) -> tuple[float | None, bool]:
    """Seconds from creation to the pod's last Pulled event before its containers started (a later
    one is a restart's or an ephemeral container's pull, not start-up); True when every event it has
    came after that start, an order no start-up has."""
    if t.started is not None:
        start = t.created + timedelta(seconds=t.started)
        before = [a for a in ats if a <= start]
        if ats and not before:
            return None, True
        ats = before
    return ((max(ats) - t.created).total_seconds() if ats else None), False


def _in_order(steps: list[float | None]) -> tuple[list[float | None], int]:
    """The steps (scheduled, pulled, started, ready) with each one earlier than creation or than the
    step kept before it left out (None), and how many were: a start-up never runs backwards, so such
    a step is another pod's event or a node clock behind the API server's, never a negative time."""
    kept: list[float | None] = []
    last, dropped = 0.0, 0
    for value in steps:
        if value is not None and value < last:
            value, dropped = None, dropped + 1
        kept.append(value)
        last = value if value is not None else last
    return kept, dropped


def waterfalls(times: Mapping[Workload, list[PodTimes]], pulls: Iterable[Pull], since: datetime | None = None) -> list[Waterfall]:
    """One waterfall per workload. A pod's Pulled events join it by involvedObject.uid, so a pod
    recreated under its predecessor's name (a StatefulSet's) never takes the predecessor's events;
    by namespace and name only for events that carry no uid. Steps out of order are left out of the
    medians and counted (`out_of_order`). With a window (`since`), the start-ups in it: pods created
    before it are left out (their pulls are outside it too, so they would show no pull), and so is a
    workload left with none."""
    by_uid: dict[str, list[datetime]] = {}
    by_name: dict[tuple[str, str], list[datetime]] = {}
    for p in pulls:
        if p.at is None or (since is not None and p.at < since):
            continue
        if p.uid:
            by_uid.setdefault(p.uid, []).append(p.at)
        else:
            by_name.setdefault((p.namespace, p.pod), []).append(p.at)

    def med(values: Iterable[float | None]) -> float | None:
        got = [v for v in values if v is not None]
        return median(got) if got else None

    out = []
    for w, all_pods in times.items():
        pods = [t for t in all_pods if since is None or t.created >= since]
        if not pods:
            continue
        rows: list[list[float | None]] = []
        dropped = 0
        for t in pods:
            pulled, late = _pulled(t, by_uid.get(t.uid, []) + by_name.get(t.key, []))
            steps, n = _in_order([t.scheduled, pulled, t.started, t.ready])
            rows.append(steps)
            dropped += n + int(late)
        scheduled, pulled_at, started, ready = (med(r[i] for r in rows) for i in range(4))
        out.append(Waterfall(w, len(pods), scheduled, pulled_at, started, ready, dropped))
    out.sort(key=lambda f: (-(f.ready or f.started or 0.0), f.workload))
    return out


def now() -> datetime:
    return datetime.now(timezone.utc)


# -- the kubelet's histogram ------------------------------------------------------------------
HISTOGRAM = "kubelet_image_pull_duration_seconds"
# The kubelet's image_size_in_bytes labels in size order (pkg/kubelet/metrics imageSizeBuckets).
SIZE_LABELS = (
    "0-10MB",
    "10MB-100MB",
    "100MB-500MB",
    "500MB-1GB",
    "1GB-5GB",
    "5GB-10GB",
    "10GB-20GB",
    "20GB-30GB",
    "30GB-40GB",
    "40GB-60GB",
    "60GB-100GB",
    "GT100GB",
)


@dataclass
class HistogramRow:
    """The kubelets' image_pull_duration_seconds of one pool and image size bucket, since each kubelet started."""

    pool: str
    size: str  # the image_size_in_bytes label
    count: float = 0.0
    total: float = 0.0  # seconds
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count, summed over nodes
    nodes: set[str] = field(default_factory=set)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def median_at_most(self) -> float | None:
        """The upper bound of the bucket holding the median: the median is at most this."""
        if not self.count:
            return None
        return next((le for le in sorted(self.buckets) if self.buckets[le] >= self.count / 2), None)


def histogram_rows(samples: Mapping[str, Iterable[Any]], pool_of: Mapping[str, str]) -> list[HistogramRow]:
    """Samples (promtext.Sample: name, labels, value) of each node's /metrics, by (pool, size bucket)."""
    rows: dict[tuple[str, str], HistogramRow] = {}
    for node, node_samples in samples.items():
        pool = pool_of.get(node, UNLISTED)
        for s in node_samples:
            size = s.labels.get("image_size_in_bytes", "")
            row = rows.get((pool, size))
            if row is None:
                row = rows[(pool, size)] = HistogramRow(pool, size)
            row.nodes.add(node)
            if s.name == HISTOGRAM + "_count":
                row.count += s.value
            elif s.name == HISTOGRAM + "_sum":
                row.total += s.value
            elif s.name == HISTOGRAM + "_bucket" and s.labels.get("le") not in (None, "+Inf"):
                le = float(s.labels["le"])
                row.buckets[le] = row.buckets.get(le, 0.0) + s.value
    order = {label: n for n, label in enumerate(SIZE_LABELS)}
    return sorted((r for r in rows.values() if r.count), key=lambda r: (r.pool, order.get(r.size, len(order)), r.size))
