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
import shutil
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from .launch import PLUGINS

NO_FILE = 4  # cobra's ShellCompDirectiveNoFileComp
NO_SPACE = 2  # ShellCompDirectiveNoSpace: the value goes on (label: -> label:team)
FILES = 0  # ShellCompDirectiveDefault: the shell completes file names
API_TIMEOUT = 2.0  # seconds: a prompt must not hang on a slow cluster
FILE_FLAGS = {
    "kubeconfig",
    "policy",
    "file",
    "filename",
    "pods_file",
    "nodes_file",
    "history_file",
    "prometheus_token_file",
    "fit_pod",
    "out",
}
RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods", "nvidia.com/gpu")
# Flags whose value is a comma-separated list: each item after a comma is completed too.
LISTS = {"resources", "disable", "label_columns", "node_selector", "selector", "namespace_labels", "fit"}
CONTEXT_LISTS = {"capacity", "report"}  # the plugins whose --context takes several (contexts.add_context_lists)
# Label selectors, and the objects whose labels they select (the keys and values offered).
SELECTORS = {"node_selector": "/api/v1/nodes", "namespace_labels": "/api/v1/namespaces", "selector": "pods"}


def plugin_flags(sub: str) -> ModuleType:
    """A plugin's flags module (docs/architecture.md): its build_parser(), and SORT_KEYS where --sort is free-form."""
    return importlib.import_module(PLUGINS[sub][0] + ".flags")


def complete(args: list[str]) -> tuple[list[tuple[str, str]], int]:
    """Candidates (value, description) and the directive for the words typed so far."""
    args = args or [""]
    current = args[-1]
    if len(args) == 1:
        # kubectl lists itself every standalone kubectl-perf-SUB it finds on PATH (with its own words);
        # naming those again here would show each twice (issue 20). Only the ones it cannot find.
        commands = [(name, summary) for name, (_module, summary) in PLUGINS.items() if not shutil.which(f"kubectl-perf-{name}")]
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
        found, directive = _values(sub, action, args, value)
        return [(f"{flag}={v}", d) for v, d in _prefixed(found, value)], directive
    if current.startswith("-"):
        flags = [(s, a.help or "") for a in parser._actions for s in a.option_strings if s.startswith("--") or current == "-"]
        return _prefixed(flags, current), NO_FILE
    previous = options.get(args[-2]) if len(args) >= 2 else None
    if previous is not None and previous.nargs != 0:
        found, directive = _values(sub, previous, args, current)
        return _prefixed(found, current), directive
    positional = [a for a in parser._actions if not a.option_strings and a.dest in ("node", "nodes")]
    if positional:
        return _prefixed(_names(args, "/api/v1/nodes"), current), NO_FILE
    return [], NO_FILE


def _values(sub: str, action: argparse.Action, args: list[str], value: str) -> tuple[list[tuple[str, str]], int]:
    """Candidates for the whole value typed so far (`value`): a list flag's items after the last comma
    come back with what precedes them (`cpu,` -> `cpu,memory`), since the shell matches the whole word."""
    if action.dest not in LISTS and not (action.dest == "context" and sub in CONTEXT_LISTS):
        return _items_for(sub, action, args, value)
    head, comma, last = _split_list(value)
    found, directive = _items_for(sub, action, args, last)
    taken = set(head.split(",")) if comma else set()
    if action.dest == "fit":  # a resource already given a quantity is not offered again
        taken |= {t.partition("=")[0] + "=" for t in taken}
    return [(head + comma + v, d) for v, d in found if v not in taken], directive | NO_SPACE


def _split_list(value: str) -> tuple[str, str, str]:
    """(what precedes the item being typed, the comma or "", the item): on the last comma outside
    parentheses, so a selector's `env in (a,b)` stays one item."""
    depth, cut = 0, -1
    for i, ch in enumerate(value):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            cut = i
    return (value[:cut], ",", value[cut + 1 :]) if cut >= 0 else ("", "", value)


