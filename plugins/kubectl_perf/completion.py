"""`kubectl_complete-perf`: shell completion for `kubectl perf ...`, as kubectl (1.26+) asks for it.

For `kubectl perf ARGS<TAB>` kubectl runs `kubectl_complete-perf ARGS...`, the last argument being
the word under completion (empty for a new word), and reads cobra's answer: one candidate a line
(`value<TAB>description`), then `:DIRECTIVE`. Where a standalone `kubectl-perf-SUB` is on PATH,
kubectl asks `kubectl_complete-perf-SUB` instead: the same program, which reads SUB from its name. Flags come from each plugin's own argparse parser,
so completion never falls behind the flags; node and namespace names come from the cluster with a
short timeout, and nothing at all when the cluster does not answer.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from .cli import PLUGINS

NO_FILE = 4  # cobra's ShellCompDirectiveNoFileComp
NO_SPACE = 2  # ShellCompDirectiveNoSpace: the value goes on (label: -> label:team)
FILES = 0  # ShellCompDirectiveDefault: the shell completes file names
API_TIMEOUT = 2.0  # seconds: a prompt must not hang on a slow cluster
FILE_FLAGS = {"kubeconfig", "policy", "file", "filename", "pods_file", "nodes_file", "history_file", "prometheus_token_file"}
RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods", "nvidia.com/gpu")


def plugin_flags(sub: str) -> ModuleType:
    """A plugin's flags module (docs/architecture.md): its build_parser(), and SORT_KEYS where --sort is free-form."""
    return importlib.import_module(PLUGINS[sub][0] + ".flags")


def complete(args: list[str]) -> tuple[list[tuple[str, str]], int]:
    """Candidates (value, description) and the directive for the words typed so far."""
    args = args or [""]
    current = args[-1]
    if len(args) == 1:
        commands = [(name, summary) for name, (_module, summary) in PLUGINS.items()]
        return _prefixed([*commands, ("version", "print the version")], current), NO_FILE
    sub = args[0]
    if sub not in PLUGINS:
        return [], NO_FILE
    parser = plugin_flags(sub).build_parser()
    options = {s: a for a in parser._actions for s in a.option_strings}
    if current.startswith("--") and "=" in current:
        flag, _, value = current.partition("=")
        action = options.get(flag)
        if action is None:
            return [], NO_FILE
        found, directive = _values(sub, action, args)
        return [(f"{flag}={v}", d) for v, d in _prefixed(found, value)], directive
    if current.startswith("-"):
        flags = [(s, a.help or "") for a in parser._actions for s in a.option_strings if s.startswith("--") or current == "-"]
        return _prefixed(flags, current), NO_FILE
    previous = options.get(args[-2]) if len(args) >= 2 else None
    if previous is not None and previous.nargs != 0:
        found, directive = _values(sub, previous, args)
        return _prefixed(found, current), directive
    positional = [a for a in parser._actions if not a.option_strings and a.dest in ("node", "nodes")]
    if positional:
        return _prefixed(_names(args, "/api/v1/nodes"), current), NO_FILE
    return [], NO_FILE


def _values(sub: str, action: argparse.Action, args: list[str]) -> tuple[list[tuple[str, str]], int]:
    if action.dest in FILE_FLAGS:
        return [], FILES
    if action.choices:
        return [(str(c), "") for c in action.choices], NO_FILE
    if action.dest == "namespace":
        return _names(args, "/api/v1/namespaces"), NO_FILE
    if action.dest in ("node", "nodes"):
        return _names(args, "/api/v1/nodes"), NO_FILE
    if action.dest == "context":
        return _contexts(args), NO_FILE
    if action.dest == "resources":
        return [(r, "") for r in RESOURCES], NO_FILE
    if action.dest == "sort":
        return [(k, "") for k in getattr(plugin_flags(sub), "SORT_KEYS", ())], NO_FILE
    if action.dest == "by" and sub == "capacity":
        return _group_by(args)
    if action.dest == "disable":  # audit's check registry: IDs, described by category and severity
        return [(c.id, f"{c.category}, {c.severity}") for c in getattr(plugin_flags(sub), "CHECKS", ())], NO_FILE
    return [], NO_FILE


def _group_by(args: list[str]) -> tuple[list[tuple[str, str]], int]:
    """capacity --by: namespace, label:KEY, or node-label:KEY with the keys the nodes carry."""
    value = args[-1].partition("=")[2] if args[-1].startswith("--by=") else args[-1]
    if value.startswith("node-label:"):
        keys = sorted({k for n in _items(args, "/api/v1/nodes") for k in (n.get("metadata") or {}).get("labels") or {}})
        return [(f"node-label:{k}", "") for k in keys], NO_FILE
    prefixes = [
        ("namespace", "pods by namespace"),
        ("label:", "pods by a pod label"),
        ("node-label:", "nodes by a node label (zone, pool)"),
    ]
    return prefixes, NO_FILE | NO_SPACE


def _flag(args: list[str], name: str) -> str | None:
    """The value given to --name so far (--name V or --name=V), to reach the cluster the user names."""
    for i, arg in enumerate(args[:-1]):
        if arg == name and i + 1 < len(args) - 1:
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.partition("=")[2]
    return None


def _items(args: list[str], path: str) -> list[dict[str, Any]]:
    """The first 1,000 objects of a list from the cluster the flags name; none when it does not answer."""
    from .api import ApiError, Cluster, Connection

    try:
        cluster = Cluster(Connection(_flag(args, "--kubeconfig"), _flag(args, "--context"), API_TIMEOUT))
        return cluster.get(path, {"limit": 1000}).get("items") or []
    except (ApiError, OSError, ValueError):
        return []


def _names(args: list[str], path: str) -> list[tuple[str, str]]:
    return [(i["metadata"]["name"], "") for i in _items(args, path)]


def _contexts(args: list[str]) -> list[tuple[str, str]]:
    try:
        from kubernetes import config

        contexts, _active = config.list_kube_config_contexts(_flag(args, "--kubeconfig"))
    except Exception:  # noqa: BLE001 - no kubeconfig, or one the client cannot read: nothing to offer
        return []
    return [(c["name"], c.get("context", {}).get("cluster", "")) for c in contexts]


def _prefixed(candidates: Iterable[tuple[str, str]], prefix: str) -> list[tuple[str, str]]:
    return [(v, d) for v, d in candidates if v.startswith(prefix)]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # With a standalone kubectl-perf-SUB on PATH kubectl asks kubectl_complete-perf-SUB instead.
    sub = os.path.basename(sys.argv[0]).removeprefix("kubectl_complete-perf").removeprefix("-")
    if sub in PLUGINS:
        args.insert(0, sub)
    candidates, directive = complete(args)
    out = [f"{v}\t{d.splitlines()[0]}" if d else v for v, d in candidates]
    sys.stdout.write("\n".join([*out, f":{directive}"]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
