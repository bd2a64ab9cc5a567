"""Where every command starts: `kubectl-perf` and the standalone `kubectl-perf-<sub>` console
scripts (pyproject.toml) and the krew archive's launcher.

It only picks the plugin: a bare `--help` prints the stored text (_helptext.py) and `kubectl perf
--help` the command list, without importing argparse, typing or any flag module (issue 20:
start-up, where these cost about as much again as the interpreter's own start); everything else
goes to the plugin's package, whose flags come from cli.py. tests/test_startup.py checks what
`--help` imports.

kubectl runs `kubectl-perf-<sub>` when it is on PATH and `kubectl-perf <sub>` otherwise (and krew
installs only `kubectl-perf`), so both lead to the same code.
"""

from __future__ import annotations

import importlib
import sys

from . import __version__

# subcommand -> (module, one-line summary); modules load only when chosen.
PLUGINS = {
    "capacity": ("kubectl_perf.capacity", "requests, limits and usage against allocatable and memory padding targets"),
    "cadvisor": ("kubectl_perf.cadvisor", "the kubelet's cAdvisor metrics: the dump, or CPU throttling and memory against limits"),
    "images": ("kubectl_perf.images", "image sizes, tag hygiene, distroless suggestions and a pre-pull plan (kube-fledged)"),
    "volumes": ("kubectl_perf.volumes", "df for PVCs, emptyDirs and ephemeral storage; node filesystems against eviction; unused claims"),
    "audit": ("kubectl_perf.audit", "policy and cluster checks over what already runs, as PolicyReports"),
    "rightsize": ("kubectl_perf.rightsize", "requests and limits from observed usage, that the padding policy admits"),
    "report": ("kubectl_perf.report", "one page for the cluster (or several): capacity by pool, audit, images, cAdvisor"),
}


def top_help() -> str:
    """`kubectl perf --help`."""
    lines = ["kubectl perf: performance views of a Kubernetes cluster.", "", "Commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_module, summary) in PLUGINS.items()]
    lines += ["  version    print the version", "", "Use 'kubectl perf <command> --help' for a command's flags."]
    return "\n".join(lines) + "\n"


def _stored_help(sub: str) -> str | None:
    """The plugin's --help from _helptext.py, if that module is there and current; tests keep it so."""
    try:
        from . import _helptext
    except ImportError:
        return None
    return _helptext.HELP.get(sub) if _helptext.VERSION == __version__ else None


def dispatch(sub: str, rest: list[str]) -> int:
    """Run plugin `sub` with its arguments. A bare --help prints the stored text: no flag module,
    client or policy code is imported for it (the parser prints the same text, tests/test_startup.py)."""
    if rest in (["-h"], ["--help"]):
        text = _stored_help(sub)
        if text is not None:
            sys.stdout.write(text)
            return 0
    module = importlib.import_module(PLUGINS[sub][0])
    return int(module.main(rest))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(top_help())
        return 0
    sub, rest = argv[0], argv[1:]
    if sub in ("version", "--version"):
        from .cli import version_text

        print(version_text())
        return 0
    if sub not in PLUGINS:
        from .cli import EXIT_USAGE

        print(f'error: unknown command {sub!r} for "kubectl perf" (choose from {", ".join(PLUGINS)})', file=sys.stderr)
        return EXIT_USAGE
    return dispatch(sub, rest)


# The standalone commands (kubectl-perf-<sub>): kubectl runs these when they are on PATH.
def capacity(argv: list[str] | None = None) -> int:
    return dispatch("capacity", list(sys.argv[1:] if argv is None else argv))


def cadvisor(argv: list[str] | None = None) -> int:
    return dispatch("cadvisor", list(sys.argv[1:] if argv is None else argv))


def images(argv: list[str] | None = None) -> int:
    return dispatch("images", list(sys.argv[1:] if argv is None else argv))


def audit(argv: list[str] | None = None) -> int:
    return dispatch("audit", list(sys.argv[1:] if argv is None else argv))


def volumes(argv: list[str] | None = None) -> int:
    return dispatch("volumes", list(sys.argv[1:] if argv is None else argv))


def rightsize(argv: list[str] | None = None) -> int:
    return dispatch("rightsize", list(sys.argv[1:] if argv is None else argv))


def report(argv: list[str] | None = None) -> int:
    return dispatch("report", list(sys.argv[1:] if argv is None else argv))


def plugin_help(sub: str) -> str:
    """A plugin's --help as its parser prints it (what _helptext.py stores)."""
    return importlib.import_module(PLUGINS[sub][0] + ".flags").build_parser().format_help()


def write_helptext(path: str) -> None:
    """Write _helptext.py: each plugin's --help as its parser prints it."""
    import json

    texts = {sub: plugin_help(sub) for sub in PLUGINS}
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            '"""Each plugin\'s --help, as its parser prints it: generated by\n'
            "`python -m kubectl_perf.launch --write-help plugins/kubectl_perf/_helptext.py`; tests/test_startup.py\n"
            'fails when it differs from the parsers. Do not edit by hand."""\n\n'
            f"VERSION = {json.dumps(__version__)}\n"
            "HELP = {\n"
        )
        for sub, text in texts.items():
            f.write(f"    {json.dumps(sub)}: {json.dumps(text)},\n")  # double quotes, as ruff format writes them
        f.write("}\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write-help"]:
        write_helptext(sys.argv[2])
        sys.exit(0)
    sys.exit(main())
