"""Which cluster, user and namespace a command line means: kubectl's kubeconfig rules.

The `kubernetes` client's own merge takes current-context from the *last* file of
KUBECONFIG=a:b, where kubectl takes it from the first file that sets it, so the plugins
could talk to another cluster than `kubectl get nodes`. This module does the merge and
the selection as client-go's `clientcmd` does (loader.go, merged_client_builder.go,
client_config.go) and hands the kubernetes client's loader one minified config: one
context, its cluster and its user, with every file reference made absolute against the
file that defined it. The client's loader still does the authentication (exec
credential plugins, auth providers, tokens, client certificates) and proxies.

Rules (client-go's):
- files: `--kubeconfig` alone (it must exist); else each path of $KUBECONFIG in order
  (missing ones skipped, repeats read once); else ~/.kube/config if it exists;
- current-context: from the first file that sets it (non-empty);
- each named cluster, user and context: from the first file that defines that name;
- the context: --context, else current-context; its cluster and user, unless --cluster
  or --user name others; then --server, --certificate-authority, --tls-server-name,
  --insecure-skip-tls-verify, --token, --client-certificate, --client-key override;
- the namespace: -n, else the context's, else "default" (kubectl's).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

# File references client-go resolves against the defining file (ResolveLocalPaths).
_CLUSTER_FILES = ("certificate-authority",)
_USER_FILES = ("client-certificate", "client-key", "tokenFile")


class KubeconfigError(Exception):
    """A kubeconfig or flag problem, worded as kubectl words it (one line)."""


@dataclass(frozen=True)
class Overrides:
    """kubectl's generic connection flags (None: not given)."""

    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    server: str | None = None
    token: str | None = None
    certificate_authority: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    tls_server_name: str | None = None
    insecure: bool = False
    namespace: str | None = None


@dataclass
class Merged:
    """The kubeconfig files merged by kubectl's rules, before any selection."""

    files: list[str] = field(default_factory=list)  # the files read, in order
    current_context: str = ""
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Selected:
    """One context, its cluster and user, as the client's loader takes them."""

    config: dict[str, Any]  # a kubeconfig with exactly one context, cluster and user
    context: str
    namespace: str
    namespace_from_context: bool  # the context set it (not -n, not the "default" fallback)

    @property
    def server(self) -> str:
        return str(self.config["clusters"][0]["cluster"].get("server") or "")


def kubeconfig_paths(explicit: str | None, environ: dict[str, str] | os._Environ[str] | None = None) -> list[str]:
    """The files kubectl reads, in precedence order (a missing --kubeconfig is an error)."""
    env = os.environ if environ is None else environ
    if explicit:
        if not os.path.exists(explicit):
            raise KubeconfigError(f"stat {explicit}: no such file or directory")  # kubectl's own words
        return [explicit]
    listed = env.get("KUBECONFIG", "")
    if listed:
        seen: list[str] = []
        for path in listed.split(os.pathsep):
            if path and path not in seen:
                seen.append(path)
        return seen
    return [os.path.join(os.path.expanduser("~"), ".kube", "config")]


def _absolute(entry: dict[str, Any], keys: tuple[str, ...], base: str) -> dict[str, Any]:
    out = copy.deepcopy(entry)
    for key in keys:
        value = out.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            out[key] = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
    exec_ = out.get("exec")
    # client-go resolves an exec command against the file only when it is a path, not a name on PATH
    if isinstance(exec_, dict) and isinstance(exec_.get("command"), str) and os.sep in exec_["command"]:
        if not os.path.isabs(exec_["command"]):
            exec_["command"] = os.path.normpath(os.path.join(base, exec_["command"]))
    return out


# The last documents parsed, by file content: a plugin resolves the kubeconfig twice (the -n default
# while its flags are checked, then to connect), and parsing YAML is the costly part of that.
_parsed: dict[str, tuple[bytes, Any]] = {}


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise KubeconfigError(f"error loading config file {path!r}: {err.strerror or err}") from None
    cached = _parsed.get(path)
    if cached is None or cached[0] != raw:
        cached = (raw, _parse(path, raw))
        _parsed[path] = cached
    return copy.deepcopy(cached[1])  # merge() and select() change what they are handed


