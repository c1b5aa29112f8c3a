"""Tests for cockpit.units: worked examples, error wording, and a differential test that holds
the quantity parser to the kubernetes Python client on everything the client accepts."""

from __future__ import annotations

import math
import re
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, DecimalException, localcontext
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cockpit import units
from cockpit.units import (
    format_bytes,
    format_cpu,
    format_gb,
    format_ratio,
    parse_bytes,
    parse_cpu,
    parse_pve_size,
    parse_quantity,
)

GiB = 2**30

# --------------------------------------------------------------------------- worked examples


@pytest.mark.parametrize(
    ("text", "millicores"),
    [
        ("100m", 100),
        ("0.5", 500),
        ("1", 1000),
        ("1e3", 1_000_000),
        ("2.5", 2500),
        ("1500m", 1500),
        ("0.0001", 1),  # 0.1m rounds up, a request is never understated
        ("1k", 1_000_000),
        ("1Ki", 1_024_000),
        ("250m", 250),
        ("0", 0),
        ("1n", 1),
        ("1u", 1),
        ("-0.0001", 0),  # ceil, towards +inf, like MilliValue()
        ("-100m", -100),
        (".5", 500),
        ("5.", 5000),
        ("+2", 2000),
        (2, 2000),
        (0.1, 100),  # the float is read as "0.1", not as 0.1000000000000000055...
        (0.25, 250),
        (1e-4, 1),
    ],
)
def test_parse_cpu(text, millicores):
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("128974848", 128974848),
        ("129e6", 129_000_000),
        ("129M", 129_000_000),
        ("123Mi", 123 * 2**20),
        ("1Gi", GiB),
        ("2Ti", 2 * 2**40),
        ("1Ei", 2**60),
        ("1.5Gi", 3 * 2**29),
        ("500m", 1),  # half a byte rounds up
        ("1E", 10**18),  # upper-case E alone is exa, not an exponent
        ("1P", 10**15),
        ("1e-3", 1),
        ("1E3", 1000),  # E followed by digits is an exponent
        ("1E+3", 1000),
        ("1K", 1000),  # the Python client's decimal kilo (the apiserver wants k)
        ("1e3Ki", 1_024_000),  # exponent and suffix together, as the Python client allows
        ("1e3E", 10**21),
        ("4Gi", 4 * GiB),
        ("0.1Ki", 103),  # 102.4 rounds up
        (1024, 1024),
        (1.5, 2),
    ],
)
def test_parse_bytes(text, nbytes):
    assert parse_bytes(text) == nbytes


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Fraction(1, 10)),
        ("0.5", Fraction(1, 2)),
        ("1e3", Fraction(1000)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("500m", Fraction(1, 2)),
        ("1n", Fraction(1, 10**9)),
        ("1.5u", Fraction(3, 2 * 10**6)),
        ("-1.5Gi", Fraction(-3 * 2**29)),
        ("-0", Fraction(0)),
        ("1e-9", Fraction(1, 10**9)),
        ("12.5e-1m", Fraction(125, 100_000)),
        ("0001", Fraction(1)),
        ("1E", Fraction(10**18)),
        ("1E3", Fraction(1000)),
        ("1e1000", Fraction(10**1000)),  # the edge of the accepted exponent range
        ("1e-1000", Fraction(1, 10**1000)),
        # exact where the client, in the default 28-digit Decimal context, would round
        ("1234567890123456789012345678901Ki", Fraction(1234567890123456789012345678901 * 1024)),
        (3, Fraction(3)),
        (0.1, Fraction(1, 10)),
        (1e16, Fraction(10**16)),
    ],
)
def test_parse_quantity_exact(text, value):
    got = parse_quantity(text)
    assert type(got) is Fraction
    assert got == value


def test_parse_quantity_agrees_with_kubernetes_client_on_the_issue_examples():
    from kubernetes.utils import parse_quantity as k8s_parse_quantity

    for text in ["100m", "0.5", "1e3", "128974848", "129e6", "129M", "123Mi", "1Gi", "2Ti", "1Ei"]:
        assert parse_quantity(text) == Fraction(k8s_parse_quantity(text)), text


