"""The audit's compute step over plain dicts: workload rules reported per controller with
pod counts, the padding rules against nodes, node checks. Figures worked out by hand."""

from __future__ import annotations

from typing import Any

from kubectl_perf.audit.compute import Audit, Settings, finish, unbound
from kubectl_perf.audit.image_checks import image_latest_tag, image_pull_always
from kubectl_perf.owners import owner_index
from kubectl_perf.policy import Policy
from kubectl_perf.policy_file import parse_policy
from kubectl_perf.reports import Result

Gi = 2**30


def node(name: str, memory_gi: int, labels: dict[str, str] | None = None, taints: list[Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "labels": labels or {}},
        "spec": {"taints": taints or []},
        "status": {"allocatable": {"cpu": "8", "memory": f"{memory_gi}Gi", "pods": "110"}},
    }


def ctr(
    name: str = "app", cpu: str | None = "100m", mem: str | None = "1Gi", limit: str | None = "1Gi", image: str = "app:1.0"
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", mem)) if v}
    limits = {"memory": limit} if limit else {}
    return {
        "name": name,
        "image": image,
        "resources": {"requests": requests, "limits": limits},
        "securityContext": {"readOnlyRootFilesystem": True},
    }


def pod(
    name: str,
    ns: str = "shop",
    node_name: str = "big",
    containers: list[Any] | None = None,
    owner: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": {}}
    if owner:
        meta["ownerReferences"] = [{**owner, "controller": True}]
        if owner["kind"] == "ReplicaSet":
            meta["labels"]["pod-template-hash"] = owner["name"].rsplit("-", 1)[1]
    return {"metadata": meta, "spec": {"nodeName": node_name, "containers": containers or [ctr()], **spec}, "status": {"phase": "Running"}}


RS = {"kind": "ReplicaSet", "name": "web-7d4b9c", "uid": "uid-rs"}
RS_OBJ = {
    "metadata": {
        "name": "web-7d4b9c",
        "namespace": "shop",
        "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "uid-deploy", "controller": True}],
    }
}
NODES = [node("big", 16), node("small", 8)]  # budgets at 0.75: 12Gi and 6Gi


def run(
    pods: list[Any], nodes: list[Any] = NODES, show_pass: bool = True, daemonsets: Any = None, policy: Policy | None = None
) -> list[Result]:
    audit = Audit(policy or Policy(), Settings(show_pass=show_pass), nodes, owner_index([RS_OBJ], []), daemonsets or {})
    audit.add_pods(pods)
    return audit.workload_results()


def one(results: list[Result], rule: str, name: str) -> Result:
    (found,) = [r for r in results if r.rule == rule and r.resource is not None and r.resource.name == name]
    return found


def test_a_deployment_is_reported_once_with_its_pod_count() -> None:
    no_mem = [ctr(mem=None, limit=None)]
    pods = [pod(f"web-7d4b9c-{i}", owner=RS, containers=no_mem) for i in range(3)]
    r = one(run(pods), "requests", "web")
    assert r.result == "fail" and r.resource is not None
    assert (r.resource.kind, r.resource.api_version, r.resource.uid) == ("Deployment", "apps/v1", "uid-deploy")
    assert r.properties["pods"] == "3" and "'app' has no memory request" in r.message
    clean = one(run([pod("web-7d4b9c-0", owner=RS)]), "requests", "web")
    assert clean.result == "pass"


def test_padding_fails_when_no_node_budget_holds_the_limit() -> None:
    # padding.eligibleNodes: any. 13Gi > 12Gi (big: 0.75 x 16Gi), the largest budget; 11Gi fits big.
    anyone = parse_policy({"padding": {"eligibleNodes": "any"}})
    pods = [pod("huge", containers=[ctr(mem="13Gi", limit="13Gi")]), pod("fits", containers=[ctr(mem="11Gi", limit="11Gi")])]
    results = run(pods, policy=anyone)
    assert one(results, "padding", "huge").result == "fail" and "13Gi" in one(results, "padding", "huge").message
    assert one(results, "padding", "fits").result == "pass"
    # judged as a template: running on `small` (nodeName) does not limit it to `small`'s 6Gi budget
    moved = pod("moved", node_name="small", containers=[ctr(mem="11Gi", limit="11Gi")])
    assert one(run([moved], policy=anyone), "padding", "moved").result == "pass"


def test_padding_follows_eligible_nodes_every_by_default() -> None:
    """Issue 27 bypass 3: audit's padding check is the webhook's rule, so it follows the same
    setting: 11Gi fits big's 12Gi but not small's 6Gi, and the scheduler may place it on small."""
    detailed = Policy(messages="detailed")  # node names in the message (the default, pools, has none)
    r = one(run([pod("fits", containers=[ctr(mem="11Gi", limit="11Gi")])], policy=detailed), "padding", "fits")
    assert r.result == "fail" and "small (1 node, budget 6Gi: 75% of 8Gi)" in r.message and "big" not in r.message
    assert one(run([pod("small-enough", containers=[ctr(mem="6Gi", limit="6Gi")])]), "padding", "small-enough").result == "pass"


def test_a_daemonset_must_fit_every_node_it_runs_on() -> None:
    owner = {"kind": "DaemonSet", "name": "agent", "uid": "uid-ds"}
    pin = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["big"]}]}
    ]}}}  # fmt: skip
    seven = pod("agent-x", ns="kube-ops", owner=owner, containers=[ctr(mem="7Gi", limit="7Gi")], affinity=pin)
    r = one(run([seven], policy=Policy(messages="detailed")), "padding", "agent")
    assert r.result == "fail" and "small (1 node" in r.message and "big" not in r.message  # 7Gi > 6Gi on small only
    five = pod("agent-y", ns="kube-ops", owner=owner, containers=[ctr(mem="5Gi", limit="5Gi")], affinity=pin)
    assert one(run([five]), "padding", "agent").result == "pass"
    # a DaemonSet kept off `small` by a taint need not fit it
    tainted = [node("big", 16), node("small", 8, taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}])]
    assert one(run([seven], nodes=tainted), "padding", "agent").result == "pass"


