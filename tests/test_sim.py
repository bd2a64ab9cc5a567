"""perf-sim's fidelity, judged by the real kubectl and raw HTTPS."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN, KUBECTL, SHARED, Sim, env_for, kubectl


def all_pods(sim: Sim) -> list[dict[str, Any]]:
    """Every pod from one unpaginated list: the reference the paginated views must match."""
    return sim.get("/api/v1/pods")["items"]


def test_get_nodes(generated: Sim) -> None:
    out = kubectl(generated, "get", "nodes", "--no-headers").stdout.split("\n")
    names = [line.split()[0] for line in out if line]
    assert names == [n["metadata"]["name"] for n in generated.get("/api/v1/nodes")["items"]]
    assert len(names) == 6
    assert all(line.split()[1] == "Ready" for line in out if line)


def test_chunked_list_returns_every_pod_once(generated: Sim) -> None:
    out = kubectl(generated, "get", "pods", "-A", "--chunk-size=50", "--no-headers").stdout.splitlines()
    listed = [tuple(line.split()[:2]) for line in out]
    expected = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in all_pods(generated)]
    assert len(listed) == len(expected) > 150
    assert sorted(listed) == sorted(expected)
    assert len(set(listed)) == len(listed)


def test_field_selector_on_node_name(generated: Sim) -> None:
    node = generated.get("/api/v1/nodes")["items"][2]["metadata"]["name"]
    out = kubectl(generated, "get", "pods", "-A", "--field-selector", f"spec.nodeName={node}", "-o", "json").stdout
    got = {p["metadata"]["name"] for p in json.loads(out)["items"]}
    expected = {p["metadata"]["name"] for p in all_pods(generated) if p["spec"].get("nodeName") == node}
    assert got == expected and len(got) == 25
    others = kubectl(generated, "get", "pods", "-A", "--field-selector", f"spec.nodeName!={node}", "-o", "name").stdout.split()
    assert len(others) == len(all_pods(generated)) - 25


def test_field_selector_phase_and_pending(generated: Sim) -> None:
    out = json.loads(kubectl(generated, "get", "pods", "-A", "--field-selector", "status.phase=Pending", "-o", "json").stdout)
    assert out["items"], "the generated cluster has pending pods"
    assert all(not p["spec"].get("nodeName") and p["status"]["phase"] == "Pending" for p in out["items"])
    phases = Counter(p["status"]["phase"] for p in all_pods(generated))
    assert phases["Succeeded"] + phases["Failed"] > 0, "and finished ones"
    out = kubectl(
        generated, "get", "pods", "-A", "--field-selector", "status.phase!=Succeeded,status.phase!=Failed", "-o", "name"
    ).stdout.split()
    assert len(out) == len(all_pods(generated)) - phases["Succeeded"] - phases["Failed"]


@pytest.mark.parametrize(
    "selector",
    [
        "app.kubernetes.io/name in (cart,checkout)",
        "app.kubernetes.io/name notin (cart)",
        "team",
        "!pod-template-hash",
        "team=shop,app.kubernetes.io/name!=frontend",
        "team==data",
    ],
)
def test_label_selectors(generated: Sim, selector: str) -> None:
    got = set(kubectl(generated, "get", "pods", "-A", "-l", selector, "-o", "name").stdout.split())
    pods = all_pods(generated)

    def ok(labels: dict[str, str]) -> bool:  # each selector's meaning, written out by hand
        name = labels.get("app.kubernetes.io/name")
        return {
            "app.kubernetes.io/name in (cart,checkout)": name in ("cart", "checkout"),
            "app.kubernetes.io/name notin (cart)": name != "cart",
            "team": "team" in labels,
            "!pod-template-hash": "pod-template-hash" not in labels,
            "team=shop,app.kubernetes.io/name!=frontend": labels.get("team") == "shop" and name != "frontend",
            "team==data": labels.get("team") == "data",
        }[selector]

    expected = {f"pod/{p['metadata']['name']}" for p in pods if ok(p["metadata"].get("labels") or {})}
    assert got == expected and got


def test_bad_selector_is_a_status(generated: Sim) -> None:
    result = kubectl(generated, "get", "pods", "-A", "-l", "a in (", check=False)
    assert result.returncode != 0
    status, body = generated.request("/api/v1/pods?fieldSelector=spec.bogus%3Dx")
    assert status == 400 and json.loads(body)["kind"] == "Status" and "field label not supported" in json.loads(body)["message"]


def test_get_single_and_not_found(generated: Sim) -> None:
    pod = all_pods(generated)[7]
    out = json.loads(kubectl(generated, "get", "pod", "-n", pod["metadata"]["namespace"], pod["metadata"]["name"], "-o", "json").stdout)
    assert out == {"kind": "Pod", "apiVersion": "v1", **pod}, "list items carry no kind or apiVersion, as on a real server"
    miss = kubectl(generated, "get", "pod", "-n", "shop", "nope", check=False)
    assert miss.returncode == 1 and 'pods "nope" not found' in miss.stderr and "NotFound" in miss.stderr


def test_unauthorized_without_the_token(generated: Sim) -> None:
    status, body = generated.request("/api/v1/nodes", token="wrong")
    assert status == 401 and json.loads(body)["reason"] == "Unauthorized"


def test_top_nodes_and_pods(generated: Sim) -> None:
    nodes = kubectl(generated, "top", "nodes", "--no-headers").stdout.splitlines()
    assert sorted(line.split()[0] for line in nodes) == sorted(n["metadata"]["name"] for n in generated.get("/api/v1/nodes")["items"])
    for line in nodes:
        cpu, cpu_pct, mem, mem_pct = line.split()[1:5]
        assert re.fullmatch(r"\d+m", cpu) and re.fullmatch(r"\d+Mi", mem) and 0 < int(cpu_pct[:-1]) <= 100 and 0 < int(mem_pct[:-1]) <= 100
    pods = kubectl(generated, "top", "pods", "-A", "--no-headers").stdout.splitlines()
    running = [p for p in all_pods(generated) if p["status"]["phase"] == "Running"]
    assert len(pods) == len(running)


def test_node_usage_is_the_sum_of_its_pods_plus_system(generated: Sim) -> None:
    from kubectl_perf.quantity import parse_quantity

    node = generated.get("/api/v1/nodes")["items"][0]
    name = node["metadata"]["name"]
    node_usage = generated.get(f"/apis/metrics.k8s.io/v1beta1/nodes/{name}")["usage"]
    pods = [p for p in generated.get("/apis/metrics.k8s.io/v1beta1/pods")["items"]]
    on_node = {p["metadata"]["name"] for p in all_pods(generated) if p["spec"].get("nodeName") == name}
    pod_mem = sum(parse_quantity(c["usage"]["memory"]) for p in pods if p["metadata"]["name"] in on_node for c in p["containers"])
    assert pod_mem < parse_quantity(node_usage["memory"]) < pod_mem + parse_quantity(node["status"]["allocatable"]["memory"]) // 10


def test_raw_metrics_paths(generated: Sim) -> None:
    nodes = json.loads(kubectl(generated, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes").stdout)
    assert nodes["kind"] == "NodeMetricsList" and len(nodes["items"]) == 6
    ns_pods = json.loads(kubectl(generated, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods").stdout)
    assert ns_pods["items"] and all(p["metadata"]["namespace"] == "shop" for p in ns_pods["items"])


def parse_prometheus(text: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, dict[str, str], float, int | None]]]:
    meta: dict[str, list[str]] = {}
    samples = []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            meta.setdefault(name, ["", ""])[0] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            meta.setdefault(name, ["", ""])[1] = kind
        elif line:
            m = re.fullmatch(r"([a-z0-9_:]+)\{(.*)\} (\S+)(?: (\d+))?", line)
            assert m, line
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
            samples.append((m.group(1), labels, float(m.group(3)), int(m.group(4)) if m.group(4) else None))
    return {k: (v[0], v[1]) for k, v in meta.items()}, samples


def test_cadvisor_format_matches_cadvisors_golden_output(generated: Sim) -> None:
    golden = ""
    for f in ("cadvisor-golden-prometheus_metrics.txt", "cadvisor-golden-prometheus_machine_metrics.txt"):
        if (SHARED / f).exists():
            golden += (SHARED / f).read_text()
    if not golden:
        pytest.skip("shared/reference golden files are not beside this checkout")
    golden_meta = {}
    for line in golden.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            name, _, rest = line[7:].partition(" ")
            golden_meta.setdefault(name, {})[line[2:6]] = rest
    node = generated.get("/api/v1/nodes")["items"][1]["metadata"]["name"]
    text = kubectl(generated, "get", "--raw", f"/api/v1/nodes/{node}/proxy/metrics/cadvisor").stdout
    meta, samples = parse_prometheus(text)
    checked = 0
    for name, (help_text, kind) in meta.items():
        if name in golden_meta:
            assert golden_meta[name]["TYPE"] == kind and golden_meta[name]["HELP"] == help_text, name
            checked += 1
    assert checked >= 10
    # per-container series name the pods that run on this node, and only them
    running = {
        (p["metadata"]["namespace"], p["metadata"]["name"])
        for p in all_pods(generated)
        if p["spec"].get("nodeName") == node and p["status"]["phase"] == "Running"
    }
    seen = {(lbl["namespace"], lbl["pod"]) for n, lbl, _v, _t in samples if n == "container_memory_working_set_bytes" and lbl.get("pod")}
    assert seen == running
    pod_level = [
        lbl
        for n, lbl, _v, _t in samples
        if n == "container_cpu_usage_seconds_total" and lbl.get("pod") and lbl["container"] == "" and lbl["image"] == ""
    ]
    assert len(pod_level) == len(running) and all("kubepods" in lbl["id"] for lbl in pod_level)
    # usage series carry millisecond timestamps; spec series and start times carry none, as in cAdvisor
    assert all(ts > 1_700_000_000_000 for n, _l, _v, ts in samples if n.startswith(("container_cpu_", "container_memory_")))
    assert all(ts is None for n, _l, _v, ts in samples if n.startswith(("container_spec_", "container_start_time")))


def test_resource_metrics_and_stats_summary(generated: Sim) -> None:
    node = generated.get("/api/v1/nodes")["items"][0]["metadata"]["name"]
    text = kubectl(generated, "get", "--raw", f"/api/v1/nodes/{node}/proxy/metrics/resource").stdout
    assert "# TYPE node_memory_working_set_bytes gauge" in text and "pod_cpu_usage_seconds_total{" in text
    summary = json.loads(kubectl(generated, "get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary").stdout)
    assert summary["node"]["nodeName"] == node and summary["pods"]
    usage = generated.get(f"/apis/metrics.k8s.io/v1beta1/nodes/{node}")["usage"]
    from kubectl_perf.quantity import parse_quantity

    assert summary["node"]["cpu"]["usageNanoCores"] == parse_quantity(usage["cpu"])
    assert summary["node"]["memory"]["workingSetBytes"] // 1024 == parse_quantity(usage["memory"]) // 10**9 // 1024


def test_objects_file_is_served_as_given(fixture_cluster: Sim) -> None:
    pods = json.loads(kubectl(fixture_cluster, "get", "pods", "-A", "-o", "json").stdout)["items"]
    byname = {p["metadata"]["name"]: p for p in pods}
    assert byname["batch-done"]["status"]["phase"] == "Succeeded"
    assert "nodeName" not in byname["pending-big"]["spec"] and byname["pending-big"]["status"]["phase"] == "Pending"
    assert byname["sandboxed"]["spec"]["overhead"] == {"cpu": "250m", "memory": "120Mi"}
    top = json.loads(kubectl(fixture_cluster, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/web-1").stdout)
    assert {c["name"]: c["usage"]["cpu"] for c in top["containers"]} in (
        {"app": "300m", "proxy": "20m"},
        {"app": "300000000n", "proxy": "20000000n"},
    )
    namespaces = set(kubectl(fixture_cluster, "get", "ns", "-o", "name").stdout.split())
    assert {"namespace/shop", "namespace/secure", "namespace/ml", "namespace/data"} <= namespaces


def test_no_metrics_server(sim_factory: Any) -> None:
    sim = sim_factory("--nodes", "2", "--pods-per-node", "5", "--no-metrics-server")
    status, _ = sim.request("/apis/metrics.k8s.io/v1beta1/nodes")
    assert status == 404
    result = kubectl(sim, "top", "nodes", check=False)
    assert result.returncode != 0 and "Metrics API not available" in result.stderr


def test_watch_sees_adds_changes_and_deletes(generated: Sim) -> None:
    watcher = subprocess.Popen(
        [
            KUBECTL,
            "get",
            "pods",
            "-n",
            "default",
            "--watch-only",
            "--output-watch-events",
            "-o",
            "custom-columns=EVENT:.type,NAME:.object.metadata.name,TEAM:.object.metadata.labels.team",
            "--no-headers",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(generated),
    )
    try:
        time.sleep(1.0)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "watched", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }
        status, _ = generated.request("/api/v1/namespaces/default/pods", "POST", pod)
        assert status == 201
        kubectl(generated, "label", "pod", "-n", "default", "watched", "team=qa")
        kubectl(generated, "delete", "pod", "-n", "default", "watched", "--wait=true", timeout=30)
        time.sleep(1.0)
    finally:
        watcher.terminate()
        out, _err = watcher.communicate(timeout=10)
    events = [line.split() for line in out.splitlines()]
    # a delete is a MODIFIED (deletionTimestamp set) then DELETED, as on a real API server
    assert [e[0] for e in events] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"], out
    assert events[1][2] == "qa"


def test_watch_from_a_compacted_resource_version_is_gone(sim_factory: Any) -> None:
    sim = sim_factory("--nodes", "1", "--pods-per-node", "3")
    rv = sim.get("/api/v1/pods")["metadata"]["resourceVersion"]
    sim.request("/sim/compact", "POST")
    status, body = sim.request(f"/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    event = json.loads(body.splitlines()[0])
    assert status == 200 and event["type"] == "ERROR" and event["object"]["code"] == 410


def test_expired_continue_token_answers_410(sim_factory: Any) -> None:
    sim = sim_factory("--nodes", "2", "--pods-per-node", "10")
    first = sim.get("/api/v1/pods?limit=5")
    token = first["metadata"]["continue"]
    sim.request("/sim/compact", "POST")
    status, body = sim.request(f"/api/v1/pods?limit=5&continue={token}")
    assert status == 410 and json.loads(body)["reason"] == "Expired"


def test_bad_objects_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")
    result = subprocess.run(
        [str(BIN / "perf-sim"), "--kubeconfig", str(tmp_path / "kc"), "--objects", str(bad)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "unsupported kind 'Secret'" in result.stderr and "Traceback" not in result.stderr


# -- what the audit reads: controllers, ConfigMaps, Services, APIServices, CRDs and reports --

CONTROLLER_PATHS = {
    "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets/{name}",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets/{name}",
    "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets/{name}",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
    "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs/{name}",
}


def owner_chain(sim: Sim, obj: dict[str, Any], cache: dict[str, Any]) -> list[str]:
    """Follow controller ownerReferences to the top, checking each uid; returns the kinds met."""
    kinds = []
    while True:
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")]
        if not refs:
            return kinds
        ref = refs[0]
        path = CONTROLLER_PATHS[ref["kind"]].format(ns=obj["metadata"]["namespace"], name=ref["name"])
        if path not in cache:
            cache[path] = sim.get(path)
        owner = cache[path]
        assert owner["metadata"]["uid"] == ref["uid"] and owner["kind"] == ref["kind"], (path, ref)
        kinds.append(ref["kind"])
        obj = owner


def test_every_generated_pod_leads_to_real_controllers(generated: Sim) -> None:
    cache: dict[str, Any] = {}
    tops: Counter[tuple[str, ...]] = Counter()
    per_owner: Counter[str] = Counter()
    for pod in all_pods(generated):
        chain = owner_chain(generated, pod, cache)
        assert chain, pod["metadata"]["name"]
        tops[tuple(chain)] += 1
        per_owner[f"{pod['metadata']['namespace']}/{pod['metadata']['ownerReferences'][0]['name']}"] += 1
    # every shape of ownership the audit must resolve, a bare ReplicaSet among them
    assert {("ReplicaSet", "Deployment"), ("ReplicaSet",), ("StatefulSet",), ("DaemonSet",), ("Job",), ("Job", "CronJob")} <= set(tops)
    # controllers' status counts agree with the pods that name them
    for path, obj in cache.items():
        key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        if obj["kind"] in ("ReplicaSet", "StatefulSet"):
            assert obj["status"]["replicas"] == per_owner[key], path
        elif obj["kind"] == "DaemonSet":
            assert obj["status"]["desiredNumberScheduled"] == per_owner[key], path


def test_controller_lists_match_their_gets_and_kubectl(generated: Sim) -> None:
    for resource, group in (
        ("deployments", "apps/v1"),
        ("replicasets", "apps/v1"),
        ("statefulsets", "apps/v1"),
        ("daemonsets", "apps/v1"),
        ("jobs", "batch/v1"),
        ("cronjobs", "batch/v1"),
        ("configmaps", None),
        ("services", None),
    ):
        base = f"/apis/{group}" if group else "/api/v1"
        listed = generated.get(f"{base}/{resource}")
        assert listed["kind"].endswith("List") and listed["items"], resource
        first = listed["items"][0]["metadata"]
        got = generated.get(f"{base}/namespaces/{first['namespace']}/{resource}/{first['name']}")
        assert got == {"kind": listed["kind"].removesuffix("List"), "apiVersion": group or "v1", **listed["items"][0]}
        names = kubectl(generated, "get", resource, "-A", "--no-headers", "-o", "custom-columns=N:.metadata.name").stdout.split()
        assert sorted(names) == sorted(i["metadata"]["name"] for i in listed["items"])
        paged = kubectl(generated, "get", resource, "-A", "--chunk-size=3", "-o", "name").stdout.split()
        assert len(paged) == len(listed["items"])


def test_generated_controllers_are_built_once_and_served_alike() -> None:
    """Each generated object's JSON is kept once served (a list of Jobs rebuilt every object, at twice a
    pod page's cost to the sim); what is served again is what was built."""
    from perf_sim.workloads import Indexed

    built: list[int] = []

    def build(i: int) -> dict[str, Any]:
        built.append(i)
        return {"kind": "Job", "metadata": {"name": f"job-{i}", "namespace": "ns"}}

    jobs = Indexed([("ns", "job-0"), ("ns", "job-1")], build, lambda i: {})
    first = [jobs.json(i) for i in (0, 1)]
    again = [jobs.json(i) for i in (1, 0)]
    assert built == [0, 1]
    assert again[::-1] == first and json.loads(first[1]) == {"kind": "Job", "metadata": {"name": "job-1", "namespace": "ns"}}


