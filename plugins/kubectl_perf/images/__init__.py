"""`kubectl perf images`: the images a cluster runs, joined with what its nodes
hold; tag hygiene, distroless suggestions and a kube-fledged pre-pull plan.

Reads top to bottom: flags -> fetch (api, registries) -> compute -> print.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .flags import parse


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from ..cli import run

    return run("kubectl perf images", lambda: Images(args).run())


class Images:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.notes: list[str] = []

    def run(self) -> int:
        from ..api import Cluster
        from ..cli import connection
        from .compute import Audit, Options

        args = self.args
        cluster = Cluster(connection(args))
        options = Options(
            max_images=args.max_images,
            min_size=args.min_size,
            pool_label=args.pool_label,
            hpa_targets=self.hpa_targets(cluster),
            node_filter=bool(args.node_selector),
        )
        audit = Audit(options)
        self.fetch_nodes(cluster, audit)
        self.fetch_pods(cluster, audit)
        result = audit.result(self.inspect(audit) if args.inspect else None)
        self.print(result, cluster.host)
        for note in self.notes:
            print(f"note: {note}", file=sys.stderr)
        return 0

    # -- fetch --------------------------------------------------------------------------
    def hpa_targets(self, cluster: Any) -> frozenset[tuple[str, str, str]]:
        """Workloads an HPA scales: they start pods often. Best effort: an API without HPAs is fine."""
        from ..api import ApiError

        path = (
            f"/apis/autoscaling/v2/namespaces/{self.args.namespace}/horizontalpodautoscalers"
            if self.args.namespace
            else "/apis/autoscaling/v2/horizontalpodautoscalers"
        )
        targets: set[tuple[str, str, str]] = set()
        try:
            for item in cluster.get(path).get("items") or []:
                ref = (item.get("spec") or {}).get("scaleTargetRef") or {}
                targets.add((str(ref.get("kind") or ""), str((item.get("metadata") or {}).get("namespace") or ""), str(ref.get("name") or "")))
        except ApiError as err:
            if err.status == 403:
                self.notes.append("cannot list HorizontalPodAutoscalers (forbidden): HPA targets are not counted as scaling out")
        return frozenset(targets)

    def fetch_nodes(self, cluster: Any, audit: Any) -> None:
        from ..api import ApiError

        try:
            cluster.fold("/api/v1/nodes", lambda: audit, lambda acc, items: acc.add_nodes(items), {"labelSelector": self.args.node_selector})
        except ApiError as err:
            if err.status != 403:
                raise
            self.notes.append(f"{err}; images are listed without sizes, node counts or a pre-pull plan")

    def fetch_pods(self, cluster: Any, audit: Any) -> None:
        from ..api import ApiError, path_for

        args = self.args
        query = {"labelSelector": args.selector, "fieldSelector": "status.phase!=Succeeded,status.phase!=Failed"}
        try:
            cluster.fold(
                path_for("pods", args.namespace),
                audit.reset_pods,
                lambda acc, items: acc.add_pods(items),
                query,
                limit=args.chunk_size,
            )
        except ApiError as err:
            if err.status == 403 and not args.namespace:
                raise ApiError(f"{err}; you may list pods in one namespace only: try -n NAMESPACE", 403) from None
            raise

    def inspect(self, audit: Any) -> dict[str, Any]:
        """Registry configs for images whose name does not tell their base, or whose size no node knows."""
        from .. import imageref
        from .registry import Registry, docker_credentials

        todo = []
        for ref_text, use in audit.uses.items():
            ref = use.ref
            if ref is None or imageref.is_lean(ref):
                continue
            if imageref.suggest_for_name(ref) is None or ref_text not in audit.aliases:
                todo.append((ref_text, ref))
        arch = next((n.arch for n in audit.nodes if n.arch), "amd64")
        return Registry(self.args.registry_timeout, docker_credentials(), arch).inspect_all(todo)

    # -- print --------------------------------------------------------------------------
    def print(self, result: Any, host: str) -> None:
        from .. import render
        from . import output

        args = self.args
        fmt = args.output
        if fmt in ("json", "yaml"):
            render.write(render.structured(output.document(result, args.sort, args.top), fmt))
            return
        if fmt == "imagecache":
            cache = output.image_cache(result, args.namespace_for_cache)
            if cache is None:
                self.notes.append(f"nothing to pre-pull: no image of at least {output.human(args.min_size)} is missing from nodes that may run it")
                return
            render.write(render.structured(cache, "yaml"))
            return
        if fmt == "html":
            from .html import page

            render.write(page(result, output.document(result, args.sort, args.top), host))
            return
        images = result.sorted_images(args.sort)
        shown = images[: args.top] if args.top else images
        if fmt == "csv":
            render.write(render.delimited(images, output.image_columns(), ","))
            return
        wide, color = fmt == "wide", render.use_color(sys.stdout)
        doc = output.document(result, args.sort, args.top)
        hist = result.histogram()
        _by_size, by_cached = result.top(args.top or len(images))
        parts = [
            render.table([doc["summary"] | {"images": len(images)}], output.summary_columns(), wide),
            render.table(shown, output.image_columns(), wide, color=color),
            render.table(by_cached, output.top_cached_columns(), wide),
            render.table(hist, output.histogram_columns(max((n for _l, n in hist), default=0)), wide),
            render.table(result.pools, output.pool_columns(result.audit.pool_label), wide) if result.audit.nodes else "",
            render.table(result.pre_pull, output.pre_pull_columns(), wide) if result.pre_pull else "",
        ]
        if len(shown) < len(images):
            self.notes.append(f"showing {len(shown)} of {len(images)} images (--top 0 shows all)")
        render.write("\n".join(p for p in parts if p))
