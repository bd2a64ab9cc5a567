"""Fold a cluster's nodes, controllers and pods into audit results. Pure: plain API dicts in, Results out.

Controllers are judged from their templates first (so a CronJob between runs, a Deployment
scaled to 0 or a Job whose pods are gone is judged, with 0 pods); pods are then folded a page
at a time. Each workload (the top controller, found by owners.py) is judged once per distinct
template (its own, its ReplicaSet's or Job's, or the pod itself when bare), the worst outcome
kept, and reported once, with its pod count. Nodes collect the memory limits their pods commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from hashlib import blake2b
from typing import Any

from ..image_sizes import NodeImages, runtime_name, status_image_ids
from ..model import NodeView, PodResources, group_nodes, holds_resources, node_view, pod_resources
from ..owners import Workload, WorkloadOf, controller_ref, workload_of
from ..padding import judge
from ..policy import Policy
from ..reports import Ref, Result
from ..scheduling import referenced_keys
from .check import NODE_IMAGES, NODE_USAGE, NODES, Check, ClusterFacts, Context, NodeFacts, Scope, Template
from .outcome import Outcome
from .rules import CATEGORY_ORDER, CHECKS, THRESHOLDS, result

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
# Why a read the checks need came back empty: one skip per check that needs it.
NO_IMAGE_LISTINGS = "no node lists the images it holds (status.images): image sizes are unknown"


@dataclass(frozen=True)
class Settings:
    """Which checks run, with what thresholds, and whether passes are listed."""

    disabled: frozenset[str] = frozenset()
    show_pass: bool = False
    thresholds: Mapping[str, int] = field(default_factory=lambda: dict(THRESHOLDS))  # audit.* policy keys -> value
    out_of_scope: str = ""  # why the node and cluster checks are not made (-n/-l, -f); "" makes them

    @cached_property
    def checks(self) -> tuple[Check[Any], ...]:
        """The checks this run makes, in the registry's order."""
        return tuple(c for c in CHECKS if c.id not in self.disabled)

    @cached_property
    def reads(self) -> frozenset[str]:
        """The reads beyond nodes and pods that the checks this run makes need (the fetch plan);
        out of scope, the node and cluster checks read nothing."""
        return frozenset(c.needs for c in self.checks if c.needs and (c.scope == "spec" or not self.out_of_scope))


@dataclass
class WorkloadState:
    ref: Ref
    pods: int = 0
    outcomes: dict[str, tuple[Check[Any], Outcome]] = field(default_factory=dict)  # check ID -> worst outcome over its templates

    def record(self, check: Check[Any], outcome: Outcome) -> None:
        seen = self.outcomes.get(check.id)
        if seen is None or RANK[outcome.result] > RANK[seen[1].result]:
            self.outcomes[check.id] = (check, outcome)


@dataclass(frozen=True)
class Controller:
    """A top-level controller as the audit judges it: its workload, uid and pod template's spec."""

    workload: Workload
    uid: str
    spec: Obj


# The controllers whose pods owners.py resolves to themselves, and where their pod template is.
TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")


