"""Run a plugin in this test process: the fast lane's way to test a command line.

`kubectl perf X ...` through the real kubectl costs two new processes and an import of the whole
client (about 0.5 s); calling `kubectl_perf.launch.main` here costs milliseconds and runs the same code
from the argv on. Keep one test per plugin through the real kubectl plugin lookup (and the tests that
need a fresh process: TTY and NO_COLOR, closed pipes, console scripts, no orjson); the rest use `perf`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Ran:
    """What `kubectl perf ...` left: the same three fields as subprocess.CompletedProcess."""

    returncode: int
    stdout: str
    stderr: str


class _Capture(io.StringIO):
    """A captured stream that is not a TTY, as a pipe is, so no colour is chosen."""

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:  # render._write maps a closed pipe by descriptor; a StringIO never closes
        raise io.UnsupportedOperation("fileno")


@contextlib.contextmanager
def _environ(values: dict[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _kubeconfig_default() -> Iterator[None]:
    """The kubernetes client reads $KUBECONFIG once, when it is first imported; a fresh process would
    read the one set now, so the default it falls back on follows the environment for this run."""
    from kubernetes.config import kube_config

    saved = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = os.environ.get("KUBECONFIG", "~/.kube/config")
    try:
        yield
    finally:
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = saved


def perf(kubeconfig: Path | str | None, *argv: str, stdin: str | None = None, env: dict[str, str | None] | None = None) -> Ran:
    """`kubectl perf ARGV...` with KUBECONFIG set to `kubeconfig` (None: no kubeconfig at all),
    run in-process; argparse's exits (--help, usage errors) become the return code as in a shell."""
    out, err = _Capture(), _Capture()
    home = str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "home")  # no stray ~/.kube/config
    values: dict[str, str | None] = {"KUBECONFIG": str(kubeconfig) if kubeconfig else None, "NO_COLOR": None, "HOME": home}
    values.update(env or {})
    from kubectl_perf import launch

    # The kubernetes client reads KUBECONFIG once, when first imported: point its default at this run's too.
    from kubernetes.config import kube_config

    saved_stdin, saved_default = sys.stdin, kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    try:
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = values["KUBECONFIG"] or os.path.join(values["HOME"] or home, ".kube", "config")
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        with _environ(values), _kubeconfig_default(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = launch.main(list(argv))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
                if isinstance(exit_.code, str):
                    err.write(exit_.code + "\n")
    finally:
        sys.stdin, kube_config.KUBE_CONFIG_DEFAULT_LOCATION = saved_stdin, saved_default
    return Ran(code, out.getvalue(), err.getvalue())