def test_pods_listed_by_node_come_from_the_index_as_from_a_walk() -> None:
    """spec.nodeName lists are answered from the node's pods (the watch cache's index), not a walk of
    every pod: the same items and pages as the walk, a pod a write moved onto the node included."""
    from perf_sim.generate import Generated
    from perf_sim.store import Store

    store = Store(Generated(12, 10, 1, True))
    pods = store.collections["pods"]
    node = store.generated.node_name(5)
    moved = json.loads(pods.gen_json(3))  # a pod of node 0, bound to node 5 by a write
    moved["spec"]["nodeName"] = node
    store.write("pods", moved)
    query = f"spec.nodeName={node},status.phase!=Succeeded"

    def pages(limit: int) -> list[list[Any]]:
        out, token = [], None
        while True:
            items, token, _ = store.list("pods", None, None, query, limit, token)
            out.append([i if isinstance(i, dict) else json.loads(i) for i in items])
            if not token:
                return out

    looked: list[int] = []
    facts = pods.gen_fields
    pods.gen_fields = lambda i: looked.append(i) or facts(i)
    indexed = pages(4)
    assert set(looked) <= {*range(50, 60), 3}  # node 5's pods and the moved one: no other pod was looked at
    pods.gen_on_node = None  # the walk, as before the index
    walked = pages(4)
    flat = [p for page in indexed for p in page]
    assert indexed == walked and len(flat) >= 2
    assert {p["spec"]["nodeName"] for p in flat} == {node} and moved["metadata"]["name"] in {p["metadata"]["name"] for p in flat}
    pods.gen_on_node = store.generated.pods_on_node
    for nothing in ("no-such-node", "general-99999", "x" * 5000):  # a name that matches no node: no pod, no error
        assert store.list("pods", None, None, f"spec.nodeName={nothing}", 0, None)[0] == []
    # spec.nodeName= (no node: the pending pods, as schedulers ask) and != are walked as before
    pending = store.list("pods", None, None, "spec.nodeName=", 0, None)[0]
    assert pending and all(json.loads(p)["spec"].get("nodeName", "") == "" for p in pending if isinstance(p, str))
    on = store.list("pods", None, None, f"spec.nodeName={node}", 0, None)[0]
    others = store.list("pods", None, None, f"spec.nodeName!={node}", 0, None)[0]
    assert len(on) + len(others) == len(store.list("pods", None, None, None, 0, None)[0])


