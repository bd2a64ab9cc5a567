"""Kubernetes resource quantities, parsed exactly as apimachinery parses them.

A quantity is held as an integer count of nano-units ("nanos"): 1 core is
10**9, 1 byte is 10**9. apimachinery rounds anything finer than 1n up (away
from zero), so nanos are exact for every value a cluster can hold, and sums
of ints never drift the way floats do.
"""

from __future__ import annotations

import re
from functools import lru_cache

NANO = 10**9
# apimachinery caps binary-SI amounts at the largest int64 (quantity.go maxAllowed). Decimal
# amounts get the same cap here: an int64 is all any Kubernetes component reads of a quantity
# (Value, MilliValue), and exact decimals up to 10**2147483647 are what stalls the API server
# itself (a dry-run create with memory 1e100000000 times out on kube-apiserver v1.36.2).
MAX_ALLOWED = 2**63 - 1
MAX_NANOS = MAX_ALLOWED * NANO
_CACHED_LENGTH = 32  # longer strings are parsed uncached, so clients cannot fill the memo with megabytes

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DIGITS = frozenset("0123456789")
_ZEROS, _DIGIT_RUN, _SUFFIX_RUN = re.compile("0*"), re.compile("[0-9]*"), re.compile("[eEinumkKMGTP]*")


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""

    def __init__(self, text: object, why: str) -> None:
        shown = text if not isinstance(text, str) or len(text) <= 40 else text[:37] + "..."
        super().__init__(f"invalid quantity {shown!r}: {why}")


def _run(chars: re.Pattern[str], text: str, pos: int) -> int:
    """Where the run of `chars` starting at pos ends, at C speed on megabyte-long runs."""
    match = chars.match(text, pos)
    return match.end() if match else pos


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
    pos = _run(_ZEROS, text, pos)
    if pos >= end:
        return positive, "0", "", ""
    start, pos = pos, _run(_DIGIT_RUN, text, pos)
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        start, pos = pos + 1, _run(_DIGIT_RUN, text, pos + 1)
        denom = text[start:pos]
    suffix_start = pos
    pos = _run(_SUFFIX_RUN, text, pos)
    if pos < end and text[pos] in "+-":
        pos += 1
    if _run(_DIGIT_RUN, text, pos) != end:
        raise QuantityError(text, "must look like <number><suffix>, e.g. 250m, 1.5Gi, 1e3")
    return positive, num, denom, text[suffix_start:]


def _suffix(text: str, suffix: str) -> tuple[int, bool]:
    """(exponent, binary) of a suffix, as quantitySuffixer.interpret reads it: the
    exponent of `e` must fit an int64 (strconv.ParseInt) and is then cut to an
    int32, as apimachinery does (so 1e4294967296 is 1, there as here)."""
    if suffix in _DECIMAL_SUFFIXES:
        return _DECIMAL_SUFFIXES[suffix], False
    if suffix in _BINARY_SUFFIXES:
        return _BINARY_SUFFIXES[suffix], True
    if len(suffix) > 1 and suffix[0] in "eE":
        sign, body = (suffix[1], suffix[2:]) if suffix[1] in "+-" else ("", suffix[1:])
        body = body[_run(_ZEROS, body, 0) :] or ("0" if body else "")
        if body and len(body) <= 19 and all(c in _DIGITS for c in body):  # 19 digits: bounded before int()
            exp = int(sign + body)
            if -(2**63) <= exp < 2**63:
                return (exp + 2**31) % 2**32 - 2**31, False
    raise QuantityError(text, f"unknown suffix {suffix if len(suffix) <= 20 else suffix[:17] + '...'!r}")


def _saturate(nanos: int) -> int:
    return max(-MAX_NANOS, min(MAX_NANOS, nanos))


def _nanos(text: str) -> int:
    if not text:
        raise QuantityError(text, "empty string")
    positive, num, denom, suffix = _split(text)
    exponent, binary = _suffix(text, suffix)
    shift = exponent if binary else 0  # value = digits * 10**power * 2**shift nanos
    digits = num + denom
    digits = digits[_run(_ZEROS, digits, 0) :]
    if not digits:
        return 0
    power = (0 if binary else exponent) - len(denom) + 9
    count = len(digits)
    # Bound everything before any arithmetic: 10**(count-1+power) <= |nanos| < 10**(count+power) * 2**shift.
    if count - 1 + power > 28:  # >= 10**29 nanos: past MAX_NANOS (~9.2e27) whatever the shift
        return MAX_NANOS if positive else -MAX_NANOS
    keep = count + power + shift  # digits that can still move the result by a nano
    if keep <= 0:
        return 1 if positive else -1  # under 1n: rounds up to 1n, like inf.RoundUp
    if count > keep:
        # Digits past `keep` only decide whether to round up: stand them in with a single 1.
        sticky = _run(_ZEROS, digits, keep) < count
        power += count - keep - sticky
        digits = digits[:keep] + ("1" if sticky else "")
    numer = int(digits) << shift
    if power >= 0:
        nanos = numer * 10**power
    else:
        nanos = -(-numer // 10**-power)  # round the magnitude up to the next nano, like inf.RoundUp
    nanos = min(nanos, MAX_NANOS)
    return nanos if positive else -nanos


@lru_cache(maxsize=65536)
def _cached_nanos(text: str) -> int:
    """Memoised: a cluster repeats a few hundred distinct quantities across 150,000 pods."""
    return _nanos(text)


def parse_quantity(value: object) -> int:
    """A quantity from an API object field (a string, or a bare JSON number, which
    OpenAPI allows too) as an exact integer count of nano-units, saturating at
    +-MAX_ALLOWED base units. Linear in the length of a string, whatever it says."""
    if type(value) is str:  # the norm, and the hot path; long strings are not memoised
        return _cached_nanos(value) if len(value) <= _CACHED_LENGTH else _nanos(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _saturate(value * NANO)
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
