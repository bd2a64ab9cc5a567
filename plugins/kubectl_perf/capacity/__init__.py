"""`kubectl perf capacity`: requests, limits and live usage against node
allocatable and memory padding targets.

Reads top to bottom: flags -> fetch (api) -> compute (model, policy) -> print.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from .flags import SORT_KEYS, build_parser, parse

__all__ = ["SORT_KEYS", "build_parser", "main"]

EXIT_BREACH = 1
EXIT_NO_METRICS = 3


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from ..cli import run

    return run("kubectl perf capacity", lambda: Capacity(args).run())


class Capacity:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def run(self) -> int:
        from ..api import Cluster
        from ..cli import connection
        from ..policy import Policy, load_policy
        from .compute import Options, Report

        args = self.args
        policy = load_policy(args.policy) if args.policy else Policy()
        if args.padding_target is not None:
            policy = dataclasses.replace(policy, padding_memory=args.padding_target)
        cluster = Cluster(connection(args))
        detail = "containers" if args.containers else "pods" if args.pods else "nodes"
        namespaces = self._namespaces(cluster) if args.namespace_labels else None
        report = Report(Options(policy, detail, args.by, args.util, namespaces))
        note = self.fetch(cluster, report)
        nodes = self.sorted_nodes(report)
        self.print(report, nodes, cluster)
        if note:
            print(f"note: {note}", file=sys.stderr)
        if report.missing_pods:
            print(
                f"note: {report.missing_containers} containers in {report.missing_pods} pods lack "
                f"{'/'.join(policy.require_requests)} requests (see --containers)",
                file=sys.stderr,
            )
        breaching = [n.name for n in nodes if n.breaches()]
        if args.fail_on_breach and breaching:
            print(
                f"error: {len(breaching)} node(s) breach their memory padding target: {', '.join(breaching[:10])}"
                + (" ..." if len(breaching) > 10 else ""),
                file=sys.stderr,
            )
            return EXIT_BREACH
        return EXIT_NO_METRICS if note and args.util else 0

    # -- fetch ----------------------------------------------------------------
    def _namespaces(self, cluster: Any) -> frozenset[str]:
        names: set[str] = set()
        cluster.fold(
            "/api/v1/namespaces",
            lambda: names,
            lambda acc, items: acc.update(i["metadata"]["name"] for i in items),
            {"labelSelector": self.args.namespace_labels},
        )
        return frozenset(names)

    def fetch(self, cluster: Any, report: Any) -> str:
        """Fill the report; returns a note when usage could not be had."""
        from ..api import ApiError, MetricsUnavailable, path_for

        args = self.args
        # Nodes are few (5,000 at most) and kept whole; pods are folded page by page.
        node_items = cluster.fold("/api/v1/nodes", list, lambda acc, items: acc.extend(items), {"labelSelector": args.node_selector})
        report.add_nodes(n for n in node_items if self._taints_ok(n))
        note = ""
        if args.util:
            try:
                report.add_node_usage(cluster.get("/apis/metrics.k8s.io/v1beta1/nodes").get("items") or [])
                if report.options.detail != "nodes" or report.options.by:
                    path = (
                        f"/apis/metrics.k8s.io/v1beta1/namespaces/{args.namespace}/pods"
                        if args.namespace
                        else "/apis/metrics.k8s.io/v1beta1/pods"
                    )
                    report.add_pod_usage(cluster.get(path, {"labelSelector": args.selector}).get("items") or [])
            except MetricsUnavailable as err:
                note = f"{err}; usage columns are left out"
        query = {"labelSelector": args.selector, "fieldSelector": "status.phase!=Succeeded,status.phase!=Failed"}
        try:
            cluster.fold(
                path_for("pods", args.namespace),
                lambda: report.reset_pods(),
                lambda acc, items: acc.add_pods(items),
                query,
                limit=args.chunk_size,
            )
        except ApiError as err:
            if err.status == 403 and not args.namespace:
                raise ApiError(f"{err}; you may list pods in one namespace only: try -n NAMESPACE", 403) from None
            raise
        return note

    def _taints_ok(self, node: dict[str, Any]) -> bool:
        taints = (node.get("spec") or {}).get("taints") or []
        if self.args.no_taint and taints:
            return False
        return all(t.on(taints) != t.exclude for t in self.args.node_taints or [])

    # -- order and print ------------------------------------------------------
    def sorted_nodes(self, report: Any) -> list[Any]:
        from .sorting import sort_rows

        nodes = list(report.nodes.values())
        nodes.sort(key=lambda n: n.name)
        if self.args.sort:
            nodes = sort_rows(nodes, self.args.sort)
            for n in nodes:
                n.pod_rows = sort_rows(n.pod_rows, self.args.sort)
        else:
            for n in nodes:
                n.pod_rows.sort(key=lambda p: (p.namespace, p.name))
        return nodes

    def print(self, report: Any, nodes: list[Any], cluster: Any) -> None:
        from .. import render
        from . import output

        args, resources = self.args, self.args.resources
        fmt = args.output
        if fmt in ("json", "yaml"):
            render.write(render.structured(output.document(report, nodes, resources), fmt))
            return
        if fmt == "html":
            from .html import page

            render.write(page(report, nodes, resources, cluster.host))
            return
        total = report.total()
        highlight = None
        show = output.Show(report.options.util and report.usage_known, not args.hide_requests, not args.hide_limits, args.available)
        if report.options.by:
            rows, cols = output.group_lines(report, total), output.group_columns(report, resources, show)
        elif report.options.detail != "nodes":
            containers = report.options.detail == "containers"
            rows, cols = output.pod_lines(nodes, total, containers), output.pod_columns(resources, containers, show)
        else:
            rows = [output.node_line(n) for n in [total, *nodes]]
            cols = output.node_columns(report, resources, args.label_columns, show)

            def highlight(line: Any) -> str:
                return render.RED if line.source.breaches() else ""

        if fmt in ("csv", "tsv"):
            render.write(render.delimited(rows, cols, "," if fmt == "csv" else "\t"))
            return
        color = render.use_color(sys.stdout)
        text = render.table(rows, cols, wide=fmt == "wide", highlight=highlight, color=color)
        if report.pending:
            text += "\n" + render.table(report.pending, output.pending_columns(resources), wide=fmt == "wide")
        render.write(text)
