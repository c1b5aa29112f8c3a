"""Verdict bands for overcommit ratios and alert levels for usage, with their sources.

Two different questions, two different scales:

* An **overcommit ratio** (what is promised / what physically exists) gets a verdict word.
  The bands are upper bounds, inclusive: a ratio at or below `ample` is "ample", at or below
  `safe` is "safe", and so on; above `tight` it is "over". Defaults and why:

  - CPU (vCPU per hardware thread): idle homelab guests share cores well. Seed 000 calls
    4 cores carrying 20 vCPU (5x) "safe"; hypervisor sizing guides put the point where
    contention starts to show around 6-8 vCPU per thread for mostly idle guests. So:
    ample <= 1, safe <= 6, balanced <= 8, tight <= 12.
  - Memory (guest maximum per physical byte): unlike CPU, memory is not time-shared; only
    ballooning, KSM and idle guests make overcommit work. Seed 000 calls 1.56x "balanced"
    and lowered 1.7x to get there "for safety", counting on KSM to save 30-40 %. So:
    ample <= 0.8, safe <= 1.0, balanced <= 1.6, tight <= 2.0.
  - Disk (guest disk sizes per physical byte): thin provisioning makes mild overcommit
    normal; seed 000 calls 0.49x "ample". So: ample <= 0.8, safe <= 1.0, balanced <= 1.5,
    tight <= 2.0.

* A **usage level** (used / capacity, in percent) gets an alert level. Seed 000's operating
  guide: memory 75 % caution, 85 % warning, 95 % critical; disk 80 / 90 / 95 %. The seed is
  silent on CPU; we use 80 / 90 / 95 % because CPU saturation throttles rather than kills.

All of these can be overridden from a lab file's or the config's `[thresholds]` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

Verdict = Literal["ample", "safe", "balanced", "tight", "over"]
Level = Literal["ok", "caution", "warning", "critical"]
Resource = Literal["cpu", "memory", "disk"]
VERDICTS: tuple[Verdict, ...] = ("ample", "safe", "balanced", "tight", "over")
LEVELS: tuple[Level, ...] = ("ok", "caution", "warning", "critical")


@dataclass(frozen=True, slots=True)
class RatioBands:
    ample: float
    safe: float
    balanced: float
    tight: float

    def verdict(self, ratio: float) -> Verdict:
        # Compare on 2 decimals, the precision every ratio is shown with, so a ratio printed
        # as "1.60x" never gets a different word than the band edge 1.6 says.
        shown = round(ratio, 2)
        for name in ("ample", "safe", "balanced", "tight"):
            if shown <= getattr(self, name):
                return name  # type: ignore[return-value]
        return "over"


@dataclass(frozen=True, slots=True)
class AlertLevels:
    caution: float
    warning: float
    critical: float

    def level(self, percent: float) -> Level:
        if percent >= self.critical:
            return "critical"
        if percent >= self.warning:
            return "warning"
        if percent >= self.caution:
            return "caution"
        return "ok"


@dataclass(frozen=True, slots=True)
class Thresholds:
    cpu_ratio: RatioBands = field(default_factory=lambda: RatioBands(1.0, 6.0, 8.0, 12.0))
    memory_ratio: RatioBands = field(default_factory=lambda: RatioBands(0.8, 1.0, 1.6, 2.0))
    disk_ratio: RatioBands = field(default_factory=lambda: RatioBands(0.8, 1.0, 1.5, 2.0))
    cpu_usage: AlertLevels = field(default_factory=lambda: AlertLevels(80, 90, 95))
    memory_usage: AlertLevels = field(default_factory=lambda: AlertLevels(75, 85, 95))
    disk_usage: AlertLevels = field(default_factory=lambda: AlertLevels(80, 90, 95))

    def ratio_verdict(self, resource: Resource, ratio: float) -> Verdict:
        bands: RatioBands = getattr(self, f"{resource}_ratio")
        return bands.verdict(ratio)

    def usage_level(self, resource: Resource, percent: float) -> Level:
        levels: AlertLevels = getattr(self, f"{resource}_usage")
        return levels.level(percent)


DEFAULT_THRESHOLDS = Thresholds()


def thresholds_from_table(table: dict, where: str = "thresholds") -> Thresholds:
    """Build Thresholds from a TOML table such as

        [thresholds.memory_ratio]
        balanced = 1.5
        [thresholds.memory_usage]
        caution = 70

    Unknown names and non-numbers raise ValueError naming the key; bands must increase.
    """
    base = DEFAULT_THRESHOLDS
    changes = {}
    known = {f.name: f for f in fields(Thresholds)}
    for group, values in table.items():
        if group not in known:
            raise ValueError(
                f"{where}.{group}: unknown threshold group (expected one of "
                f"{', '.join(sorted(known))})"
            )
        if not isinstance(values, dict):
            raise ValueError(f"{where}.{group}: expected a table of numbers")
        current = getattr(base, group)
        names = [f.name for f in fields(current)]
        for name, value in values.items():
            if name not in names:
                raise ValueError(
                    f"{where}.{group}.{name}: unknown (expected one of {', '.join(names)})"
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{where}.{group}.{name}: expected a number, got {value!r}")
        updated = replace(current, **values)
        ordered = [getattr(updated, n) for n in names]
        if ordered != sorted(ordered):
            raise ValueError(
                f"{where}.{group}: values must increase in the order "
                f"{' <= '.join(names)}, got {ordered}"
            )
        changes[group] = updated
    return replace(base, **changes)
