"""Output shared by every plugin: kubectl-style tables, json, yaml, csv, tsv, html.
`emit` is the one dispatcher from an -o format to text."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from .quantity import NANO

if TYPE_CHECKING:
    from datetime import datetime

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
    # csv/tsv: when the first table has one, every table that has one goes into one block
    # with a SECTION column (section(row) names the row's part); see sectioned().
    section: Callable[[Any], str] | None = None


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
    import csv  # here, not at import: only csv and tsv need it (start-up time)

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow([c.header.upper() for c in columns])  # the table's own headers, as kubectl prints them
    for r in rows:
        writer.writerow([_cell(c.value(r) if c.value else c.text(r)) for c in columns])
    return buf.getvalue()


def sectioned(tables: Sequence[Table], delimiter: str) -> str:
    """csv or tsv of several tables as one block: SECTION first, then every table's
    columns matched by header; a row leaves the columns its table lacks empty."""
    headers = ["SECTION"]
    for t in tables:
        headers += [c.header.upper() for c in t.columns if c.header.upper() not in headers]
    import csv  # here, not at import: only csv and tsv need it (start-up time)

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(headers)
    for t in tables:
        assert t.section is not None
        by_header = {c.header.upper(): c for c in t.columns}
        cells = [by_header.get(h) for h in headers[1:]]
        for r in t.rows:
            writer.writerow([t.section(r)] + ["" if c is None else _cell(c.value(r) if c.value else c.text(r)) for c in cells])
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
    if not _write(text, stream):
        raise SystemExit(0)


def note(text: str) -> None:
    """One line for people on stderr (notes, errors); a closed pipe (2>&1 | head) drops it quietly."""
    _write(text + "\n", sys.stderr)


class OutputError(Exception):
    """The output could not be written (a full disk, > /dev/full, an I/O error): one line, exit 1 (cli.run)."""


def _write(text: str, stream: TextIO) -> bool:
    try:
        stream.write(text)
        stream.flush()
        return True
    except BrokenPipeError:
        _to_devnull(stream)
        return False
    except OSError as err:
        _to_devnull(stream)
        if stream is sys.stderr:  # nowhere left to say it
            return False
        raise OutputError(f"cannot write the output: {err.strerror or err}") from None


def _to_devnull(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null, so the flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())


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
    apart, leaving out empty ones after the first; csv and tsv carry the first only, or,
    when it has a section, every table that has one (see sectioned).
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
        delimiter = "," if fmt == "csv" else "\t"
        if main.section is not None:
            write(sectioned([t for t in (main, *more) if t.section is not None], delimiter), stream)
        else:
            write(delimited(main.rows, main.columns, delimiter), stream)
        return
    wide, color = fmt == "wide", use_color(stream)
    texts = [table(main.rows, main.columns, wide, main.highlight, color)]
    texts += [table(t.rows, t.columns, wide, t.highlight, color) for t in more if t.rows]
    write("\n".join(texts), stream)


# The report pages' shared look (fonts, headings, bars, tables): capacity's page, and images' builds on it.
REPORT_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}.sub{color:#57606a;margin:0 0 16px}
.legend span{display:inline-block;margin-right:16px}.sw{display:inline-block;width:12px;height:12px;vertical-align:-2px;margin-right:4px;border-radius:2px}
.node{display:grid;grid-template-columns:240px 1fr 380px;gap:12px;align-items:center;padding:6px 0;border-bottom:1px solid #eaeef2}
.node.breach .name{color:#b42318;font-weight:600}.name{overflow:hidden;text-overflow:ellipsis}.name b{white-space:nowrap}
.res{display:grid;grid-template-columns:60px 1fr;gap:6px;align-items:center;margin:2px 0}
.bar{position:relative;height:16px;background:#f0f2f5;border-radius:3px;overflow:hidden}
.bar div{position:absolute;left:0;top:0;bottom:0}
.req{background:#4c8bf5}.lim{background:rgba(245,158,11,.45);top:10px!important}.use{background:#12a150;height:5px;top:11px!important}
.pad{border-left:2px dashed #b42318;width:0;top:-2px!important;bottom:-2px!important}
.num{font-size:12px;color:#57606a}
table{border-collapse:collapse;margin-top:8px}td,th{padding:4px 10px;border-bottom:1px solid #eaeef2;text-align:left;font-size:13px}
.ok{color:#12a150}.bad{color:#b42318;font-weight:600}.warn{color:#b54708}
.pools td{vertical-align:top}.pools td:nth-child(4){min-width:15em}.pools tr.total td{font-weight:600;border-top:2px solid #d0d7de}
"""


