"""What the API server does to an object on the way in: names, uids and timestamps on
create, merge and JSON patches, server-side apply with field managers, and schema
validation of custom resources."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import jsonschema

from . import defaults
from .store import ApiStatus, Collection, Store, namespace_object, now_rfc3339

Path = tuple[str, ...]
SERVER_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "deletionTimestamp")


def prepare(obj: dict[str, Any], coll: Collection, ns: str | None, store: Store) -> None:
    """Fill what the API server fills on create: names, uid, timestamps, defaults."""
    kind = coll.kind
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ValueError("metadata must be an object")
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
    if not meta.get("name") or not isinstance(meta["name"], str):
        raise ValueError(f"{kind.kind} is invalid: metadata.name: Required value: name or generateName is required")
    if kind.namespaced:
        if ns and meta.get("namespace") not in (None, "", ns):
            raise ValueError("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = ns or meta.get("namespace") or "default"
    else:
        meta.pop("namespace", None)
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("creationTimestamp", now_rfc3339())
    obj.setdefault("apiVersion", kind.group_version)
    obj.setdefault("kind", kind.kind)
    if coll.schema is not None or coll.name == "customresourcedefinitions":
        meta.setdefault("generation", 1)
    if coll.name == "customresourcedefinitions":
        crd_status(obj)
    defaults.apply(obj, coll.name, lambda resource, name: store.collections[resource].get(("", name)))
    if coll.name == "pods" and not (obj.get("spec") or {}).get("containers"):
        name = meta["name"]
        cause = {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
        raise ApiStatus(
            422, "Invalid", f'Pod "{name}" is invalid: spec.containers: Required value', {"name": name, "kind": "Pod", "causes": [cause]}
        )


def crd_status(crd: dict[str, Any]) -> None:
    spec = crd.get("spec") or {}
    spec.setdefault("conversion", {"strategy": "None"})
    names = spec.get("names") or {}
    if not spec.get("group") or not names.get("plural") or not names.get("kind") or not spec.get("versions"):
        raise ValueError(
            "CustomResourceDefinition is invalid: spec.group, spec.names.plural, spec.names.kind and spec.versions are required"
        )
    if crd["metadata"]["name"] != f"{names['plural']}.{spec['group']}":
        raise ValueError(
            f'CustomResourceDefinition.apiextensions.k8s.io "{crd["metadata"]["name"]}" is invalid: metadata.name: '
            f'Invalid value: "{crd["metadata"]["name"]}": must be spec.names.plural+"."+spec.group'
        )
    now = now_rfc3339()
    crd["status"] = {
        "acceptedNames": {k: v for k, v in names.items() if k in ("plural", "singular", "kind", "listKind", "shortNames", "categories")},
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
    }


def validate(obj: dict[str, Any], coll: Collection) -> None:
    """A custom resource against its CRD's schema: 422 with causes, as the API server answers."""
    if coll.schema is None:
        return
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    schema = {k: v for k, v in coll.schema.items() if k != "properties"}
    schema["properties"] = {k: v for k, v in (coll.schema.get("properties") or {}).items() if k not in ("apiVersion", "kind", "metadata")}
    # value errors before missing fields, as the API server's schema validation reports them
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(body), key=lambda e: (e.validator == "required", [str(p) for p in e.absolute_path])
    )
    if errors:
        causes = [cause(e) for e in errors]
        name = (obj.get("metadata") or {}).get("name", "")
        what = f"{coll.kind.kind}.{coll.kind.group}"
        listed = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
        raise ApiStatus(
            422,
            "Invalid",
            f'{what} "{name}" is invalid: ' + (f"[{listed}]" if len(causes) > 1 else listed),
            {"name": name, "group": coll.kind.group, "kind": coll.kind.kind, "causes": causes},
        )


def cause(err: jsonschema.ValidationError) -> dict[str, str]:
    """A schema error as the API server words it (field path, reason, message)."""
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".")
    if err.validator == "required":
        missing = str(err.message).split("'")[1] if "'" in err.message else ""
        field = f"{field}.{missing}".lstrip(".")
        return {"reason": "FieldValueRequired", "message": "Required value", "field": field}
    if err.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in err.validator_value)
        return {
            "reason": "FieldValueNotSupported",
            "message": f"Unsupported value: {json.dumps(err.instance)}: supported values: {allowed}",
            "field": field,
        }
    if err.validator == "type":
        return {
            "reason": "FieldValueTypeInvalid",
            "message": f"Invalid value: {json.dumps(err.instance)}: {field} in body must be of type {err.validator_value}",
            "field": field,
        }
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {json.dumps(err.instance)}: {err.message}", "field": field}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (strategic merge patches are applied the same way)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: dict[str, Any], ops: Any) -> dict[str, Any]:
    """RFC 6902 JSON patch: add, remove, replace, test."""
    if not isinstance(ops, list):
        raise ApiStatus(400, "BadRequest", "the body of the request was in an unknown format")
    doc = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in str(op.get("path", "")).split("/")[1:]]
        parent: Any = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.get(p)
            if parent is None:
                raise ApiStatus(422, "Invalid", f"jsonpatch {op.get('op')} operation does not apply: doc is missing path: {op.get('path')}")
        last = parts[-1] if parts else ""
        kind = op.get("op")
        if kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise ApiStatus(422, "Invalid", f"testing value {op.get('path')} failed")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if kind == "add":
                    parent.insert(len(parent) if last == "-" else int(last), op.get("value"))
                else:
                    parent[int(last)] = op.get("value")
            else:
                parent[last] = op.get("value")
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            elif last in parent:
                del parent[last]
            else:
                raise ApiStatus(422, "Invalid", f"jsonpatch remove operation does not apply: doc is missing key: {op.get('path')}")
        else:
            raise ApiStatus(422, "Invalid", f"Unexpected kind: {kind}")
    return doc


