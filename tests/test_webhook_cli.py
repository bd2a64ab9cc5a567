"""perf-webhook's command line in-process: what --help lists, and `perf-webhook vap` for a policy
that requires no requests (the real API server's view of its output is in test_webhook_vap_realk8s.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from perf_webhook.cli import main


def test_help_lists_the_vap_command(capsys: pytest.CaptureFixture[str]) -> None:
    # main() hands `vap` on before argparse runs, so argparse alone never listed it.
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "perf-webhook vap --policy FILE" in out  # in the usage
    commands = out.split("\ncommands:\n", 1)[1]
    assert commands.lstrip().startswith("vap ") and "ValidatingAdmissionPolicy" in commands, commands


def test_vap_help_still_answers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["vap", "--help"])
    assert exited.value.code == 0 and "usage: perf-webhook vap" in capsys.readouterr().out


def test_vap_of_a_policy_requiring_no_requests_prints_nothing_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ValidatingAdmissionPolicy with `validations: []` is refused by the API server."""
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"requireRequests": []}))
    assert main(["vap", "--policy", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("note: ") and err.count("\n") == 1 and "requireRequests: []" in err, err


# 245 = 253 less "-enforce", the longest binding suffix; names as the API server's IsDNS1123Subdomain judges them.
@pytest.mark.parametrize("name", ["UPPER_case", "", "a" * 246, "-a", "a-", "a..b", "a.-b", "a_b", "a b"])
def test_vap_refuses_a_name_the_api_server_would(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"requireRequests": ["cpu"]}))
    assert main(["vap", "--policy", str(path), f"--name={name}"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: --name ") and err.count("\n") == 1, err


@pytest.mark.parametrize("name", ["a" * 245, "a", "0", "perf.example-1.io"])
def test_vap_takes_a_valid_name_and_names_the_bindings_after_it(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"requireRequests": ["cpu"], "mode": "enforce", "namespaceOverrides": {"t": "audit"}}))
    assert main(["vap", "--policy", str(path), "--name", name]) == 0
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert names == [name, f"{name}-enforce", f"{name}-audit"]
    assert max(len(n) for n in names) <= 253


def test_vap_errors_are_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vap", "--policy", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "missing.yaml" in err, err


def test_vap_of_one_required_resource_has_one_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"requireRequests": ["memory"]}))
    assert main(["vap", "--policy", str(path)]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    (validation,) = docs[0]["spec"]["validations"]
    assert "'memory'" in validation["expression"] and "'cpu'" not in validation["expression"]
