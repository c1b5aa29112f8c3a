"""Findings and incidents in one call, for whoever shows them (`cockpit check`, the screen's
incident strip and status bar)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cockpit.alloc.thresholds import DEFAULT_THRESHOLDS, Thresholds
from cockpit.model import Snapshot
from cockpit.sources.health import Health
from cockpit.triage.finding import SEVERITY_ORDER, Finding, Severity
from cockpit.triage.findings import facts_of, find_findings
from cockpit.triage.incidents import Incident, build_incidents


@dataclass(frozen=True)
class Triage:
    findings: tuple[Finding, ...]
    incidents: tuple[Incident, ...]  # ranked, most impact first

    @property
    def worst(self) -> Severity | None:
        """The severity of the top incident; None when nothing is wrong."""
        if not self.incidents:
            return None
        return min((i.severity for i in self.incidents), key=lambda s: SEVERITY_ORDER[s])

    def counts(self) -> dict[str, int]:
        """Incidents by severity, for a status bar: {"critical": 1, "warning": 2}."""
        return dict(Counter(i.severity for i in self.incidents))

    @property
    def risks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.risk)


def run_triage(
    snapshot: Snapshot,
    now: float | None = None,
    health: Mapping[str, Health] | None = None,
    previous: Snapshot | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    risks: Sequence[Finding] | None = None,
) -> Triage:
    facts = facts_of(snapshot, now, health, previous, thresholds)
    found = find_findings(snapshot, facts=facts, risks=risks)
    return Triage(tuple(found), tuple(build_incidents(snapshot, found, facts)))
