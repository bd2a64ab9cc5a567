"""Quantities: every apimachinery form, exact to the nano."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubectl_perf.quantity import QuantityError, format_bytes, format_cpu, parse_quantity
from kubernetes.utils import parse_quantity as client_parse

N = 10**9
Ki, Mi, Gi = 2**10, 2**20, 2**30

CASES = [
    # decimal SI
    ("1", 1 * N),
    ("0", 0),
    ("100m", 100_000_000),
    ("250m", 250_000_000),
    ("5n", 5),
    ("7u", 7000),
    ("2k", 2000 * N),
    ("3M", 3 * 10**6 * N),
    ("4G", 4 * 10**9 * N),
    ("1T", 10**12 * N),
    ("1P", 10**15 * N),
    ("2E", 2 * 10**18 * N),
    # binary SI
    ("1Ki", Ki * N),
    ("128Mi", 128 * Mi * N),
    ("1.5Gi", 3 * Gi // 2 * N),
    ("0.5Gi", Gi // 2 * N),
    ("2Ti", 2 * 2**40 * N),
    ("1Pi", 2**50 * N),
    ("1Ei", 2**60 * N),
    # decimal exponents, upper and lower case, signed
    ("1e3", 1000 * N),
    ("1E3", 1000 * N),
    ("1.3E+6", 1_300_000 * N),
    ("0.5e-1", 50_000_000),
    ("12e-3", 12_000_000),
    ("1e0", N),
    # fractions, leading and trailing dots
    ("100.035k", 100_035 * N),
    (".001", 1_000_000),
    ("1.", N),
    ("1.G", 10**9 * N),
    ("0.1", 100_000_000),
    ("00.5", 500_000_000),
    # signs
    ("+5", 5 * N),
    ("-5", -5 * N),
    ("-100m", -100_000_000),
    ("+1.5Ki", 1536 * N),
    # finer than a nano rounds up, away from zero
    ("3.001n", 4),
    ("0.9n", 1),
    ("0.000000000001Ki", 2),
    ("1.0000000001", N + 1),
    ("-3.001n", -4),
    ("0.1n", 1),
]


@pytest.mark.parametrize(("text", "nanos"), CASES)
def test_forms(text: str, nanos: int) -> None:
    assert parse_quantity(text) == nanos


@pytest.mark.parametrize(
    "text", ["", " 1", "1 ", "abc", "1K", "1ki", "1e", "1E+", "1.5.5", "1e3.5", "e3", ".", "-", "Ki", "m", "1Gb", "1 Gi", "0x10", "1,000"]
)
def test_invalid_strings_name_themselves(text: str) -> None:
    with pytest.raises(QuantityError) as err:
        parse_quantity(text)
    assert repr(text) in str(err.value)


MAX = (2**63 - 1) * N  # apimachinery's maxAllowed, in nanos


def test_amounts_cap_at_int64_like_apimachinery() -> None:
    assert parse_quantity("100000000Ei") == MAX
    assert parse_quantity("9223372036854775807") == MAX and parse_quantity("9223372036854775806") == MAX - N
    # decimal amounts get the binary cap too (apimachinery keeps them exact, and hangs on 1e100000000)
    assert parse_quantity("100000E") == MAX and parse_quantity("-1e30") == -MAX
    assert parse_quantity(10**40) == MAX


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("1e100000000", MAX),
        ("-1e100000000", -MAX),
        ("1e-100000000", 1),  # under a nano: rounds up to 1n
        ("-1e-100000000", -1),
        ("1e4294967296", N),  # apimachinery cuts the exponent to an int32: 2**32 becomes 0
        ("1e2147483648", 1),  # ... and 2**31 becomes -2**31
        ("1" + "0" * 1_000_000, MAX),
        ("0." + "0" * 1_000_000 + "1", 1),
        ("1." + "0" * 1_000_000 + "1", N + 1),
        ("1" + "0" * 500_000 + "e-500000", N),
        ("1." + "0" * 1_000_000 + "1Ki", 1024 * N + 1),
        ("0." + "3" * 1_000_000 + "Ki", 341_333_333_334),  # 1024/3 Ki = 341.33...e9 n, rounded up
        ("1e+0000000000000000000000000003", 1000 * N),  # leading zeros do not count against the exponent's size
    ],
)
def test_huge_and_tiny_quantities_are_bounded_before_arithmetic(text: str, nanos: int) -> None:
    assert parse_quantity(text) == nanos


def test_exponents_past_int64_are_not_quantities() -> None:
    for text in ("1e9223372036854775808", "1e" + "9" * 1_000_000):
        with pytest.raises(QuantityError) as err:
            parse_quantity(text)
        assert len(str(err.value)) < 120  # the message does not carry a megabyte of digits


def test_bare_json_numbers_are_quantities() -> None:
    assert parse_quantity(2) == 2 * N
    assert parse_quantity(2.0) == 2 * N
    with pytest.raises(QuantityError):
        parse_quantity(True)
    with pytest.raises(QuantityError):
        parse_quantity(None)


MULTIPLIER = {
    "": 1,
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def _exact_nanos(sign: str, whole: str, frac: str, suffix: str) -> int:
    """Independent reference from the parts: exact fraction arithmetic, magnitude rounded up to the nano."""
    exact = Fraction(int(whole + frac), 10 ** len(frac)) * MULTIPLIER[suffix] * N
    nanos = math.ceil(exact)
    return -nanos if sign == "-" else nanos


parts = st.tuples(
    st.sampled_from(["", "+", "-"]),
    st.integers(0, 10**6).map(str),  # binary amounts stay under apimachinery's int64 cap
    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=12)),
    st.sampled_from(list(MULTIPLIER)),
)


@settings(max_examples=400, deadline=None)
@given(parts)
def test_agrees_with_exact_arithmetic(p: tuple[str, str, str, str]) -> None:
    sign, whole, frac, suffix = p
    text = f"{sign}{whole}{'.' + frac if frac else ''}{suffix}"
    assert parse_quantity(text) == _exact_nanos(*p)


@settings(max_examples=200, deadline=None)
@given(parts)
def test_agrees_with_the_python_client_where_it_is_exact(p: tuple[str, str, str, str]) -> None:
    """The client's Decimal parse (28 significant digits) is a second, independent parser."""
    sign, whole, frac, suffix = p
    text = f"{sign}{whole}{'.' + frac if frac else ''}{suffix}"
    value = Fraction(Decimal(client_parse(text))) * N
    if len(whole + frac) <= 15 and value.denominator == 1:  # no rounding on either side
        assert parse_quantity(text) == value


@pytest.mark.parametrize(("nanos", "text"), [(250_000_000, "250m"), (2 * N, "2"), (1_500_000_000, "1500m"), (1, "1m"), (0, "0")])
def test_format_cpu(nanos: int, text: str) -> None:
    assert format_cpu(nanos) == text


@pytest.mark.parametrize(("nbytes", "text"), [(1536 * Mi, "1.5Gi"), (512 * Mi, "512Mi"), (100 * Ki, "100Ki"), (800, "800"), (0, "0")])
def test_format_bytes(nbytes: int, text: str) -> None:
    assert format_bytes(nbytes * N) == text
