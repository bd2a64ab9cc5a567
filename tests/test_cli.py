"""The plugin skeleton: flag converters, error -> exit status, and render.emit."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from inproc import perf
from kubectl_perf import cli, render
from kubectl_perf.api import ApiError
from kubectl_perf.capacity import main as capacity_main
from kubectl_perf.policy import Policy
from kubectl_perf.policy_file import PolicyError
from kubectl_perf.quantity import QuantityError
from kubectl_perf.rightsize.flags import duration as rightsize_duration


@pytest.mark.parametrize(("text", "seconds"), [("0", None), ("30", 30.0), ("5s", 5.0), ("2m", 120.0), ("1h5m", 3900.0), ("1.5s", 1.5)])
def test_request_timeout(text: str, seconds: float | None) -> None:
    assert cli.request_timeout(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5x", "-1s"])
def test_bad_request_timeout(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        cli.request_timeout(text)


def test_a_bad_flag_fails_before_the_policy_file_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    # The policy file does not exist: had it been read first, its error would show instead.
    with pytest.raises(SystemExit) as exit_:
        capacity_main(["--policy", "/nonexistent/policy.yaml", "--request-timeout", "soon", "--kubeconfig", "/nonexistent/kc"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --request-timeout: invalid duration 'soon'") and "policy" not in err.split("\n")[0]


def raising(err: BaseException) -> int:
    raise err


@pytest.mark.parametrize(
    ("err", "status", "line"),
    [
        (ApiError("cannot reach the API server"), 1, "error: cannot reach the API server"),
        (QuantityError("1Q", "unknown suffix 'Q'"), 1, "error: unexpected data from the cluster: "),
        (PolicyError("policy.yaml: mode: bad"), 2, "error: policy.yaml: mode: bad"),
    ],
)
def test_run_maps_the_suites_own_errors(capsys: pytest.CaptureFixture[str], err: Exception, status: int, line: str) -> None:
    assert cli.run(lambda: raising(err)) == status
    assert capsys.readouterr().err.startswith(line)


@pytest.mark.parametrize("bug", [ValueError("oops"), TypeError("oops"), KeyError("oops")])
def test_run_leaves_bugs_as_bugs(bug: Exception) -> None:
    # a ValueError from a bug is not a bad flag (exit 2): it keeps its traceback
    with pytest.raises(type(bug)):
        cli.run(lambda: raising(bug))


def test_one_list_of_formats() -> None:
    p = cli.Parser(prog="t")
    cli.add_output_flag(p)
    assert p.parse_args([]).output == "table"
    assert p.parse_args(["-o", "html"]).output == "html"
    only = cli.Parser(prog="t")
    cli.add_output_flag(only, ("table", "json"))
    with pytest.raises(SystemExit):
        only.parse_args(["-o", "html"])


def test_filter_checks() -> None:
    p = cli.Parser(prog="t")
    cli.add_filter_flags(p)
    args = p.parse_args(["-n", "shop", "-A"])
    with pytest.raises(SystemExit):
        cli.check_filters(p, args)
    with pytest.raises(SystemExit):
        p.parse_args(["--chunk-size", "0"])
    assert p.parse_args(["--chunk-size", "7"]).chunk_size == 7


COLS = [
    render.Column("name", lambda r: r["name"], lambda r: r["name"]),
    render.Column("n", lambda r: f"{r['n']}x", lambda r: r["n"], right=True),
]
ROWS = [{"name": "a", "n": 1}, {"name": "bb", "n": 22}]


def emitted(fmt: str, more: list[render.Table] | None = None) -> str:
    out = io.StringIO()
    render.emit(fmt, lambda: {"rows": ROWS}, lambda: [render.Table(ROWS, COLS), *(more or [])], lambda: "<html>", out)
    return out.getvalue()


def test_emit_dispatches_every_format() -> None:
    assert emitted("table") == "NAME     N\na       1x\nbb     22x\n"
    assert json.loads(emitted("json")) == {"rows": ROWS}
    assert emitted("yaml").startswith("rows:\n- name: a\n")
    assert emitted("csv") == "NAME,N\na,1\nbb,22\n"  # the table's headers, upper case (issue 20: one csv convention)
    assert emitted("tsv") == "NAME\tN\na\t1\nbb\t22\n"
    assert emitted("html") == "<html>"


def test_emit_prints_later_tables_for_people_only() -> None:
    pending = render.Table([{"name": "p", "n": 3}], COLS)
    empty = render.Table([], COLS)
    assert emitted("table", [empty, pending]) == "NAME     N\na       1x\nbb     22x\n\nNAME    N\np      3x\n"
    assert emitted("csv", [pending]) == "NAME,N\na,1\nbb,22\n"


# -- one converter per unit ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "value"), [("0", 0), ("1000", 1000), ("1,000", 1000), ("1_000", 1000)])
def test_count(text: str, value: int) -> None:
    assert cli.count(text) == value


@pytest.mark.parametrize(("text", "message"), [("-1", "'-1' must not be negative"), ("lots", "invalid number 'lots'")])
def test_bad_count(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        cli.count(text)


@pytest.mark.parametrize(("text", "value"), [("5", 5.0), ("2.5s", 2.5)])
def test_seconds(text: str, value: float) -> None:
    assert cli.seconds(text) == value


@pytest.mark.parametrize(("text", "message"), [("0", "must be above 0"), ("nan", "must be above 0"), ("soon", "invalid number of seconds")])
def test_bad_seconds(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        cli.seconds(text)


# Every flag that makes a plugin wait (between scrapes or samples, for a registry) or spans a time took inf
# and 1e12: time.sleep or int() raised OverflowError, a traceback after the flags were accepted.
WAITS = [
    ("cadvisor", "--summary", "--all-nodes", "--interval"),
    ("report", "--sections", "cadvisor", "--cadvisor-interval"),
    ("capacity", "--util", "--usage-source", "kubelet", "--usage-window"),
    ("audit", "--usage-source", "kubelet", "--usage-window"),
    ("images", "--inspect", "--registry-timeout"),
    ("rightsize", "--duration"),
    ("rightsize", "--interval"),
    ("rightsize", "--prometheus", "http://127.0.0.1:1", "--step"),
]


@pytest.mark.parametrize("value", ["inf", "1e12", "86401"])
@pytest.mark.parametrize("argv", WAITS, ids=lambda a: f"{a[0]} {a[-1]}")
def test_a_wait_past_its_bound_is_a_flag_error(argv: tuple[str, ...], value: str) -> None:
    if argv[-1] in ("--duration", "--step") and value == "86401":
        value = "367d"  # rightsize's spans (sampling, Prometheus history) go to a year and a day
    result = perf(None, *argv, value)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: argument {argv[-1]}: ") and "at most" in result.stderr
    assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr


def test_the_longest_waits_are_taken() -> None:
    assert cli.seconds("86400") == 86400.0 and cli.usage_window("86400s") == 86400.0
    assert rightsize_duration("366d") == 366 * 86400.0


def test_fraction_names_its_value_and_says_whether_0_is_allowed() -> None:
    threshold = cli.fraction("threshold", 0.25, zero=True)
    assert (threshold("25%"), threshold("0"), cli.padding_target("0.5"), cli.padding_target("100%")) == (0.25, 0.0, 0.5, 1.0)
    with pytest.raises(argparse.ArgumentTypeError, match=r"^threshold '150%' must be between 0 and 1 \(100%\)$"):
        threshold("150%")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^invalid threshold 'x': use a fraction like 0.25 or a percentage like 25%$"):
        threshold("x")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^padding target '0' must be above 0 and at most 1 \(100%\)$"):
        cli.padding_target("0")
    with pytest.raises(
        argparse.ArgumentTypeError, match=r"^invalid padding target 'x': use a fraction like 0.75 or a percentage like 75%$"
    ):
        cli.padding_target("x")


def test_policy_flags_once(tmp_path: Path) -> None:
    p = cli.Parser(prog="test")
    cli.add_policy_flags(p)
    assert cli.policy_from(p.parse_args([])) == Policy()
    policy = tmp_path / "policy.yaml"
    policy.write_text("padding:\n  memory: 0.6\nmode: warn\n")
    from_file = cli.policy_from(p.parse_args(["--policy", str(policy)]))
    assert (from_file.padding_memory, from_file.mode) == (0.6, "warn")
    flag_wins = cli.policy_from(p.parse_args(["--policy", str(policy), "--padding-target", "80%"]))
    assert (flag_wins.padding_memory, flag_wins.mode) == (0.8, "warn")
    no_padding = cli.Parser(prog="test")
    cli.add_policy_flags(no_padding, padding=False)
    assert "--padding-target" not in no_padding.format_help() and cli.policy_from(no_padding.parse_args([])) == Policy()
