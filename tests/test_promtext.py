"""The streaming Prometheus text parser, checked sample for sample against
prometheus_client's own parser (an independent oracle) on cAdvisor's golden
files and on a busy simulated node's dump, and by hand on the format's corners."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED, Sim, kubectl
from kubectl_perf.promtext import MalformedLine, Parser, parse_labels
from prometheus_client.parser import text_string_to_metric_families

GOLDEN = sorted(SHARED.glob("cadvisor-golden-*.txt"))


def oracle(text: str) -> tuple[list[tuple[Any, ...]], dict[str, str], dict[str, str]]:
    """Samples, TYPEs and HELPs as prometheus_client reads them.

    prometheus_client renames the samples of a counter whose name lacks `_total`
    (OpenMetrics style); that is its model, not the text, so it is undone here."""
    samples: list[tuple[Any, ...]] = []
    types: dict[str, str] = {}
    helps: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            types[name] = kind
    for family in text_string_to_metric_families(text):
        munged = family.type == "counter" and family.name in types
        for s in family.samples:
            name = family.name if munged and s.name == family.name + "_total" else s.name
            samples.append((name, s.labels, s.value, s.timestamp))
        if family.documentation:
            helps[family.name] = family.documentation
    return samples, types, helps


def ours(data: bytes, names: set[str] | None = None) -> tuple[list[tuple[Any, ...]], Parser]:
    parser = Parser(names)
    out = [(s.name, s.labels, s.value, None if s.timestamp is None else s.timestamp / 1000) for s in parser.samples(io.BytesIO(data))]
    return out, parser


def same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """Sample lists equal, NaN equal to NaN."""

    def key(s: tuple[Any, ...]) -> tuple[Any, ...]:
        return (s[0], s[1], "NaN" if isinstance(s[2], float) and math.isnan(s[2]) else float(s[2]), s[3])

    return len(a) == len(b) and all(key(x) == key(y) for x, y in zip(a, b, strict=True))


@pytest.mark.skipif(not GOLDEN, reason="../shared/reference golden files are not beside this checkout")
@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_agrees_with_prometheus_client_on_cadvisor_golden_files(path: Path) -> None:
    data = path.read_bytes()
    expected, types, _helps = oracle(data.decode())
    got, parser = ours(data)
    assert len(expected) > 50 and same(got, expected)
    assert parser.malformed == 0
    assert parser.types == types


def test_agrees_with_prometheus_client_on_a_busy_node(sim_factory: Any) -> None:
    """A 110-pod node from perf-sim: several MB, every cAdvisor family the kubelet serves."""
    sim: Sim = sim_factory("--nodes", "1", "--pods-per-node", "110", "--seed", "5")
    node = sim.get("/api/v1/nodes")["items"][0]["metadata"]["name"]
    text = kubectl(sim, "get", "--raw", f"/api/v1/nodes/{node}/proxy/metrics/cadvisor").stdout
    assert len(text) > 3_000_000
    expected, types, helps = oracle(text)
    got, parser = ours(text.encode())
    assert len(got) > 10_000 and same(got, expected)
    assert parser.types == types and parser.malformed == 0
    assert helps["container_cpu_usage_seconds"] == parser.help["container_cpu_usage_seconds_total"]


CORNERS = r"""# HELP odd_metric A \\ backslash and a \n newline, and \"quotes\" kept.
# TYPE odd_metric gauge
odd_metric{path="C:\\dir",msg="say \"hi\"\nbye",empty=""} 1.5 1700000000123
odd_metric{path="plain", msg = "spaced" , empty="x",} -2 1700000000456
odd_metric NaN
odd_metric{path="inf"} +Inf
odd_metric{path="neg"} -Inf 1
# a free comment, ignored
untyped_thing 3e-05

