"""Shared output rendering and the policy file, without a cluster."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from kubectl_perf.policy import Policy, missing_requests
from kubectl_perf.policy_file import PolicyError, load_policy, parse_policy
from kubectl_perf.render import Column, delimited, table, use_color
from kubectl_perf.scheduling import label_selector_matches

COLS = [
    Column("name", lambda r: r[0]),
    Column("size", lambda r: r[1], lambda r: len(r[1]), right=True),
    Column("extra", lambda r: "x", wide=True),
]


def test_table_aligns_like_kubectl() -> None:
    text = table([("a", "10"), ("long-name", "7")], COLS)
    assert text == "NAME        SIZE\na             10\nlong-name      7\n"
    assert "EXTRA" in table([("a", "1")], COLS, wide=True)


def test_delimited_uses_values_and_every_column() -> None:
    assert delimited([("a,b", "xyz")], COLS, ",") == 'NAME,SIZE,EXTRA\n"a,b",3,x\n'  # headers as the table prints them
    assert delimited([("a", "xyz")], COLS, "\t") == "NAME\tSIZE\tEXTRA\na\t3\tx\n"


def test_colour_needs_a_terminal_and_no_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty()) and not use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "")
    assert not use_color(Tty())


def test_highlight_wraps_rows_only_with_colour() -> None:
    rows = [("a", "1"), ("b", "2")]
    coloured = table(rows, COLS, highlight=lambda r: "\x1b[31m" if r[0] == "b" else "", color=True)
    assert coloured.splitlines()[2].startswith("\x1b[31mb") and coloured.splitlines()[1].startswith("a")
    assert "\x1b" not in table(rows, COLS, highlight=lambda r: "\x1b[31m", color=False)


def test_policy_defaults() -> None:
    p = parse_policy({})
    assert (p.mode, p.require_requests, p.padding_memory, p.committed, p.exempt_namespaces) == (
        "enforce",
        ("cpu", "memory"),
        0.75,
        "off",
        ("kube-system",),
    )
    assert p == Policy()  # the file's defaults and the dataclass's are one table, policy.DEFAULTS


def test_first_matching_node_target_wins() -> None:
    p = parse_policy(
        {
            "padding": {
                "memory": 0.7,
                "nodeTargets": [
                    {"selector": {"matchLabels": {"workload": "io"}}, "memory": 0.5},
                    {"selector": {"matchExpressions": [{"key": "workload", "operator": "Exists"}]}, "memory": 0.9},
                ],
            }
        }
    )
    assert p.padding_target({"workload": "io"}) == 0.5
    assert p.padding_target({"workload": "compute"}) == 0.9
    assert p.padding_target({}) == 0.7


@pytest.mark.parametrize(
    ("selector", "labels", "match"),
    [
        ({}, {"a": "1"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "1"}, False),
    ],
)
def test_label_selectors(selector: dict, labels: dict, match: bool) -> None:
    assert label_selector_matches(selector, labels) is match


def test_yaml_off_reads_as_the_word(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("padding:\n  committed: off\n")
    assert load_policy(str(f)).committed == "off"


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(str(tmp_path / "absent.yaml"))


def test_missing_requests_covers_init_and_sidecars_and_pod_level() -> None:
    spec = {
        "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "1"}}}, {"name": "side", "restartPolicy": "Always"}],
        "containers": [{"name": "app", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}],
    }
    assert missing_requests(spec, ("cpu", "memory")) == [("init", "memory"), ("side", "cpu"), ("side", "memory")]
    assert missing_requests({**spec, "resources": {"requests": {"memory": "2Gi"}}}, ("cpu", "memory")) == [("side", "cpu")]
    assert Policy().require_requests == ("cpu", "memory")