# -- server-side apply ------------------------------------------------------
def field_paths(obj: Any, prefix: Path = ()) -> set[Path]:
    """The fields an applied configuration sets: maps recurse, lists are atomic."""
    out: set[Path] = set()
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            if not prefix and key in ("apiVersion", "kind"):
                continue
            if prefix == ("metadata",) and key in ("name", "namespace", *SERVER_META):
                continue
            out |= field_paths(value, (*prefix, key)) if isinstance(value, dict) and value else {(*prefix, key)}
    return out


def fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def paths_of(fields: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in fields.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        out |= paths_of(sub, path) if sub else {path}
    return out


def lookup(obj: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def remove_path(obj: dict[str, Any], path: Path) -> None:
    parent = lookup(obj, path[:-1]) if len(path) > 1 else obj
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def apply(old: dict[str, Any] | None, applied: dict[str, Any], manager: str, force: bool, api_version: str) -> dict[str, Any]:
    """Server-side apply: the manager's fields become those applied; fields it applied
    before and applies no more go, unless another manager holds them."""
    new_paths = field_paths(applied)
    entries = list((old or {}).get("metadata", {}).get("managedFields") or [])
    mine = [e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"]
    others = [e for e in entries if e not in mine]
    other_paths = {p: e.get("manager", "") for e in others for p in paths_of(e.get("fieldsV1") or {})}
    if old is None:
        obj = copy.deepcopy(applied)
    else:
        conflicts = [(p, other_paths[p]) for p in sorted(new_paths) if p in other_paths and lookup(old, p) != lookup(applied, p)]
        if conflicts and not force:
            causes = [
                {"reason": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": "." + ".".join(p)} for p, m in conflicts
            ]
            raise ApiStatus(
                409,
                "Conflict",
                f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: "
                + "; ".join(f'conflict with "{m}": .{".".join(p)}' for p, m in conflicts),
                {"causes": causes},
            )
        obj = copy.deepcopy(old)
        before = set().union(*(paths_of(e.get("fieldsV1") or {}) for e in mine)) if mine else set()
        for path in before - new_paths:
            if path not in other_paths:
                remove_path(obj, path)
        obj = merge_patch(obj, {k: v for k, v in applied.items() if k != "metadata"})
        meta = obj.setdefault("metadata", {})
        for key in ("labels", "annotations"):
            if key in (applied.get("metadata") or {}):
                meta[key] = merge_patch(meta.get(key) or {}, applied["metadata"][key])
        if force:  # forced fields change hands
            for e in others:
                kept = paths_of(e.get("fieldsV1") or {}) - new_paths
                e["fieldsV1"] = fields_v1(kept)
            others = [e for e in others if e["fieldsV1"]]
    entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(new_paths),
    }
    obj.setdefault("metadata", {})["managedFields"] = [*others, entry]
    return obj


# -- --objects files -------------------------------------------------------
def load_objects(store: Store, docs: list[Any]) -> None:
    """Put objects from --objects files into the store, as given; CRDs first, so the
    custom resources of the same files find their kind."""
    objs = [obj for doc in docs for obj in ((doc.get("items") or []) if str(doc.get("kind", "")).endswith("List") else [doc])]
    objs.sort(key=lambda o: o.get("kind") != "CustomResourceDefinition")
    namespaces = set()
    for obj in objs:
        if not isinstance(obj, dict):
            raise ValueError("each object must be a mapping")
        name = store.name_for_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if name is None:
            served = sorted({k.kind for k in store.kinds.values()})
            raise ValueError(
                f"unsupported kind {obj.get('kind')!r} of apiVersion {obj.get('apiVersion')!r} (perf-sim serves {', '.join(served)})"
            )
        coll = store.collections[name]
        prepare(obj, coll, None, store)
        validate(obj, coll)
        if coll.kind.namespaced:
            namespaces.add(obj["metadata"]["namespace"])
        store.write(name, obj)
    for ns in sorted(namespaces - {k[1] for k in store.collections["namespaces"].extras}):
        store.write("namespaces", namespace_object(ns, "1"))