def test_unbound_drops_the_node_pin_but_keeps_real_affinity() -> None:
    expr = {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["io"]}]}
    spec = {
        "nodeName": "big",
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {**expr, "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["big"]}]}
        ]}}},
    }  # fmt: skip
    out = unbound(spec)
    assert "nodeName" not in out
    assert out["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {"nodeSelectorTerms": [expr]}
    assert spec["nodeName"] == "big"  # the input is left alone


def test_exempt_namespaces_are_not_judged_but_their_pods_commit_memory() -> None:
    audit = Audit(Policy(), Settings(show_pass=True), NODES)
    audit.add_pods([pod("dns", ns="kube-system", containers=[ctr(mem="13Gi", limit="13Gi")])])
    assert audit.workload_results() == []
    committed = [r for r in audit.node_results({}) if r.rule == "committed" and r.resource and r.resource.name == "big"]
    assert committed[0].result == "warn" and committed[0].properties["limits"] == str(13 * Gi)  # 13Gi > 12Gi budget


def test_committed_and_node_padding_per_node() -> None:
    audit = Audit(Policy(), Settings(show_pass=True), NODES)
    # big: 11Gi of limits (within 12Gi); small: 4Gi + 3Gi = 7Gi (over 6Gi). A finished pod holds nothing.
    done = pod("done", node_name="small", containers=[ctr(mem="5Gi", limit="5Gi")])
    done["status"]["phase"] = "Succeeded"
    audit.add_pods(
        [
            pod("a", containers=[ctr(mem="11Gi", limit="11Gi")]),
            pod("b", node_name="small", containers=[ctr(mem="4Gi", limit="4Gi")]),
            pod("c", node_name="small", containers=[ctr(mem="3Gi", limit="3Gi")]),
            done,
        ]
    )
    usage = {"big": 13 * Gi * 10**9, "small": 5 * Gi * 10**9}  # nanos, as model amounts
    results = {(r.rule, r.resource.name if r.resource else ""): r for r in audit.node_results(usage)}
    assert results[("committed", "big")].result == "pass"
    assert results[("committed", "small")].result == "warn" and results[("committed", "small")].properties["budget"] == str(6 * Gi)
    assert results[("node-padding", "big")].result == "fail" and results[("node-padding", "big")].severity == "high"
    assert results[("node-padding", "small")].result == "pass"
    skipped = [r for r in audit.node_results(None, "metrics API unavailable") if r.rule == "node-padding"]
    assert [(r.result, r.resource) for r in skipped] == [("skip", None)] and "metrics API unavailable" in skipped[0].message


def test_image_rules_with_a_violating_and_a_clean_spec() -> None:
    latest = {"containers": [ctr(image="nginx"), ctr("b", image="redis:latest"), ctr("c", image="app@sha256:" + "a" * 64)]}
    r = image_latest_tag(latest)
    assert (r.result, r.properties) == ("warn", {"images": "nginx, redis:latest"})  # the digest pins `c`
    assert "'app', 'b' also pull it on every start" in r.message
    # defaulted Always for the two :latest images: image-latest-tag's cause, not reported twice; IfNotPresent for the digest
    pulls = image_pull_always(latest)
    assert (pulls.result, pulls.properties) == ("pass", {"unpinned": "app,b"})
    explicit = {"containers": [{**ctr(image="app:1.2"), "imagePullPolicy": "Always"}, {**ctr("e", image="x"), "imagePullPolicy": "Always"}]}
    assert (image_pull_always(explicit).result, image_pull_always(explicit).properties) == ("warn", {"containers": "app"})
    pinned = {"containers": [ctr(image="app:1.2"), {**ctr("d", image="db:15"), "imagePullPolicy": "IfNotPresent"}]}
    assert image_latest_tag(pinned).result == "pass" and image_pull_always(pinned).result == "pass"


def test_finish_counts_every_check_but_lists_passes_only_when_asked() -> None:
    results = run([pod("huge", containers=[ctr(mem="13Gi", limit="13Gi")])])
    summary, listed = finish(results, Settings())
    # on `huge`: padding fails; requests, memory-limit, emptydir-size-limit, ephemeral-storage-requests (read-only
    # root, no emptyDir), image-latest-tag and image-pull-always (app:1.0) pass
    assert summary == {"pass": 6, "fail": 1, "warn": 0, "error": 0, "skip": 0}
    assert [(r.rule, r.result) for r in listed] == [("padding", "fail")]
    _summary, everything = finish(results, Settings(show_pass=True))
    assert len(everything) == len(results) and everything[0].result == "fail"


def test_a_pod_no_node_can_take_warns_as_padding_no_eligible_node_says() -> None:
    lost = pod("lost", containers=[ctr(mem="1Gi", limit="1Gi")], nodeSelector={"pool": "gone"})
    r = one(run([lost]), "padding", "lost")
    assert r.result == "warn" and "no node matches" in r.message  # padding.noEligibleNode: warn (the default)


def test_templates_alike_share_one_judgment_and_others_are_judged_anew() -> None:
    # Jobs made alike (by a CronJob, an operator) each are a workload and a template of their own, with
    # one spec: judged once between them, each still reported with the verdict. A spec that differs (here
    # the memory asked) is judged anew.
    import dataclasses

    runs: list[str] = []

    def counted(c: Any) -> Any:
        def run(template: Any, context: Any) -> Any:
            runs.append(c.id)
            return c.run(template, context)

        return dataclasses.replace(c, run=run)

    big = [ctr(mem="13Gi", limit="13Gi")]
    jobs = [
        pod(f"batch-{i}-x", node_name=f"n{i}", containers=big, owner={"kind": "Job", "name": f"batch-{i}", "uid": f"uid-job-{i}"})
        for i in "abc"
    ]
    other = pod("small-1", containers=[ctr(mem="1Gi", limit="1Gi")], owner={"kind": "Job", "name": "small-1", "uid": "uid-job-small"})
    audit = Audit(Policy(), Settings(show_pass=True), NODES, owner_index([], []), {})
    audit.spec_checks = [counted(c) for c in audit.spec_checks]
    audit.add_pods([*jobs, other])
    per_template = len(audit.spec_checks)
    assert per_template > 1 and len(runs) == 2 * per_template  # the three Jobs once, the other once
    verdicts = {(r.resource.name, r.rule): r.result for r in audit.workload_results() if r.resource is not None}
    for i in "abc":  # each Job its own row, with the verdict of the spec they share: 13Gi fits no 12Gi budget
        assert verdicts[(f"batch-{i}", "padding")] == "fail"
    assert verdicts[("small-1", "padding")] == "pass"
