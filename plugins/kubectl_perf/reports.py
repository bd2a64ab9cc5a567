"""Audit results as wgpolicyk8s.io/v1alpha2 PolicyReports: one per namespace and one
ClusterPolicyReport (nodes and cluster-wide checks), the shape Kyverno writes and
Policy Reporter reads (reference notes, section 9). Pure: results in, documents out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "wgpolicyk8s.io/v1alpha2"
GROUP = "wgpolicyk8s.io"
SOURCE = POLICY = MANAGER = "kubectl-perf"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubectl-perf"}
REPORT_NAME = "kubectl-perf"
OUTCOMES = ("pass", "fail", "warn", "error", "skip")
SEVERITIES = ("critical", "high", "medium", "low", "info")
# Results per report document: an object must stay well under etcd's 1.5 MiB value limit,
# and a result runs to about 600 bytes; bigger scopes spill into kubectl-perf-2, -3, ...
MAX_RESULTS = 1000


@dataclass(frozen=True)
class Ref:
    """An ObjectReference to the resource a result is about."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""
    uid: str = ""

    def document(self) -> dict[str, str]:
        doc = {"apiVersion": self.api_version, "kind": self.kind}
        if self.namespace:
            doc["namespace"] = self.namespace
        doc["name"] = self.name
        if self.uid:
            doc["uid"] = self.uid
        return doc


@dataclass(frozen=True)
class Result:
    rule: str
    category: str
    result: str  # one of OUTCOMES
    severity: str  # one of SEVERITIES
    message: str
    resource: Ref | None = None  # None: the check is about something that is absent (e.g. no metrics API)
    properties: Mapping[str, str] = field(default_factory=dict)
    cluster: bool = False  # a cluster-wide check: reported in the ClusterPolicyReport even for a namespaced resource

    @property
    def report_namespace(self) -> str:
        """The namespace whose PolicyReport holds this result; '' for the ClusterPolicyReport."""
        if self.cluster or self.resource is None:
            return ""
        return self.resource.namespace

    def document(self) -> dict[str, Any]:
        """The result as `-o json` prints it."""
        return {
            "rule": self.rule,
            "category": self.category,
            "result": self.result,
            "severity": self.severity,
            "message": self.message,
            "resource": self.resource.document() if self.resource else None,
            "properties": dict(self.properties),
        }


def summary(results: Iterable[Result]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for r in results:
        counts[r.result] += 1
    return counts


def policy_result(r: Result, timestamp: tuple[int, int]) -> dict[str, Any]:
    """One PolicyReportResult; properties must be strings (the CRD says so)."""
    doc: dict[str, Any] = {
        "source": SOURCE,
        "policy": POLICY,
        "rule": r.rule,
        "category": r.category,
        "severity": r.severity,
        "timestamp": {"seconds": timestamp[0], "nanos": timestamp[1]},
        "result": r.result,
        "scored": True,
        "message": r.message,
    }
    if r.resource:
        doc["resources"] = [r.resource.document()]
    if r.properties:
        doc["properties"] = {str(k): str(v) for k, v in r.properties.items()}
    return doc


def _report(namespace: str, part: int, results: Sequence[Result], timestamp: tuple[int, int]) -> dict[str, Any]:
    name = REPORT_NAME if part == 1 else f"{REPORT_NAME}-{part}"
    meta: dict[str, Any] = {"name": name, "labels": dict(MANAGED_BY)}
    doc: dict[str, Any] = {"apiVersion": API_VERSION}
    if namespace:
        meta["namespace"] = namespace
        doc.update(kind="PolicyReport", metadata=meta, scope={"apiVersion": "v1", "kind": "Namespace", "name": namespace})
    else:
        doc.update(kind="ClusterPolicyReport", metadata=meta)
    doc["summary"] = summary(results)
    doc["results"] = [policy_result(r, timestamp) for r in results]
    return doc


def build(results: Iterable[Result], timestamp: tuple[int, int]) -> list[dict[str, Any]]:
    """PolicyReports (one per namespace with results, split past MAX_RESULTS) and the
    ClusterPolicyReport, which is always there: its summary says the audit ran. A
    namespace without results gets no report (`--apply` deletes its old one)."""
    by_ns: dict[str, list[Result]] = {"": []}
    for r in results:
        by_ns.setdefault(r.report_namespace, []).append(r)
    docs: list[dict[str, Any]] = []
    for ns in sorted(by_ns, key=lambda n: (n != "", n)):
        rs = sorted(by_ns[ns], key=_order)
        chunks = [rs[i : i + MAX_RESULTS] for i in range(0, len(rs), MAX_RESULTS)] or [[]]
        docs.extend(_report(ns, n, chunk, timestamp) for n, chunk in enumerate(chunks, 1))
    return docs


def _order(r: Result) -> tuple[str, ...]:
    ref = r.resource
    return (r.rule, ref.kind if ref else "", ref.namespace if ref else "", ref.name if ref else "")


def as_list(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """`-o policyreport`: a List kubectl can apply."""
    return {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": docs}


def timestamp_of(seconds: float) -> tuple[int, int]:
    whole = int(seconds)
    return whole, int(round((seconds - whole) * 1e9)) % 1_000_000_000
