"""Fold a cluster's nodes and pods into audit results. Pure: plain API dicts in, Results out.

Pods are folded a page at a time. Each workload (the top controller, found by
owners.py) is judged once per distinct template (its ReplicaSet, Job, or the pod
itself when bare), and reported once, with its pod count. Nodes collect the memory
limits their pods commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..image_sizes import NodeImages, runtime_name, status_image_ids
from ..model import NodeView, group_nodes, holds_resources, node_view, padding_breaches, pod_limits
from ..owners import Workload, controller_ref, workload_of
from ..policy import Policy, padding_rule, requests_rule
from ..quantity import format_bytes
from ..reports import Ref, Result
from ..scheduling import referenced_keys
from .image_checks import DEFAULT_IMAGE_SIZE_THRESHOLD, IMAGE_CHECKS, image_size
from .rules import RULES, result
from .spec_checks import SPEC_CHECKS, Outcome

Obj = Mapping[str, Any]
RANK = {"pass": 0, "skip": 1, "warn": 2, "error": 3, "fail": 4}  # the worse outcome wins
# The API version each workload kind is served at, for the resource reference.
API_VERSIONS = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Pod": "v1",
    "ReplicationController": "v1",
    "Node": "v1",
}
SpecCheck = Callable[[Obj], Outcome]


@dataclass(frozen=True)
class Settings:
    disabled: frozenset[str] = frozenset()
    show_pass: bool = False
    image_size_threshold: int = DEFAULT_IMAGE_SIZE_THRESHOLD  # bytes


@dataclass
class WorkloadState:
    ref: Ref
    pods: int = 0
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # rule -> worst outcome over its templates

    def record(self, outcome: Outcome) -> None:
        seen = self.outcomes.get(outcome.rule)
        if seen is None or RANK[outcome.result] > RANK[seen.result]:
            self.outcomes[outcome.rule] = outcome


def owner_index(replicasets: Iterable[Obj], jobs: Iterable[Obj]) -> dict[tuple[str, str, str], Obj | None]:
    """(kind, namespace, name) of each ReplicaSet and Job -> its own controller reference (for owners.py)."""
    index: dict[tuple[str, str, str], Obj | None] = {}
    for kind, items in (("ReplicaSet", replicasets), ("Job", jobs)):
        for item in items:
            meta = item.get("metadata") or {}
            index[(kind, str(meta.get("namespace", "")), str(meta.get("name", "")))] = controller_ref(meta)
    return index


def unbound(spec: Obj) -> dict[str, Any]:
    """A running pod's spec as its template was: no nodeName, no DaemonSet pin to one node
    (matchFields on metadata.name), so placement is judged over every node it may land on."""
    out = dict(spec)
    out.pop("nodeName", None)
    affinity = out.get("affinity") or {}
    required = (affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required:
        terms = [{k: v for k, v in t.items() if k != "matchFields"} for t in required.get("nodeSelectorTerms") or []]
        terms = [t for t in terms if t.get("matchExpressions")]
        node_affinity = dict(affinity["nodeAffinity"])
        if terms:
            node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}
        else:
            node_affinity.pop("requiredDuringSchedulingIgnoredDuringExecution")
        out["affinity"] = {**affinity, "nodeAffinity": node_affinity}
    return out


class Audit:
    """The accumulator: build it with the nodes, feed it pods page by page, then ask for results."""

    def __init__(
        self,
        policy: Policy,
        settings: Settings,
        nodes: Sequence[Obj],
        owners: Mapping[tuple[str, str, str], Obj | None] | None = None,
        daemonsets: Mapping[tuple[str, str], Obj] | None = None,
    ) -> None:
        self.policy = policy
        self.settings = settings
        self.owners = owners or {}
        self.daemonsets = daemonsets or {}
        # Only names and uids are kept: the node objects (status.images above all) can go once read.
        self.node_uids = {str((n.get("metadata") or {}).get("name")): str((n.get("metadata") or {}).get("uid", "")) for n in nodes}
        self.views = sorted((node_view(n, policy.padding_target) for n in nodes), key=lambda v: -v.budget)
        self.committed: dict[str, int] = dict.fromkeys(self.node_uids, 0)
        self.workloads: dict[Workload, WorkloadState] = {}
        self._judged: set[tuple[Workload, str]] = set()
        self._groups: dict[frozenset[str], list[NodeView]] = {}
        self.spec_checks: list[SpecCheck] = [c for c in (*SPEC_CHECKS, *IMAGE_CHECKS) if _rule_of(c) not in settings.disabled]
        self.images = NodeImages()  # what each node's runtime lists, for image-size
        if self.enabled("image-size"):
            for n in nodes:
                status = n.get("status") or {}
                self.images.add_node(runtime_name(status.get("nodeInfo") or {}), status.get("images") or ())

    def enabled(self, rule: str) -> bool:
        return rule not in self.settings.disabled

    # -- pods -------------------------------------------------------------------
    def reset_pods(self) -> Audit:
        """Forget every pod (a relist after 410 Expired starts again)."""
        self.committed = dict.fromkeys(self.node_uids, 0)
        self.workloads.clear()
        self._judged.clear()
        return self

    def add_pods(self, items: Iterable[Obj]) -> None:
        for pod in items:
            meta = pod.get("metadata") or {}
            spec = pod.get("spec") or {}
            node = spec.get("nodeName")
            if node in self.committed and holds_resources(pod):
                self.committed[node] += pod_limits(spec).get("memory", 0)
            ns = str(meta.get("namespace", ""))
            if ns in self.policy.exempt_namespaces:
                continue
            wl = workload_of(meta, self.owners)
            state = self.workloads.get(wl)
            if state is None:
                state = self.workloads[wl] = WorkloadState(
                    Ref(API_VERSIONS.get(wl.kind, ""), wl.kind, wl.name, wl.namespace, self._uid(meta, wl))
                )
            state.pods += 1
            ref = controller_ref(meta)
            template = str(ref.get("uid") or ref.get("name")) if ref else str(meta.get("uid") or meta.get("name"))
            if (wl, template) in self._judged:
                continue
            self._judged.add((wl, template))
            for outcome in self.judge(wl, spec, pod.get("status") or {}):
                state.record(outcome)

    def _uid(self, meta: Obj, wl: Workload) -> str:
        if wl.kind == "Pod":
            return str(meta.get("uid", ""))
        ref = controller_ref(meta)
        if ref and ref.get("kind") == wl.kind and ref.get("name") == wl.name:
            return str(ref.get("uid", ""))
        parent = self.owners.get((str(ref.get("kind")), wl.namespace, str(ref.get("name")))) if ref else None
        return str(parent.get("uid", "")) if parent else ""

    def judge(self, wl: Workload, pod_spec: Obj, pod_status: Obj | None = None) -> list[Outcome]:
        """Every workload rule on one template of a workload (`pod_status`: one of its pods', for the images it runs)."""
        if wl.kind == "DaemonSet" and (wl.namespace, wl.name) in self.daemonsets:
            ds = self.daemonsets[(wl.namespace, wl.name)]
            spec: Obj = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        else:
            spec = unbound(pod_spec)
        out = [check(spec) for check in self.spec_checks]
        if self.enabled("image-size") and self.images.listings:
            out.append(image_size(spec, self.images, self.settings.image_size_threshold, status_image_ids(pod_status or {})))
        if self.enabled("requests"):
            missing = [f.message for f in requests_rule(spec, self.policy, None, wl.kind)]
            out.append(
                Outcome("requests", "fail", "; ".join(missing), {"missing": len(missing)})
                if missing
                else Outcome("requests", "pass", f"every container requests {', '.join(self.policy.require_requests)}")
            )
        if self.enabled("padding"):
            # The webhook's rule: a DaemonSet against every node it runs on, others against the best one.
            found = padding_rule(spec, self.policy, self._nodes_for(spec), wl.kind)
            if found:
                outcome = "fail" if any(f.deny for f in found) else "warn"  # warn: no eligible node (padding.noEligibleNode)
                out.append(Outcome("padding", outcome, "; ".join(f.message for f in found)))
            else:
                out.append(Outcome("padding", "pass", "its memory fits the padding budget of the nodes it may run on"))
        return out

    def _nodes_for(self, spec: Obj) -> list[NodeView]:
        """The node views a template's placement can tell apart (model.group_nodes), cached by the label keys it reads."""
        keys = referenced_keys(spec)
        if keys is None:
            return self.views
        if keys not in self._groups:
            self._groups[keys] = group_nodes(self.views, keys)
        return self._groups[keys]

    # -- results ----------------------------------------------------------------
    def workload_results(self) -> list[Result]:
        out = []
        for state in self.workloads.values():
            for outcome in state.outcomes.values():
                props = {**outcome.properties, "pods": state.pods}
                out.append(result(outcome.rule, outcome.result, outcome.message, state.ref, props))
        return out

    def image_sizes_unknown(self) -> list[Result]:
        """One skip for image-size when no node lists its images (the rule then judges no workload)."""
        if self.enabled("image-size") and not self.images.listings:
            why = "no node lists the images it holds (status.images): image sizes are unknown"
            return [result("image-size", "skip", why, None, {}, True)]
        return []

    def node_results(self, usage: Mapping[str, int] | None, usage_note: str = "") -> list[Result]:
        """committed (limits against the budget, warn) and node-padding (usage against the budget, fail)."""
        out: list[Result] = []
        for v in self.views:
            ref = Ref("v1", "Node", v.name, "", self.node_uids[v.name])
            base = {"target": f"{v.target:g}", "budget": v.budget // 10**9, "allocatable": v.memory // 10**9}
            limits = self.committed.get(v.name, 0)
            used = usage.get(v.name) if usage is not None else None
            breaches = padding_breaches(v.memory, v.target, used, limits)  # the budget capacity and the webhook use too
            within = f"padding budget {format_bytes(v.budget)} ({v.target:.0%} of {format_bytes(v.memory)})"
            if self.enabled("committed"):
                over = "limits" in breaches
                message = f"memory limits committed on the node, {format_bytes(limits)}, {'exceed' if over else 'are within'} its {within}"
                out.append(result("committed", "warn" if over else "pass", message, ref, {**base, "limits": limits // 10**9}))
            if self.enabled("node-padding") and used is not None:
                over = "usage" in breaches
                message = f"memory in use, {format_bytes(used)}, {'exceeds' if over else 'is within'} the {within}"
                out.append(result("node-padding", "fail" if over else "pass", message, ref, {**base, "usage": used // 10**9}))
        if self.enabled("node-padding") and usage is None:
            out.append(result("node-padding", "skip", f"node memory usage is unknown: {usage_note or 'no metrics'}", None, {}, True))
        return out


def _rule_of(check: SpecCheck) -> str:
    rule = check.__name__.replace("_", "-")
    assert rule in RULES, rule
    return rule


def finish(results: Iterable[Result], settings: Settings) -> tuple[dict[str, int], list[Result]]:
    """The summary over every check made, and the results to list (passes only with show_pass), in order."""
    from ..reports import summary

    everything = [r for r in results if r.rule not in settings.disabled]
    listed = [r for r in everything if settings.show_pass or r.result != "pass"]
    listed.sort(key=lambda r: (CATEGORY_ORDER[r.category], -RANK[r.result], r.rule, _where(r)))
    return summary(everything), listed


CATEGORY_ORDER = {c: i for i, c in enumerate(("Resources", "Metrics", "Networking", "Storage", "Images"))}


def _where(r: Result) -> tuple[str, str, str]:
    ref = r.resource
    return (ref.namespace, ref.kind, ref.name) if ref else ("", "", "")
