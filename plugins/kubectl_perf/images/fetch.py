"""What images reads: nodes (their status.images), HPA targets, the pod list page
by page, and with --inspect image configs from registries. No arithmetic here;
missing permissions become notes where the report can stand without the data."""

from __future__ import annotations

from typing import Any

from ..api import ApiError, Cluster
from ..owner_lists import read_owners
from ..running_pods import with_running_pods
from .compute import ImageInventory, Inspection
from .flags import ImagesPlan
from .pulls import Pull, parse_event


def nodes(cluster: Cluster, plan: ImagesPlan, inventory: ImageInventory, notes: list[str]) -> None:
    """Fold nodes into the inventory page by page; forbidden: a note, the report goes on without sizes."""
    try:
        cluster.fold("/api/v1/nodes", lambda: inventory, lambda acc, items: acc.add_nodes(items), {"labelSelector": plan.node_selector})
    except ApiError as err:
        if err.status != 403:
            raise
        notes.append(f"{err}; images are listed without sizes, node counts or a pre-pull plan")


def hpa_targets(cluster: Cluster, plan: ImagesPlan, notes: list[str]) -> frozenset[tuple[str, str, str]]:
    """(kind, namespace, name) of every workload an HPA scales: they start pods often.
    An API server without autoscaling/v2 (perf-sim) has none; any other failure is a note."""
    scope = f"/namespaces/{plan.namespace}" if plan.namespace else ""
    targets: set[tuple[str, str, str]] = set()
    try:
        for item in cluster.get(f"/apis/autoscaling/v2{scope}/horizontalpodautoscalers").get("items") or []:
            ref = (item.get("spec") or {}).get("scaleTargetRef") or {}
            targets.add((str(ref.get("kind") or ""), str((item.get("metadata") or {}).get("namespace") or ""), str(ref.get("name") or "")))
    except ApiError as err:
        if err.status != 404:  # no autoscaling/v2 here: no HPAs
            why = "forbidden" if err.status == 403 else str(err)
            notes.append(f"cannot list HorizontalPodAutoscalers ({why}): HPA targets are not counted as scaling out")
    return frozenset(targets)


def owners(cluster: Cluster, plan: ImagesPlan, notes: list[str]) -> dict[tuple[str, str, str], Any]:
    """ReplicaSets' and Jobs' own controller references (owner_lists.read_owners), so pods resolve to
    their workloads by owner references as audit resolves them; a forbidden list is a note and guesses."""
    return read_owners(cluster, plan.namespace, notes)


def pods(cluster: Cluster, plan: ImagesPlan, inventory: ImageInventory) -> ImageInventory:
    """Every pod not finished, page by page (the API layer relists after 410 Gone)."""
    return with_running_pods(cluster, plan.namespace, plan.selector, plan.chunk_size, inventory.with_pods)


def inspect(cluster: Cluster, inventory: ImageInventory, plan: ImagesPlan, notes: list[str]) -> dict[str, Inspection]:
    """Registry configs of images whose name does not tell their base, or whose size no node knows.
    Credentials: the imagePullSecrets of the pods that run each image (where the user may read them;
    a note when not), then the user's docker config (auths, credHelpers, credsStore)."""
    from .. import imageref
    from .registry import Credentials, Registry, pull_secret_auths

    todo = []
    for ref_text, use in inventory.uses.items():
        ref = use.ref
        if ref is None or imageref.is_lean(ref):
            continue
        if imageref.suggest_for_name(ref) is None or ref_text not in inventory.aliases:
            todo.append((ref_text, ref, use.pull_secrets))
    by_secret: dict[tuple[str, str], Any] = {}
    denied: list[str] = []
    missing: list[str] = []
    for namespace, name in sorted(set().union(*(secrets for _t, _r, secrets in todo))):
        try:
            by_secret[(namespace, name)] = pull_secret_auths(cluster.get(f"/api/v1/namespaces/{namespace}/secrets/{name}"))
        except ApiError as err:
            if err.status not in (403, 404):
                raise
            (denied if err.status == 403 else missing).append(f"{namespace}/{name}")
    if denied:
        notes.append(
            f"cannot read imagePullSecrets {', '.join(denied)} (forbidden): their registries are read with your docker credentials"
        )
    if missing:
        notes.append(f"imagePullSecrets {', '.join(missing)} not found")
    items = []
    for ref_text, ref, secrets in todo:
        pull: dict[str, Any] = {}
        for namespace, name in sorted(secrets):
            for host, creds in by_secret.get((namespace, name), {}).items():
                pull.setdefault(host, (creds, f"from imagePullSecret {namespace}/{name}"))
        items.append((ref_text, ref, pull))
    arch = next((n.arch for n in inventory.nodes if n.arch), "amd64")
    credentials = Credentials.from_docker_config(plan.registry_timeout)
    found = Registry(plan.registry_timeout, credentials, arch).inspect_all(items)
    notes.extend(credentials.notes)
    return found


