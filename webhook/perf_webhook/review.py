"""AdmissionReview in, decision out: which pod spec to judge, whether an update
matters, and the response the API server expects. Pure, like the policy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubectl_perf.policy import OVER_BUDGET, Budget, Finding, NodeView, Policy, evaluate, over_limits
from kubectl_perf.quantity import QuantityError
from kubectl_perf.shapes import POD_SPEC_PATHS, BadObject, pod_spec

from .admission_defaults import as_admitted

API_VERSION = "admission.k8s.io/v1"
MAX_WARNING = 119  # the API server truncates warnings; keep each under 120 characters
# Findings listed in a denial, in warnings and in a log line; the rest are counted ("... and K
# more"). A pod of many containers once made a 1 MB denial (and log line) from a 0.33 MB object.
MAX_LISTED = 10
REASONS = {400: "BadRequest", 403: "Forbidden", 500: "InternalError"}
OVER_BUDGET_WARNING = "[padding] not checked: the review ran out of its CPU budget (onOverBudget: allow)"

# Subresources that change what the rules read: an in-place resize changes resources, and
# ephemeral containers add containers. Others (status, binding, eviction...) pass.
JUDGED_SUBRESOURCES = {"Pod": frozenset({"", "resize", "ephemeralcontainers"})}


class BadReview(ValueError):
    """A request that is not an AdmissionReview we can answer: an HTTP 4xx."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_review(doc: Any) -> Mapping[str, Any]:
    """The `request` of an admission.k8s.io/v1 AdmissionReview, or BadReview."""
    if not isinstance(doc, dict):
        raise BadReview(400, "the body must be a JSON object (an AdmissionReview)")
    if doc.get("kind") != "AdmissionReview" or doc.get("apiVersion") != API_VERSION:
        raise BadReview(400, f"expected kind AdmissionReview, apiVersion {API_VERSION}")
    request = doc.get("request")
    if not isinstance(request, dict):
        raise BadReview(400, "the AdmissionReview has no request")
    if not isinstance(request.get("uid"), str) or not request["uid"]:
        raise BadReview(400, "the AdmissionReview request has no uid")
    return request


