"""Request bodies in Kubernetes protobuf, read into the JSON object the API server would see.

kubectl's typed clients send built-in kinds as `application/vnd.kubernetes.protobuf`
(`kubectl create namespace x`, `create configmap`, `create deployment`, ...), and client-go does
not retry with JSON on a 415 (its fallback exists for CBOR only), so perf-sim reads the format:
the envelope (the 4 bytes `k8s\\0`, then a runtime.Unknown with the TypeMeta and the raw object),
then the object's fields from the generated tables in protoschema.py.

Go's JSON of the same object is the reference: a zero scalar is left out where the Go field is
not a pointer and is `omitempty` (protobuf carries every non-pointer field, zero or not), kept
where it is a pointer (`--replicas=0`); a zero metav1.Time is Go's null, left out. Objects whose
kind has no table (custom resources, kinds perf-sim does not serve) get the real server's 415.
"""

from __future__ import annotations

import base64
import json
import struct
from datetime import datetime, timezone
from typing import Any

from .protoschema import MESSAGES, ROOTS

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
META = "k8s.io.apimachinery.pkg.apis.meta.v1."
UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf object perf-sim can read; `unsupported`: a well-formed
    envelope around a kind without a table (the real server's 415), else a malformed body (400)."""

    def __init__(self, message: str, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def decode_object(data: bytes) -> dict[str, Any]:
    """The JSON object of a `k8s\\0`-framed protobuf body."""
    if not data.startswith(MAGIC):
        raise ProtobufError("the body of the request was in an unknown format")
    unknown = _message(UNKNOWN, data[len(MAGIC) :])
    type_meta = unknown.get("typeMeta") or {}
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    message = ROOTS.get((api_version, kind))
    if message is None:
        raise ProtobufError(f"no protobuf decoding of {api_version}/{kind} here", unsupported=True)
    raw = base64.b64decode(unknown.get("raw") or "")
    return {"kind": kind, "apiVersion": api_version, **_message(message, raw)}


# -- the wire format -----------------------------------------------------------------------------
def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufError("the body of the request was in an unknown format: a truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value): varints as unsigned ints, the rest as bytes."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"the body of the request was in an unknown format: wire type {wire}")
        if pos > len(data):
            raise ProtobufError("the body of the request was in an unknown format: a truncated field")
        out.append((number, wire, value))
    return out


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1  # negative int32s travel as ten-byte two's complement
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _scalar(typ: str, wire: int, value: int | bytes) -> Any:
    if typ == "string":
        return bytes(value).decode("utf-8") if isinstance(value, bytes) else ""
    if typ == "bytes":  # Go's JSON of []byte
        return base64.b64encode(bytes(value)).decode() if isinstance(value, bytes) else ""
    if typ == "bool":
        return bool(value)
    if typ in ("int32", "int64"):
        return _signed(int(value), 32 if typ == "int32" else 64) if isinstance(value, int) else 0
    if typ == "double" and isinstance(value, bytes):
        return struct.unpack("<d", value)[0]
    if typ == "float" and isinstance(value, bytes):
        return struct.unpack("<f", value)[0]
    raise ProtobufError(f"the body of the request was in an unknown format: a {typ} in wire type {wire}")


def _repeated_scalars(typ: str, wire: int, value: int | bytes) -> list[Any]:
    """One occurrence of a repeated scalar: a packed run of varints, or one value."""
    if wire == 2 and typ in ("int32", "int64", "bool") and isinstance(value, bytes):
        out, pos = [], 0
        while pos < len(value):
            item, pos = _varint(value, pos)
            out.append(_scalar(typ, 0, item))
        return out
    return [_scalar(typ, wire, value)]


def _zero(value: Any) -> bool:
    return value in ("", 0, False) and not isinstance(value, float) or value is None


# -- the types with their own JSON ---------------------------------------------------------------
def _special(name: str, fields: dict[int, Any]) -> Any:
    """Time, MicroTime, Duration, Quantity, IntOrString, RawExtension, FieldsV1: the JSON Go writes."""
    if name in (META + "Time", META + "MicroTime"):
        seconds, nanos = _signed(fields.get(1, 0), 64), _signed(fields.get(2, 0), 32)
        if not seconds and not nanos:
            return None  # Go's zero time: JSON null
        at = datetime.fromtimestamp(seconds, timezone.utc)
        if name.endswith("MicroTime"):
            return at.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == META + "Duration":
        return _go_duration(_signed(fields.get(1, 0), 64))
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return bytes(fields.get(1, b"")).decode()
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        if fields.get(1, 0) == 1:
            return bytes(fields.get(3, b"")).decode()
        return _signed(fields.get(2, 0), 32)
    if name in ("k8s.io.apimachinery.pkg.runtime.RawExtension", META + "FieldsV1"):
        raw = bytes(fields.get(1, b""))
        return json.loads(raw) if raw else None
    return NotImplemented


def _go_duration(nanos: int) -> str:
    """time.Duration's String(): 1h2m3s, 1.5s, 0s."""
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + f"{nanos / size:.9g}{unit}"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = f"{rest / 1e9:.9f}".rstrip("0").rstrip(".")
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{seconds}s"
    return sign + text


SPECIAL = {
    META + "Time",
    META + "MicroTime",
    META + "Duration",
    META + "FieldsV1",
    "k8s.io.apimachinery.pkg.api.resource.Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension",
}


def _message(name: str, data: bytes) -> Any:
    if name in SPECIAL:
        return _special(name, {number: value for number, _wire, value in _fields(data)})
    table = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        spec = table.get(number)
        if spec is None:
            continue  # a field newer than the tables: left out, as an older server would
        field, typ, label, _flags = spec
        if label == "map":
            entry = {n: v for n, _w, v in _fields(bytes(value))} if isinstance(value, bytes) else {}
            key = bytes(entry.get(1, b"")).decode()
            out.setdefault(field, {})[key] = (
                _scalar(typ, 2, entry.get(2, b"")) if typ in ("string", "bytes") else (_message(typ, bytes(entry.get(2, b""))))
            )
        elif typ in MESSAGES or typ in SPECIAL:
            if not isinstance(value, bytes):
                raise ProtobufError(f"the body of the request was in an unknown format: {field} is not a message")
            item = _message(typ, value)
            if label == "rep":
                out.setdefault(field, []).append(item)
            else:
                out[field] = item
        elif label == "rep":
            out.setdefault(field, []).extend(_repeated_scalars(typ, wire, value))
        else:
            out[field] = _scalar(typ, wire, value)
    for field, typ, label, flags in table.values():
        pointer, omitempty = flags & 1, flags & 2
        if label == "opt" and field in out and _zero(out[field]) and not pointer and (omitempty or out[field] is None):
            if typ in MESSAGES and out[field] is not None:
                continue  # an empty struct: Go writes {}
            del out[field]
    return out