spec_metric{a="1"} 1.048576e+06
"""


def test_format_corners_by_hand_and_by_the_oracle() -> None:
    got, parser = ours(CORNERS.encode())
    assert parser.malformed == 0
    assert got[0] == ("odd_metric", {"path": "C:\\dir", "msg": 'say "hi"\nbye', "empty": ""}, 1.5, 1700000000.123)
    assert got[1] == ("odd_metric", {"path": "plain", "msg": "spaced", "empty": "x"}, -2.0, 1700000000.456)
    assert got[2][0:2] == ("odd_metric", {}) and math.isnan(got[2][2]) and got[2][3] is None
    assert got[3][2] == math.inf and got[4][2] == -math.inf and got[4][3] == 0.001
    assert got[5] == ("untyped_thing", {}, 3e-05, None)
    assert got[6] == ("spec_metric", {"a": "1"}, 1048576.0, None)
    assert parser.types == {"odd_metric": "gauge"}
    assert parser.help["odd_metric"] == 'A \\ backslash and a \n newline, and \\"quotes\\" kept.'
    expected, _types, helps = oracle(CORNERS)
    assert same(got, expected) and helps["odd_metric"] == parser.help["odd_metric"]


def test_timestamps_stay_integer_milliseconds() -> None:
    got = list(Parser().samples([b'm{a="b"} 7 1395066363000']))
    assert got[0].timestamp == 1395066363000 and isinstance(got[0].timestamp, int)


def test_malformed_and_truncated_lines_are_counted_and_skipped() -> None:
    lines = [
        b'good{a="1"} 1',
        b"no_value",
        b'bad_value{a="1"} twelve',
        b'unclosed{a="1" 5',
        b"too many fields 1 2 3",
        b'1bad_name{a="1"} 1',
        b'good{a="2"} 2',
        b'truncated{container="app",na',  # a dump cut off mid-line
    ]
    parser = Parser()
    got = [(s.name, s.labels["a"], s.value) for s in parser.samples(lines)]
    assert got == [("good", "1", 1.0), ("good", "2", 2.0)]
    assert parser.malformed == 6 and "no_value" in parser.first_error


def test_labels_are_parsed_only_when_read() -> None:
    lines = [b'wanted{a="1",b="2"} 1', b'wanted{a="1" b="2"} 2', b"other{broken 3"]
    parser = Parser({"wanted"})
    samples = list(parser.samples(lines))
    # `other` was never looked at past its name, so its broken labels count for nothing
    assert [s.value for s in samples] == [1.0, 2.0] and parser.malformed == 0
    assert samples[0].labels == {"a": "1", "b": "2"}
    with pytest.raises(MalformedLine):
        samples[1].labels  # noqa: B018
    checked = Parser({"wanted"})
    assert [s.value for s in checked.checked(lines)] == [1.0] and checked.malformed == 1


def test_checked_parses_each_label_set_once_and_counts_each_bad_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubectl_perf import promtext

    parsed: list[bytes] = []

    def counting(raw: bytes) -> dict[str, str]:
        parsed.append(raw)
        return parse_labels(raw)

    monkeypatch.setattr(promtext, "parse_labels", counting)
    lines = [
        b'cpu{container="app",pod="p"} 1 1000',
        b'mem{container="app",pod="p"} 2 1000',
        b'cpu{container="app",pod="q"} 3 1000',
        b'mem{container="app" pod="q"} 4 1000',
        b'cpu{container="app" pod="q"} 5 1000',
        b'mem{container="app",pod="q"} 6 1000',
    ]
    parser = Parser()
    got = [(s.name, s.labels, s.value) for s in parser.checked(lines)]
    p, q = {"container": "app", "pod": "p"}, {"container": "app", "pod": "q"}
    assert got == [("cpu", p, 1.0), ("mem", p, 2.0), ("cpu", q, 3.0), ("mem", q, 6.0)]
    assert len(parsed) == 3  # three distinct label texts, one of them bad
    assert parser.malformed == 2 and "mem{" in parser.first_error  # the bad set counts on each of its lines


def test_checked_forgets_label_sets_past_its_bound_and_reads_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dump of many distinct label sets (histogram buckets, thousands of cgroups) is not held whole:
    the remembered sets are forgotten at the bound, and what is read does not change."""
    from kubectl_perf import promtext

    parsed: list[bytes] = []

    def counting(raw: bytes) -> dict[str, str]:
        parsed.append(raw)
        return parse_labels(raw)

    monkeypatch.setattr(promtext, "parse_labels", counting)
    lines = [b'm{le="%d",pod="p%d"} %d' % (i % 7, i % 5, i) for i in range(60)] + [b'm{le="1" pod="x"} 9'] * 3
    unbounded = Parser()
    want = [(s.labels, s.value) for s in unbounded.checked(lines)]
    assert len(parsed) == 35 + 1  # every distinct set once: 35 good, 1 bad
    parsed.clear()
    monkeypatch.setattr(promtext, "LABEL_SETS_KEPT", 3)
    bounded = Parser()
    assert [(s.labels, s.value) for s in bounded.checked(lines)] == want and len(want) == 60
    assert len(parsed) > 36  # forgotten at the bound, parsed again when met again
    assert bounded.malformed == unbounded.malformed == 3


@pytest.mark.skipif(not GOLDEN, reason="../shared/reference golden files are not beside this checkout")
def test_checked_agrees_with_the_oracle_on_a_golden_file() -> None:
    data = GOLDEN[0].read_bytes()
    want, _types, _helps = oracle(data.decode())
    parser = Parser()
    got = [(s.name, s.labels, s.value, None if s.timestamp is None else s.timestamp / 1000) for s in parser.checked(io.BytesIO(data))]
    assert same(got, want) and parser.malformed == 0


def test_name_filter_drops_other_metrics() -> None:
    text = b'# TYPE a counter\na_total 1\nb 2\nc{x="y"} 3\na_total{k="v"} 4\n'
    got = [(s.name, s.value) for s in Parser({"a_total", "c"}).samples(text.splitlines())]
    assert got == [("a_total", 1.0), ("c", 3.0), ("a_total", 4.0)]


@pytest.mark.parametrize(
    "raw",
    [b'a="1" b="2"', b"a=1", b'="x"', b'a="unterminated', b'a="1",,b="2"', b'a="x"y="z"'],
)
def test_bad_label_sets_raise(raw: bytes) -> None:
    with pytest.raises(MalformedLine):
        parse_labels(raw)


def test_good_label_sets() -> None:
    assert parse_labels(b"") == {}
    assert parse_labels(b'a="",b="x,y",c="}{"') == {"a": "", "b": "x,y", "c": "}{"}
    assert parse_labels(b'a="1",') == {"a": "1"}
    assert parse_labels('name="caf\u00e9"'.encode()) == {"name": "caf\u00e9"}
