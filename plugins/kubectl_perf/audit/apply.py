"""`--apply`: write the reports with server-side apply (field manager kubectl-perf) and
delete this tool's reports that the run no longer produced (namespaces now clean,
spill-over parts no longer needed). Needs create/patch/delete on the two report
resources; listing them, when allowed, saves a DELETE per clean namespace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..api import ApiError, Cluster
from ..reports import API_VERSION, MANAGED_BY, MANAGER, REPORT_NAME

BASE = f"/apis/{API_VERSION}"
SELECTOR = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())


def _path(namespace: str, name: str = "") -> str:
    coll = f"{BASE}/namespaces/{namespace}/policyreports" if namespace else f"{BASE}/clusterpolicyreports"
    return f"{coll}/{name}" if name else coll


def _delete(cluster: Cluster, namespace: str, name: str) -> bool:
    """DELETE one report; False when it was not there."""
    try:
        cluster.write("DELETE", _path(namespace, name))
        return True
    except ApiError as err:
        if err.status == 404:
            return False
        raise


def _existing(cluster: Cluster, namespace: str | None) -> set[tuple[str, str]] | None:
    """This tool's reports in the cluster (in `namespace` only, when given), or None when we may not list them."""
    found: set[tuple[str, str]] = set()
    paths = [_path(namespace)] if namespace else [f"{BASE}/policyreports", f"{BASE}/clusterpolicyreports"]
    try:
        for path in paths:
            for item in cluster.get(path, {"labelSelector": SELECTOR}).get("items") or []:
                meta = item.get("metadata") or {}
                found.add((str(meta.get("namespace") or ""), str(meta.get("name"))))
    except ApiError as err:
        if err.status == 403:
            return None
        raise
    return found


def apply(cluster: Cluster, docs: Sequence[dict[str, Any]], namespaces: Sequence[str], namespace: str | None = None) -> tuple[int, int]:
    """Apply every report and delete stale ones; returns (applied, deleted).
    `namespaces`: every namespace of the cluster, swept by name when listing reports is forbidden;
    `namespace` (-n): the run wrote that namespace's report only, so only its stale reports go."""
    try:
        cluster.get(BASE)
    except ApiError as err:
        if err.status == 404:
            raise ApiError(
                f"the cluster does not serve {API_VERSION} PolicyReports: install the CRDs first "
                "(they come with Kyverno or Policy Reporter, or kubernetes-sigs/wg-policy-prototypes)",
                404,
            ) from None
        raise
    wanted = {(d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs}
    for doc in docs:
        meta = doc["metadata"]
        cluster.write(
            "PATCH",
            _path(meta.get("namespace", ""), meta["name"]),
            doc,
            {"fieldManager": MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",
        )
    deleted = 0
    existing = _existing(cluster, namespace)
    if existing is not None:
        for ns, name in sorted(existing - wanted):
            deleted += _delete(cluster, ns, name)
        return len(docs), deleted
    # Without list: every report name this tool could have written and did not write this time.
    for ns in [*namespaces] if namespace else ["", *namespaces]:
        part = 1
        while True:
            name = REPORT_NAME if part == 1 else f"{REPORT_NAME}-{part}"
            if (ns, name) not in wanted:
                if not _delete(cluster, ns, name):
                    break
                deleted += 1
            part += 1
    return len(docs), deleted
