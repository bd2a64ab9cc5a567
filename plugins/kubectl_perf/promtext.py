"""A streaming parser of the Prometheus text format (version 0.0.4), built for
kubelet cAdvisor dumps of tens of MB.

Lines go in as bytes (from an HTTP stream or a file opened in binary mode) and
samples come out one at a time, so a dump is never held whole. Two things keep
it fast: lines of metrics the caller did not ask for are dropped after a look
at their name, and a sample's labels are parsed only when first read.
Malformed lines (a truncated dump, a bad value) are counted and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator

# One label pair (the slow path, for values with escapes or odd spacing).
_PAIR = r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*(?:\\.[^"\\]*)*)"\s*(?:,|\Z)'
_PAIRS = re.compile(_PAIR, re.DOTALL)
_NAME = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*")
# As Prometheus reads them: \\, \" and \n in label values, \\ and \n in HELP; others stay.
_ESCAPE = re.compile(r'\\[\\n"]')
_HELP_ESCAPE = re.compile(r"\\[\\n]")
_ESCAPED = {"\\n": "\n", "\\\\": "\\", '\\"': '"'}
_KEYS: set[str] = set()  # label names already checked
# Label sets a parser remembers (Parser.checked): a node's containers and cgroups have a few hundred
# (a 110-pod node about 400); a histogram's buckets each have their own and gain nothing.
LABEL_SETS_KEPT = 4096


class MalformedLine(ValueError):
    """A line that is not a sample, a comment or blank."""


class Sample:
    """One sample: name, value, timestamp (milliseconds, or None) and labels on demand."""

    __slots__ = ("name", "value", "timestamp", "_raw", "_labels")

    def __init__(self, name: str, raw_labels: bytes, value: float, timestamp: int | None) -> None:
        self.name = name
        self.value = value
        self.timestamp = timestamp
        self._raw = raw_labels
        self._labels: dict[str, str] | None = None

    @property
    def labels(self) -> dict[str, str]:
        """The label set, parsed on first use; raises MalformedLine on bad syntax."""
        if self._labels is None:
            self._labels = parse_labels(self._raw)
        return self._labels

    def __repr__(self) -> str:
        return f"Sample({self.name!r}, {self.labels!r}, {self.value!r}, {self.timestamp!r})"


def parse_labels(raw: bytes) -> dict[str, str]:
    """The text between a sample's braces as a dict; raises MalformedLine on bad syntax."""
    text = raw.decode("utf-8", "replace")
    # The common case, k1="v1",k2="v2": without escapes a value holds no quote, so '",' ends it.
    if text.endswith('"'):
        body = text[:-1]
    elif text.endswith('",'):
        body = text[:-2]
    else:
        return _parse_labels_slowly(text)
    if "\\" in body:
        return _parse_labels_slowly(text)
    out = {}
    for part in body.split('",'):
        key, sep, value = part.partition('="')
        if not sep or '"' in value or key not in _KEYS:
            return _parse_labels_slowly(text)
        out[key] = value
    return out


def _parse_labels_slowly(text: str) -> dict[str, str]:
    out = {}
    pos = 0
    stripped = text.rstrip()
    for m in _PAIRS.finditer(stripped):
        if m.start() != pos:
            break
        pos = m.end()
        value = m.group(2)
        out[m.group(1)] = _unescape(value) if "\\" in value else value
    if pos != len(stripped) or (not out and stripped):
        raise MalformedLine(f"bad label set {{{text[:80]}}}")
    _KEYS.update(out)
    return out


def _unescape(text: str, pattern: re.Pattern[str] = _ESCAPE) -> str:
    return pattern.sub(lambda m: _ESCAPED[m.group(0)], text)


class Parser:
    """Parse lines into samples; keeps HELP and TYPE of the families seen.

    `names`: only samples whose metric name is in it are produced (None: all).
    `malformed` counts the lines skipped, `first_error` says what the first was.
    """

    def __init__(self, names: Collection[str] | None = None) -> None:
        self.wanted = None if names is None else frozenset(n.encode() for n in names)
        self.types: dict[str, str] = {}
        self.help: dict[str, str] = {}
        self.malformed = 0
        self.first_error = ""
        self._names: dict[bytes, str] = {}  # interned metric names

    def samples(self, lines: Iterable[bytes]) -> Iterator[Sample]:
        wanted, names = self.wanted, self._names
        for line in lines:
            if not line or line[0] == 35:  # b"#"
                if line:
                    self._comment(line)
                continue
            brace = line.find(b"{")
            try:
                if brace >= 0:
                    raw_name = line[:brace].rstrip()
                    if wanted is not None and raw_name not in wanted:
                        continue
                    close = line.rfind(b"}")
                    if close < brace:
                        raise MalformedLine("unclosed label set")
                    raw_labels = line[brace + 1 : close]
                    rest = line[close + 1 :].split()
                else:
                    rest = line.split()
                    if not rest:
                        continue  # blank
                    raw_name = rest.pop(0)
                    if wanted is not None and raw_name not in wanted:
                        continue
                    raw_labels = b""
                name = names.get(raw_name)
                if name is None:
                    if not _NAME.fullmatch(raw_name):
                        raise MalformedLine("bad metric name")
                    name = names[raw_name] = raw_name.decode()
                if len(rest) == 1:
                    yield Sample(name, raw_labels, float(rest[0]), None)
                elif len(rest) == 2:
                    yield Sample(name, raw_labels, float(rest[0]), int(rest[1]))
                else:
                    raise MalformedLine("expected a value and an optional timestamp")
            except ValueError as err:  # MalformedLine, and float()/int() of a bad token
                self._bad(line, err)

    def _comment(self, line: bytes) -> None:
        parts = line.split(None, 3)
        if len(parts) < 3 or parts[1] not in (b"HELP", b"TYPE"):
            return  # an ordinary comment
        name = parts[2].decode("utf-8", "replace")
        text = parts[3].decode("utf-8", "replace").rstrip() if len(parts) > 3 else ""
        if parts[1] == b"TYPE":
            self.types[name] = text
        else:
            self.help[name] = _unescape(text, _HELP_ESCAPE) if "\\" in text else text

    def _bad(self, line: bytes, err: Exception) -> None:
        self.malformed += 1
        if not self.first_error:
            self.first_error = f"{err}: {line[:120].decode('utf-8', 'replace')}"

    def checked(self, lines: Iterable[bytes]) -> Iterator[Sample]:
        """Samples whose labels parse; the others count as malformed lines.

        Each label set is parsed once per parser: a cAdvisor dump repeats one container's labels on
        each of its series (17 of the 18 a summary keeps), and parsing them was most of a scrape's
        parse. Samples with the same label text share one dict, which nobody changes. At most
        LABEL_SETS_KEPT are kept at once (then forgotten together), so a dump of distinct label sets
        is still never held whole."""
        known: dict[bytes, dict[str, str] | MalformedLine] = {}
        for sample in self.samples(lines):
            raw = sample._raw
            labels = known.get(raw)
            if labels is None:
                if len(known) >= LABEL_SETS_KEPT:
                    known.clear()
                try:
                    labels = parse_labels(raw)
                except MalformedLine as err:
                    labels = err
                known[raw] = labels
            if isinstance(labels, MalformedLine):  # counted on every line that carries it
                self._bad(b"%s{%s}" % (sample.name.encode(), raw), labels)
                continue
            sample._labels = labels
            yield sample
