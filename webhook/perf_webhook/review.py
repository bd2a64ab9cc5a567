"""AdmissionReview in, decision out: which pod spec to judge, whether an update
matters, and the response the API server expects. Pure, like the policy."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubectl_perf.policy import Finding, NodeView, Policy, evaluate

API_VERSION = "admission.k8s.io/v1"
MAX_WARNING = 119  # the API server truncates warnings; keep each under 120 characters

# Where each kind keeps the pod spec it will create.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# What an update must change for the rules to look again: resources and scheduling.
WATCHED_SPEC_FIELDS = ("resources", "overhead", "runtimeClassName", "nodeSelector", "affinity", "tolerations", "nodeName")


class BadReview(ValueError):
    """A request that is not an AdmissionReview we can answer: an HTTP 4xx."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class BadObject(ValueError):
    """A well-formed review whose object is not shaped like its kind."""


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
        body["status"] = {"code": code, "message": message, "reason": "Forbidden" if code == 403 else "BadRequest"}
    if warnings:
        body["warnings"] = [w if len(w) <= MAX_WARNING else w[: MAX_WARNING - 1] + "…" for w in warnings]
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": body}


def pod_spec(obj: Any, kind: str) -> Mapping[str, Any]:
    cur = obj
    for key in POD_SPEC_PATHS[kind]:
        if not isinstance(cur, Mapping):
            raise BadObject(f"{kind} has no {'.'.join(POD_SPEC_PATHS[kind])}")
        cur = cur.get(key)
    if not isinstance(cur, Mapping):
        raise BadObject(f"{kind} has no {'.'.join(POD_SPEC_PATHS[kind])}")
    for list_key in ("containers", "initContainers"):
        items = cur.get(list_key)
        if items is not None and (not isinstance(items, list) or not all(isinstance(c, Mapping) for c in items)):
            raise BadObject(f"{list_key} must be a list of containers")
    return cur


def fingerprint(spec: Mapping[str, Any]) -> str:
    """The parts of a pod spec the rules read; equal fingerprints, equal verdicts."""
    containers = [
        (c.get("name"), c.get("resources"), c.get("restartPolicy")) for key in ("initContainers", "containers") for c in spec.get(key) or ()
    ]
    return json.dumps([containers, [spec.get(f) for f in WATCHED_SPEC_FIELDS]], sort_keys=True, default=str)


@dataclass
class Decision:
    allowed: bool
    mode: str
    findings: list[Finding] = field(default_factory=list)
    message: str = ""
    code: int = 403
    warnings: list[str] = field(default_factory=list)
    reason: str = ""  # why no rule ran: exempt, operation, unchanged, kind

    def body(self, uid: str) -> dict[str, Any]:
        return response(uid, self.allowed, self.message, self.code, self.warnings)


NodesFor = Callable[[Mapping[str, Any]], Sequence[NodeView] | None]


def decide(request: Mapping[str, Any], policy: Policy, nodes_for: NodesFor) -> Decision:
    """Judge one admission request against the policy; nodes_for(spec) gives the
    nodes as that pod tells them apart, or None when the view is stale."""
    operation = request.get("operation")
    kind = (request.get("kind") or {}).get("kind") if isinstance(request.get("kind"), Mapping) else None
    obj = request.get("object")
    namespace = request.get("namespace") or (((obj or {}).get("metadata") or {}).get("namespace") if isinstance(obj, Mapping) else "") or ""
    mode = policy.mode_for(namespace)
    if operation not in ("CREATE", "UPDATE"):
        return Decision(True, mode, reason="operation")
    if request.get("subResource") or kind not in POD_SPEC_PATHS:
        return Decision(True, mode, reason="kind")
    if namespace in policy.exempt_namespaces:
        return Decision(True, mode, reason="exempt")
    try:
        spec = pod_spec(obj, kind)
        old = request.get("oldObject")
        if operation == "UPDATE" and isinstance(old, Mapping):
            try:
                if fingerprint(pod_spec(old, kind)) == fingerprint(spec):
                    return Decision(True, mode, reason="unchanged")  # e.g. labels on an old pod stay editable
            except BadObject:
                pass
        findings = evaluate(spec, policy, nodes_for(spec))
    except (BadObject, ValueError, TypeError, AttributeError, KeyError) as err:
        message = f"kubectl-perf cannot read this {kind}: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
        if mode == "enforce":
            return Decision(False, mode, message=message, code=400, reason="malformed")
        return Decision(True, mode, warnings=[message], reason="malformed")
    name = ((obj or {}).get("metadata") or {}).get("name") or ((obj or {}).get("metadata") or {}).get("generateName") or ""
    what = f"{kind} {namespace}/{name}".rstrip("/")
    texts = [f"[{f.rule}] {f.message}" for f in findings]
    if mode == "enforce":
        denying = [t for f, t in zip(findings, texts, strict=True) if f.deny]
        warnings = [t for f, t in zip(findings, texts, strict=True) if not f.deny]
        if denying:
            return Decision(False, mode, findings, f"kubectl-perf denied {what}: " + "; ".join(denying), 403, warnings)
        return Decision(True, mode, findings, warnings=warnings)
    if mode == "warn":
        return Decision(True, mode, findings, warnings=texts)
    return Decision(True, mode, findings)  # audit: logged and counted only