def test_a_client_gone_mid_request_leaves_no_traceback(generated: Sim) -> None:
    """A client that resets its connection while the sim reads its request is the client's doing: the sim
    prints nothing (socketserver printed a traceback for each one) and goes on serving."""
    import socket
    import ssl
    import struct
    from urllib.parse import urlsplit

    url = urlsplit(generated.url)
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    for _ in range(3):
        raw = socket.create_connection((url.hostname, url.port), timeout=10)
        tls = ctx.wrap_socket(raw, server_hostname=url.hostname)
        tls.sendall(b"GET /version HTTP/1.1\r\nHost: sim\r\n")  # headers never finished
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        tls.close()
    assert generated.get("/version")["gitVersion"]
    time.sleep(0.2)  # the sim's handler threads have met the resets by now
    assert "Traceback" not in generated.stderr.read_text(errors="replace")


def test_deployment_template_carries_the_workload_spec(generated: Sim) -> None:
    deploy = generated.get("/apis/apps/v1/namespaces/shop/deployments/checkout")
    pods = [p for p in all_pods(generated) if p["metadata"]["labels"].get("app.kubernetes.io/name") == "checkout"]
    template = deploy["spec"]["template"]["spec"]
    assert template["containers"][0]["image"] == pods[0]["spec"]["containers"][0]["image"]
    assert template["volumes"] == pods[0]["spec"]["volumes"]
    assert deploy["spec"]["replicas"] == len(pods)
    assert all(deploy["spec"]["selector"]["matchLabels"].items() <= p["metadata"]["labels"].items() for p in pods)