def pod_template_spec(kind: str, obj: Obj) -> Obj:
    """The pod spec a controller's pods are made from (a CronJob's through its job template)."""
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def top_controllers(kind: str, items: Iterable[Obj]) -> list[Controller]:
    """The controllers of a kind that are workloads of their own: every Deployment, StatefulSet, DaemonSet
    and CronJob; ReplicaSets and Jobs only without a controller (else their Deployment or CronJob is judged),
    as owners.py resolves pods."""
    out = []
    for item in items:
        meta = item.get("metadata") or {}
        if kind in ("ReplicaSet", "Job") and controller_ref(meta):
            continue
        workload = Workload(kind, str(meta.get("namespace", "")), str(meta.get("name", "")))
        out.append(Controller(workload, str(meta.get("uid", "")), pod_template_spec(kind, item)))
    return out


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
        controllers: Iterable[Controller] = (),
        no_nodes: str = "",
        resources: PodResources = pod_resources,
        workloads: WorkloadOf = workload_of,
    ) -> None:
        """`no_nodes`: why there are no nodes to judge against (RBAC, no cluster): padding and image-size skip with it.
        `resources`: a pod's effective requests and limits (the report shares them with its capacity section);
        `workloads`: a pod's workload (the report shares them with its images section)."""
        self.policy = policy
        self.resources = resources
        self.workload_of = workloads
        self.settings = settings
        self.owners = owners or {}
        self.daemonsets = daemonsets or {}
        # Only names and uids are kept: the node objects (status.images above all) can go once read.
        self.node_uids = {str((n.get("metadata") or {}).get("name")): str((n.get("metadata") or {}).get("uid", "")) for n in nodes}
        self.views = sorted((node_view(n, policy.padding_target) for n in nodes), key=lambda v: -v.budget)
        self.committed: dict[str, int] = dict.fromkeys(self.node_uids, 0)  # memory limits per node, nanos
        self.requested: dict[str, int] = dict.fromkeys(self.node_uids, 0)  # memory requests per node, nanos
        self.workloads: dict[Workload, WorkloadState] = {}
        self._judged: set[tuple[Workload, str]] = set()
        self._groups: dict[frozenset[str], list[NodeView]] = {}
        self.images = NodeImages()  # what each node's runtime lists, for image-size
        self.unavailable: dict[str, str] = {}  # a read the checks need -> why it is missing
        if NODE_IMAGES in settings.reads:
            for n in nodes:
                status = n.get("status") or {}
                self.images.add_node(runtime_name(status.get("nodeInfo") or {}), status.get("images") or ())
            if not self.images.listings:
                self.unavailable[NODE_IMAGES] = no_nodes or NO_IMAGE_LISTINGS
        if no_nodes:
            self.unavailable[NODES] = no_nodes
        self.context = Context(policy, settings.thresholds, self.images, self._nodes_for)
        self.spec_checks = self.runnable("spec")  # judged per template: chosen once
        self._verdicts: dict[tuple[str, bytes, tuple[tuple[str, str], ...]], list[tuple[Check[Any], Outcome]]] = {}
        # Workloads judged from their controllers' templates, with no pods yet: what every (re)list starts from.
        self._from_templates: dict[Workload, WorkloadState] = {}
        for c in controllers:
            if c.workload.namespace in policy.exempt_namespaces:
                continue
            state = self._from_templates.setdefault(
                c.workload,
                WorkloadState(Ref(API_VERSIONS.get(c.workload.kind, ""), c.workload.kind, c.workload.name, c.workload.namespace, c.uid)),
            )
            for check, outcome in self.judge(c.workload, c.spec):
                state.record(check, outcome)
        self.reset_pods()

    def runnable(self, scope: Scope) -> list[Check[Any]]:
        """The checks of a scope this run makes and can make (their reads came back)."""
        return [c for c in self.settings.checks if c.scope == scope and c.needs not in self.unavailable]

    # -- pods -------------------------------------------------------------------
    def reset_pods(self) -> Audit:
        """Forget every pod (a relist after 410 Expired starts again)."""
        self.committed = dict.fromkeys(self.node_uids, 0)
        self.requested = dict.fromkeys(self.node_uids, 0)
        self.workloads = {wl: WorkloadState(st.ref, 0, dict(st.outcomes)) for wl, st in self._from_templates.items()}
        self._judged.clear()
        return self

    def add_pods(self, items: Iterable[Obj]) -> None:
        for pod in items:
            if not holds_resources(pod):
                continue  # finished (Succeeded, Failed): it holds nothing and is not what runs (as capacity)
            meta = pod.get("metadata") or {}
            spec = pod.get("spec") or {}
            node = spec.get("nodeName")
            if node in self.committed:  # a terminating pod holds its memory until it ends
                requests, limits = self.resources(spec)
                self.committed[node] += limits.get("memory", 0)
                self.requested[node] += requests.get("memory", 0)
            ns = str(meta.get("namespace", ""))
            if ns in self.policy.exempt_namespaces or meta.get("deletionTimestamp"):
                continue  # a terminating pod is on its way out: judging it would keep its namespace's report alive
            wl = self.workload_of(meta, self.owners)
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
            for check, outcome in self.judge(wl, spec, pod.get("status") or {}):
                state.record(check, outcome)

    def _uid(self, meta: Obj, wl: Workload) -> str:
        if wl.kind == "Pod":
            return str(meta.get("uid", ""))
        ref = controller_ref(meta)
        if ref and ref.get("kind") == wl.kind and ref.get("name") == wl.name:
            return str(ref.get("uid", ""))
        parent = self.owners.get((str(ref.get("kind")), wl.namespace, str(ref.get("name")))) if ref else None
        return str(parent.get("uid", "")) if parent else ""

    def judge(self, wl: Workload, pod_spec: Obj, pod_status: Obj | None = None) -> list[tuple[Check[Any], Outcome]]:
        """Every spec check on one template of a workload (`pod_status`: one of its pods', for the images it runs)."""
        if wl.kind == "DaemonSet" and (wl.namespace, wl.name) in self.daemonsets:
            ds = self.daemonsets[(wl.namespace, wl.name)]
            spec: Obj = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        else:
            spec = unbound(pod_spec)
        image_ids = status_image_ids(pod_status or {})
        # The checks see nothing of a template but its spec, kind and images (Template), so templates alike
        # share one judgment: a CronJob's Jobs each are a template of their own, with the same spec (at
        # 1,000 nodes x 30 pods, 524 judged templates had 21 distinct contents). repr() of decoded JSON is
        # equal only for equal values (the same spec with its keys in another order is judged again); its
        # 128-bit digest is kept, not the text: a cluster of bare pods has a template per pod.
        key = (wl.kind, blake2b(repr(spec).encode(), digest_size=16).digest(), tuple(image_ids.items()))
        verdicts = self._verdicts.get(key)
        if verdicts is None:
            template = Template(spec, wl.kind, image_ids)
            found = ((check, check.run(template, self.context)) for check in self.spec_checks)
            verdicts = self._verdicts[key] = [(check, outcome) for check, outcome in found if outcome is not None]
        return verdicts

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
            for check, outcome in state.outcomes.values():
                out.append(result(check, outcome, state.ref, {"pods": state.pods}))
        return out

    def skipped(self, scope: Scope) -> list[Result]:
        """One cluster-level skip per check of a scope that this run makes but cannot: a read it needs is missing."""
        checks = [c for c in self.settings.checks if c.scope == scope and c.needs in self.unavailable]
        return [result(c, Outcome("skip", self.unavailable[c.needs]), None, cluster=True) for c in checks]

    def out_of_scope(self) -> list[Result]:
        """One skip per node and cluster check when the scope is narrowed (settings.out_of_scope says why)."""
        checks = [c for c in self.settings.checks if c.scope != "spec"]
        return [result(c, Outcome("skip", self.settings.out_of_scope), None, cluster=True) for c in checks]

    def spec_skips(self) -> list[Result]:
        """The spec checks' skips (image-size when no node lists its images: it then judges no workload)."""
        return self.skipped("spec")

    def node_results(self, usage: Mapping[str, int] | None, usage_note: str = "") -> list[Result]:
        """The node checks on every node (committed, node-padding), each node's facts gathered once."""
        if usage is None:
            self.unavailable[NODE_USAGE] = f"node memory usage is unknown: {usage_note or 'no metrics'}"
        else:
            self.unavailable.pop(NODE_USAGE, None)
        checks = self.runnable("node")
        out: list[Result] = []
        for v in self.views:
            used = usage.get(v.name) if usage is not None else None
            # the one verdict (padding.judge) capacity and cadvisor give this node too
            verdict = judge(
                v.memory,
                v.target,
                used,
                self.committed.get(v.name, 0),
                self.requested.get(v.name, 0),
                self.policy.levels,
                usage_expected=usage is not None,  # node metrics read: a node without a figure is unknown
            )
            node = NodeFacts(v, Ref("v1", "Node", v.name, "", self.node_uids[v.name]), verdict)
            for check in checks:
                outcome = check.run(node, self.context)
                if outcome is not None:
                    out.append(result(check, outcome, node.ref))
        return [*out, *self.skipped("node")]

    def cluster_results(self, facts: ClusterFacts) -> list[Result]:
        """The cluster checks on what the plan's reads fetched; one skip per check whose read was refused."""
        self.unavailable.update(facts.unavailable)
        found = ((check, check.run(facts, self.context)) for check in self.runnable("cluster"))
        made = [result(check, outcome, outcome.resource, cluster=True) for check, outcome in found if outcome is not None]
        return [*made, *self.skipped("cluster")]


