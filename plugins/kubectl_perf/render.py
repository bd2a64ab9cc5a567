"""Output shared by every plugin: kubectl-style tables, json, yaml, csv, tsv, html.
`emit` is the one dispatcher from an -o format to text."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

# Every -o format; the first is the default. A plugin offers these (or fewer) through cli.add_output_flag.
FORMATS = ("table", "wide", "json", "yaml", "csv", "tsv", "html")

RED, YELLOW, BOLD, RESET = "\033[31m", "\033[33m", "\033[1m", "\033[0m"


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (no-color.org)."""
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


@dataclass(frozen=True)
class Column:
    header: str
    text: Callable[[Any], str]  # the cell as people read it (250m, 1.5Gi, 42%)
    value: Callable[[Any], Any] | None = None  # the cell for csv/tsv, in base units
    wide: bool = False  # shown only with -o wide
    right: bool = False  # right-aligned (numbers)


@dataclass(frozen=True)
class Table:
    """Rows and the columns that print them; highlight(row) gives a colour for a row."""

    rows: Sequence[Any]
    columns: Sequence[Column]
    highlight: Callable[[Any], str] | None = None


def table(
    rows: Sequence[Any], columns: Sequence[Column], wide: bool = False, highlight: Callable[[Any], str] | None = None, color: bool = False
) -> str:
    """An aligned table in kubectl's style: upper-case headers, three spaces apart."""
    cols = [c for c in columns if wide or not c.wide]
    grid = [[c.header.upper() for c in cols]] + [[c.text(r) for c in cols] for r in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(cols))]
    out = []
    for n, line in enumerate(grid):
        cells = [cell.rjust(w) if c.right else cell.ljust(w) for cell, w, c in zip(line, widths, cols, strict=True)]
        text = "   ".join(cells).rstrip()
        mark = highlight(rows[n - 1]) if highlight and n and color else ""
        out.append(f"{mark}{text}{RESET}" if mark else text)
    return "\n".join(out) + "\n"


def delimited(rows: Sequence[Any], columns: Sequence[Column], delimiter: str) -> str:
    """csv or tsv: every column (wide ones too), values in base units."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow([c.header for c in columns])
    for r in rows:
        writer.writerow([_cell(c.value(r) if c.value else c.text(r)) for c in columns])
    return buf.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    return value


def structured(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def write(text: str, stream: TextIO | None = None) -> None:
    """Write output; a closed pipe (| head) ends quietly, as kubectl does."""
    stream = stream or sys.stdout
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        raise SystemExit(0) from None


def emit(
    fmt: str,
    document: Callable[[], Any],
    tables: Callable[[], Sequence[Table]],
    html: Callable[[], str] | None = None,
    stream: TextIO | None = None,
) -> None:
    """Print a plugin's results in the -o format `fmt`.

    document(): the json/yaml structure. tables(): the data table first, then any
    tables for people (e.g. pending pods): table and wide print them a blank line
    apart, leaving out empty ones after the first; csv and tsv carry the first only.
    html(): the self-contained page, for plugins that offer one.
    """
    stream = stream or sys.stdout
    if fmt in ("json", "yaml"):
        write(structured(document(), fmt), stream)
        return
    if fmt == "html":
        if html is None:
            raise ValueError("this command has no html output")  # a plugin offered a format it cannot make
        write(html(), stream)
        return
    main, *more = tables()
    if fmt in ("csv", "tsv"):
        write(delimited(main.rows, main.columns, "," if fmt == "csv" else "\t"), stream)
        return
    wide, color = fmt == "wide", use_color(stream)
    texts = [table(main.rows, main.columns, wide, main.highlight, color)]
    texts += [table(t.rows, t.columns, wide, t.highlight, color) for t in more if t.rows]
    write("\n".join(texts), stream)
