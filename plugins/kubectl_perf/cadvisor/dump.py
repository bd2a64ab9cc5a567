"""The dump: a node's endpoint (or a file saved earlier) streamed to stdout as the
kubelet wrote it, filtered, or as JSON objects per sample. Nothing is held for one node;
several nodes are read up to --concurrency at once and printed whole, in order."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..api import ApiError
from ..promtext import Parser
from .compute import Filters, Notes
from .fetch import Forbidden, dump_lines, stream_node
from .output import TextDump, Writer, sample_objects


def dump_nodes(cluster: Any, names: list[str], endpoint: str, fmt: str, filters: Filters, concurrency: int) -> Notes:
    """Each node's dump in turn; a node that cannot be read is a note (403 ends the run)."""
    notes = Notes()
    writer = Writer("text" if endpoint == "summary" else fmt)
    many = len(names) > 1

    def one(name: str) -> Iterator[bytes]:
        return filtered(stream_node(cluster, name, endpoint), name if many else None, endpoint, fmt, filters, notes)

    if not many:  # stream straight through: nothing is held
        try:
            writer.write(one(names[0]))
        except Forbidden:
            raise
        except ApiError as err:
            notes.add(str(err), failed=True)
        writer.close()
        return notes

    def collect(name: str) -> list[bytes]:
        return list(one(name))

    def print_node(future: Future[list[bytes]]) -> None:
        try:
            lines = future.result()
        except Forbidden:
            raise
        except ApiError as err:
            notes.add(str(err), failed=True)
            return
        writer.write(iter(lines))

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        window: deque[Future[list[bytes]]] = deque()
        for name in names:
            window.append(pool.submit(collect, name))
            if len(window) >= concurrency:
                print_node(window.popleft())
        while window:
            print_node(window.popleft())
    writer.close()
    return notes


def dump_file(path: str, node: str | None, endpoint: str, fmt: str, filters: Filters) -> Notes:
    """A dump saved earlier (`-`: stdin), filtered as a live one; `node` labels its samples."""
    notes = Notes()
    writer = Writer("text" if endpoint == "summary" else fmt)
    with dump_lines(path) as lines:
        writer.write(filtered(lines, node, endpoint, fmt, filters, notes))
    writer.close()
    return notes


def filtered(lines: Iterator[bytes], node: str | None, endpoint: str, fmt: str, filters: Filters, notes: Notes) -> Iterator[bytes]:
    """The dump's lines (text), or its samples as JSON lines, filtered; malformed lines become a note."""
    if endpoint == "summary" or fmt == "text":
        dump = TextDump(filters if endpoint != "summary" else Filters(), node)
        yield from dump.lines(lines)
        if dump.malformed:
            notes.add(f"{node or 'dump'}: {dump.malformed} malformed lines skipped")
        return
    parser = Parser()
    for obj in sample_objects(lines, filters, node, parser):
        yield json.dumps(obj, separators=(",", ":")).encode()
    if parser.malformed:
        notes.add(f"{node or 'dump'}: {parser.malformed} malformed lines skipped (first: {parser.first_error})")