def test_the_issue_memory_examples_are_all_the_same_size_or_close():
    # The example list from the Kubernetes docs: these all mean roughly 129 MB.
    assert {parse_bytes(q) for q in ("128974848", "129e6", "129M", "123Mi")} == {
        128974848,
        129_000_000,
    }


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("32G", 32 * GiB),
        ("1.5T", 3 * 2**39),
        ("512M", 512 * 2**20),
        ("100", 100),
        ("4K", 4096),
        ("1P", 2**50),
        ("0.5K", 512),
        ("1.1K", 1126),  # 1126.4, truncated like Proxmox's Perl int()
        ("0.5", 0),
        ("0", 0),
        ("007G", 7 * GiB),
        (100, 100),
        (0, 0),
    ],
)
def test_parse_pve_size(text, nbytes):
    assert parse_pve_size(text) == nbytes


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (9 * GiB, "9.0 GiB"),
        (-1536, "-1.5 KiB"),
        (-1, "-1 B"),
        (2**20 - 1, "1.0 MiB"),  # rounds to 1024.0 KiB, so moves up a unit
        (2**40, "1.0 TiB"),
        (2**50, "1.0 PiB"),
        (2**60, "1.0 EiB"),
        (2**70, "1024.0 EiB"),  # there is no unit above EiB
        (0.5, "0.5 B"),
        (1023.96, "1.0 KiB"),
        (-0.0, "0 B"),
        (1536.0, "1.5 KiB"),
        (float("inf"), "inf B"),
        (float("-inf"), "-inf B"),
        (float("nan"), "n/a"),
    ],
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text


def test_format_bytes_precision():
    assert format_bytes(1536, precision=2) == "1.50 KiB"
    assert format_bytes(1536, precision=0) == "2 KiB"
    assert format_bytes(2560, precision=0) == "2 KiB"  # half-even, like f"{2.5:.0f}"
    assert format_bytes(int(15.41 * GiB), precision=3) == "15.410 GiB"
    with pytest.raises(ValueError, match="precision"):
        format_bytes(1, precision=-1)


@pytest.mark.parametrize(
    ("n", "precision", "text"),
    [
        (15.41 * GiB, 2, "15.41 GB"),
        (16 * GiB, 2, "16.00 GB"),
        (16 * GiB, 0, "16 GB"),
        (0, 2, "0.00 GB"),
        (GiB // 2, 1, "0.5 GB"),
        (-GiB, 2, "-1.00 GB"),
        (-1, 2, "0.00 GB"),  # no "-0.00"
        (2**100, 0, f"{2**70} GB"),
        (float("nan"), 2, "n/a"),
        (float("inf"), 2, "inf GB"),
    ],
)
def test_format_gb(n, precision, text):
    assert format_gb(n, precision) == text


@pytest.mark.parametrize(
    ("millicores", "text"),
    [
        (250, "250m"),
        (1000, "1"),
        (1500, "1.5"),
        (20000, "20"),
        (0, "0"),
        (1, "1m"),
        (999, "999m"),
        (1001, "1.001"),
        (1250, "1.25"),
        (12340, "12.34"),
        (-250, "-250m"),
        (-1500, "-1.5"),
        (250.4, "250m"),
        (999.6, "1"),
        (1500.0, "1.5"),
        (float("nan"), "n/a"),
        (float("inf"), "inf"),
    ],
)
def test_format_cpu(millicores, text):
    assert format_cpu(millicores) == text


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (5.0, "5.00x"),
        (1.5574, "1.56x"),
        (0.488, "0.49x"),
        (0, "0.00x"),
        (2, "2.00x"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (float("nan"), "n/a"),
    ],
)
def test_format_ratio(ratio, text):
    assert format_ratio(ratio) == text


# --------------------------------------------------------------------------------- errors

INVALID_QUANTITIES = [
    "1KB",
    "1kb",
    "Mi",
    "--1",
    "1.2.3",
    "0x10",
    "1 Gi",
    "1e",
    "e3",
    "",
    " 1",
    "1 ",
    "\t1Gi\n",
    "1ki",
    "1mi",
    "1Ki ",
    ".",
    "+",
    "-",
    "m",
    "1EE",
    "1e3e",
    "1e1.5",
    "1.5e",
    "1Gib",
    "1_000",  # Python literal syntax the Python client happens to accept via Decimal
    "١",  # Arabic-Indic digit one, likewise
    "Infinity",
    "NaN",
    "inf",
]
_HINT = "expected a number with an optional suffix like 250m, 1.5Gi or 2e3"


@pytest.mark.parametrize("text", INVALID_QUANTITIES)
def test_invalid_quantities_name_the_input(text):
    for parse in (parse_quantity, parse_cpu, parse_bytes):
        with pytest.raises(ValueError) as info:
            parse(text)
        assert str(info.value) == f"invalid Kubernetes quantity {text!r}: {_HINT}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e1001", "exponent out of range"),
        ("1e-1001", "exponent out of range"),
        ("1.5e+0001001Ki", "exponent out of range"),
        ("1" * 5000, "too many digits"),  # past int()'s digit limit, on the fast path
        ("1" * 5000 + ".5", "too many digits"),  # and on the regex path
        ("1e" + "1" * 5000, "too many digits"),
    ],
)
def test_quantities_beyond_the_limits(text, reason):
    for parse in (parse_quantity, parse_cpu, parse_bytes):
        with pytest.raises(ValueError) as info:
            parse(text)
        assert str(info.value).startswith(f"invalid Kubernetes quantity {text!r}: {reason}")


