"""`kubectl perf report` (issue 23): one page for the cluster, or several, through the command line.

The expected figures are worked out from tests/data/cluster.yaml by hand (see test_capacity.py for
the same cluster's capacity figures); each section must also say what the plugin alone says."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Overlap, Sim
from inproc import perf
from test_html_report import CHROMIUM, browser

Gi = 2**30


def report(sim: Sim | Path | str, *args: str) -> Any:
    run = perf(sim.kubeconfig if isinstance(sim, Sim) else sim, "report", "-o", "json", "--cadvisor-interval", "0", *args)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def plugin(sim: Sim, *args: str) -> Any:
    run = perf(sim.kubeconfig, *args, "-o", "json")
    assert run.returncode in (0, 1), run.stderr
    return json.loads(run.stdout)


def test_first_screen_figures_of_the_hand_written_cluster(fixture_cluster: Sim) -> None:
    doc = report(fixture_cluster)
    assert [c["cluster"] for c in doc["clusters"]] == ["perf-sim"] and doc["unreachable"] == []
    c = doc["clusters"][0]
    s = c["summary"]
    # three nodes (node-a, node-b, node-gpu); none carries a pool key of model.POOL_LABELS, so pools are
    # instance types, one each: m5.xlarge, i3.large, p3.2xlarge
    assert s["nodes"] == 3 and s["pools"] == 3
    assert c["capacity"]["poolLabel"] == "node.kubernetes.io/instance-type"
    assert sorted(g["name"] for g in c["capacity"]["groups"]) == ["i3.large", "m5.xlarge", "p3.2xlarge"]
    # node-b uses 13Gi of 16Gi against the default 75% target (12Gi): the one breach
    assert s["paddingBreachingNodes"] == 1
    assert c["capacity"]["total"]["paddingBreachingNodes"] == ["node-b"]
    group_b = next(g for g in c["capacity"]["groups"] if g["name"] == "i3.large")
    assert group_b["nodes"] == 1 and group_b["paddingBreachingNodes"] == ["node-b"]
    assert group_b["resources"]["memory"]["usage"] == 13 * Gi
    # one scrape: the throttling figures are since each container started, as --cadvisor-interval 0 says
    assert s["throttlingSinceStart"] is True
    for key in ("capacity", "audit", "images", "cadvisor"):
        assert "missing" not in c[key], (key, c[key])


def test_each_section_says_what_its_plugin_says(fixture_cluster: Sim) -> None:
    c = report(fixture_cluster)["clusters"][0]
    alone = plugin(fixture_cluster, "capacity", "--util", "--by", "node-label:node.kubernetes.io/instance-type")
    assert c["capacity"]["total"] == alone["total"] and c["capacity"]["groups"] == alone["groups"]
    audit = plugin(fixture_cluster, "audit")
    assert c["audit"]["summary"] == audit["summary"] and c["audit"]["byRule"] == audit["byRule"]
    failing = sorted(r for r, counts in audit["byRule"].items() if counts.get("fail") or counts.get("error"))
    assert sorted(c["summary"]["failingAuditRules"]) == failing
    images = plugin(fixture_cluster, "images", "--top", "10")
    assert c["images"]["prePull"] == images["prePull"] and c["summary"]["prePullCandidates"] == len(images["prePull"])
    cadvisor = plugin(fixture_cluster, "cadvisor", "--summary", "--all-nodes", "--once")
    assert sorted(n["name"] for n in c["cadvisor"]["nodes"]) == sorted(n["name"] for n in cadvisor["nodes"])


def requests_logged(stderr: str) -> dict[str, int]:
    """-v 6's request lines (kubectl's format), counted by path without the query."""
    counts: dict[str, int] = {}
    for line in stderr.splitlines():
        m = re.search(r" GET https://[^/]+(/[^? ]*)", line)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def test_nodes_and_pods_are_listed_once_for_every_section(fixture_cluster: Sim) -> None:
    # Each plugin alone lists nodes and pods (four of each for the four sections); the report shares them.
    run = perf(fixture_cluster.kubeconfig, "report", "-o", "json", "--cadvisor-interval", "0", "-v", "6")
    assert run.returncode == 0, run.stderr
    seen = requests_logged(run.stderr)
    assert seen["/api/v1/nodes"] == 1 and seen["/api/v1/pods"] == 1, seen
    assert seen["/apis/apps/v1/replicasets"] == 1 and seen["/apis/batch/v1/jobs"] == 1  # audit's and images' owners
    assert seen["/apis/metrics.k8s.io/v1beta1/nodes"] == 1  # capacity's usage and audit's node check
    # both check metrics-server's figures against one kubelet's clock: one read, shared (Cluster.remember)
    assert sum(n for p, n in seen.items() if p.endswith("/proxy/metrics/resource")) == 1, seen
    # cAdvisor is the kubelets' own reading, one scrape per node with --cadvisor-interval 0
    assert sum(n for p, n in seen.items() if p.endswith("/proxy/metrics/cadvisor")) == 3


def test_capacity_and_audit_work_out_each_pods_requests_once(fixture_cluster: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    """The two sections fold the same decoded pods: each pod's effective requests and limits are worked
    out once (model.RememberedResources), not once per section, and both sections' figures stand."""
    from kubectl_perf import model

    worked: dict[int, int] = {}
    real = model.pod_resources

    def counted(spec: Any) -> Any:
        worked[id(spec)] = worked.get(id(spec), 0) + 1
        return real(spec)

    monkeypatch.setattr(model, "pod_resources", counted)
    run = perf(fixture_cluster.kubeconfig, "report", "-o", "json", "--sections", "capacity,audit")
    assert run.returncode == 0, run.stderr
    c = json.loads(run.stdout)["clusters"][0]
    assert worked and set(worked.values()) == {1}, worked
    assert c["capacity"]["total"] == plugin(fixture_cluster, "capacity", "--util")["total"]
    assert c["audit"]["byRule"] == plugin(fixture_cluster, "audit")["byRule"]


