"""Audit results as wgpolicyk8s.io/v1alpha2 PolicyReports: one per namespace and one
ClusterPolicyReport (nodes and cluster-wide checks), the shape Kyverno writes and
Policy Reporter reads (reference notes, section 9); or, per="resource", one report per
resource with `scope` the resource, as Kyverno 1.10+ writes them. Pure: results in, documents out.

Reports carry passes too: Policy Reporter's compliance figures count them. A report holds at most
MAX_RESULTS results: past that, passes are dropped first (counted in its summary all the same,
and in the annotation PASSES_DROPPED), then what is left spills into kubectl-perf-2, -3, ...
"""

from __future__ import annotations

import hashlib
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
# Results per report document: an object must stay well under etcd's 1.5 MiB request limit; a
# result runs to 600-850 bytes, more with a long message (an image digest, several node pools), so
# 500 of them are about 400 KB, with room for messages twice as long. Past it passes are dropped
# first, then bigger scopes spill into kubectl-perf-2, -3, ...
MAX_RESULTS = 500
PASSES_DROPPED = "kubectl-perf/passes-dropped"  # annotation: passes left out of a full report (still in its summary)
REPORT_PER = ("namespace", "resource")
SCORE = "kubectl-perf/score"  # annotation on the ClusterPolicyReport: the run's score (its summary has fixed fields)
# The score weighs each judged check by its severity: a failing high check costs three low ones.
SEVERITY_WEIGHTS = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
JUDGED = ("pass", "fail", "warn", "error")  # a skip was not judged: it neither raises nor lowers the score


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


def score(results: Iterable[Result]) -> float | None:
    """The share of checks passed, weighted by severity, in percent to one decimal:
    100 * sum(weight of passes) / sum(weight of pass, fail, warn and error results). None when nothing was judged."""
    judged = passed = 0
    for r in results:
        if r.result in JUDGED:
            weight = SEVERITY_WEIGHTS.get(r.severity, 1)
            judged += weight
            passed += weight if r.result == "pass" else 0
    return round(100 * passed / judged, 1) if judged else None


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


def _report(
    namespace: str, name: str, scope: Ref | None, results: Sequence[Result], timestamp: tuple[int, int], dropped: int = 0
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(MANAGED_BY)}
    if dropped:
        meta["annotations"] = {PASSES_DROPPED: str(dropped)}
    doc: dict[str, Any] = {"apiVersion": API_VERSION}
    if namespace:
        meta["namespace"] = namespace
        where = scope.document() if scope else {"apiVersion": "v1", "kind": "Namespace", "name": namespace}
        doc.update(kind="PolicyReport", metadata=meta, scope=where)
    else:
        doc.update(kind="ClusterPolicyReport", metadata=meta)
        if scope:
            doc["scope"] = scope.document()
    counts = summary(results)
    counts["pass"] += dropped  # the checks made: a dropped pass still passed
    doc["summary"] = counts
    doc["results"] = [policy_result(r, timestamp) for r in results]
    return doc


def report_name(scope: Ref | None) -> str:
    """kubectl-perf for a namespace's (or the cluster's) report; kubectl-perf-UID for one resource's. Kyverno names
    its per-resource reports by the bare UID: ours keep the prefix so the two never write the same object."""
    if scope is None:
        return REPORT_NAME
    if scope.uid:
        return f"{REPORT_NAME}-{scope.uid}"
    name = f"{REPORT_NAME}-{scope.kind.lower()}-{scope.name}"  # -f manifests have no UID yet
    return name if len(name) <= 253 else f"{REPORT_NAME}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def bounded(results: Sequence[Result], limit: int = MAX_RESULTS) -> tuple[list[list[Result]], int]:
    """The parts one report's results fill (each at most `limit`) and how many passes were dropped to fit:
    passes go first, and only as many as the room needs; what fails or warns is never dropped."""
    kept = list(results)
    dropped = 0
    if len(kept) > limit:
        passes = [r for r in kept if r.result == "pass"]
        dropped = min(len(passes), len(kept) - limit)
        gone = {id(r) for r in passes[len(passes) - dropped :]}
        kept = [r for r in kept if id(r) not in gone]
    return [kept[i : i + limit] for i in range(0, len(kept), limit)] or [[]], dropped


def build(results: Iterable[Result], timestamp: tuple[int, int], per: str = "namespace") -> list[dict[str, Any]]:
    """PolicyReports (one per namespace with results, or with per="resource" one per resource, `scope` the
    resource) and the ClusterPolicyReport, which is always there: its summary says the audit ran. Cluster-wide
    checks stay in it; with per="resource" a node's results get a ClusterPolicyReport of their own. A namespace
    (or resource) without results gets no report (`--apply` deletes its old one)."""
    results = list(results)
    groups: dict[tuple[str, Ref | None], list[Result]] = {("", None): []}
    for r in results:
        scope = r.resource if per == "resource" and r.resource is not None and not r.cluster else None
        groups.setdefault((r.report_namespace, scope), []).append(r)
    docs: list[dict[str, Any]] = []
    for ns, scope in sorted(groups, key=_group_order):
        parts, dropped = bounded(sorted(groups[(ns, scope)], key=_order))
        base = report_name(scope)
        for n, part in enumerate(parts, 1):
            docs.append(_report(ns, base if n == 1 else f"{base}-{n}", scope, part, timestamp, dropped if n == 1 else 0))
    run_score = score(results)
    if run_score is not None:  # on the ClusterPolicyReport, which is always there (docs[0])
        docs[0]["metadata"].setdefault("annotations", {})[SCORE] = f"{run_score:g}"
    return docs


def _group_order(key: tuple[str, Ref | None]) -> tuple[bool, str, bool, str, str]:
    ns, ref = key
    return (ns != "", ns, ref is not None, ref.kind if ref else "", ref.name if ref else "")


def _order(r: Result) -> tuple[str, ...]:
    ref = r.resource
    return (r.rule, ref.kind if ref else "", ref.namespace if ref else "", ref.name if ref else "")


def as_list(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """`-o policyreport`: a List kubectl can apply."""
    return {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": docs}


def timestamp_of(seconds: float) -> tuple[int, int]:
    whole = int(seconds)
    return whole, int(round((seconds - whole) * 1e9)) % 1_000_000_000