def test_invalid_quantity_message_wording():
    with pytest.raises(ValueError) as info:
        parse_quantity("1KB")
    assert str(info.value) == (
        "invalid Kubernetes quantity '1KB': expected a number with an optional suffix "
        "like 250m, 1.5Gi or 2e3"
    )


def test_errors_are_not_cached():
    for _ in range(2):
        with pytest.raises(ValueError):
            parse_cpu("1KB")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_invalid(value):
    for parse in (parse_quantity, parse_cpu, parse_bytes):
        with pytest.raises(ValueError, match="not a finite number"):
            parse(value)


@pytest.mark.parametrize("value", [True, None, [1], Decimal("1"), b"1"])
def test_non_quantity_types_are_type_errors(value):
    for parse in (parse_quantity, parse_cpu, parse_bytes):
        with pytest.raises(TypeError):
            parse(value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "32g",  # Proxmox's own parser is upper-case only
        "32GB",
        "32GiB",
        "32 G",
        " 32G",
        "-1G",
        "+1G",
        "G",
        ".5G",
        "5.G",
        "1e3",
        "1.5.5G",
        "1E",
        "1" * 5000,
    ],
)
def test_invalid_pve_sizes_name_the_input(text):
    with pytest.raises(ValueError) as info:
        parse_pve_size(text)
    assert repr(text) in str(info.value)
    assert str(info.value).startswith("invalid Proxmox size ")


def test_invalid_pve_size_message_wording():
    with pytest.raises(ValueError) as info:
        parse_pve_size("32GB")
    assert str(info.value) == (
        "invalid Proxmox size '32GB': expected a Proxmox size like 32G, 1.5T, 512M or a byte count"
    )
    with pytest.raises(ValueError, match="negative"):
        parse_pve_size(-1)
    with pytest.raises(TypeError):
        parse_pve_size(True)
    with pytest.raises(TypeError):
        parse_pve_size(1.5)


# ------------------------------------------------------------- differential vs the client

_SUFFIXES = ["", "n", "u", "m", "k", "K", "M", "G", "T", "P", "E"]
_SUFFIXES += ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
_BOGUS_SUFFIXES = ["ki", "mi", "ni", "ui", "i", "e", "KB", "kb", "B", "Kib", "EE", "x"]


@st.composite
def grammar_quantities(draw):
    """Strings from the quantity grammar, with now and then a bogus suffix."""
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    whole = draw(st.text("0123456789", max_size=12))
    point = draw(st.booleans())
    frac = draw(st.text("0123456789", max_size=12)) if point else ""
    number = f"{whole}.{frac}" if point else whole
    exponent = ""
    if draw(st.booleans()):
        e = draw(st.integers(-9, 18))
        e_sign = "+" if e >= 0 and draw(st.booleans()) else ""
        exponent = f"{draw(st.sampled_from('eE'))}{e_sign}{e}"
    suffix = draw(st.sampled_from(_SUFFIXES + _BOGUS_SUFFIXES[: draw(st.integers(0, 12))]))
    return sign + number + exponent + suffix


# Characters the grammar is made of plus a few that Decimal treats specially, so random
# strings land near valid quantities far more often than st.text() alone would.
_NEAR_MISS = "0123456789.+-eEiKkMmGgTtPpnu _\t١InfaNsy"

any_text = st.one_of(
    grammar_quantities(),
    st.text(_NEAR_MISS, max_size=10),
    st.text(max_size=10),
)


def _client(text: str) -> Decimal | None:
    """kubernetes.utils.parse_quantity's value, or None where it rejects the input.

    Evaluated in an exact Decimal context: in the default 28-digit one the client rounds
    long mantissas with binary suffixes, which is its imprecision, not its grammar.
    """
    from kubernetes.utils import parse_quantity as k8s_parse_quantity

    exact = Context(prec=5000, Emax=MAX_EMAX, Emin=MIN_EMIN)
    with localcontext(exact):
        try:
            return k8s_parse_quantity(text)
        except (ValueError, DecimalException):
            return None


_EXPONENT = re.compile(r"[eE][+-]?([0-9]+)")


def _decimal_artefact(text: str) -> bool:
    """Inputs the client takes only because Decimal() is lenient, which we reject on purpose
    (see the module docstring): whitespace, underscores, non-ASCII digits, Infinity/NaN, and
    exponents past our +-1000 limit."""
    if not text.isascii() or "_" in text or any(c.isspace() for c in text):
        return True
    if re.search("inf|nan", text, re.IGNORECASE):
        return True
    return any(int(m.group(1)) > 1000 for m in _EXPONENT.finditer(text))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