def response(uid: str, allowed: bool, message: str = "", code: int = 403, warnings: Sequence[str] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        body["status"] = {"code": code, "message": message, "reason": REASONS.get(code, "BadRequest")}
    if warnings:
        body["warnings"] = [w if len(w) <= MAX_WARNING else w[: MAX_WARNING - 1] + "…" for w in warnings]
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": body}


def fingerprint(spec: Mapping[str, Any]) -> str:
    """A pod spec as pod_spec cuts it down: per container list, each container's kind (its
    list), name, resources and restart policy, and every scheduling field. Equal
    fingerprints, equal verdicts."""
    return json.dumps(spec, sort_keys=True)


def _text(mapping: Mapping[str, Any], key: str, what: str) -> str:
    value = mapping.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadObject(f"{what}.{key} must be a string")
    return value


def _metadata(obj: Any) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise BadObject("metadata must be an object")
    return meta


@dataclass
class Decision:
    allowed: bool
    mode: str
    findings: list[Finding] = field(default_factory=list)
    message: str = ""
    code: int = 403
    warnings: list[str] = field(default_factory=list)
    reason: str = ""  # why no rule ran: exempt, operation, unchanged, kind
    skipped: str = ""  # why padding was not weighed against any node: policy.STALE_CACHE, policy.NO_ELIGIBLE_NODE

    def body(self, uid: str) -> dict[str, Any]:
        return response(uid, self.allowed, self.message, self.code, self.warnings)


NodesFor = Callable[[Mapping[str, Any]], Sequence[NodeView] | None]
# (template spec, kind, namespace) -> the spec its pods will have once admitted (admission_defaults)
Defaults = Callable[[Mapping[str, Any], str, str], Mapping[str, Any]]


def decide(request: Mapping[str, Any], policy: Policy, nodes_for: NodesFor, defaults: Defaults | None = None) -> Decision:
    """Judge one admission request against the policy; nodes_for(spec) gives the
    nodes as that pod tells them apart, or None when the view is stale; defaults completes
    a controller's template with what its pods get at admission (LimitRange, RuntimeClass,
    the DaemonSet controller's tolerations)."""
    obj = request.get("object")
    try:
        operation = _text(request, "operation", "request")
        kind_ref = request.get("kind")
        kind = _text(kind_ref, "kind", "request.kind") if isinstance(kind_ref, dict) else ""
        sub_resource = _text(request, "subResource", "request")
        namespace = _text(request, "namespace", "request")
        meta = _metadata(obj) if operation in ("CREATE", "UPDATE") else {}
        namespace = namespace or _text(meta, "namespace", "metadata")
    except BadObject as err:
        return _malformed(policy.mode, "AdmissionReview request", err)
    mode = policy.mode_for(namespace)
    if operation not in ("CREATE", "UPDATE"):
        return Decision(True, mode, reason="operation")
    if kind not in POD_SPEC_PATHS or sub_resource not in JUDGED_SUBRESOURCES.get(kind, {""}):
        return Decision(True, mode, reason="kind")
    if namespace in policy.exempt_namespaces:
        return Decision(True, mode, reason="exempt")
    subject = _exempt_subject(request, policy)
    if subject:  # allowed unjudged, with a warning the user sees and the decision log keeps
        return Decision(
            True, mode, warnings=[f"kubectl-perf did not judge this {kind}: {subject} is exempt (exemptSubjects)"], reason="exempt"
        )
    try:
        name = _text(meta, "name", "metadata") or _text(meta, "generateName", "metadata")
        spec = pod_spec(obj, kind)
        old = request.get("oldObject")
        if operation == "UPDATE" and isinstance(old, dict):
            try:
                if fingerprint(pod_spec(old, kind)) == fingerprint(spec):
                    return Decision(True, mode, reason="unchanged")  # e.g. labels on an old pod stay editable
            except BadObject:
                pass
        # Bounded work (issue 27 availability 6): counted before any node is looked at (grouping
        # nodes by the label keys a spec reads is itself work), then a CPU budget for the rules.
        past = over_limits(spec, policy.limits)
        if past:
            return _refused(mode, kind, past)
        if kind != "Pod":  # judged as its pods will be admitted; without a source, the DaemonSet controller's part
            spec = defaults(spec, kind, namespace) if defaults is not None else as_admitted(spec, kind)
        nodes = nodes_for(spec)  # grouping, when it is done, is bounded apart (scheduling.MAX_GROUPING_KEYS) and cached
        budget = Budget(policy.limits.cpu_seconds_per_review, time.thread_time)
        findings = evaluate(spec, policy, nodes, kind, budget)
    except (BadObject, QuantityError) as err:  # only the client's object: a bug in a rule is not "cannot read"
        return _malformed(mode, kind, err)
    what = f"{kind} {namespace}/{name}".rstrip("/")
    texts = [f"[{f.rule}] {f.message}" for f in findings]
    skipped = findings.skipped
    # Over budget and allowed (onOverBudget: allow): say the padding was not checked, as for a stale cache.
    unchecked = [OVER_BUDGET_WARNING] if skipped == OVER_BUDGET and policy.on_over_budget == "allow" else []
    if mode == "enforce":
        denying = listed([t for f, t in zip(findings, texts, strict=True) if f.deny])
        warnings = listed([t for f, t in zip(findings, texts, strict=True) if not f.deny]) + (unchecked if not denying else [])
        if denying:
            return Decision(False, mode, findings, f"kubectl-perf denied {what}: " + "; ".join(denying), 403, warnings, skipped=skipped)
        return Decision(True, mode, findings, warnings=warnings, skipped=skipped)
    if mode == "warn":
        return Decision(True, mode, findings, warnings=listed(texts) + unchecked, skipped=skipped)
    return Decision(True, mode, findings, skipped=skipped)  # audit: logged and counted only


def listed(texts: list[str], limit: int = MAX_LISTED) -> list[str]:
    """At most `limit` texts, then one that counts the rest: what a user reads stays bounded."""
    if len(texts) <= limit:
        return texts
    return [*texts[:limit], f"... and {len(texts) - limit} more"]


def _exempt_subject(request: Mapping[str, Any], policy: Policy) -> str:
    """The exemptSubjects entry the requester (request.userInfo, as the API server authenticated
    it) matches, or ""; a malformed userInfo matches nothing."""
    user = request.get("userInfo")
    if not isinstance(user, dict):
        return ""
    username = user.get("username")
    groups = user.get("groups")
    return policy.exempt_subject(
        username if isinstance(username, str) else "", [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else ()
    )


def _refused(mode: str, kind: str, past: str) -> Decision:
    """A spec past the policy's limits: not judged. Enforce mode denies it with code 400 (a
    request the webhook will not weigh, as for a malformed one) in an AdmissionReview answer:
    an HTTP error would be the API server's failurePolicy to decide, and Ignore would admit it."""
    message = f"kubectl-perf refuses to judge this {kind}: {past}"
    if mode == "enforce":
        return Decision(False, mode, message=message, code=400, reason="limits")
    return Decision(True, mode, warnings=[message], reason="limits")


def _malformed(mode: str, what: str, err: ValueError) -> Decision:
    message = f"kubectl-perf cannot read this {what}: {str(err).splitlines()[0]}"
    if mode == "enforce":
        return Decision(False, mode, message=message, code=400, reason="malformed")
    return Decision(True, mode, warnings=[message], reason="malformed")
