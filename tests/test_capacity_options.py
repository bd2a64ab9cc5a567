"""capacity's command line as typed data (flags.options), and the row tree's Amounts, in-process:
the namespace argparse returns is read, never changed, and nothing after flags.py needs it."""

from __future__ import annotations

import copy

import pytest
from kubectl_perf.capacity.compute import Amounts
from kubectl_perf.capacity.flags import SortError, options, parse, sort_key
from kubectl_perf.capacity.options import (
    AllNamespaces,
    ByAmount,
    ByName,
    ByPods,
    Containers,
    GroupBy,
    Groups,
    Namespace,
    Nodes,
    Part,
    Pods,
)

ARGS = ["--kubeconfig", "/nonexistent/kubeconfig"]  # options() reads no cluster


def test_options_leave_the_namespace_as_parsed() -> None:
    args = parse([*ARGS, "--pod-count", "-L", "a,b", "-L", "c", "--sort", "mem.request.percentage", "--containers"])
    before = copy.deepcopy(vars(args))
    opts = options(args)
    assert vars(args) == before
    assert opts.display.resources == ("cpu", "memory", "pods")  # --pod-count adds the pods column
    assert opts.display.label_columns == ("a", "b", "c")
    assert opts.display.sort == ByAmount("memory", Part.REQUESTS, percent=True)  # kube-capacity's spelling
    assert opts.view == Containers()


@pytest.mark.parametrize(
    ("argv", "view"),
    [
        ([], Nodes()),
        (["--pods"], Pods()),
        (["--pods", "--containers"], Containers()),
        (["--by", "namespace"], Groups(GroupBy(), Nodes())),
        (["--by", "node-label:zone", "--pods"], Groups(GroupBy("zone", on_nodes=True), Pods())),
    ],
)
def test_the_view_is_data(argv: list[str], view: object) -> None:
    assert options(parse([*ARGS, *argv])).view == view


def test_the_plan_names_the_reads() -> None:
    plain = options(parse(ARGS))
    assert plain.pods.scope == AllNamespaces() and not plain.plan.node_usage and not plain.plan.pod_usage
    nodes_only = options(parse([*ARGS, "--util"])).plan
    assert nodes_only.node_usage and not nodes_only.pod_usage and not nodes_only.whole_nodes
    shop = options(parse([*ARGS, "--util", "-n", "shop", "--resources", "cpu,ephemeral-storage"]))
    assert shop.pods.scope == Namespace("shop") and shop.pods.describe() == "-n shop"
    assert shop.plan.pod_usage and shop.plan.whole_nodes and shop.plan.storage  # rows sum the shown pods
    assert options(parse([*ARGS, "--util", "--by", "label:team"])).plan.pod_usage  # pod groups need each pod's usage
    assert options(parse([*ARGS, "--namespace-labels", "tier=web"])).plan.namespaces


def test_flags_that_need_the_nodes_are_listed() -> None:
    opts = options(parse([*ARGS, "--available", "-L", "zone", "--by", "node-label:zone"]))
    assert opts.need_nodes == ("-L", "--available", "--by node-label")
    assert options(parse([*ARGS, "-L", ""])).need_nodes == ()  # an empty -L asks for no column


def test_sort_keys() -> None:
    resources = ("cpu", "memory")
    assert sort_key("name", resources, util=False) == ByName()
    assert sort_key("pod.count", resources, util=False) == ByPods()
    assert sort_key("cpu.util", resources, util=True) == ByAmount("cpu", Part.UTIL)
    with pytest.raises(SortError, match="needs --util"):
        sort_key("memory.slack", resources, util=False)
    with pytest.raises(SortError, match="cannot sort by 'gpu.requests'"):
        sort_key("gpu.requests", resources, util=False)


def test_measured_is_cpu_and_memory_whenever_metrics_answered_and_others_where_read() -> None:
    unknown = Amounts({}, {"cpu": 1}, {}, None)
    assert not unknown.measured("cpu") and unknown.amount(Part.UTIL, "cpu") is None
    metered = Amounts({"cpu": 4}, {"cpu": 2}, {}, {})  # metrics answered, nothing used
    assert metered.measured("cpu") and metered.measured("memory") and not metered.measured("ephemeral-storage")
    assert metered.amount(Part.SLACK, "cpu") == 2
    assert metered.percent("cpu", Part.REQUESTS, Part.ALLOCATABLE) == 50
    assert metered.percent("memory", Part.REQUESTS, Part.ALLOCATABLE) is None  # no allocatable memory: no percentage
    assert Amounts(None, {}, {}, {"ephemeral-storage": 0}).measured("ephemeral-storage")  # a measured 0