@pytest.mark.parametrize("seed,mode", [(0, ""), (1, "ipvs"), (2, "nftables"), (3, "iptables")])
def test_kube_proxy_config_map_mode_by_seed(sim_factory: Any, seed: int, mode: str) -> None:
    sim = sim_factory("--nodes", "1", "--pods-per-node", "4", "--seed", str(seed))
    cm = json.loads(kubectl(sim, "get", "configmap", "-n", "kube-system", "kube-proxy", "-o", "json").stdout)
    import yaml

    assert yaml.safe_load(cm["data"]["config.conf"])["mode"] == mode
    ds = sim.get("/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy")
    assert "--config=/var/lib/kube-proxy/config.conf" in ds["spec"]["template"]["spec"]["containers"][0]["command"]


def test_services_grow_with_the_cluster(sim_factory: Any) -> None:
    small = sim_factory("--nodes", "2", "--pods-per-node", "10")
    big = sim_factory("--nodes", "200", "--pods-per-node", "30")
    n_small = len(small.get("/api/v1/services")["items"])
    big_list = big.get("/api/v1/services?limit=500")
    n_big = len(big_list["items"]) + big_list["metadata"].get("remainingItemCount", 0)
    pods = 200 * 30
    # about one Service per 40 pods on a big cluster (a plausible ratio), at least one per app on a small one
    assert pods / 60 < n_big < pods / 20
    apps = len(small.get("/apis/apps/v1/deployments")["items"]) + len(small.get("/apis/apps/v1/statefulsets")["items"])
    assert n_small >= apps
    headless = [s for s in small.get("/api/v1/services")["items"] if s["spec"]["clusterIP"] == "None"]
    assert {s["metadata"]["name"] for s in headless} == {s["metadata"]["name"] for s in small.get("/apis/apps/v1/statefulsets")["items"]}