def pulled_events(cluster: Cluster, plan: ImagesPlan, notes: list[str]) -> tuple[list[Pull], str | None]:
    """The kubelets' `Pulled` events (core v1 events, fieldSelector reason=Pulled, page by page; the
    events.k8s.io/v1 API serves the same objects), and None, or why they could not be read: forbidden
    is a note, and the pre-pull plan ranks by size. Unread is not "none": the pulls are unknown."""
    scope = f"/namespaces/{plan.namespace}" if plan.namespace else ""

    def add(acc: list[Pull], items: list[dict[str, Any]]) -> None:
        acc.extend(p for p in map(parse_event, items) if p is not None)

    try:
        return cluster.fold(f"/api/v1{scope}/events", list, add, {"fieldSelector": "reason=Pulled"}), None
    except ApiError as err:
        if err.status == 404:  # nothing served under this path (a namespace that does not exist): no events
            return [], None
        if err.status != 403:
            raise
        why = f"{err.status} {err.reason or 'Forbidden'}: {err}"
        notes.append(f"cannot list events ({why}): pulls are unknown; the pre-pull plan ranks by size (rankBasis size)")
        return [], why


IMAGECACHES = "/apis/kubefledged.io/v1alpha2"


def image_caches(cluster: Cluster, plan: ImagesPlan) -> list[dict[str, Any]]:
    """kube-fledged ImageCaches: every one (plan.imagecache ""), or those named NAME (any namespace)
    or NAMESPACE/NAME. Not served: an error (the user asked for them); a name none has: a flag error."""
    from ..cli import FlagError

    wanted = plan.imagecache or ""
    namespace, _, name = wanted.rpartition("/")
    scope = f"/namespaces/{namespace}" if namespace else ""

    def fresh() -> list[dict[str, Any]]:
        return []

    try:
        caches = cluster.fold(f"{IMAGECACHES}{scope}/imagecaches", fresh, lambda acc, items: acc.extend(items))
    except ApiError as err:
        if err.status == 404:
            raise ApiError(
                "kube-fledged is not installed: the API server does not serve kubefledged.io/v1alpha2 ImageCaches", 404
            ) from None
        raise
    if name:
        caches = [c for c in caches if (c.get("metadata") or {}).get("name") == name]
        if not caches:
            raise FlagError(f"ImageCache {wanted!r} not found")
    return caches


NODE_CONCURRENCY = 16  # kubelets read at a time through the API server's node proxy


def pull_histograms(cluster: Cluster, inventory: ImageInventory, notes: list[str]) -> dict[str, list[Any]]:
    """Each listed node's kubelet_image_pull_duration_seconds samples (node proxy /metrics), 16 nodes at a
    time. nodes/proxy forbidden: one note and none; a node that cannot be read: one note naming it."""
    from concurrent.futures import ThreadPoolExecutor

    from .. import kubelet
    from ..promtext import Parser
    from .pulls import HISTOGRAM

    names = [n.name for n in inventory.nodes]
    wanted = (HISTOGRAM + "_bucket", HISTOGRAM + "_sum", HISTOGRAM + "_count")

    def read(name: str) -> tuple[str, list[Any] | ApiError]:
        try:
            return name, list(Parser(wanted).checked(cluster.stream_lines(kubelet.proxy_path(name, "metrics"))))
        except ApiError as err:
            return name, kubelet.node_error(name, err)

    out: dict[str, list[Any]] = {}
    forbidden = False
    with ThreadPoolExecutor(max_workers=max(1, min(NODE_CONCURRENCY, len(names)))) as pool:
        for name, got in pool.map(read, names):
            if isinstance(got, kubelet.Forbidden):
                forbidden = True
            elif isinstance(got, ApiError):
                notes.append(f"{got}: its pull histogram is left out")
            else:
                out[name] = got
    if forbidden:
        notes.append("cannot read the kubelets' /metrics (nodes/proxy is forbidden): no kubelet pull histogram")
    return out
