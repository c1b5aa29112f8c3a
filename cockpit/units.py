"""Quantities as Kubernetes, Proxmox and homelab operators write them.

Kubernetes reports every request, limit and capacity as a *quantity* string ("250m",
"512Mi", "1.5Gi", "2e3"), Proxmox writes disk sizes with 1024-based letters ("32G") and
the cockpit has to show all of them side by side. Everything here is exact integer or
``Fraction`` arithmetic so a cluster total never drifts by the float error of ten thousand
additions, and it is stdlib only because it sits on the path that parses every pod of every
refresh (the kubernetes client is neither imported nor needed).

Which strings are quantities? The reference is ``kubernetes.utils.parse_quantity`` from the
Python client, and every string it accepts within the limits below parses here to exactly
the same value. Where that client is looser than the apiserver's Go grammar
(k8s.io/apimachinery/pkg/api/resource), we follow the client when the looser form is a
plausible quantity and the apiserver when it is an artefact of Python's ``Decimal``:

* followed: an upper-case ``K`` as decimal kilo ("1K" == 1000), and a decimal exponent
  combined with an SI suffix ("1e3Ki" == 1_024_000). The apiserver rejects both.
* not followed, rejected like the apiserver does: surrounding or inner whitespace ("1 Gi",
  " 1"), digit-group underscores ("1_000"), non-ASCII digits, and "Infinity"/"NaN". The
  client only takes these because ``Decimal()`` strips whitespace and reads Python literals;
  accepting them would let a typo pass here and then fail at ``kubectl apply``.
* limits: a decimal exponent beyond +-1000 or a mantissa beyond Python's 4300-digit integer
  conversion limit is rejected, so one hostile "1e999999999" cannot stall a refresh.
* exactness: the client multiplies in the default 28-digit ``Decimal`` context, so a long
  mantissa with a binary suffix comes back rounded there; here it stays exact.
* floats: read as the decimal they print as (0.1 is 1/10), where the client takes the
  float's exact binary value (0.1000000000000000055...), which rounds up to 101m.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache

__all__ = [
    "format_bytes",
    "format_cpu",
    "format_gb",
    "format_ratio",
    "parse_bytes",
    "parse_cpu",
    "parse_pve_size",
    "parse_quantity",
]

# sign, mantissa (at least one digit, the point optional on either side: "5." and ".5" are
# quantities), an optional decimal exponent, then an optional SI suffix. The exponent is
# tried before the suffix so "1E3" is a thousand; "1E" fails the exponent and is exa.
# [0-9] rather than \d: \d would admit Arabic-Indic and other Unicode digits.
_QUANTITY_RE = re.compile(
    r"([+-]?)(?=\.?[0-9])([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|[numkKMGTPE])?"
)

# suffix -> (numerator, denominator) of its multiplier, so applying one is integer math.
_SUFFIXES: dict[str, tuple[int, int]] = {
    "": (1, 1),
    "n": (1, 10**9),
    "u": (1, 10**6),
    "m": (1, 10**3),
    "k": (10**3, 1),
    "K": (10**3, 1),  # the Python client's reading; the apiserver only knows lower-case k
    "M": (10**6, 1),
    "G": (10**9, 1),
    "T": (10**12, 1),
    "P": (10**15, 1),
    "E": (10**18, 1),
    "Ki": (2**10, 1),
    "Mi": (2**20, 1),
    "Gi": (2**30, 1),
    "Ti": (2**40, 1),
    "Pi": (2**50, 1),
    "Ei": (2**60, 1),
}
_MAX_EXPONENT = 1000

_QUANTITY_HINT = "expected a number with an optional suffix like 250m, 1.5Gi or 2e3"


def _invalid(q: object, why: str = _QUANTITY_HINT) -> ValueError:
    return ValueError(f"invalid Kubernetes quantity {q!r}: {why}")


# A cluster repeats a few dozen distinct strings ("100m", "128Mi") across thousands of pods,
# so a small cache turns most parses into one dict lookup. Bounded, and failures are not
# cached, so garbage input can only evict, never grow memory.
_CACHE_SIZE = 4096


@lru_cache(maxsize=_CACHE_SIZE)
def _ratio_of_str(q: str) -> tuple[int, int]:
    # Fast path: "250m", "512Mi", "2", "1E" are ASCII digits plus a suffix, no regex needed.
    # isascii() first so isdigit() means 0-9 only (it also accepts "²" and "٣").
    if q.isascii():
        last = q[-1:]
        if last == "i":
            body, mul = q[:-2], _SUFFIXES.get(q[-2:])
        elif last.isdigit():
            body, mul = q, (1, 1)
        else:
            body, mul = q[:-1], _SUFFIXES.get(last)
        if mul is not None and body.isdigit():
            try:
                return int(body) * mul[0], mul[1]
            except ValueError:  # over int()'s digit limit; the slow path words the error
                pass
    return _ratio_slow(q)


@lru_cache(maxsize=_CACHE_SIZE)
def _fraction_of_str(q: str) -> Fraction:
    # Cached separately because building a Fraction (gcd, type checks) costs more than
    # parsing the string did.
    return _to_fraction(*_ratio_of_str(q))


def _to_fraction(num: int, den: int) -> Fraction:
    # Fraction(int) skips the gcd, and whole numbers are the common case.
    return Fraction(num) if den == 1 else Fraction(num, den)


def _ratio(q: str | int | float) -> tuple[int, int]:
    """(numerator, denominator > 0) of q, so callers round with integer division only."""
    if isinstance(q, str):
        return _ratio_of_str(q)
    if isinstance(q, bool):  # an int, but True is a bug, not one core
        raise TypeError(f"expected a Kubernetes quantity as str, int or float, got {q!r}")
    if isinstance(q, int):
        return int(q), 1
    if isinstance(q, float):
        if not math.isfinite(q):
            raise _invalid(q, "not a finite number")
        # A float is read as the decimal it prints as: YAML "cpu: 0.1" arrives as the float
        # 0.1, whose exact binary value is a hair above 0.1 and would round up to 101m. The
        # Python client uses that exact binary value; the apiserver saw the text "0.1".
        return _ratio_slow(repr(q))
    raise TypeError(
        f"expected a Kubernetes quantity as str, int or float, got {type(q).__name__}: {q!r}"
    )


def _ratio_slow(q: str) -> tuple[int, int]:
    m = _QUANTITY_RE.fullmatch(q)
    if m is None:
        raise _invalid(q)
    sign, whole, frac, exp, suffix = m.groups()
    try:
        num = int(whole + frac) if frac else int(whole)
        exponent = int(exp) if exp else 0
    except ValueError:  # int() refuses more than 4300 digits
        raise _invalid(q, "too many digits") from None
    if not -_MAX_EXPONENT <= exponent <= _MAX_EXPONENT:
        raise _invalid(q, f"exponent out of range (at most {_MAX_EXPONENT} either way)")
    if frac:
        exponent -= len(frac)  # 1.25 is 125e-2
    mul_num, mul_den = _SUFFIXES[suffix or ""]
    if exponent >= 0:
        num, den = num * 10**exponent * mul_num, mul_den
    else:
        num, den = num * mul_num, 10**-exponent * mul_den
    return (-num if sign == "-" else num), den


def parse_quantity(q: str | int | float) -> Fraction:
    """The exact value of a Kubernetes quantity, for sums that must not drift.

    Agrees with ``kubernetes.utils.parse_quantity`` on every string it accepts, except the
    ``Decimal`` artefacts listed in the module docstring, which raise ``ValueError`` here.
    """
    if isinstance(q, str):
        return _fraction_of_str(q)
    return _to_fraction(*_ratio(q))


def parse_cpu(q: str | int | float) -> int:
    """CPU in whole millicores, the unit the scheduler compares requests in.

    Rounds up like Kubernetes' ``MilliValue`` (``ceil(q * 1000)``), so "0.0001" is 1m and a
    request is never understated. Numbers (not strings) are cores.
    """
    num, den = _ratio(q)
    return -(-num * 1000 // den)


def parse_bytes(q: str | int | float) -> int:
    """Memory or storage in whole bytes, rounding up like Kubernetes' ``Value()``.

    "500m" is half a byte and so 1; a limit is never understated. Numbers are bytes.
    """
    num, den = _ratio(q)
    return -(-num // den)


# PVE::JSONSchema::parse_size in pve-common: m/^(\d+(\.\d+)?)([KMGT])?$/, 1024-based,
# upper-case only, truncated with Perl's int(). P is accepted too, for pools beyond 1024T.
_PVE_SIZE_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?([KMGTP]?)")
_PVE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}


def parse_pve_size(s: str | int) -> int:
    """A Proxmox size ("32G", "1.5T", "512M", "100") in bytes, read the way Proxmox reads it.

    Proxmox's units are powers of 1024 despite the bare letters, a bare number is bytes, and
    a fraction of a byte is truncated as Proxmox does, so sizes agree with ``qm config``.
    """
    if type(s) is int:
        if s < 0:
            raise ValueError(f"invalid Proxmox size {s!r}: a size cannot be negative")
        return s
    if type(s) is not str:
        raise TypeError(f"expected a Proxmox size as str or int, got {type(s).__name__}: {s!r}")
    m = _PVE_SIZE_RE.fullmatch(s)
    if m is None:
        raise ValueError(
            f"invalid Proxmox size {s!r}: expected a Proxmox size like 32G, 1.5T, 512M "
            "or a byte count"
        )
    whole, frac, unit = m.groups()
    try:
        if frac:
            return int(whole + frac) * _PVE_UNITS[unit] // 10 ** len(frac)
        return int(whole) * _PVE_UNITS[unit]
    except ValueError:  # more than 4300 digits
        raise ValueError(f"invalid Proxmox size {s!r}: too many digits") from None


def _fixed(n: int | float, divisor: int, precision: int) -> tuple[str, int]:
    """abs(n) / divisor rounded half-even to `precision` decimals, exactly, even for ints
    too large for a float; returns the digits and the value in units of 10**-precision."""
    num, den = abs(n).as_integer_ratio()
    units, rem = divmod(num * 10**precision, den * divisor)
    if 2 * rem > den * divisor or (2 * rem == den * divisor and units % 2):
        units += 1
    digits = str(units)
    if precision:
        digits = digits.rjust(precision + 1, "0")
        digits = f"{digits[:-precision]}.{digits[-precision:]}"
    return digits, units


def _non_finite(x: float, unit: str = "") -> str | None:
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return ("inf" if x > 0 else "-inf") + unit
    return None


_BEYOND_FLOAT = 2**1024


def _capped(n: int | float) -> int | float:
    """An int no float can hold shows as infinite: it is no real size, and its digits
    would run past the column (or past int-to-str's digit limit)."""
    if type(n) is int and not -_BEYOND_FLOAT < n < _BEYOND_FLOAT:
        return math.inf if n > 0 else -math.inf
    return n


def _check_precision(precision: int) -> None:
    if precision < 0:
        raise ValueError(f"precision must be >= 0, got {precision!r}")


_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(n: int | float, precision: int = 1) -> str:
    """Bytes for a human: 1024-based with binary unit names, so "GiB" matches what
    ``kubectl`` and ``free -h`` mean and the reader never has to guess the base.

    Whole bytes are shown without decimals; larger values carry `precision` decimals and
    move to the next unit rather than printing "1024.0 KiB".
    """
    _check_precision(precision)
    n = _capped(n)
    if isinstance(n, float) and (text := _non_finite(n, " B")) is not None:
        return text
    sign = "-" if n < 0 else ""
    magnitude = abs(n)
    if magnitude < 1024:
        if magnitude == int(magnitude):
            return f"{sign if magnitude else ''}{int(magnitude)} B"
        digits, units = _fixed(magnitude, 1, precision)
        if units < 1024 * 10**precision:
            return f"{sign if units else ''}{digits} B"
    index = min(max((int(magnitude).bit_length() - 1) // 10, 1), len(_BYTE_UNITS) - 1)
    digits, units = _fixed(magnitude, 1024**index, precision)
    if units >= 1024 * 10**precision and index < len(_BYTE_UNITS) - 1:
        index += 1
        digits, units = _fixed(magnitude, 1024**index, precision)
    return f"{sign}{digits} {_BYTE_UNITS[index]}"


def format_gb(n: int | float, precision: int = 2) -> str:
    """Bytes as "GB" the way homelab operators and the Proxmox UI label memory and disks.

    The number is GiB (2**30 bytes): operators say "16 GB of RAM" and mean 16 GiB, and a
    column that printed 17.18 GB for that machine would read as a mistake. Use
    ``format_bytes`` where the binary unit name should be explicit.
    """
    _check_precision(precision)
    n = _capped(n)
    if isinstance(n, float) and (text := _non_finite(n, " GB")) is not None:
        return text
    digits, units = _fixed(n, 2**30, precision)
    return f"{'-' if n < 0 and units else ''}{digits} GB"


def format_cpu(millicores: int | float) -> str:
    """Millicores in the notation a pod spec would use: "250m" below a core, plain cores
    ("1", "1.5", "20") from one core up, so ``parse_cpu`` reads every result back unchanged.

    Floats are rounded to the nearest millicore, Kubernetes' finest CPU unit.
    """
    millicores = _capped(millicores)
    if isinstance(millicores, float):
        if (text := _non_finite(millicores)) is not None:
            return text
        millicores = round(millicores)
    sign = "-" if millicores < 0 else ""
    cores, milli = divmod(abs(millicores), 1000)
    if not milli:
        return f"{sign}{cores}"
    if not cores:
        return f"{sign}{milli}m"
    return f"{sign}{cores}.{milli:03d}".rstrip("0")


def format_ratio(r: float | None) -> str:
    """An overcommit or usage ratio as "1.56x"; "n/a" when it is unknown (None: the ledger's
    ratio over hardware it does not know) or not a number, instead of a float error."""
    if r is None:
        return "n/a"
    try:
        value = float(r)
    except OverflowError:  # an int beyond any float: as good as infinite here
        value = math.inf if r > 0 else -math.inf
    if (text := _non_finite(value)) is not None:
        return text
    return f"{value:.2f}x"
