"""`kubectl perf cadvisor`: the kubelet's cAdvisor metrics of one node or many, as the
dump itself or as a summary of CPU throttling and memory against limits.

Reads top to bottom: flags -> nodes and pods (api) -> scrapes (fetch) -> rows (compute) -> print.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .flags import parse

if TYPE_CHECKING:  # the rest loads after the flags parse, so --help stays quick
    from concurrent.futures import Future

    from .fetch import Chosen
    from .output import Writer

EXIT_ERROR = 1


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from ..cli import EXIT_USAGE, fail, run
    from .fetch import InputError

    def body() -> int:
        try:
            return Cadvisor(args).run()
        except InputError as err:  # a dump or pods file that cannot be read
            return fail(str(err), EXIT_USAGE)

    return run(body)


class Cadvisor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.notes: list[str] = []
        self.failed = False
        self._writer: Writer | None = None

    def run(self) -> int:
        args = self.args
        if args.filename:
            status = self.offline()
        else:
            from ..api import Cluster
            from ..cli import connection

            cluster = Cluster(connection(args))
            nodes, chosen = self.select(cluster)
            status = self.summary(cluster, nodes, chosen) if args.summary else self.dump(cluster, list(nodes))
        for note in self.notes:
            print(f"note: {note}", file=sys.stderr)
        return EXIT_ERROR if self.failed else status

    def note(self, text: str, failed: bool = False) -> None:
        self.notes.append(text)
        self.failed = self.failed or failed

    # -- nodes and pods ---------------------------------------------------------
    def select(self, cluster: Any) -> tuple[dict[str, dict[str, Any] | None], Chosen | None]:
        """The nodes to read (name -> node object, None when not fetched) and, for -n/-l, the pods that chose them."""
        from ..api import ApiError, path_for
        from .fetch import Chosen

        args = self.args
        chosen = None
        if args.namespace or args.selector:
            query = {"labelSelector": args.selector, "fieldSelector": "status.phase=Running"}
            chosen = cluster.fold(path_for("pods", args.namespace), Chosen, Chosen.add, query, limit=args.chunk_size)
        if args.nodes:
            if not args.summary:
                return dict.fromkeys(args.nodes), chosen
            found: dict[str, dict[str, Any] | None] = {}
            for name in dict.fromkeys(args.nodes):
                try:
                    found[name] = cluster.get(f"/api/v1/nodes/{name}")
                except ApiError as err:
                    if err.status != 404:
                        raise
                    raise ApiError(f'node "{name}" not found', 404) from None
            return found, chosen
        query = {"labelSelector": args.node_selector}
        items = cluster.fold("/api/v1/nodes", list, lambda acc, items: acc.extend(items), query)
        nodes = {n["metadata"]["name"]: n for n in items}
        if chosen is not None and not (args.all_nodes or args.node_selector):
            nodes = {name: n for name, n in nodes.items() if name in chosen.hosts}
        if not nodes:
            raise ApiError("no nodes to read: " + ("no running pod matches -n/-l" if chosen is not None else "no node matches"))
        return dict(nodes), chosen

    def specs_for(self, cluster: Any, names: list[str], chosen: Chosen | None) -> dict[Any, Any]:
        """Requests and limits of the pods the summary shows: the -n/-l ones, else those on the nodes read.
        Pages are folded into specs as they come: a cluster's pods are never held whole."""
        from ..api import ApiError
        from .fetch import Chosen

        if chosen is not None:
            return chosen.specs
        acc = Chosen()
        try:
            if len(names) <= 4:
                for name in names:
                    query = {"fieldSelector": f"spec.nodeName={name},status.phase=Running"}
                    cluster.fold("/api/v1/pods", lambda: acc, Chosen.add, query, limit=self.args.chunk_size)
            else:
                query = {"fieldSelector": "status.phase=Running"}
                acc = cluster.fold("/api/v1/pods", Chosen, Chosen.add, query, limit=self.args.chunk_size)
        except ApiError as err:
            self.note(f"cannot list pods ({err}): requests and limits come from the cgroups instead")
            return {}
        return acc.specs

    # -- the summary ------------------------------------------------------------
    def options(self) -> Any:
        from .compute import Options

        return Options(self.args.throttle_threshold, self.args.memory_threshold, self.args.pod_rows)

    def policy(self) -> Any:
        from ..policy import Policy
        from ..policy_file import load_policy

        policy = load_policy(self.args.policy) if self.args.policy else Policy()
        if self.args.padding_target is not None:
            policy = dataclasses.replace(policy, padding_memory=self.args.padding_target)
        return policy

    def summary(self, cluster: Any, nodes: dict[str, dict[str, Any] | None], chosen: Chosen | None) -> int:
        from .compute import container_rows, node_row
        from .fetch import scrape_nodes

        args = self.args
        names = sorted(nodes)
        specs = self.specs_for(cluster, names, chosen)
        policy, options = self.policy(), self.options()
        keep = self.row_filter(chosen)
        rows: list[Any] = []
        node_rows: list[Any] = []
        pod_stats: list[tuple[str, Any]] = []
        rounds = 1 if args.once or args.endpoint == "summary" else 2

        def finish(result: Any) -> None:
            """Called as each node's last scrape lands: fold it into rows and let the scrapes go."""
            node = nodes.get(result.name)
            labels = ((node or {}).get("metadata") or {}).get("labels") or {}
            if result.snapshots:
                rows.extend(r for r in container_rows(result.name, result.snapshots, specs, options) if keep(r))
                nrow = node_row(result.name, result.snapshots[-1], node, policy.padding_target(labels))
                nrow.stats = result.stats
                node_rows.append(nrow)
                pod_stats.extend((result.name, p) for p in result.pods)
            result.snapshots.clear()

        results = scrape_nodes(cluster, names, args.endpoint, rounds, args.interval, args.concurrency, finish)
        for r in results:
            if r.error:
                self.note(r.error, failed=True)
            if r.malformed:
                self.note(f"node {r.name}: {r.malformed} malformed lines skipped (first: {r.first_error})")
        return self.print_summary(rows, node_rows, pod_stats, cluster.host)

    def row_filter(self, chosen_pods: Chosen | None) -> Callable[[Any], bool]:
        args = self.args
        chosen = chosen_pods.pods if chosen_pods is not None else None

        def keep(row: Any) -> bool:
            if args.namespace and row.namespace != args.namespace:
                return False
            if chosen is not None and (row.namespace, row.pod) not in chosen:
                return False
            if args.pod and not args.pod.search(row.pod):
                return False
            return not (args.container and not args.container.search(row.container))

        return keep

    def offline(self) -> int:
        from .compute import container_rows, node_row, pod_specs
        from .fetch import read_files

        args = self.args
        name = args.nodes[0] if args.nodes else Path(args.filename[0]).stem if args.filename[0] != "-" else "-"
        if not args.summary:
            return self.dump_file(args.filename[0], name if args.nodes else None)
        specs = pod_specs(self.read_pods(args.pods_file)) if args.pods_file else {}
        result = read_files(args.filename if not args.once else args.filename[-1:], args.endpoint, name)
        if result.malformed:
            self.note(f"{result.malformed} malformed lines skipped (first: {result.first_error})")
        snaps = result.snapshots if len(result.snapshots) < 3 else [result.snapshots[0], result.snapshots[-1]]
        keep = self.row_filter(None)
        rows = [r for r in container_rows(name, snaps, specs, self.options()) if keep(r)]
        nrow = node_row(name, snaps[-1], None, None)
        nrow.stats = result.stats
        return self.print_summary(rows, [nrow], [(name, p) for p in result.pods], "")

    def read_pods(self, path: str) -> list[dict[str, Any]]:
        from .fetch import InputError

        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read --pods-file {path}: {getattr(err, 'strerror', None) or err}") from None
        items = doc.get("items") if isinstance(doc, dict) and "items" in doc else [doc]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InputError(f"--pods-file {path}: expected `kubectl get pods -o json` output")
        return items

    def print_summary(self, rows: list[Any], node_rows: list[Any], pod_stats: list[tuple[str, Any]], host: str) -> int:
        from .. import render
        from . import output
        from .compute import order

        args = self.args
        rows = order(rows, args.sort, args.top)
        node_rows.sort(key=lambda n: n.name)
        pods = [output.pod_doc(node, p) for node, p in sorted(pod_stats, key=lambda x: (x[0], x[1].namespace, x[1].pod))]
        pods_or_none = pods if args.endpoint == "summary" else None

        def html() -> str:
            from .html import page

            return page(rows, node_rows, host, args.throttle_threshold, args.memory_threshold)

        def tables() -> list[render.Table]:
            flagged = render.Table(rows, output.container_columns(len(node_rows)), lambda r: render.RED if r.flags else "")
            return [flagged, render.Table(node_rows, output.node_columns()), render.Table(pods_or_none or [], output.pod_columns())]

        render.emit(args.output, lambda: output.document(rows, node_rows, pods_or_none), tables, html)
        return 0

    # -- the dump ---------------------------------------------------------------
    def dump(self, cluster: Any, names: list[str]) -> int:
        from concurrent.futures import ThreadPoolExecutor

        from ..api import ApiError
        from .fetch import Forbidden, stream_node

        many = len(names) > 1

        def one(name: str) -> Iterator[bytes]:
            return self.dump_lines(stream_node(cluster, name, self.args.endpoint), name if many else None)

        if not many:  # stream straight through: nothing is held
            try:
                self.write_lines(one(names[0]))
            except Forbidden:
                raise
            except ApiError as err:
                self.note(str(err), failed=True)
            self.writer().close()
            return 0

        def collect(name: str) -> list[bytes]:
            return list(one(name))

        # Several nodes: read up to --concurrency at once, print each whole and in order.
        with ThreadPoolExecutor(max_workers=self.args.concurrency) as pool:
            window: deque[tuple[str, Future[list[bytes]]]] = deque()
            todo = iter(names)
            for name in todo:
                window.append((name, pool.submit(collect, name)))
                if len(window) >= self.args.concurrency:
                    self.print_node(*window.popleft())
            while window:
                self.print_node(*window.popleft())
        self.writer().close()
        return 0

    def print_node(self, name: str, future: Future[list[bytes]]) -> None:
        from ..api import ApiError
        from .fetch import Forbidden

        try:
            lines = future.result()
        except Forbidden:
            raise
        except ApiError as err:
            self.note(str(err), failed=True)
            return
        self.write_lines(iter(lines))

    def dump_file(self, path: str, node: str | None) -> int:
        from .fetch import InputError

        try:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as err:
            raise InputError(f"cannot read {path}: {err.strerror}") from None
        try:
            self.write_lines(self.dump_lines((line.rstrip(b"\r\n") for line in stream), node))
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        self.writer().close()
        return 0

    def dump_lines(self, lines: Iterator[bytes], node: str | None) -> Iterator[bytes]:
        """The dump's lines (text), or its samples as JSON lines, filtered."""
        from ..promtext import Parser
        from . import output

        args = self.args
        flt = output.DumpFilter(args.metric, args.namespace, args.pod, args.container, args.drop_pod_cgroups)
        if args.endpoint == "summary" or args.output == "text":
            dump = output.TextDump(flt if args.endpoint != "summary" else output.DumpFilter(), node)
            yield from dump.lines(lines)
            if dump.malformed:
                self.note(f"{node or 'dump'}: {dump.malformed} malformed lines skipped")
            return
        parser = Parser()
        for obj in output.sample_objects(lines, flt, node, parser):
            yield json.dumps(obj, separators=(",", ":")).encode()
        if parser.malformed:
            self.note(f"{node or 'dump'}: {parser.malformed} malformed lines skipped (first: {parser.first_error})")

    def write_lines(self, lines: Iterator[bytes]) -> None:
        self.writer().write(lines)

    def writer(self) -> Writer:
        if self._writer is None:
            from .output import Writer

            self._writer = Writer("text" if self.args.endpoint == "summary" else self.args.output)
        return self._writer