def test_metrics_api_service_follows_the_metrics_server(sim_factory: Any, generated: Sim, tmp_path: Path) -> None:
    svc = generated.get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")
    assert [c["status"] for c in svc["status"]["conditions"] if c["type"] == "Available"] == ["True"]
    assert svc["spec"]["service"] == {"namespace": "kube-system", "name": "metrics-server", "port": 443}
    # seed 3: two metrics-server replicas, both running
    ms = generated.get("/apis/apps/v1/namespaces/kube-system/deployments/metrics-server")
    assert ms["spec"]["replicas"] == ms["status"]["readyReplicas"] == 2
    assert "metrics.k8s.io" in {g["name"] for g in generated.get("/apis")["groups"]}

    off = sim_factory("--nodes", "1", "--pods-per-node", "5", "--no-metrics-server")
    status, _ = off.request("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")
    assert status == 404
    assert "metrics.k8s.io" not in {g["name"] for g in off.get("/apis")["groups"]}
    assert off.get("/apis/apps/v1/deployments")["items"] and not [
        d for d in off.get("/apis/apps/v1/deployments")["items"] if d["metadata"]["name"] == "metrics-server"
    ]

    # an APIService that is there but not Available: the aggregator answers 503
    down = tmp_path / "down.yaml"
    down.write_text(
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1beta1.metrics.k8s.io}\n"
        "spec: {group: metrics.k8s.io, version: v1beta1, service: {namespace: kube-system, name: metrics-server}, "
        "groupPriorityMinimum: 100, versionPriority: 100}\n"
        "status: {conditions: [{type: Available, status: 'False', reason: MissingEndpoints}]}\n"
    )
    sim = sim_factory("--nodes", "1", "--pods-per-node", "5", "--objects", str(down))
    status, body = sim.request("/apis/metrics.k8s.io/v1beta1/nodes")
    assert status == 503 and b"service unavailable" in body
    assert "metrics.k8s.io" not in {g["name"] for g in sim.get("/apis")["groups"]}
    result = kubectl(sim, "top", "nodes", check=False)
    assert result.returncode != 0