def _items_for(sub: str, action: argparse.Action, args: list[str], value: str) -> tuple[list[tuple[str, str]], int]:
    """Candidates for one value (one item of a list flag)."""
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
    if action.dest == "storage_class":  # volumes --storage-class
        return _names(args, "/apis/storage.k8s.io/v1/storageclasses"), NO_FILE
    if action.dest == "imagecache":  # images --imagecache: kube-fledged ImageCaches, described by namespace
        caches = _items(args, "/apis/kubefledged.io/v1alpha2/imagecaches")
        return [(c["metadata"]["name"], c["metadata"].get("namespace", "")) for c in caches], NO_FILE
    if action.dest == "resources":
        return [(r, "") for r in RESOURCES], NO_FILE
    if action.dest == "sort":
        return [(k, "") for k in getattr(plugin_flags(sub), "SORT_KEYS", ())], NO_FILE
    if action.dest == "by" and sub == "capacity":
        return _group_by(args, value)
    if action.dest == "fit":  # capacity --fit: RESOURCE= then the quantity, typed
        return [(f"{r}=", "") for r in RESOURCES if r != "pods"], NO_FILE | NO_SPACE
    if action.dest == "fit_workload":
        return _workloads(sub, args, value)
    if action.dest in SELECTORS:
        return _selector_term(args, SELECTORS[action.dest], value), NO_FILE | NO_SPACE
    if action.dest == "label_columns":  # -L: node label keys
        return [(k, "") for k in _label_keys(_items(args, "/api/v1/nodes"))], NO_FILE
    if action.dest == "output":  # cadvisor's -o: its formats depend on the mode (dump or --summary)
        flags = plugin_flags(sub)
        formats = getattr(flags, "SUMMARY_OUTPUTS" if "--summary" in args else "DUMP_OUTPUTS", ())
        return [(f, "") for f in formats], NO_FILE
    if action.dest == "disable":  # audit's check registry: IDs, described by category and severity
        return [(c.id, f"{c.category}, {c.severity}") for c in getattr(plugin_flags(sub), "CHECKS", ())], NO_FILE
    return [], NO_FILE


def _workloads(sub: str, args: list[str], value: str) -> tuple[list[tuple[str, str]], int]:
    """capacity --fit-workload: KIND/ (the flags module's WORKLOAD_KINDS spellings), then after the
    slash the names of that kind in -n's namespace (the context's namespace is not resolved here: default)."""
    flags = plugin_flags(sub)
    kinds: dict[str, tuple[str, str, str]] = getattr(flags, "WORKLOAD_KINDS", {})
    kind, slash, _name = value.partition("/")
    if not slash:  # deploy/, sts/, ... described by their kind
        return [(f"{k}/", v) for k, v in getattr(flags, "WORKLOAD_SHORT", {}).items()], NO_FILE | NO_SPACE
    known = kinds.get(kind.lower())
    if known is None:
        return [], NO_FILE
    namespace = _flag(args, "-n") or _flag(args, "--namespace") or "default"
    return [(f"{kind}/{n}", "") for n, _d in _names(args, f"{known[1]}/namespaces/{namespace}/{known[2]}")], NO_FILE


def _group_by(args: list[str], value: str) -> tuple[list[tuple[str, str]], int]:
    """capacity --by: namespace, label:KEY with the keys the pods carry, or node-label:KEY with the nodes'."""
    if value.startswith("node-label:"):
        return [(f"node-label:{k}", "") for k in _label_keys(_items(args, "/api/v1/nodes"))], NO_FILE
    if value.startswith("label:"):
        return [(f"label:{k}", "") for k in _label_keys(_items(args, _pods_path(args)))], NO_FILE
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


def _pods_path(args: list[str]) -> str:
    """The pods the command would read: those of -n when given (a namespaced user may list no others)."""
    namespace = _flag(args, "-n") or _flag(args, "--namespace")
    return f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _label_keys(objects: list[dict[str, Any]]) -> list[str]:
    return sorted({k for o in objects for k in _labels(o)})


def _selector_term(args: list[str], path: str, term: str) -> list[tuple[str, str]]:
    """One term of a label selector: `key=` for each label key of the objects, then, after
    `key=` (or `key!=`), `key=value` for each value they carry."""
    objects = _items(args, _pods_path(args) if path == "pods" else path)
    key, op, _typed = term.partition("!=") if "!=" in term else term.partition("=")
    if op:
        values = sorted({_labels(o)[key] for o in objects if key in _labels(o)})
        return [(f"{key}{op}{v}", "") for v in values]
    return [(f"{k}=", "") for k in _label_keys(objects)]


def _names(args: list[str], path: str) -> list[tuple[str, str]]:
    return [(i["metadata"]["name"], "") for i in _items(args, path)]


def _contexts(args: list[str]) -> list[tuple[str, str]]:
    """The contexts of the kubeconfig files kubectl would read (its merge rules, not the client's)."""
    from .kubeconfig import KubeconfigError, kubeconfig_paths, merge

    try:
        merged = merge(kubeconfig_paths(_flag(args, "--kubeconfig")))
    except (KubeconfigError, OSError):  # no kubeconfig, or one that cannot be read: nothing to offer
        return []
    return [(name, str(c.get("cluster") or "")) for name, c in merged.contexts.items()]


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
