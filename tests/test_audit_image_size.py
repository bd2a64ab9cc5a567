"""The audit's image-size rule: images past --image-size-threshold as node runtimes report them.

Expected outcomes are read off tests/data/audit-images.yaml by hand:
- shop/api runs python:3.12: CRI-O nodes crio-1 and crio-2 list it at 1,020,000,000 bytes, containerd
  node ctrd-1 at 411,000,000; two of its three holders are CRI-O, so its size is 1.02 GB > 500 MB: warn.
  Name-based suggestion: gcr.io/distroless/python3-debian13, about 55 MB unpacked (CRI-O counts
  unpacked), so it saves 1,020,000,000 - 55,000,000 = 965,000,000 bytes per node.
- shop/web runs nginx:1.27, listed at 70,500,000: pass.
- ml/model (bare pod) runs registry.example.com/ml/model@sha256:aaa..., listed by that digest at
  2,300,000,000: warn, no suggestion (a custom image whose name tells no base).
- ml/tool runs registry.example.com/ml/tool:1.0, which no node lists by that name; its status imageID
  is ...@sha256:bbb..., listed at 600,000,000: warn.
- ops/slim runs gcr.io/distroless/static-debian12:nonroot, listed by no node: pass, size unknown.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import realk8s
import yaml
from conftest import BIN, DATA, KUBECTL, Sim, env_for
from inproc import perf
from kubectl_perf.audit.compute import Audit, Settings
from kubectl_perf.audit.image_checks import image_size
from kubectl_perf.image_sizes import NodeImages
from kubectl_perf.policy import Policy
from realk8s import RealK8s
from test_reports import install_crds

FIXTURE = DATA / "audit-images.yaml"
PYTHON_DIGEST = "docker.io/library/python@sha256:" + "1" * 64


def outcomes(doc: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """kind/namespace/name -> (result, properties) of the image-size results."""
    return {
        f"{r['resource']['kind']}/{r['resource']['namespace']}/{r['resource']['name']}": (r["result"], r["properties"])
        for r in doc["results"]
        if r["rule"] == "image-size"
    }


def run_audit(sim: Sim, *args: str) -> dict[str, Any]:
    result = perf(sim.kubeconfig, "audit", "-o", "json", "--show-pass", *args)
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def images_cluster(sim_factory: Any) -> Sim:
    return sim_factory("--objects", str(FIXTURE))


# -- in-process (tests/inproc.py), on perf-sim ----------------------------------------------------------------
def test_big_images_warn_per_workload_with_size_and_suggestion(images_cluster: Sim) -> None:
    found = outcomes(run_audit(images_cluster))
    assert {k: v[0] for k, v in found.items()} == {
        "Deployment/shop/api": "warn",
        "Deployment/shop/web": "pass",
        "Pod/ml/model": "warn",
        "Pod/ml/tool": "warn",
        "Pod/ops/slim": "pass",
    }
    api = found["Deployment/shop/api"][1]
    assert api == {
        "image": "docker.io/library/python:3.12",
        "sizeBytes": "1020000000",
        "runtime": "cri-o",
        "thresholdBytes": "500000000",
        "suggestion": "gcr.io/distroless/python3-debian13",
        "base": "python",
        "savingBytes": "965000000",
        "savingBasis": "image-is-base",  # python:3.12 run as it is: the whole image is the base
        "pods": "3",
    }
    model = found["Pod/ml/model"][1]
    assert model["sizeBytes"] == "2300000000" and "suggestion" not in model
    assert found["Pod/ml/tool"][1]["sizeBytes"] == "600000000"
    assert found["Pod/ops/slim"][1]["sizeUnknown"] == "gcr.io/distroless/static-debian12:nonroot"


def test_the_table_names_the_image_its_size_and_the_distroless_base(images_cluster: Sim) -> None:
    out = perf(images_cluster.kubeconfig, "audit").stdout
    (api,) = [line for line in out.splitlines() if "image-size" in line and "Deployment/shop/api" in line]
    assert api.split()[:4] == ["Images", "warn", "low", "image-size"]
    assert "python:3.12, 1.02 GB (cri-o)" in api and "gcr.io/distroless/python3-debian13" in api and "965 MB" in api


def test_the_threshold_flag_and_policy_file(images_cluster: Sim, tmp_path: Path) -> None:
    warned = {k for k, (result, _p) in outcomes(run_audit(images_cluster, "--image-size-threshold", "1GB")).items() if result == "warn"}
    assert warned == {"Deployment/shop/api", "Pod/ml/model"}  # 1.02 GB and 2.3 GB > 1 GB; 600 MB is not
    warned = {k for k, (result, _p) in outcomes(run_audit(images_cluster, "--image-size-threshold=1Gi")).items() if result == "warn"}
    assert warned == {"Pod/ml/model"}  # 1Gi = 1,073,741,824 > 1.02 GB
    at = outcomes(run_audit(images_cluster, "--image-size-threshold", "600000000"))
    assert at["Pod/ml/tool"][0] == "pass"  # "above" the threshold: equal passes
    policy = tmp_path / "policy.yaml"
    policy.write_text("audit:\n  imageSizeThreshold: 2GB\n")
    found = outcomes(run_audit(images_cluster, "--policy", str(policy)))
    assert {k for k, (r, _p) in found.items() if r == "warn"} == {"Pod/ml/model"}
    assert found["Pod/ml/model"][1]["thresholdBytes"] == "2000000000"
    policy.write_text("audit:\n  imageSizeThreshold: 3000000000\n")  # bytes: nothing is that big
    assert {r for r, _p in outcomes(run_audit(images_cluster, "--policy", str(policy))).values()} == {"pass"}
    # the flag wins over the file, as --proxy-threshold does
    found = outcomes(run_audit(images_cluster, "--policy", str(policy), "--image-size-threshold", "500MB"))
    assert {k for k, (r, _p) in found.items() if r == "warn"} == {"Deployment/shop/api", "Pod/ml/model", "Pod/ml/tool"}


def test_standalone_console_script(images_cluster: Sim) -> None:
    run = subprocess.run(
        [str(BIN / "kubectl-perf-audit"), "-o", "json", "--image-size-threshold", "2GB"],
        capture_output=True,
        text=True,
        env=env_for(images_cluster),
        timeout=120,
    )
    warned = {k for k, (r, _p) in outcomes(json.loads(run.stdout)).items() if r == "warn"}
    assert warned == {"Pod/ml/model"}, run.stderr  # 2.3 GB > 2 GB


def test_disabled_by_flag_or_policy_file(images_cluster: Sim, tmp_path: Path) -> None:
    doc = run_audit(images_cluster, "--disable", "image-size")
    assert not outcomes(doc) and doc["summary"]["warn"] == run_audit(images_cluster)["summary"]["warn"] - 3  # api, model, tool
    policy = tmp_path / "policy.yaml"
    policy.write_text("audit:\n  disable: [image-size]\n")
    assert not outcomes(run_audit(images_cluster, "--policy", str(policy)))


@pytest.mark.parametrize("value", ["-5", "garbage", "5XB", ""])
def test_bad_threshold_flags_are_one_line_and_status_2(images_cluster: Sim, value: str) -> None:
    result = perf(images_cluster.kubeconfig, "audit", f"--image-size-threshold={value}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(errors) == 1 and "--image-size-threshold" in errors[0] and f"invalid size {value!r}" in errors[0], result.stderr


@pytest.mark.parametrize("value", ["-1", "'lots'", "[1]"])
def test_bad_threshold_in_the_policy_file_is_one_line_and_status_2(images_cluster: Sim, tmp_path: Path, value: str) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"audit:\n  imageSizeThreshold: {value}\n")
    result = perf(images_cluster.kubeconfig, "audit", "--policy", str(policy))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "audit.imageSizeThreshold" in result.stderr and "padding target" not in result.stderr  # a size, not a share
    assert "800MB, 1Gi" in result.stderr or "-1 is less than the minimum" in result.stderr, result.stderr


def test_help_and_completion_know_the_rule_and_the_flag() -> None:
    env = env_for(None)
    help_text = perf(None, "audit", "--help").stdout
    assert "--image-size-threshold" in help_text and "image-size" in help_text.split("rules:")[1]
    flags = subprocess.run([KUBECTL, "__complete", "perf", "audit", "--image"], capture_output=True, text=True, env=env, timeout=60).stdout
    assert "--image-size-threshold" in flags
    rules = subprocess.run(
        [KUBECTL, "__complete", "perf", "audit", "--disable", "image-"], capture_output=True, text=True, env=env, timeout=60
    )
    assert "image-size" in rules.stdout


# -- the real API server: the read path and the reports it validates -------------------------------------------
@pytest.fixture(scope="module")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealK8s]:
    with realk8s.loaded(tmp_path_factory.mktemp("realk8s-audit-images"), yaml.safe_load_all(FIXTURE.read_text()), install_crds) as server:
        yield server


def test_on_the_real_api_server_reports_carry_the_size_and_validate(real_cluster: RealK8s) -> None:
    run = perf(real_cluster.kubeconfig, "audit", "-o", "json")
    warned = {k for k, (r, _p) in outcomes(json.loads(run.stdout)).items() if r == "warn"}
    assert warned == {"Deployment/shop/api", "Pod/ml/model", "Pod/ml/tool"}, run.stderr
    out = perf(real_cluster.kubeconfig, "audit", "-o", "policyreport").stdout
    reports = yaml.safe_load(out)["items"]
    (shop,) = [r for r in reports if r["metadata"].get("namespace") == "shop"]
    # reports carry passes too: the api Deployment's own image-size result is the warning
    (api,) = [r for r in shop["results"] if r["rule"] == "image-size" and r["resources"][0]["name"] == "api"]
    assert api["properties"]["suggestion"] == "gcr.io/distroless/python3-debian13" and api["category"] == "Images"
    dry = real_cluster.kubectl("apply", "--server-side", "--dry-run=server", "--field-manager", "kubectl-perf", "-f", "-", input=out)
    assert dry.stdout.count("serverside-applied (server dry run)") == len(reports), dry.stdout


# -- the rule itself, on hand-built node listings ---------------------------------------------------------------
def listing(*images: tuple[list[str], int], runtime: str = "containerd") -> dict[str, Any]:
    return {"runtime": runtime, "images": [{"names": names, "sizeBytes": size} for names, size in images]}


def node_images(*nodes: dict[str, Any]) -> NodeImages:
    out = NodeImages()
    for n in nodes:
        out.add_node(n["runtime"], n["images"])
    return out


def spec(*images: str) -> dict[str, Any]:
    return {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}


def test_unit_runtime_majority_boundary_and_several_images() -> None:
    python = ([PYTHON_DIGEST, "docker.io/library/python:3.12"], 0)
    nodes = node_images(
        listing((python[0], 411_000_000), (["docker.io/library/node:22"], 409_000_000)),
        listing((python[0], 411_000_000)),
        listing((python[0], 1_020_000_000), runtime="cri-o"),
    )
    # two containerd holders of three: 411 MB, under 500 MB
    assert image_size(spec("python:3.12"), nodes, 500_000_000).result == "pass"
    # 411 MB past 400 MB, and node:22's 409 MB too: the larger is the one named in properties
    both = image_size(spec("node:22", "python:3.12", "python:3.12"), nodes, 400_000_000)
    assert both.result == "warn" and both.properties["image"] == "docker.io/library/python:3.12"
    assert both.properties["images"] == "docker.io/library/python:3.12,docker.io/library/node:22"
    assert both.properties["savingBytes"] == 411_000_000 - 22_000_000  # python3 distroless, compressed estimate
    assert "'c1', 'c2' run python:3.12" in both.message
    assert image_size(spec("python:3.12"), nodes, 411_000_000).result == "pass"  # equal is not above


def test_unit_digest_and_image_id_joins() -> None:
    nodes = node_images(listing(([PYTHON_DIGEST], 700_000_000)))
    assert image_size(spec(f"python@sha256:{'1' * 64}"), nodes, 500_000_000).result == "warn"  # by digest
    tagged = spec("python:3.12")
    assert image_size(tagged, nodes, 500_000_000).properties.get("sizeUnknown") == "python:3.12"  # the tag is not listed
    by_id = image_size(tagged, nodes, 500_000_000, {"c0": PYTHON_DIGEST})  # the pod's status imageID is
    assert by_id.result == "warn" and by_id.properties["sizeBytes"] == 700_000_000


def test_unit_no_listing_at_all_is_one_skip_and_disable_removes_the_rule() -> None:
    bare = {"metadata": {"name": "n"}, "status": {"allocatable": {"memory": "8Gi", "cpu": "2"}}}
    pod = {"metadata": {"name": "p", "namespace": "a", "uid": "u"}, "spec": spec("python:3.12"), "status": {}}
    audit = Audit(Policy(), Settings(show_pass=True), [bare])
    audit.add_pods([pod])
    assert not [r for r in audit.workload_results() if r.rule == "image-size"]
    (skip,) = audit.spec_skips()
    assert (skip.rule, skip.result, skip.resource) == ("image-size", "skip", None)
    listed = {**bare, "status": {**bare["status"], "images": [{"names": ["docker.io/library/python:3.12"], "sizeBytes": 900_000_000}]}}
    audit = Audit(Policy(), Settings(show_pass=True), [listed])
    audit.add_pods([pod])
    assert [r.result for r in audit.workload_results() if r.rule == "image-size"] == ["warn"] and not audit.spec_skips()
    off = Audit(Policy(), Settings(disabled=frozenset({"image-size"})), [listed])
    off.add_pods([pod])
    assert not [r for r in off.workload_results() if r.rule == "image-size"] and not off.spec_skips()


# -- the chart: the threshold in the webhook's policy values reaches the audit CronJob's policy file ------------
def test_chart_policy_values_carry_the_threshold() -> None:
    helm = pytest.importorskip("helm_python")
    from kubectl_perf.audit.flags import size_from_policy
    from kubectl_perf.policy_file import parse_policy
    from test_chart import CHART, by_kind, render

    values = {"audit": {"enabled": True}, "policy": {"audit": {"imageSizeThreshold": "800MB", "disable": ["image-size"]}}}
    report = helm.lint(str(CHART), values, strict=True)
    assert report["errors"] == [], report
    (config,) = [c for c in by_kind(render(values), "ConfigMap") if "policy.yaml" in c.get("data", {})]
    policy = parse_policy(yaml.safe_load(config["data"]["policy.yaml"]))
    assert size_from_policy(policy.audit["imageSizeThreshold"]) == 800_000_000 and policy.audit["disable"] == ["image-size"]
    bad = helm.lint(str(CHART), {"policy": {"audit": {"imageSizeThreshold": "lots"}}}, strict=True)
    assert bad["errors"], "the values schema rejects a threshold that is not a size"


def test_unit_each_image_past_the_threshold_gets_its_suggestion_in_the_message() -> None:
    nodes = node_images(
        listing((["registry.example.com/ml/model:4.0"], 2_300_000_000), (["docker.io/library/python:3.12"], 1_020_000_000), runtime="cri-o")
    )
    found = image_size(spec("registry.example.com/ml/model:4.0", "python:3.12"), nodes, 500_000_000)
    assert found.result == "warn" and found.properties["image"] == "registry.example.com/ml/model:4.0"
    assert "suggestion" not in found.properties  # the largest has no known base
    # python:3.12's suggestion is in the message: 1,020,000,000 - 55,000,000 (python3, unpacked as CRI-O counts) = 965 MB
    assert "gcr.io/distroless/python3-debian13 would save about 965 MB of python:3.12 per node" in found.message
