"""`kubectl perf audit -f FILE|DIR|-`: manifests judged before they are applied (as `polaris audit
--audit-path` and `kyverno apply --resource` do), and `--nodes-file`, the nodes to judge padding against.

Reading (files, stdin) is here; `controllers_of` and `with_sources` are pure. Each workload object
keeps where it came from, FILE#N (the Nth YAML document of FILE, 1-based; FILE#N.M the Mth item
of a List in it), which the results carry as properties and the table shows."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..owners import Workload
from ..reports import Result
from ..shapes import CONTAINER, POD_SPEC, QUANTITY, BadObject, Fields, ListOf, conform, node_problem, problem
from .compute import Controller, pod_template_spec

Obj = Mapping[str, Any]
SUFFIXES = (".yaml", ".yml", ".json")  # what a directory is searched for, recursively
# The kinds judged, as the live audit judges them (a Pod by its own spec, the others by their pod template).
KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
STDIN = "-"
STDIN_NAME = "stdin"  # how results name what came from -f -
# What the checks read of a manifest, with its types: the rules' fields (shapes.POD_SPEC, as the webhook
# checks them) and the audit's own (images, emptyDir volumes and their mounts). A manifest the API server
# would refuse for a wrongly typed field is bad input (exit 2), not a traceback from inside a check.
_AUDITED_CONTAINER = Fields(
    {**CONTAINER.fields, "image": str, "imagePullPolicy": str, "volumeMounts": ListOf(Fields({"name": str, "readOnly": bool}))}
)
_AUDITED_SPEC = Fields(
    {
        **POD_SPEC.fields,
        "containers": ListOf(_AUDITED_CONTAINER),
        "initContainers": ListOf(_AUDITED_CONTAINER),
        "ephemeralContainers": ListOf(_AUDITED_CONTAINER),
        "volumes": ListOf(Fields({"name": str, "emptyDir": Fields({"medium": str, "sizeLimit": QUANTITY})})),
    }
)
_METADATA = Fields({"metadata": Fields({"name": str, "namespace": str, "uid": str})})


class ManifestError(Exception):
    """A manifest or nodes file that cannot be read or parsed (exit 2, as a bad flag)."""


@dataclass(frozen=True)
class Manifest:
    """One object of the input and where it is: file and document ("3", or "3.2" for a List's second item)."""

    file: str
    document: str
    obj: Obj

    @property
    def source(self) -> str:
        return f"{self.file}#{self.document}"


def _paths(given: str) -> list[Path]:
    path = Path(given)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not found:
            raise ManifestError(f"-f {given}: no {', '.join(SUFFIXES)} file in this directory or below")
        return found
    return [path]


def _load_all(text: str, name: str, what: str = "-f") -> list[Any]:
    """Every document of a YAML stream (JSON is YAML too; a JSON file is tried as JSON first, the faster parser)."""
    if name.endswith(".json"):
        try:
            return [json.loads(text)]
        except ValueError:
            pass  # JSON documents one after another, or YAML after all
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return list(yaml.load_all(text, Loader=loader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ManifestError(f"{what} {name}: neither YAML nor JSON{at}") from None


def _read(path: str | Path, what: str) -> str:
    if str(path) == STDIN:
        return sys.stdin.read()
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"cannot read {what} {path}: {getattr(err, 'strerror', None) or err}") from None


def _objects(docs: Sequence[Any], file: str) -> Iterator[Manifest]:
    for n, doc in enumerate(docs, 1):
        if not isinstance(doc, Mapping):
            continue  # an empty document (helm's comment-only ones) or a scalar: nothing to judge
        items = doc.get("items")
        if str(doc.get("kind", "")).endswith("List") and isinstance(items, list):  # kind: List, DeploymentList, ...
            yield from (Manifest(file, f"{n}.{m}", i) for m, i in enumerate(items, 1) if isinstance(i, Mapping))
        else:
            yield Manifest(file, str(n), doc)


def read(paths: Sequence[str]) -> tuple[list[Manifest], Counter[str]]:
    """The workload objects of every -f (a file, a directory searched for .yaml/.yml/.json, or - for stdin),
    in order, and how many objects of each other kind were left out."""
    judged: list[Manifest] = []
    ignored: Counter[str] = Counter()
    for given in paths:
        for path in [Path(STDIN)] if given == STDIN else _paths(given):
            name = STDIN_NAME if given == STDIN else str(path)
            for m in _objects(_load_all(_read(path, "-f"), name), name):
                kind = str(m.obj.get("kind") or "(no kind)")
                if kind in KINDS:
                    judged.append(m)
                else:
                    ignored[kind] += 1
    return judged, ignored


def ignored_note(ignored: Counter[str]) -> str:
    """ "note: 16 other object(s) not judged: ClusterRole 2, ConfigMap 1, ..." ("" when none)."""
    if not ignored:
        return ""
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(ignored.items()))
    return f"note: {sum(ignored.values())} other object(s) not judged (audit judges {', '.join(KINDS)}): {kinds}"


def read_nodes(path: str) -> list[dict[str, Any]]:
    """--nodes-file: `kubectl get nodes -o json` (or -o yaml) output: a List of Nodes, or one Node."""
    docs = [d for d in _load_all(_read(path, "--nodes-file"), path, "--nodes-file") if d is not None]
    items: list[Any] = []
    for d in docs:
        listed = d.get("items") if isinstance(d, dict) else None
        items.extend(listed if isinstance(listed, list) else [d])
    if not items or not all(isinstance(i, dict) and i.get("kind", "Node") == "Node" and "metadata" in i for i in items):
        raise ManifestError(f"--nodes-file {path}: expected `kubectl get nodes -o json` (or -o yaml) output")
    for node in items:
        wrong = node_problem(node)
        if wrong:
            name = node["metadata"].get("name") if isinstance(node["metadata"], dict) else None
            raise ManifestError(f"--nodes-file {path}: node {name or '(no name)'}: {wrong}")
    return items


# -- pure: manifests -> what compute.Audit judges, and results that say where each came from --------------
def controllers_of(manifests: Iterable[Manifest], namespace: str) -> tuple[list[Controller], dict[Workload, Manifest]]:
    """Each workload object as a controller to judge from its template (a Pod from its own spec), in
    `namespace` when it names none (kubectl apply's default); the first object of a kind, namespace and
    name is where results about it point."""
    controllers: list[Controller] = []
    where: dict[Workload, Manifest] = {}
    for m in manifests:
        kind = str(m.obj.get("kind"))
        checked(m, kind)
        meta = m.obj.get("metadata") or {}
        workload = Workload(kind, str(meta.get("namespace") or namespace), str(meta.get("name") or ""))
        spec = (m.obj.get("spec") or {}) if kind == "Pod" else pod_template_spec(kind, m.obj)
        controllers.append(Controller(workload, str(meta.get("uid") or ""), spec))
        where.setdefault(workload, m)
    return controllers, where


def checked(m: Manifest, kind: str) -> None:
    """ManifestError when the checks could not read a workload manifest (shapes.problem, with the fields the
    audit's own checks read too)."""
    meta = m.obj.get("metadata")
    try:
        conform(m.obj, _METADATA, "")
        wrong = problem(m.obj, kind, _AUDITED_SPEC)
    except BadObject as err:
        wrong = str(err).removeprefix(".")
    if wrong:
        name = meta.get("name") if isinstance(meta, Mapping) else None
        raise ManifestError(f"-f {m.source}: {kind} {name or '(no name)'}: {wrong}")


def with_sources(results: Iterable[Result], where: Mapping[Workload, Manifest]) -> list[Result]:
    """Results about manifests name their file and document (properties `file`, `document`) instead of a
    pod count, which manifests do not have."""
    out = []
    for r in results:
        ref = r.resource
        found = where.get(Workload(ref.kind, ref.namespace, ref.name)) if ref else None
        if found is None:
            out.append(r)
            continue
        props = {k: v for k, v in r.properties.items() if k != "pods"}
        out.append(replace(r, properties={**props, "file": found.file, "document": found.document}))
    return out
