"""Generate sim/perf_sim/protoschema.py: the field tables perf-sim needs to read a request body that
kubectl sends as Kubernetes protobuf (`kubectl create namespace x` does; see sim/perf_sim/protobuf.py).

Input: checkouts of kubernetes/api and kubernetes/apimachinery (Apache-2.0). From each package's
generated.proto: the messages, their field numbers, names (the JSON names) and types; from the
package's types.go: which scalar fields are Go pointers (a zero sent for a pointer was set on
purpose: `--replicas=0`) and which are omitempty/omitzero (a zero sent for one of those is Go's
zero value, which its JSON leaves out). Only the messages reachable from the kinds perf-sim serves
are kept.

    python sim/tools/gen_protoschema.py API_CHECKOUT APIMACHINERY_CHECKOUT > sim/perf_sim/protoschema.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PACKAGES = [  # (checkout index, path, proto package)
    (0, "core/v1", "k8s.io.api.core.v1"),
    (0, "apps/v1", "k8s.io.api.apps.v1"),
    (0, "batch/v1", "k8s.io.api.batch.v1"),
    (1, "pkg/apis/meta/v1", "k8s.io.apimachinery.pkg.apis.meta.v1"),
    (1, "pkg/runtime", "k8s.io.apimachinery.pkg.runtime"),
    (1, "pkg/util/intstr", "k8s.io.apimachinery.pkg.util.intstr"),
    (1, "pkg/api/resource", "k8s.io.apimachinery.pkg.api.resource"),
]
# The kinds perf-sim serves that kubectl may send as protobuf: (apiVersion, kind) -> message.
ROOTS = (
    {("v1", k): f"k8s.io.api.core.v1.{k}" for k in ("Namespace", "ConfigMap", "Service", "Pod", "DeleteOptions")}
    | {("apps/v1", k): f"k8s.io.api.apps.v1.{k}" for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")}
    | {("batch/v1", k): f"k8s.io.api.batch.v1.{k}" for k in ("Job", "CronJob")}
)
ROOTS[("v1", "DeleteOptions")] = "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"
SCALARS = {"string", "bytes", "bool", "int32", "int64", "double", "float"}
FIELD = re.compile(r"^\s*(optional|repeated)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*;|^\s*map<\s*(\w+)\s*,\s*(\S+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")
GO_FIELD = re.compile(r'^\s*\w+\s+(\S+)\s+`json:"([^"]*)"[^`]*protobuf:"[a-z0-9]+,(\d+),')


def show(checkout: str, path: str) -> str:
    if Path(checkout, path).exists():
        return Path(checkout, path).read_text()
    return subprocess.run(["git", "-C", checkout, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout


def proto_messages(text: str, package: str) -> dict[str, list[tuple[int, str, str, str]]]:
    """message -> [(number, name, type, label)], label opt/rep/map (map: type is the value type)."""
    out: dict[str, list[tuple[int, str, str, str]]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^message (\w+) \{", line)
        if m:
            current = f"{package}.{m.group(1)}"
            out[current] = []
            continue
        if line.startswith("}"):
            current = None
            continue
        f = FIELD.match(line)
        if current and f:
            if f.group(1):
                label, typ, name, num = ("rep" if f.group(1) == "repeated" else "opt"), f.group(2), f.group(3), int(f.group(4))
            else:
                label, typ, name, num = "map", f.group(6), f.group(7), int(f.group(8))
            if typ not in SCALARS:
                typ = typ.lstrip(".") if "." in typ else f"{package}.{typ}"
            out[current].append((num, name, typ, label))
    return out


def go_flags(text: str, package: str) -> dict[tuple[str, int], int]:
    """(message, field number) -> flags: 1 a Go pointer, 2 omitempty/omitzero."""
    out: dict[tuple[str, int], int] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^type (\w+) struct \{", line)
        if m:
            current = f"{package}.{m.group(1)}"
            continue
        if line.startswith("}"):
            current = None
            continue
        g = GO_FIELD.match(line)
        if current and g:
            opts = g.group(2).split(",")[1:]
            out[(current, int(g.group(3)))] = (1 if g.group(1).startswith("*") else 0) | (2 if {"omitempty", "omitzero"} & set(opts) else 0)
    return out


def main(api: str, machinery: str) -> None:
    messages: dict[str, list[tuple[int, str, str, str]]] = {}
    flags: dict[tuple[str, int], int] = {}
    for which, path, package in PACKAGES:
        checkout = (api, machinery)[which]
        messages.update(proto_messages(show(checkout, f"{path}/generated.proto"), package))
        if package.startswith("k8s.io.api.") or package.endswith("meta.v1"):  # the others: hand-read types (Time, Quantity...)
            flags.update(go_flags(show(checkout, f"{path}/types.go"), package))
    for name, fields in messages.items():  # fields of packages not read here (newer alpha APIs): skipped when met
        messages[name] = [f for f in fields if f[2] in SCALARS or f[2] in messages]
    keep: set[str] = set()
    todo = list(ROOTS.values()) + ["k8s.io.apimachinery.pkg.runtime.Unknown"]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(t for _n, _f, t, _l in messages[name] if t not in SCALARS)
    print('"""Generated by sim/tools/gen_protoschema.py from kubernetes/api and kubernetes/apimachinery')
    print("(Apache-2.0): the protobuf field tables of the kinds perf-sim serves. Do not edit by hand.")
    print()
    print("MESSAGES: message -> {field number: (JSON name, type, label, flags)}: type a scalar or a message;")
    print("label opt, rep or map (of string keys); flags 1 a Go pointer, 2 omitempty/omitzero.")
    print('"""')
    print()
    print("# fmt: off")
    print("ROOTS: dict[tuple[str, str], str] = {")
    for key, value in sorted(ROOTS.items()):
        print(f"    {key!r}: {value!r},")
    print("}")
    print("MESSAGES: dict[str, dict[int, tuple[str, str, str, int]]] = {")
    for name in sorted(keep):
        print(f"    {name!r}: {{")
        for num, field, typ, label in messages[name]:
            print(f"        {num}: ({field!r}, {typ!r}, {label!r}, {flags.get((name, num), 0)}),")
        print("    },")
    print("}")
    print("# fmt: on")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