def test_audit_and_images_resolve_each_pods_workload_once(fixture_cluster: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    """The two sections fold the same decoded pods: each pod's workload is resolved once
    (owners.RememberedWorkloads), not once per section, and both sections say what their plugins say."""
    from kubectl_perf import owners

    resolved: dict[int, int] = {}
    real = owners.workload_of

    def counted(metadata: Any, index: Any = None) -> Any:
        resolved[id(metadata)] = resolved.get(id(metadata), 0) + 1
        return real(metadata, index)

    monkeypatch.setattr(owners, "workload_of", counted)
    run = perf(fixture_cluster.kubeconfig, "report", "-o", "json", "--sections", "audit,images")
    assert run.returncode == 0, run.stderr
    c = json.loads(run.stdout)["clusters"][0]
    assert resolved and set(resolved.values()) == {1}, resolved
    audit = plugin(fixture_cluster, "audit", "--show-pass")
    assert c["audit"]["byRule"] == audit["byRule"] and c["audit"]["summary"] == audit["summary"]
    images = plugin(fixture_cluster, "images", "--top", "10")
    assert c["images"]["images"] == images["images"] and c["images"]["prePull"] == images["prePull"]


def test_the_cyclic_collector_is_off_while_a_cluster_is_read(fixture_cluster: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report holds its lists and sections' state for the run: the collector is off while a cluster is
    read (in every section's thread), back on afterwards, and what the read made is frozen, never walked."""
    import gc

    from kubectl_perf.report import sections

    during: list[bool] = []
    real = sections.images

    def images(*args: Any) -> Any:
        during.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(sections, "images", images)
    gc.enable()
    gc.unfreeze()
    try:
        run = perf(fixture_cluster.kubeconfig, "report", "-o", "json", "--cadvisor-interval", "0")
        assert run.returncode == 0, run.stderr
        assert (during, gc.isenabled()) == ([False], True) and gc.get_freeze_count() > 0
        unreachable = perf("/nonexistent/kubeconfig", "report", "-o", "json")
        assert unreachable.returncode != 0 and gc.isenabled()  # an error on the way leaves it on too
    finally:
        gc.unfreeze()
        gc.enable()


def test_one_clusters_reads_outlive_the_run_and_several_clusters_do_not(fixture_cluster: Sim, generated: Sim, tmp_path: Path) -> None:
    """Freeing a cluster's decoded lists after the report is written is left to the process's end (report._HELD):
    one run's at a time, and none when several clusters are read (each is freed as its read ends)."""
    import weakref

    import kubectl_perf.report as report_plugin
    from kubectl_perf.report.shared import SharedCluster

    report(fixture_cluster)
    held = [r for r in report_plugin._HELD if isinstance(r, SharedCluster)]
    assert len(held) == 1 and held[0].requests > 0
    first = weakref.ref(held[0])
    del held
    report(fixture_cluster)
    assert first() is None  # the next run let the first's go
    made: list[weakref.ref[SharedCluster]] = []
    real = SharedCluster.__init__

    def init(self: SharedCluster, inner: Any) -> None:
        made.append(weakref.ref(self))
        real(self, inner)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SharedCluster, "__init__", init)
        report(merged(tmp_path, fixture_cluster, generated), "--all-contexts")
    assert len(made) == 2 and not any(isinstance(r, SharedCluster) for r in report_plugin._HELD)
    # freed as each read ends: no reference cycle through a kept error's traceback (the collector is frozen)
    assert [r() for r in made] == [None, None]


def test_a_section_that_cannot_be_read_says_why(sim_factory: Any) -> None:
    sim = sim_factory("--objects", str(Path(__file__).parent / "data" / "cluster.yaml"), "--forbid-cluster-list", "nodes/proxy")
    run = perf(sim.kubeconfig, "report", "-o", "json", "--cadvisor-interval", "0")
    assert run.returncode == 0, run.stderr
    c = json.loads(run.stdout)["clusters"][0]
    assert "missing" not in c["capacity"] and c["summary"]["nodes"] == 3
    # the kubelets' endpoints are forbidden: no node could be scraped, so the section says why
    assert "forbidden" in c["cadvisor"]["missing"].lower(), c["cadvisor"]
    assert c["summary"]["throttledContainers"] is None
    assert "cadvisor section not available" in run.stderr
    page = perf(sim.kubeconfig, "report", "--cadvisor-interval", "0")
    assert re.search(r'<section id="cadvisor"[^>]*>.*?<p class="missing">Not available: [^<]*forbidden', page.stdout, re.S | re.I)


def test_a_refused_pod_list_does_not_suggest_a_flag_report_lacks(sim_factory: Any) -> None:
    # the plugins' 403 on every namespace's pods says "try -n NAMESPACE"; report has no -n
    sim = sim_factory("--objects", str(Path(__file__).parent / "data" / "cluster.yaml"), "--forbid-cluster-list", "pods")
    run = perf(sim.kubeconfig, "report", "-o", "json", "--cadvisor-interval", "0", "--sections", "capacity,images")
    assert run.returncode == 0, run.stderr
    c = json.loads(run.stdout)["clusters"][0]
    assert "forbidden" in c["capacity"]["missing"] and "forbidden" in c["images"]["missing"], c
    assert "-n NAMESPACE" not in run.stdout + run.stderr
    assert "try -n NAMESPACE" in perf(sim.kubeconfig, "capacity").stderr  # the plugin alone still suggests it


def test_out_writes_an_index_and_one_page_per_section(fixture_cluster: Sim, tmp_path: Path) -> None:
    out = tmp_path / "site"
    run = perf(fixture_cluster.kubeconfig, "report", "--cadvisor-interval", "0", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["audit.html", "cadvisor.html", "capacity.html", "images.html", "index.html"]
    index = (out / "index.html").read_text()
    links = set(re.findall(r'href="([^"#]+)"', index))
    assert links == {"audit.html", "cadvisor.html", "capacity.html", "images.html"}
    assert "Capacity report" in (out / "capacity.html").read_text()  # capacity's own page
    assert "<script" not in index and "http" not in re.sub(r"https://127\.0\.0\.1:\d+", "", index)  # self-contained


def test_bad_flags_are_one_line_and_status_2(fixture_cluster: Sim) -> None:
    for args in (["--cadvisor-interval", "-1"], ["--out", "x", "-o", "json"], ["--context", "a", "--all-contexts"], ["-o", "yaml"]):
        run = perf(fixture_cluster.kubeconfig, "report", *args)
        assert run.returncode == 2 and run.stderr.startswith("error: "), (args, run.stderr)
    run = perf(fixture_cluster.kubeconfig, "report", "--pool-label", "bad key!")  # refused by report, in report's words
    assert run.returncode == 2 and "invalid label key" in run.stderr and "kubectl perf report --help" in run.stderr
    run = perf(fixture_cluster.kubeconfig, "report", "--context", "perf-sim,nowhere")
    assert run.returncode == 2 and run.stderr.strip() == 'error: context "nowhere" does not exist'
    run = perf(fixture_cluster.kubeconfig, "report", "--context", "nowhere")  # one name: one cluster, as kubectl
    assert run.returncode == 1 and run.stderr.strip() == 'error: context "nowhere" does not exist'


@pytest.mark.parametrize("plugin", [("capacity", "--util"), ("report", "--cadvisor-interval", "0")], ids=lambda p: p[0])
def test_a_context_named_twice_or_with_a_stray_comma_is_that_one_context(fixture_cluster: Sim, plugin: tuple[str, ...]) -> None:
    # these were looked up as a context named "perf-sim,perf-sim" (exit 1)
    alone = perf(fixture_cluster.kubeconfig, *plugin, "-o", "json", "--context", "perf-sim")
    assert alone.returncode == 0, alone.stderr
    for given in ("perf-sim,perf-sim", "perf-sim,", " perf-sim , perf-sim "):
        run = perf(fixture_cluster.kubeconfig, *plugin, "-o", "json", "--context", given)
        assert run.returncode == 0 and "does not exist" not in run.stderr, (given, run.stderr)
        # one cluster, read as one: capacity's single-cluster document (no per-row cluster), one report cluster
        doc = json.loads(run.stdout)
        if plugin[0] == "report":
            assert [c["cluster"] for c in doc["clusters"]] == ["perf-sim"]
        else:
            assert doc.keys() == json.loads(alone.stdout).keys() and "cluster" not in doc["nodes"][0]


# -- several clusters -------------------------------------------------------------------------
def renamed(sim: Sim | None, name: str, tmp: Path, server: str = "") -> Path:
    """The sim's kubeconfig with its cluster, user and context named `name` (perf-sim names all three
    "perf-sim"), written beside the test: the files merge as kubectl merges them."""
    config = sim.config if sim is not None else {"clusters": [{"cluster": {}}], "users": [{"user": {"token": "x"}}]}
    cluster = dict(config["clusters"][0]["cluster"])
    if server:
        cluster = {"server": server, "insecure-skip-tls-verify": True}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": config["users"][0]["user"]}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def merged(tmp: Path, fixture_cluster: Sim, generated: Sim, down: bool = False) -> str:
    files = [renamed(fixture_cluster, "east", tmp), renamed(generated, "west", tmp)]
    if down:
        files.append(renamed(None, "down", tmp, server="https://127.0.0.1:9"))  # nothing listens on the discard port
    return ":".join(str(f) for f in files)


def test_each_clusters_usage_notes_name_their_context(fixture_cluster: Sim, sim_factory: Any, tmp_path: Path) -> None:
    # the audit section printed its usage source's notes bare: with several clusters, whose was it?
    skipping = sim_factory("--nodes", "6", "--pods-per-node", "5", "--seed", "3", "--metrics-skip", "general-00001")
    kubeconfig = merged(tmp_path, fixture_cluster, skipping)
    run = perf(kubeconfig, "report", "-o", "json", "--cadvisor-interval", "0", "--all-contexts", "--sections", "audit")
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if "metrics-server has no figures" in line]
    assert lines and all(line.startswith("note: context west: metrics-server has no figures for 1 of 6 nodes") for line in lines), (
        run.stderr
    )
    alone = perf(skipping.kubeconfig, "report", "-o", "json", "--cadvisor-interval", "0", "--sections", "audit")
    assert "note: metrics-server has no figures for 1 of 6 nodes" in alone.stderr  # one cluster: no prefix, as before


def test_report_over_two_clusters_and_one_unreachable(fixture_cluster: Sim, generated: Sim, tmp_path: Path) -> None:
    kubeconfig = merged(tmp_path, fixture_cluster, generated, down=True)
    run = perf(kubeconfig, "report", "-o", "json", "--cadvisor-interval", "0", "--all-contexts")
    assert run.returncode == 4, run.stderr  # some context could not be read; the others are reported
    doc = json.loads(run.stdout)
    by = {c["cluster"]: c for c in doc["clusters"]}
    assert sorted(by) == ["east", "west"]
    assert by["east"]["summary"]["nodes"] == 3 and by["west"]["summary"]["nodes"] == 6  # the generated cluster: --nodes 6
    assert [u["cluster"] for u in doc["unreachable"]] == ["down"] and "127.0.0.1:9" in doc["unreachable"][0]["reason"]
    assert "note: context down: not read" in run.stderr
    page = perf(kubeconfig, "report", "--cadvisor-interval", "0", "--context", "east,west")
    assert page.returncode == 0, page.stderr
    assert 'id="east-capacity"' in page.stdout and 'id="west-capacity"' in page.stdout
    assert re.findall(r'<div class="cards" data-cluster="([^"]+)"', page.stdout) == ["east", "west"]


def test_capacity_over_two_clusters_has_a_cluster_per_row(fixture_cluster: Sim, generated: Sim, tmp_path: Path) -> None:
    kubeconfig = merged(tmp_path, fixture_cluster, generated, down=True)
    run = perf(kubeconfig, "capacity", "-o", "json", "--context", "east,west,down")
    assert run.returncode == 4, run.stderr
    doc = json.loads(run.stdout)
    clusters = [n["cluster"] for n in doc["nodes"]]
    assert clusters == ["east"] * 3 + ["west"] * 6  # in the order the contexts were given, each cluster's nodes by name
    assert [n["name"] for n in doc["nodes"][:3]] == ["node-a", "node-b", "node-gpu"]
    assert [t["cluster"] for t in doc["totals"]] == ["east", "west"]
    # east's total by hand: node-a 4 + node-b 7.91 + node-gpu 16 cores allocatable
    assert doc["totals"][0]["resources"]["cpu"]["allocatable"] == 27.91
    assert doc["unreachable"][0]["cluster"] == "down"
    table = perf(kubeconfig, "capacity", "--context", "east,west")
    assert table.returncode == 0, table.stderr
    assert re.findall(r"^cluster (\S+)", table.stdout, re.M) == ["east", "west"]
    assert "node-gpu" in table.stdout
    one = perf(kubeconfig, "capacity", "-o", "json", "--context", "east")  # one name: the plain contract, unchanged
    assert "cluster" not in json.loads(one.stdout)["nodes"][0]


def test_no_cluster_read_is_an_error(tmp_path: Path) -> None:
    kubeconfig = str(renamed(None, "down", tmp_path, server="https://127.0.0.1:9"))
    run = perf(kubeconfig, "report", "--all-contexts", "-o", "json")
    assert run.returncode == 1 and "error: no cluster could be read" in run.stderr


def test_sections_leaves_out_the_kubelet_scrapes(fixture_cluster: Sim) -> None:
    run = perf(fixture_cluster.kubeconfig, "report", "-o", "json", "--sections", "capacity,audit,images", "-v", "6")
    assert run.returncode == 0, run.stderr
    c = json.loads(run.stdout)["clusters"][0]
    assert "cadvisor" not in c and c["summary"]["throttledContainers"] is None
    # no cAdvisor scrape (capacity's cross-check of metrics-server may still read one kubelet's /metrics/resource)
    assert not [p for p in requests_logged(run.stderr) if "/metrics/cadvisor" in p]
    page = perf(fixture_cluster.kubeconfig, "report", "--sections", "audit")
    assert re.findall(r'data-figure="([^"]+)"', page.stdout) == ["failing-audit-rules"]
    bad = perf(fixture_cluster.kubeconfig, "report", "--sections", "capacity,nodes")
    assert bad.returncode == 2 and "unknown section 'nodes'" in bad.stderr


# -- in a browser ------------------------------------------------------------------------------
PROBE = """<script>
// the test's own probe (the page has no script): where the first screen's figures sit after load
const seen = [...document.querySelectorAll('[data-figure]')].map(e => {
  const r = e.getBoundingClientRect();
  return {figure: e.dataset.figure, value: e.querySelector('b').textContent, bottom: r.bottom, right: r.right};
});
const pools = document.querySelector('table.pools').getBoundingClientRect();
const pre = document.createElement('pre'); pre.id = 'probe';
pre.textContent = JSON.stringify({seen, poolsTop: pools.top, width: innerWidth, height: innerHeight});
document.body.appendChild(pre);
</script>"""


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="chromium is not installed (./dev test installs it)")
def test_first_screen_holds_the_numbers_at_1000_nodes(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory("--nodes", "1000", "--pods-per-node", "30", "--seed", "1")
    run = perf(sim.kubeconfig, "report", "--cadvisor-interval", "0")
    assert run.returncode == 0, run.stderr
    assert "<script" not in run.stdout and len(run.stdout.encode()) < 1_500_000
    page = tmp_path / "report.html"
    page.write_text(run.stdout.replace("</body>", PROBE + "</body>"))
    dom = browser(tmp_path, "--window-size=1400,900", "--virtual-time-budget=2000", "--dump-dom", page.as_uri())
    probe = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    # a 1400x900 window: headless chromium keeps part of the height for its own frame, so the page's
    # viewport (innerHeight, about 760 px) is the first screen, stricter than 900
    assert probe["width"] == 1400 and 700 <= probe["height"] <= 900
    figures = {s["figure"]: s for s in probe["seen"]}
    assert set(figures) == {
        "nodes",
        "pools",
        "padding-breaches",
        "overcommitted",
        "failing-audit-rules",
        "throttled-containers",
        "pre-pull-candidates",
    }
    assert all(s["bottom"] <= probe["height"] and s["right"] <= 1400 for s in figures.values()), figures  # the first screen
    assert all(s["value"].isdigit() for s in figures.values()), figures
    # counted by the test from the simulator's own answer, not by the code under test
    nodes = sim.get("/api/v1/nodes")["items"]
    assert int(figures["nodes"]["value"]) == len(nodes) == 1000
    assert int(figures["pools"]["value"]) == len({n["metadata"]["labels"]["node-pool"] for n in nodes})


def test_out_to_a_place_that_cannot_be_written_is_one_line(fixture_cluster: Sim, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = perf(fixture_cluster.kubeconfig, "report", "--sections", "capacity", "--out", str(blocker / "site"))
    assert run.returncode == 1 and run.stderr.strip().splitlines()[-1].startswith(f"error: cannot write the report to {blocker / 'site'}")
    assert "Traceback" not in run.stderr


def test_context_lists_complete_after_a_comma(fixture_cluster: Sim, generated: Sim, tmp_path: Path, monkeypatch: Any) -> None:
    from kubectl_perf.completion import complete

    monkeypatch.setenv("KUBECONFIG", merged(tmp_path, fixture_cluster, generated, down=True))
    for sub in ("report", "capacity"):
        values, _ = complete([sub, "--context", "east,"])
        assert [v for v, _d in values] == ["east,west", "east,down"], (sub, values)
    values, _ = complete(["images", "--context", "east,"])  # images reads one cluster: no list
    assert values == []


def test_clusters_are_read_at_most_four_at_once() -> None:
    from kubectl_perf.api import ApiError, Connection
    from kubectl_perf.contexts import Read, Unreachable, read_each

    overlap = Overlap()

    def read(conn: Connection) -> str:
        overlap.stay(0.05)
        if conn.context == "c3":
            raise ApiError("refused")
        return f"read {conn.context}"

    names = [f"c{k}" for k in range(10)]
    results = read_each(Connection(context="ignored"), names, read)
    assert overlap.most == 4  # ten clusters, four at a time
    assert [r.context for r in results] == names  # in the order given, whatever finished first
    assert [r for r in results if isinstance(r, Unreachable)] == [Unreachable("c3", "refused")]
    assert [r.value for r in results if isinstance(r, Read)][:3] == ["read c0", "read c1", "read c2"]


# -- which kubelets the cAdvisor section scrapes (--cadvisor-nodes) -----------------------------
def test_cadvisor_nodes_chooses_breaches_then_cpu_limited_nodes(fixture_cluster: Sim) -> None:
    """tests/data/cluster.yaml by hand: node-b breaches its padding (81% used against a 75% target);
    node-a runs four CPU-limited containers (sandboxed/app 200m, web-2's app, proxy and its init
    container setup); node-gpu none. So one node is node-b, two are node-b and node-a."""
    for count, expected in (("1", {"node-b"}), ("2", {"node-b", "node-a"})):
        run = perf(fixture_cluster.kubeconfig, "report", "-o", "json", "--cadvisor-interval", "0", "--cadvisor-nodes", count, "-v", "6")
        assert run.returncode == 0, run.stderr
        c = json.loads(run.stdout)["clusters"][0]["cadvisor"]
        assert c["scope"]["nodesScraped"] == len(expected) and c["scope"]["nodes"] == 3
        assert "padding breach first" in c["scope"]["chosenBy"]
        scraped = {p.split("/")[4] for p in requests_logged(run.stderr) if p.endswith("/proxy/metrics/cadvisor")}
        assert scraped == expected, count
        assert {r["node"] for r in c["containers"]} <= expected
    # the default (16) covers these 3 nodes: every node, no rule to state
    every = report(fixture_cluster)["clusters"][0]["cadvisor"]["scope"]
    assert every == {"nodesScraped": 3, "nodesAsked": 3, "nodes": 3, "chosenBy": None}
    page = perf(fixture_cluster.kubeconfig, "report", "--cadvisor-interval", "0", "--cadvisor-nodes", "1")
    assert "1 of 3 nodes scraped: nodes in padding breach first" in page.stdout


def test_cadvisor_nodes_takes_a_count_or_all(fixture_cluster: Sim) -> None:
    assert report(fixture_cluster, "--cadvisor-nodes", "all")["clusters"][0]["cadvisor"]["scope"]["nodesScraped"] == 3
    for bad in ("0", "-1", "some"):
        run = perf(fixture_cluster.kubeconfig, "report", "--cadvisor-nodes", bad)
        assert run.returncode == 2 and run.stderr.startswith("error: ") and "--cadvisor-nodes" in run.stderr, run.stderr


def test_cadvisor_flags_without_the_cadvisor_section_are_said_to_do_nothing(fixture_cluster: Sim) -> None:
    kc = fixture_cluster.kubeconfig
    asked = perf(kc, "report", "-o", "json", "--sections", "capacity", "--cadvisor-nodes", "all", "--cadvisor-interval", "0")
    assert asked.returncode == 0, asked.stderr
    assert "note: --cadvisor-interval and --cadvisor-nodes have no effect: --sections leaves out cadvisor" in asked.stderr
    assert list(json.loads(asked.stdout)["clusters"][0]) == ["cluster", "server", "summary", "capacity"]
    for quiet in (("--sections", "capacity"), ("--sections", "capacity,cadvisor", "--cadvisor-nodes", "2", "--cadvisor-interval", "0")):
        run = perf(kc, "report", "-o", "json", *quiet)
        assert run.returncode == 0 and "no effect" not in run.stderr, run.stderr


def test_cpu_limited_counts_containers_under_a_cpu_limit() -> None:
    from kubectl_perf.report.choice import NodeFacts, cpu_limited, rank

    limits = {"resources": {"limits": {"cpu": "1"}}}
    pods = [
        {"spec": {"nodeName": "a", "containers": [limits, {}], "initContainers": [limits]}},  # 2 of 3
        {"spec": {"nodeName": "b", "resources": {"limits": {"cpu": "2"}}, "containers": [{}, {}]}},  # pod-level: both
        {"spec": {"nodeName": "c", "containers": [{"resources": {"limits": {"memory": "1Gi"}}}]}},  # none
        {"spec": {"containers": [limits]}},  # not bound to a node
    ]
    assert cpu_limited(pods) == {"a": 2, "b": 2}
    facts = {
        "idle-limited": NodeFacts(cpu_used=0.1, cpu_limited=5),
        "busy-limited": NodeFacts(cpu_used=0.9, cpu_limited=1),
        "busy-unlimited": NodeFacts(cpu_used=0.95),
        "breach": NodeFacts(breach=True),
    }
    assert rank(sorted(facts), facts, None) == ["breach", "busy-limited", "idle-limited", "busy-unlimited"]
    assert rank(sorted(facts), facts, 2) == ["breach", "busy-limited"]


def test_cadvisor_scope_counts_only_the_kubelets_read() -> None:
    """16 asked, one did not answer: 15 scraped, said on the page line and in the JSON with the note."""
    from kubectl_perf.cadvisor.compute import Notes, SummaryReport, Thresholds
    from kubectl_perf.report.choice import RULE
    from kubectl_perf.report.sections import Cadvisor

    notes = Notes()
    notes.add(
        "node n3: no answer through the node proxy (waiting for an answer timed out after 10s): the kubelet is slow or hung", failed=True
    )
    pools = {f"n{i}": "general" for i in range(16) if i != 3}
    summary = SummaryReport([], [], None, "https://api", Thresholds(), notes, pools=pools)
    section = Cadvisor(summary, asked=16, nodes=1000, chosen_by=RULE)
    assert section.scope().startswith("15 of 1000 nodes scraped (1 of the 16 asked could not be read): nodes in padding breach")
    doc = section.document()
    assert doc["scope"] == {"nodesScraped": 15, "nodesAsked": 16, "nodes": 1000, "chosenBy": RULE}
    assert doc["notes"] == notes.lines


def test_cadvisor_section_without_usage_says_how_it_chose(fixture_cluster: Sim) -> None:
    """--sections cadvisor: no capacity figures, so the nodes with the most CPU-limited containers
    (node-a: four, by hand in the test above) are scraped, and the rule says so."""
    c = report(fixture_cluster, "--sections", "cadvisor", "--cadvisor-nodes", "1")["clusters"][0]["cadvisor"]
    assert c["scope"]["chosenBy"].startswith("the nodes running the most CPU-limited containers")
    assert {n["name"] for n in c["nodes"]} == {"node-a"}


def test_the_throttled_card_counts_every_throttled_container(fixture_cluster: Sim) -> None:
    """The first screen's count is every container flagged throttling on the nodes scraped, not the
    --top list's length; the list stays --top long."""
    doc = report(fixture_cluster, "--top", "1")["clusters"][0]
    cadvisor = plugin(fixture_cluster, "cadvisor", "--summary", "--all-nodes", "--once")
    throttled = sum(1 for r in cadvisor["containers"] if "throttling" in r["flags"])
    assert doc["summary"]["throttledContainerCount"] == throttled
    assert len(doc["summary"]["throttledContainers"]) == min(1, throttled)


# -- the cAdvisor section's scrapes, made while the pods are read (report/early.py) ------------------
def test_early_facts_are_the_breaches_on_usage_and_the_cpu_use() -> None:
    from kubectl_perf.padding import Levels
    from kubectl_perf.report.choice import NodeFacts, early_facts

    def node(name: str, cpu: str, memory: str, **labels: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "labels": labels}, "status": {"allocatable": {"cpu": cpu, "memory": memory}}}

    def usage(name: str, cpu: str, memory: str) -> dict[str, Any]:
        return {"metadata": {"name": name}, "usage": {"cpu": cpu, "memory": memory}}

    nodes = [node("a", "4", "16Gi"), node("b", "8", "16Gi"), node("c", "4", "16Gi"), node("d", "4", "16Gi", pool="io")]
    used = [usage("a", "2", "13Gi"), usage("b", "1", "8Gi"), usage("d", "4000m", "9Gi")]  # c: no metrics

    def target(labels: Any) -> float:
        return 0.5 if labels.get("pool") == "io" else 0.75

    # by hand: a 13Gi over 12Gi (75% of 16Gi), half its 4 cores; b 8Gi of 12Gi, 1 of 8 cores; d 9Gi over 8Gi (50%)
    assert early_facts(nodes, used, target, Levels()) == {
        "a": NodeFacts(breach=True, cpu_used=0.5),
        "b": NodeFacts(breach=False, cpu_used=0.125),
        "c": NodeFacts(),  # nothing known: as the choice weighs a node without usage figures
        "d": NodeFacts(breach=True, cpu_used=1.0),
    }


def test_a_node_is_scraped_early_once_it_is_known_to_be_chosen() -> None:
    from kubectl_perf.report.early import UNLIMITED_AFTER, SoFar, next_node

    order, so_far = ["a", "b", "c", "d", "e"], SoFar()
    assert next_node(order, False, 3, so_far, set()) is None  # no node seen to run a CPU limit yet
    so_far.limited.update(b=1, e=2)
    assert next_node(order, False, 3, so_far, set()) == "b"
    assert next_node(order, False, 3, so_far, {"b"}) is None  # e runs limits but is fifth: not among the first 3
    so_far.pods["a"] = UNLIMITED_AFTER  # a's first pods run no CPU limit: passed over, so d comes into the first 3
    so_far.limited["d"] = 1
    assert next_node(order, False, 3, so_far, {"b"}) == "d"
    assert next_node(order, False, 3, so_far, {"b", "d"}) is None
    # every node will be scraped (--cadvisor-nodes at least the nodes): each at once, in order
    assert next_node(order, True, 5, SoFar(), {"a"}) == "b"


def test_an_early_scrape_is_handed_over_once_and_a_failed_one_is_made_again() -> None:
    from kubectl_perf.api import ApiError
    from kubectl_perf.report.early import EarlyScrapes, SoFar

    dump = (Path(__file__).parent / "data" / "cadvisor-before.txt").read_bytes().splitlines()  # as stream_lines yields

    class Kubelets:
        asked: list[str] = []

        def stream_lines(self, path: str, timeout: float | None = None) -> Any:
            self.asked.append(path.split("/")[4])
            if "/down/" in path:
                raise ApiError("no answer", 0)
            return iter(dump)

    cluster = Kubelets()
    early = EarlyScrapes(cluster, "cadvisor")  # type: ignore[arg-type]
    early.start(["up", "down"], True, 2, SoFar())
    for _ in range(500):  # until both are asked (taking a node not yet started would keep it for the section)
        if len(cluster.asked) == 2:
            break
        time.sleep(0.01)
    got = early.taken("up")
    assert got is not None and got.name == "up" and len(got.scrapes) == 1 and got.scrapes[0].containers
    assert early.taken("up") is None  # once: a second round scrapes again
    assert early.taken("down") is None  # failed: the section scrapes it itself and says why
    assert early.taken("elsewhere") is None  # never guessed
    assert sorted(cluster.asked) == ["down", "up"]
    later = EarlyScrapes(cluster, "cadvisor")  # type: ignore[arg-type]
    assert later.taken("up") is None  # the section took it first: scraped by the section, not also here
    later.start(["up"], True, 1, SoFar())
    time.sleep(0.1)
    assert sorted(cluster.asked) == ["down", "up"]


def test_every_kubelet_is_scraped_once_and_while_the_pods_are_read(fixture_cluster: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default 16 covers the 3 nodes: each is sure to be chosen, so each is scraped at once, while the
    pods are read, and the section takes those scrapes instead of making its own."""
    from kubectl_perf.report.early import EarlyScrapes

    handed: list[str] = []
    real = EarlyScrapes.taken

    def taken(self: EarlyScrapes, name: str) -> Any:
        got = real(self, name)
        if got is not None:
            handed.append(name)
        return got

    monkeypatch.setattr(EarlyScrapes, "taken", taken)
    from kubectl_perf.report import sections

    capacity = sections.capacity

    def slow_capacity(*args: Any) -> Any:
        time.sleep(1)  # a pod list that takes its time, as at 1,000 nodes: on 3 nodes it ends before a scrape starts
        return capacity(*args)

    monkeypatch.setattr(sections, "capacity", slow_capacity)
    run = perf(fixture_cluster.kubeconfig, "report", "-o", "json", "--cadvisor-interval", "0", "-v", "6")
    assert run.returncode == 0, run.stderr
    scraped = [p.split("/")[4] for p, n in requests_logged(run.stderr).items() for _ in range(n) if p.endswith("/proxy/metrics/cadvisor")]
    assert sorted(scraped) == sorted(handed) == ["node-a", "node-b", "node-gpu"]
    assert json.loads(run.stdout)["clusters"][0]["cadvisor"]["scope"]["nodesScraped"] == 3


@pytest.mark.parametrize("usage", [{"memory": "lots"}, ["1Gi"], {"memory": {"nested": {"deeper": "1Gi"}}}, {"cpu": "1e999999999"}])
def test_metrics_the_early_guess_cannot_read_make_no_guess(usage: Any) -> None:
    """Node metrics no API server would send: no early scrape and no error here (the capacity section,
    reading the same figures, says what is wrong); a giant exponent saturates, as capacity reads it."""
    from kubectl_perf.report.early import EarlyScrapes, scrape_likely
    from kubectl_perf.report.flags import options, parse

    class Cluster:
        def fold(self, path: str, fresh: Any, add: Any, query: Any = None, limit: int = 500) -> Any:
            acc = fresh()
            add(acc, [{"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "16Gi"}}}])
            return acc

        def get(self, path: str, query: Any = None) -> Any:
            return {"items": [{"metadata": {"name": "n1"}, "usage": usage}]}

        def remember(self, key: Any, make: Any) -> Any:
            return make()

    early = EarlyScrapes(Cluster(), "cadvisor")  # type: ignore[arg-type]
    started: list[Any] = []
    early.start = lambda *args: started.append(args)  # type: ignore[method-assign]
    scrape_likely(Cluster(), options(parse(["--cadvisor-interval", "0"])).cadvisor, 16, 500, early)  # type: ignore[arg-type]
    saturated = isinstance(usage, dict) and "cpu" in usage
    assert [a[0] for a in started] == ([["n1"]] if saturated else [])