@example("1E3")
@example("1E")
@example("1e")
@example("1E3E")
@example("1e3Ki")
@example("1K")
@example("1ki")
@example(".5")
@example("5.")
@example("+.5e-3m")
@example(" 1")
@example("1 Gi")
@example("1_000")
@example("NaNk")
@example("sNaN")
@example("Infinity")
@example("nan")
@example("١")
@example("1234567890123456789012345678901Ei")
def test_parse_quantity_matches_kubernetes_client(text):
    expected = _client(text)
    if expected is None or _decimal_artefact(text):
        for parse in (parse_quantity, parse_cpu, parse_bytes):
            with pytest.raises(ValueError) as info:
                parse(text)
            assert str(info.value).startswith(f"invalid Kubernetes quantity {text!r}: ")
            if len(text) < 100 and not _EXPONENT.search(text):
                assert str(info.value).endswith(_HINT)
        return
    value = parse_quantity(text)
    assert value == Fraction(expected)
    assert value == Fraction(str(expected))
    assert parse_cpu(text) == math.ceil(value * 1000)
    assert parse_bytes(text) == math.ceil(value)


@settings(max_examples=500, deadline=None)
@given(any_text)
def test_fast_path_agrees_with_the_regex(text):
    fast = units._ratio_of_str.__wrapped__
    try:
        slow_value = Fraction(*units._ratio_slow(text))
    except ValueError:
        with pytest.raises(ValueError):
            fast(text)
        return
    assert Fraction(*fast(text)) == slow_value


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_read_as_their_repr(x):
    assert parse_quantity(x) == parse_quantity(repr(x))
    assert parse_cpu(x) == parse_cpu(repr(x))


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**30), 10**30))
def test_ints_are_cores_and_bytes(n):
    assert parse_quantity(n) == n
    assert parse_cpu(n) == 1000 * n
    assert parse_bytes(n) == n


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**15),
    st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=6)),
    st.sampled_from(["", "K", "M", "G", "T", "P"]),
)
def test_pve_size_is_the_truncated_exact_value(whole, frac, unit):
    text = f"{whole}.{frac}{unit}" if frac is not None else f"{whole}{unit}"
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}[unit]
    exact = (Fraction(f"{whole}.{frac}") if frac is not None else Fraction(whole)) * scale
    assert parse_pve_size(text) == math.floor(exact)


# ---------------------------------------------------------------------------- formatting

_BYTES_TEXT = re.compile(r"(-?)([0-9]+(?:\.[0-9]+)?) (B|KiB|MiB|GiB|TiB|PiB|EiB)")
_POWERS = {"B": 0, "KiB": 1, "MiB": 2, "GiB": 3, "TiB": 4, "PiB": 5, "EiB": 6}


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=2**256), st.integers(0, 4))
def test_format_bytes_never_raises_and_is_close(n, precision):
    text = format_bytes(n, precision)
    m = _BYTES_TEXT.fullmatch(text)
    assert m, text
    sign, digits, unit = m.groups()
    assert sign == ""
    scale = 1024 ** _POWERS[unit]
    shown = Fraction(digits)
    if unit == "B":
        assert shown == n
    else:
        assert len(digits.partition(".")[2]) == precision
        assert abs(shown * scale - n) <= Fraction(scale, 2 * 10**precision)
        assert 1 <= shown <= 1024 or unit == "EiB"
        assert shown < 1024 or unit == "EiB"


@settings(max_examples=300, deadline=None)
@given(st.integers(max_value=0, min_value=-(2**100)))
def test_format_bytes_negative_mirrors_positive(n):
    text = format_bytes(n)
    assert text == ("-" + format_bytes(-n) if n else "0 B")


@settings(max_examples=300, deadline=None)
@given(st.floats())
def test_formatters_never_raise_on_floats(x):
    for text in (format_bytes(x), format_gb(x), format_cpu(x), format_ratio(x)):
        assert isinstance(text, str) and text


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=10**30))
def test_format_cpu_never_raises_and_round_trips(millicores):
    text = format_cpu(millicores)
    assert parse_cpu(text) == millicores
    assert parse_cpu(format_cpu(-millicores)) == -millicores


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2**80), st.integers(0, 4))
def test_format_gb_is_gibibytes(n, precision):
    number, unit = format_gb(n, precision).split(" ")
    assert unit == "GB"
    assert abs(Fraction(number) - Fraction(n, GiB)) <= Fraction(1, 2 * 10**precision)