def test_crds_make_policy_reports_served(sim_factory: Any) -> None:
    crds = SHARED / "crds" / "wgpolicyk8s.io-policyreports.yaml"
    if not crds.exists():
        pytest.skip("../shared/reference/crds is not beside this checkout")
    sim = sim_factory("--nodes", "1", "--pods-per-node", "3")
    status, _ = sim.request("/apis/wgpolicyk8s.io/v1alpha2/policyreports")
    assert status == 404 and "wgpolicyk8s.io" not in {g["name"] for g in sim.get("/apis")["groups"]}
    kubectl(sim, "apply", "-f", str(crds))
    assert {"policyreports", "clusterpolicyreports"} <= {
        line.split()[0] for line in kubectl(sim, "api-resources", "--api-group=wgpolicyk8s.io", "--no-headers").stdout.splitlines()
    }
    assert sim.get("/apis/wgpolicyk8s.io/v1alpha2/policyreports")["items"] == []
    kubectl(sim, "delete", "-f", str(crds))
    status, _ = sim.request("/apis/wgpolicyk8s.io/v1alpha2/policyreports")
    assert status == 404


def report(ns: str, results: list[dict[str, Any]], **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "PolicyReport",
        "metadata": {"name": "kubectl-perf", "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "kubectl-perf", **labels}},
        "scope": {"apiVersion": "v1", "kind": "Namespace", "name": ns},
        "summary": {"pass": 0, "fail": len(results), "warn": 0, "error": 0, "skip": 0},
        "results": results,
    }


RESULT = {"source": "kubectl-perf", "policy": "kubectl-perf", "rule": "requests", "result": "fail", "severity": "high", "message": "m"}


def test_server_side_apply_of_reports(sim_factory: Any, tmp_path: Path) -> None:
    crds = SHARED / "crds" / "wgpolicyk8s.io-policyreports.yaml"
    if not crds.exists():
        pytest.skip("../shared/reference/crds is not beside this checkout")
    sim = sim_factory("--nodes", "1", "--pods-per-node", "3", "--objects", str(crds))
    url = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports/kubectl-perf"
    apply = {"Content-Type": "application/apply-patch+yaml"}
    status, body = sim.request(url, "PATCH", report("shop", [RESULT]), headers=apply)
    assert status == 422 and "fieldManager" in json.loads(body)["message"]
    status, body = sim.request(
        url + "?fieldManager=kubectl-perf&force=true", "PATCH", report("shop", [RESULT, RESULT], extra="x"), headers=apply
    )
    assert status == 201, body
    created = json.loads(body)
    assert created["summary"]["fail"] == 2 and created["metadata"]["labels"]["extra"] == "x"
    # a second apply without the label drops it (this manager owned it); results are replaced whole
    status, body = sim.request(url + "?fieldManager=kubectl-perf&force=true", "PATCH", report("shop", [RESULT]), headers=apply)
    again = json.loads(body)
    assert status == 200 and "extra" not in again["metadata"]["labels"] and len(again["results"]) == 1
    assert again["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(again["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    # another manager changing a field the first owns: 409 unless forced
    other = report("shop", [{**RESULT, "message": "other"}])
    status, body = sim.request(url + "?fieldManager=someone-else", "PATCH", other, headers=apply)
    assert status == 409 and json.loads(body)["reason"] == "Conflict"
    # the real API server validates reports against the CRD's schema: so does perf-sim
    bad = report("shop", [{**RESULT, "severity": "urgent"}])
    status, body = sim.request(url + "?fieldManager=kubectl-perf&force=true", "PATCH", bad, headers=apply)
    status_body = json.loads(body)
    assert status == 422 and status_body["reason"] == "Invalid"
    assert status_body["details"]["causes"][0]["field"] == "results[0].severity"
    # kubectl sees the report, and a delete answers a Status
    out = kubectl(sim, "get", "policyreports", "-n", "shop", "--no-headers").stdout.split()
    assert out[:3] == ["kubectl-perf", "Namespace", "shop"]
    status, body = sim.request(url, "DELETE")
    assert status == 200 and json.loads(body)["status"] == "Success"
    assert sim.get("/apis/wgpolicyk8s.io/v1alpha2/policyreports")["items"] == []
    cluster = {**report("", [RESULT]), "kind": "ClusterPolicyReport"}
    del cluster["metadata"]["namespace"]
    status, body = sim.request(
        "/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/kubectl-perf?fieldManager=kubectl-perf&force=true",
        "PATCH",
        cluster,
        headers=apply,
    )
    assert status == 201 and "namespace" not in json.loads(body)["metadata"]


def test_generated_cluster_violates_each_audit_rule(generated: Sim) -> None:
    """Each rule of the audit finds something real in a generated cluster (worked out from the API's data)."""
    from kubectl_perf.quantity import parse_quantity

    pods = all_pods(generated)
    containers = [c for p in pods for c in p["spec"]["containers"] + p["spec"].get("initContainers", [])]
    volumes = [v for p in pods for v in p["spec"].get("volumes", [])]
    assert any("memory" not in (c["resources"].get("requests") or {}) for c in containers), "requests"
    assert any("memory" not in (c["resources"].get("limits") or {}) for c in containers), "memory-limit"
    assert any(v.get("emptyDir", {}).get("medium") == "Memory" and "sizeLimit" not in v["emptyDir"] for v in volumes), "emptydir, fail"
    assert any("emptyDir" in v and not v["emptyDir"] for v in volumes), "emptydir, warn"
    assert any(c["imagePullPolicy"] == "Always" and not c["image"].endswith(":latest") for c in containers), "explicit Always"
    untagged = [c for c in containers if c["image"].endswith(":latest") or ":" not in c["image"].rpartition("/")[2]]
    assert any(c["imagePullPolicy"] == "Always" for c in untagged), ":latest or no tag"
    nodes = generated.get("/api/v1/nodes")["items"]
    alloc = {n["metadata"]["name"]: parse_quantity(n["status"]["allocatable"]["memory"]) // 10**9 for n in nodes}
    # padding: a pod whose memory limit passes 75% of every node it tolerates (GPU nodes here)
    gpu_budget = max(alloc[n["metadata"]["name"]] for n in nodes if n["metadata"]["labels"]["workload"] == "gpu") * 3 // 4
    assert any(parse_quantity(c["resources"].get("limits", {}).get("memory", "0")) // 10**9 > gpu_budget for c in containers), "padding"
    # node-padding: some node's usage past 75% of its allocatable memory
    usage = {
        m["metadata"]["name"]: parse_quantity(m["usage"]["memory"]) // 10**9
        for m in generated.get("/apis/metrics.k8s.io/v1beta1/nodes")["items"]
    }
    assert any(usage[n] > alloc[n] * 3 // 4 for n in alloc), "node-padding"
    assert any(usage[n] < alloc[n] * 3 // 4 for n in alloc), "and nodes within their target"


def test_example_policy_sets_the_seeds_targets_per_pool(generated: Sim) -> None:
    """examples/policy.yaml (used by ./dev demo): I/O pool 50%, big CPU-bound pool 90%, 75% elsewhere."""
    from conftest import ROOT

    example = ROOT / "examples" / "policy.yaml"
    out = kubectl(generated, "perf", "capacity", "--policy", str(example), "-o", "json").stdout
    nodes = json.loads(out)["nodes"]
    expected = {"io": 0.5, "compute": 0.9, "general": 0.75, "gpu": 0.75}
    assert {n["labels"]["workload"] for n in nodes} == set(expected), "every pool is in the generated cluster"
    for n in nodes:
        assert n["paddingTarget"] == expected[n["labels"]["workload"]], n["name"]
    # the compute pool's 72-core nodes are the big CPU-bound ones the 90% is meant for
    compute = [n for n in nodes if n["labels"]["workload"] == "compute"]
    assert all(n["resources"]["cpu"]["allocatable"] > 64 for n in compute)


def test_kubectl_create_sends_protobuf_and_perf_sim_reads_it(sim_factory: Any) -> None:
    """Issue 20: `kubectl create namespace x` failed with "the body of the request was in an unknown
    format": kubectl's typed clients send built-in kinds as application/vnd.kubernetes.protobuf."""
    sim = sim_factory("--nodes", "1", "--pods-per-node", "1")
    assert kubectl(sim, "create", "namespace", "demo").stdout == "namespace/demo created\n"
    made = json.loads(kubectl(sim, "get", "namespace", "demo", "-o", "json").stdout)
    assert made["metadata"]["labels"] == {"kubernetes.io/metadata.name": "demo"} and made["status"] == {"phase": "Active"}
    kubectl(sim, "create", "configmap", "c", "-n", "demo", "--from-literal=a=1", "--from-file=b=/dev/null")
    assert json.loads(kubectl(sim, "get", "cm", "c", "-n", "demo", "-o", "json").stdout)["data"] == {"a": "1", "b": ""}
    # a pointer set to zero stays (replicas 0, not the default 1); the port gets its default protocol
    kubectl(sim, "create", "deployment", "web", "-n", "demo", "--image=nginx:1.27", "--replicas=0", "--port=8080")
    deploy = json.loads(kubectl(sim, "get", "deploy", "web", "-n", "demo", "-o", "json").stdout)
    assert deploy["spec"]["replicas"] == 0 and deploy["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27" and container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert deploy["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    kubectl(sim, "create", "cronjob", "tick", "-n", "demo", "--image=busybox", "--schedule=*/5 * * * *", "--", "date")
    cron = json.loads(kubectl(sim, "get", "cronjob", "tick", "-n", "demo", "-o", "json").stdout)
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == ["date"]
    again = kubectl(sim, "create", "namespace", "demo", check=False)
    assert again.returncode == 1 and 'namespaces "demo" already exists' in again.stderr


def test_perf_sim_answers_without_nagle_delay() -> None:
    """Every answer is several writes; with Nagle's algorithm on, each request after the first on a
    kept-alive connection waited ~40 ms for the client's delayed ACK (kube-apiserver, in Go, sets
    TCP_NODELAY and never does): the server's connections set TCP_NODELAY (issue 20: start-up)."""
    from perf_sim.server import Handler

    assert Handler.disable_nagle_algorithm is True