# Triage pages (issue 23): long lists sit collapsed in <details>; this small inline script, the
# only one any page carries, adds a filter box and sort buttons to each element marked data-list
# (its children carry data-name or data-node, and data-k-KEY values; data-keys names the keys,
# `name` sorting by the name). Nothing on the
# first screen depends on it: without JavaScript the page reads the same, in the order it was written.
LIST_TOOLS_STYLE = """
details{margin:16px 0}summary{cursor:pointer;font-weight:600}.tools{margin:8px 0}.tools input{margin-right:8px}
.tools button{margin-right:4px;font-size:12px}
"""
LIST_TOOLS_SCRIPT = """
function name(e){return e.getAttribute('data-name')||e.getAttribute('data-node')||'';}
document.querySelectorAll('[data-list]').forEach(function(list){
var anchor=list.tagName==='TBODY'?list.parentNode:list,tools=document.createElement('div'),q=document.createElement('input');
tools.className='tools';q.type='search';q.placeholder='filter by name';q.setAttribute('aria-label','filter by name');
q.oninput=function(){var t=q.value.toLowerCase();Array.prototype.forEach.call(list.children,function(e){
e.hidden=!!t&&name(e).toLowerCase().indexOf(t)<0;});};tools.appendChild(q);
(list.getAttribute('data-keys')||'').split(',').filter(Boolean).forEach(function(k){
var b=document.createElement('button');b.type='button';b.textContent='sort by '+k;b.onclick=function(){
var items=Array.prototype.slice.call(list.children);items.sort(function(a,c){
var x=k==='name'?name(a):a.getAttribute('data-k-'+k),y=k==='name'?name(c):c.getAttribute('data-k-'+k),nx=parseFloat(x),ny=parseFloat(y);
if(isNaN(nx)||isNaN(ny))return String(x).localeCompare(String(y));return ny-nx;});
items.forEach(function(e){list.appendChild(e);});};tools.appendChild(b);});
anchor.parentNode.insertBefore(tools,anchor);});
"""


def html_page(
    title: str,
    style: str,
    body: str,
    *,
    doctype: str = "<!DOCTYPE html>",
    viewport: bool = False,
    lines: bool = False,
    list_tools: bool = False,
) -> str:
    """The wrapper of every -o html page: self-contained (its style inline, nothing fetched from
    the network), `title` escaped, `body` as given. The plugins' pages differ in small ways kept
    byte for byte: the doctype's case, a viewport meta tag, and whether the head, body and
    closing tags stand on lines of their own (`lines`). list_tools: the filter and sort script
    (LIST_TOOLS_SCRIPT) for the page's data-list elements, at the end of the body."""
    from html import escape  # here, not at import: only the html output needs it (start-up time)

    nl = "\n" if lines else ""
    meta = '<meta name="viewport" content="width=device-width,initial-scale=1">' if viewport else ""
    script = f"<script>{LIST_TOOLS_SCRIPT}</script>" if list_tools else ""
    style = style + LIST_TOOLS_STYLE if list_tools else style
    return (
        f'{doctype}{nl}<html lang="en"><head><meta charset="utf-8">{meta}{nl}<title>{escape(title)}</title><style>{style}</style></head>{nl}'
        f"<body>{nl}{body}{script}{nl}</body></html>\n"
    )


def data_attrs(values: dict[str, str | float | int | None]) -> str:
    """data-k-KEY attributes for LIST_TOOLS_SCRIPT's sort buttons (None: left out, sorted as text)."""
    from html import escape

    return "".join(f' data-k-{escape(k)}="{escape(v if isinstance(v, str) else f"{v:.4g}")}"' for k, v in values.items() if v is not None)