def _parse(path: str, raw: bytes) -> dict[str, Any] | None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when built with it: the same documents, faster
    try:
        doc = yaml.load(raw.decode("utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    except UnicodeDecodeError as err:
        raise KubeconfigError(f"error loading config file {path!r}: not UTF-8 ({err.reason})") from None
    except yaml.YAMLError as err:
        first = str(err).strip().splitlines()
        raise KubeconfigError(f"error loading config file {path!r}: {first[0] if first else 'not YAML'}") from None
    if doc is None:
        return None  # an empty file is an empty config to kubectl
    if not isinstance(doc, dict):
        raise KubeconfigError(f"error loading config file {path!r}: not a kubeconfig (expected a mapping)")
    return doc


def merge(paths: list[str]) -> Merged:
    """Read and merge the files by kubectl's rules; missing files are skipped."""
    merged = Merged()
    for path in paths:
        path = os.path.expanduser(path)
        if not os.path.exists(path):
            continue
        doc = _read(path)
        merged.files.append(path)
        if doc is None:
            continue
        base = os.path.dirname(os.path.abspath(path))
        if not merged.current_context and doc.get("current-context"):
            merged.current_context = str(doc["current-context"])
        for section, into, inner, keys in (
            ("clusters", merged.clusters, "cluster", _CLUSTER_FILES),
            ("users", merged.users, "user", _USER_FILES),
            ("contexts", merged.contexts, "context", ()),
        ):
            for item in doc.get(section) or []:
                if not isinstance(item, dict) or not item.get("name"):
                    continue
                name = str(item["name"])
                if name not in into:  # the first file to define a name wins
                    into[name] = _absolute(item.get(inner) or {}, keys, base)
    return merged


def select(merged: Merged, flags: Overrides) -> Selected:
    """The context, cluster, user and namespace the flags and the merged files name."""
    context_name = flags.context or merged.current_context
    if context_name and context_name not in merged.contexts:
        raise KubeconfigError(f'context "{context_name}" does not exist')
    context = merged.contexts.get(context_name, {}) if context_name else {}
    cluster_name = flags.cluster or str(context.get("cluster") or "")
    user_name = flags.user or str(context.get("user") or "")
    if flags.cluster and flags.cluster not in merged.clusters:
        raise KubeconfigError(f'no server found for cluster "{flags.cluster}"')
    if flags.user and flags.user not in merged.users:
        # kubectl goes on anonymously here; a request as nobody only fails later, less clearly
        raise KubeconfigError(f'user "{flags.user}" does not exist')
    cluster = copy.deepcopy(merged.clusters.get(cluster_name, {}))
    user = copy.deepcopy(merged.users.get(user_name, {}))
    cwd = os.getcwd()
    if flags.server:
        cluster["server"] = flags.server
    if flags.certificate_authority:
        cluster["certificate-authority"] = os.path.abspath(flags.certificate_authority)
        cluster.pop("certificate-authority-data", None)
    if flags.tls_server_name:
        cluster["tls-server-name"] = flags.tls_server_name
    if flags.insecure:
        # client-go drops the CA when the flag asks for no verification
        cluster["insecure-skip-tls-verify"] = True
        cluster.pop("certificate-authority", None)
        cluster.pop("certificate-authority-data", None)
    if flags.token:
        user["token"] = flags.token
        user.pop("tokenFile", None)
    if flags.client_certificate:
        user["client-certificate"] = os.path.join(cwd, flags.client_certificate)
        user.pop("client-certificate-data", None)
    if flags.client_key:
        user["client-key"] = os.path.join(cwd, flags.client_key)
        user.pop("client-key-data", None)
    if not cluster.get("server"):
        if cluster_name:
            raise KubeconfigError(f'no server found for cluster "{cluster_name}"')
        where = ", ".join(merged.files) or "no kubeconfig file found"
        raise KubeconfigError(f"no configuration has been provided ({where}): pass --kubeconfig, --context or --server")
    _readable(cluster, "certificate-authority", "certificate-authority", cluster_name)
    _readable(user, "client-certificate", "client-cert", user_name)
    _readable(user, "client-key", "client-key", user_name)
    context_ns = str(context.get("namespace") or "")
    chosen_ns = flags.namespace or context_ns
    namespace = chosen_ns or "default"
    # Names the client's loader looks up; stand-ins where the flags alone made the config.
    ctx, cl, us = context_name or "(flags)", cluster_name or "(flags)", user_name or "(flags)"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cl, "cluster": cluster}],
        "users": [{"name": us, "user": user}],
        "contexts": [{"name": ctx, "context": {"cluster": cl, "user": us, **({"namespace": chosen_ns} if chosen_ns else {})}}],
        "current-context": ctx,
    }
    return Selected(config, ctx, namespace, bool(context_ns) and not flags.namespace)


def _readable(entry: dict[str, Any], key: str, what: str, owner: str) -> None:
    """A file reference that does not exist, in kubectl's words, before the client's loader
    would say "File does not exist"."""
    path = entry.get(key)
    if isinstance(path, str) and path and not entry.get(f"{key}-data") and not os.path.isfile(path):
        raise KubeconfigError(f"unable to read {what} {path} for {owner or '(flags)'} due to open {path}: no such file or directory")


def resolve(flags: Overrides, environ: dict[str, str] | None = None) -> Selected:
    """kubectl's answer to "which cluster": files, merge, selection and overrides."""
    return select(merge(kubeconfig_paths(flags.kubeconfig, environ)), flags)
