"""capacity --fit's run: the shape (a workload's template read from the cluster), the nodes and
metrics through capacity's own reads, every running pod folded into capacity's node rows
(compute.build: the same requests the other views show), then fit.fit_report and its output.

No pod filter applies: a node's room is what all its pods leave."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..render import note
from .compute import BuildOptions, build
from .fetch import read_cluster
from .fit import fit_report
from .fit_output import emit_fit
from .fit_shape import FitPod, FitResources, FitWorkload, Shape, ShapeError, shape_from_resources, shape_from_spec, template_spec
from .fit_shape import workload_path as path_of
from .outcome import EXIT_NO_METRICS

if TYPE_CHECKING:
    from ..api import Cluster
    from .options import CapacityOptions


def read_shape(cluster: Cluster, ask: FitResources | FitPod | FitWorkload) -> Shape:
    """The shape to place; a workload's pod template is read from the cluster (its errors, as a
    workload that is not there, are the API's one line, exit 1)."""
    if isinstance(ask, FitResources):
        return shape_from_resources(ask)
    if isinstance(ask, FitPod):
        return shape_from_spec(ask.spec, ask.source)
    obj = cluster.get(path_of(ask))
    spec = template_spec(ask.kind, obj)
    if not spec.get("containers"):
        raise ShapeError(f"{ask.kind} {ask.namespace}/{ask.name} has no containers in its pod template")
    return shape_from_spec(spec, f"{ask.kind} {ask.namespace}/{ask.name}")


def run_fit(options: CapacityOptions, cluster: Cluster) -> int:
    """fetch -> compute -> emit for --fit; the exit status (0; 3 when --util asked for usage the
    cluster cannot give, as capacity's)."""
    from ..api import ApiError, path_for
    from ..running_pods import RUNNING_PODS

    assert options.fit is not None  # flags.options set it: this run is --fit's
    shape = read_shape(cluster, options.fit)  # a bad workload fails before the pods are listed
    reads = read_cluster(cluster, options)
    rows = BuildOptions(options.policy)  # node rows, every pod of every namespace
    try:  # every running pod (running_pods' query): -n does not narrow it, so a 403 says so rather than "try -n"
        report = cluster.consume(
            path_for("pods"),
            lambda pages: build(rows, reads.nodes, pages, reads.node_usage),
            {"fieldSelector": RUNNING_PODS},
            limit=options.chunk_size,
        )
    except ApiError as err:
        if err.status == 403:
            raise ApiError(f"{err}; --fit weighs every pod on the nodes, so it lists pods in all namespaces", 403) from None
        raise
    fitted = fit_report(report.total.nodes, shape, reads.node_usage is not None)
    emit_fit(fitted, options.display.output, cluster.host)
    for line in reads.notes:
        note(f"note: {line}")
    if reads.node_usage is None:
        note("note: fitWithinPadding weighs the nodes' memory requests only (no node usage)")
    if not reads.nodes:
        note(f"note: no node matches {options.nodes.flags}" if options.nodes.flags else "note: the cluster lists no nodes")
    return EXIT_NO_METRICS if options.util and reads.usage_missing else 0