@dataclass(frozen=True)
class Overview:
    """What a person reads first: the score, and the outcomes per category and per rule (registry order)."""

    score: float | None  # reports.score: checks passed, weighted by severity, in percent
    by_category: dict[str, dict[str, int]]
    by_rule: dict[str, dict[str, int]]


def overview(results: Sequence[Result]) -> Overview:
    """Over every check made (passes too); rules and categories with no result are left out."""
    from ..reports import score, summary

    by_category = {c: summary(r for r in results if r.category == c) for c in CATEGORY_ORDER}
    by_rule = {c.id: summary(r for r in results if r.rule == c.id) for c in CHECKS}
    return Overview(
        score(results),
        {k: v for k, v in by_category.items() if any(v.values())},
        {k: v for k, v in by_rule.items() if any(v.values())},
    )


def made(results: Iterable[Result], settings: Settings) -> list[Result]:
    """Every result of the checks this run makes, passes too: what the summary counts and the reports carry."""
    return [r for r in results if r.rule not in settings.disabled]


def finish(results: Iterable[Result], settings: Settings) -> tuple[dict[str, int], list[Result]]:
    """The summary over every check made, and the results to list (passes only with show_pass), in order."""
    from ..reports import summary

    everything = made(results, settings)
    listed = [r for r in everything if settings.show_pass or r.result != "pass"]
    listed.sort(key=lambda r: (CATEGORY_ORDER[r.category], -RANK[r.result], r.rule, _where(r)))
    return summary(everything), listed


def _where(r: Result) -> tuple[str, str, str]:
    ref = r.resource
    return (ref.namespace, ref.kind, ref.name) if ref else ("", "", "")
