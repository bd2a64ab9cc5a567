"""Kubernetes resource quantities, parsed exactly as apimachinery parses them.

A quantity is held as an integer count of nano-units ("nanos"): 1 core is
10**9, 1 byte is 10**9. apimachinery rounds anything finer than 1n up (away
from zero), so nanos are exact for every value a cluster can hold, and sums
of ints never drift the way floats do.
"""

from __future__ import annotations

from functools import lru_cache

NANO = 10**9
# apimachinery caps binary-SI amounts at the largest int64 (quantity.go maxAllowed).
_MAX_ALLOWED = 2**63 - 1

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""

    def __init__(self, text: object, why: str) -> None:
        super().__init__(f"invalid quantity {text!r}: {why}")


def _split(text: str) -> tuple[bool, str, str, str]:
    """Split into (positive, numerator digits, fraction digits, suffix) like parseQuantityString."""
    pos, end, positive = 0, len(text), True
    if pos < end and text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    # apimachinery's fast path reads "-", "m", "Ki" or "." as zero; we ask for a digit.
    lead = text[pos : pos + 2]
    if not (lead[:1] in _DIGITS or (lead[:1] == "." and lead[1:] in _DIGITS)) or not lead:
        raise QuantityError(text, "no digits before the suffix")
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos != end:
        raise QuantityError(text, "must look like <number><suffix>, e.g. 250m, 1.5Gi, 1e3")
    return positive, num, denom, text[suffix_start:]


def _suffix(text: str, suffix: str) -> tuple[int, int, bool]:
    """Return (base, exponent, binary) for a suffix, as quantitySuffixer.interpret does."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], False
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], True
    if len(suffix) > 1 and suffix[0] in "eE":
        exp = suffix[1:]
        body = exp[1:] if exp[0] in "+-" else exp
        if body and all(c in _DIGITS for c in body):
            return 10, int(exp), False
    raise QuantityError(text, f"unknown suffix {suffix!r}")


@lru_cache(maxsize=65536)
def _parse_text(text: str) -> int:
    """A quantity string as an exact integer count of nano-units. Memoised: a
    cluster repeats a few hundred distinct quantities across 150,000 pods."""
    if not text:
        raise QuantityError(text, "empty string")
    positive, num, denom, suffix = _split(text)
    base, exponent, binary = _suffix(text, suffix)
    # value = (num.denom) * base**exponent, as an exact fraction numer / denom_scale
    numer = int(num + denom)
    scale = 10 ** len(denom)
    if base == 2:
        numer <<= exponent
    elif exponent >= 0:
        numer *= 10**exponent
    else:
        scale *= 10 ** (-exponent)
    nanos, rem = divmod(numer * NANO, scale)
    if rem:
        nanos += 1  # round the magnitude up to the next nano, like inf.RoundUp
    if binary and nanos > _MAX_ALLOWED * NANO:
        nanos = _MAX_ALLOWED * NANO
    return nanos if positive else -nanos


def parse_quantity(value: object) -> int:
    """A quantity from an API object field (a string, or a bare JSON number, which
    OpenAPI allows too) as an exact integer count of nano-units."""
    if type(value) is str:  # the norm, and the hot path
        return _parse_text(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value * NANO
    raise QuantityError(value, "not a string")


def to_number(nanos: int) -> int | float:
    """Nanos as a plain JSON number in base units (cores, bytes, counts)."""
    whole, frac = divmod(nanos, NANO)
    if not frac:
        return whole
    return nanos / NANO


_BIN_UNITS = (("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10))


def format_bytes(nanos: int) -> str:
    """Human form of a byte amount: 1.5Gi, 512Mi, 100Ki, 800 (one decimal at most)."""
    value = nanos / NANO
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, shift in _BIN_UNITS:
        size = 1 << shift
        if value >= size:
            scaled = value / size
            text = f"{scaled:.1f}".rstrip("0").rstrip(".")
            return f"{sign}{text}{unit}"
    return f"{sign}{round(value)}"


def format_cpu(nanos: int) -> str:
    """Human form of a cpu amount as kubectl shows it: 250m, 2, 1500m."""
    millis = -(-nanos // 10**6)  # round up: 1n of cpu still shows as 1m
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis}m"


def format_count(nanos: int) -> str:
    whole, frac = divmod(nanos, NANO)
    return str(whole) if not frac else f"{nanos / NANO:g}"


def format_amount(resource: str, nanos: int) -> str:
    """Human form of an amount of any resource, by what the resource measures."""
    if resource == "cpu":
        return format_cpu(nanos)
    if resource in ("memory", "ephemeral-storage", "storage") or resource.startswith("hugepages-"):
        return format_bytes(nanos)
    return format_count(nanos)