# -- kubectl's units and ages ----------------------------------------------------------
MILLI = 10**6  # nanos in a thousandth (a millicore)
MEBI = 2**20 * NANO  # nanos in a MiB


def truncated(nanos: int, unit: int) -> str:
    """An amount in whole units, truncated toward zero (kubectl top's Value()/(1024*1024)):
    1023.96Mi is 1023Mi, never 1024Mi. A negative amount keeps its sign, even when it
    truncates to nothing (-0.4Mi is -0Mi): a slack that is overrun still reads as one."""
    whole = abs(nanos) // unit
    return f"-{whole}" if nanos < 0 else str(whole)


def rounded_up(nanos: int, unit: int) -> str:
    """An amount in whole units rounded away from zero, as apimachinery's Quantity.MilliValue()
    (ScaledValue: ceil) gives kubectl top its CPU: 30349.2m prints as `30350m`, as kubectl top
    prints it. A negative amount keeps its sign (-0.4m is -1m)."""
    whole = -(-abs(nanos) // unit)
    return f"-{whole}" if nanos < 0 else str(whole)


def milli_ceil(nanos: int) -> int:
    """Quantity.MilliValue(): whole thousandths, rounded away from zero (kubectl top's CPU)."""
    whole = -(-abs(nanos) // MILLI)
    return -whole if nanos < 0 else whole


# -- the suite's one vocabulary of units (README, "Units"): every plugin's tables print cpu and
# bytes through these two, csv/tsv carry cpu_value and exact bytes.
def cpu_text(nanos: int) -> str:
    """cpu as kubectl top prints it: whole millicores, rounded up (`551m`, `44000m`)."""
    return rounded_up(nanos, MILLI) + "m"


def mebi_text(nanos: int) -> str:
    """bytes as kubectl top prints memory: whole Mi, truncated (`1023Mi`, never `1024Mi`)."""
    return truncated(nanos, MEBI) + "Mi"


def cpu_value(nanos: int) -> int | str:
    """cpu in csv/tsv: exact millicores (an int, or an exact decimal such as `320.6`)."""
    return exact(nanos, MILLI)


def percent_text(value: int, whole: int) -> str | None:
    """value as a percentage of whole, truncated toward zero like kubectl top's int64(fraction),
    but from exact integers (a float ratio makes 29% of 44 cores 28.999...%); None when whole is 0."""
    if not whole:
        return None
    return truncated(value * 100, abs(whole)) + "%"


def exact(nanos: int, unit: int) -> int | str:
    """An amount in `unit` (a power of ten in nanos: 1 for nanos, MILLI, NANO) for csv and tsv:
    an int when whole, else an exact decimal string (320.6), never a rounded float."""
    whole, frac = divmod(abs(nanos), unit)
    if not frac:
        return -whole if nanos < 0 else whole
    places = len(str(unit)) - 1
    digits = str(frac).rjust(places, "0").rstrip("0")
    return f"{'-' if nanos < 0 else ''}{whole}.{digits}"


def human_age(seconds: float) -> str:
    """kubectl's AGE (apimachinery's duration.HumanDuration): two figures at most,
    45s, 2m30s, 12m, 3h12m, 30h, 5d3h, 400d, 2y30d, 9y."""
    secs = int(seconds)  # toward zero, as Go's int(d.Seconds())
    if secs < -1:
        return "<invalid>"  # a clock skew beyond 1s
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes, hours = secs // 60, secs // 3600
    days = hours // 24
    if minutes < 10:
        return f"{minutes}m{secs % 60}s" if secs % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def age_seconds(timestamp: str, now: datetime) -> float | None:
    """Seconds since an RFC 3339 timestamp (metadata.creationTimestamp); None when absent or unreadable."""
    try:
        from datetime import datetime  # here, not at import: start-up time

        return (now - datetime.fromisoformat(timestamp.replace("Z", "+00:00"))).total_seconds()
    except (ValueError, TypeError):
        return None
