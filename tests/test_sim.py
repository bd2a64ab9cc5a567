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
    assert out == pod
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


def parse_prometheus(text: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, dict[str, str], float, int]]]:
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
            m = re.fullmatch(r"([a-z_:]+)\{(.*)\} (\S+) (\d+)", line)
            assert m, line
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
            samples.append((m.group(1), labels, float(m.group(3)), int(m.group(4))))
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
        lbl for n, lbl, _v, _t in samples if n == "container_cpu_usage_seconds_total" and lbl.get("pod") and lbl["container"] == ""
    ]
    assert len(pod_level) == len(running) and all("kubepods" in lbl["id"] for lbl in pod_level)
    assert all(ts > 1_700_000_000_000 for _n, _l, _v, ts in samples), "millisecond timestamps"


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
    assert [e[0] for e in events] == ["ADDED", "MODIFIED", "DELETED"], out
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
    bad.write_text("kind: Deployment\nmetadata: {name: x}\n")
    result = subprocess.run(
        [str(BIN / "perf-sim"), "--kubeconfig", str(tmp_path / "kc"), "--objects", str(bad)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "unsupported kind 'Deployment'" in result.stderr and "Traceback" not in result.stderr
