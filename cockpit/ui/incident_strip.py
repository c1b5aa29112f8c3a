"""The strip above the panes: the top incident, its cause chain and its fixes on digit keys,
whenever something is wrong; one quiet line of standing risks otherwise.

Triage runs off the UI thread (cockpit.triage is pure but walks every pod), so the app
keeps the latest Triage result for the snapshot version it was made from and the strip
only draws it."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widgets import Static

from cockpit.triage.finding import Finding
from cockpit.triage.incidents import Fix, Incident
from cockpit.ui.palette import Palette

MAX_FIXES = 9  # digit keys 1-9


@dataclass(frozen=True)
class Triage:
    """What triage said of one snapshot."""

    version: int = -1
    incidents: tuple[Incident, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def risks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.risk)

    def counts(self) -> dict[str, int]:
        out = {"critical": 0, "warning": 0, "info": 0}
        for incident in self.incidents:
            out[incident.severity] = out.get(incident.severity, 0) + 1
        return out

    @property
    def top(self) -> Incident | None:
        return self.incidents[0] if self.incidents else None


@dataclass(frozen=True)
class Checked:
    """A triage result together with whether it may be trusted as current."""

    triage: Triage = field(default_factory=Triage)
    computing: bool = True


def severity_style(severity: str, palette: Palette) -> str:
    return {
        "critical": f"bold reverse {palette.bad}",
        "warning": f"bold {palette.warn}",
        "info": palette.info,
    }.get(severity, "")


def fix_labels(fixes: tuple[Fix, ...]) -> Text:
    line = Text("fix: ", style="bold")
    for number, fix in enumerate(fixes[:MAX_FIXES], 1):
        line.append(f"[{number}]", style="bold")
        line.append(f" {fix.title}")
        if not fix.action:
            line.append(" (shell)", style="dim")
        line.append("   ")
    return line


def strip_text(triage: Triage, palette: Palette) -> Text | None:
    """The strip's lines, or None when there is nothing to say."""
    top = triage.top
    if top is None:
        risks = triage.risks
        if not risks:
            return None
        # One line, cut at the width: the panes keep their rows when nothing is wrong.
        line = Text(f"no incident · {len(risks)} standing risk(s) (t) · ", style="dim")
        line.append(Text(risks[0].text))
        line.no_wrap, line.overflow = True, "ellipsis"
        return line
    text = Text()
    text.append(f" {top.severity.upper()} ", style=severity_style(top.severity, palette))
    text.append("  ")
    text.append(Text(top.title))
    more = len(triage.incidents) - 1
    if more:
        text.append(f"   (+{more} more: t)", style="dim")
    for note in top.notes:
        text.append("\n          ")
        text.append(Text(note, style=palette.bad if top.severity == "critical" else ""))
    if top.fixes:
        text.append("\n          ")
        text.append_text(fix_labels(top.fixes))
    return text


class IncidentStrip(Static):
    DEFAULT_CSS = """
    IncidentStrip { height: auto; max-height: 4; padding: 0 1; display: none; }
    IncidentStrip.shown { display: block; }
    IncidentStrip.critical { border-left: thick $error; }
    IncidentStrip.warning { border-left: thick $warning; }
    IncidentStrip.quiet { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def show(self, triage: Triage, palette: Palette) -> None:
        text = strip_text(triage, palette)
        self.set_class(text is not None, "shown")
        severity = triage.top.severity if triage.top else ""
        self.set_class(severity == "critical", "critical")
        self.set_class(severity == "warning", "warning")
        self.set_class(text is not None and not severity, "quiet")
        self.update(text if text is not None else "")
